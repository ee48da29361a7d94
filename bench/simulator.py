"""Benchmark: many channels at once against one simulator, in one process, in memory.

Every channel is opened, makes a few transfers (the initiator and the responder paying in
turn) and is closed mutually, all of them in flight together: each phase starts the work on
every channel, then moves frames for all pairs round after round until none moves. Nothing
touches a socket or a clock but the timer around each phase.

The run checks itself and exits non-zero, saying what is wrong, unless every channel closed,
every transfer was accepted, every channel's balances are what its transfers predict, each
close paid out those balances less the fee, and the chain holds exactly what it started with.

Run: ``python bench/simulator.py [--channels 1000] [--transfers 4] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sansio_channels import commands as cmd
from sansio_channels import txs
from sansio_channels.events import OnChainTx, OperationAccepted, OperationFailed
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import Pair, keypair
from sansio_channels.state import ChannelState

AMOUNT = 10**18  # each side's deposit at open: ample for the fees a close takes from it
ON_CHAIN = 10**21  # each account on the chain, before the open
MAX_ROUNDS = 10_000  # rounds of frame moving before a phase is declared stuck


class BenchFailed(Exception):
    """The run did not do what it claims to measure."""


def pump(pairs: Sequence[Pair]) -> int:
    """Move frames for every pair until a whole round moves nothing; the rounds it took.

    A quiet pair is still stepped each round: a block mined for another channel can give its
    FSMs something to report.
    """
    for rounds in range(1, MAX_ROUNDS + 1):
        moved = False
        for pair in pairs:
            moved = pair.step() or moved
        if not moved:
            return rounds
    raise BenchFailed(f"the pairs did not settle in {MAX_ROUNDS} rounds")


def timed(phase: Callable[[], None], cpu: dict[str, float], name: str) -> float:
    """Wall seconds of ``phase``; its CPU seconds go to ``cpu[name]`` (steadier than wall time
    on a shared machine)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    phase()
    cpu[name] = time.process_time() - start_cpu
    return time.perf_counter() - start


def open_pairs(sim: Simulator, count: int) -> list[Pair]:
    pairs = []
    for n in range(count):
        pairs.append(
            Pair.open(
                sim=sim,
                initiator_keys=keypair(f"bench initiator {n}"),
                responder_keys=keypair(f"bench responder {n}"),
                initiator_amount=AMOUNT,
                responder_amount=AMOUNT,
            )
        )
    return pairs


def transfer_round(pairs: Sequence[Pair], k: int) -> None:
    """Transfer ``k + 1`` coins on every channel: odd rounds the responder pays."""
    for pair in pairs:
        payer, payee = (pair.initiator, pair.responder)[:: 1 if k % 2 == 0 else -1]
        payer.channel.submit(cmd.Transfer(from_id=payer.address, to_id=payee.address, amount=k + 1))
    pump(pairs)


def expected_balances(pair: Pair, transfers: int) -> dict[str, int]:
    """What the channel holds after ``transfers`` rounds of :func:`transfer_round`."""
    moved = sum(k + 1 if k % 2 == 0 else -(k + 1) for k in range(transfers))  # to the responder
    return {pair.initiator.address: AMOUNT - moved, pair.responder.address: AMOUNT + moved}


def check_open(pairs: Sequence[Pair]) -> None:
    for n, pair in enumerate(pairs):
        for side in pair.participants:
            if side.channel.state is not ChannelState.OPEN:
                raise BenchFailed(f"channel {n}: the {side.role.value} is {side.channel.state}")


def check_transfers(pairs: Sequence[Pair], transfers: int) -> None:
    for n, pair in enumerate(pairs):
        accepted = sum(
            isinstance(event.operation.command, cmd.Transfer)
            for side in pair.participants
            for event in side.events_of(OperationAccepted)
        )
        failed = [e for side in pair.participants for e in side.events_of(OperationFailed)]
        if accepted != transfers or failed:
            raise BenchFailed(f"channel {n}: {accepted}/{transfers} transfers accepted; {failed}")
        wanted = expected_balances(pair, transfers)
        for side in pair.participants:
            if side.channel.record().balances != wanted:
                raise BenchFailed(
                    f"channel {n}: the {side.role.value} holds {side.channel.record().balances},"
                    f" the transfers make {wanted}"
                )


def check_closed(sim: Simulator, pairs: Sequence[Pair], transfers: int, total: int) -> None:
    chain = sim.chain
    if chain.total() != total:
        raise BenchFailed(f"the chain holds {chain.total()}, it started with {total}")
    creates = {
        event.channel_id: event.signed_tx.transaction
        for event in chain.events
        if isinstance(event.signed_tx.transaction, txs.ChannelCreateTx)
    }
    for n, pair in enumerate(pairs):
        for side in pair.participants:
            if side.channel.state is not ChannelState.CLOSED:
                raise BenchFailed(f"channel {n}: the {side.role.value} is {side.channel.state}")
        close = next(
            (
                e.signed_tx.transaction
                for e in pair.initiator.events_of(OnChainTx)
                if e.info == "close_mutual" and e.signed_tx is not None
            ),
            None,
        )
        if not isinstance(close, txs.ChannelCloseMutualTx):
            raise BenchFailed(f"channel {n}: no close_mutual tx reported")
        on_chain = chain.channel(close.channel_id.key)
        if on_chain is None or on_chain.status != "closed" or on_chain.total != 0:
            raise BenchFailed(f"channel {n}: not closed on chain ({on_chain})")
        # Each side pays half the close fee (the initiator the larger half) from its balance.
        wanted = expected_balances(pair, transfers)
        fee = close.fee
        paid_out = {
            pair.initiator.address: wanted[pair.initiator.address] - (fee + 1) // 2,
            pair.responder.address: wanted[pair.responder.address] - fee // 2,
        }
        got = {
            pair.initiator.address: close.initiator_amount_final,
            pair.responder.address: close.responder_amount_final,
        }
        if got != paid_out:
            raise BenchFailed(f"channel {n}: the close pays {got}, the balances make {paid_out}")
        create = creates[close.channel_id.key]
        assert isinstance(create, txs.ChannelCreateTx)
        for side, create_fee in ((pair.initiator, create.fee), (pair.responder, 0)):
            balance = chain.balance(side.keys.public_key)
            if balance != ON_CHAIN - AMOUNT - create_fee + paid_out[side.address]:
                raise BenchFailed(f"channel {n}: the {side.role.value}'s account holds {balance}")


def run(channels: int, transfers: int) -> dict[str, Any]:
    accounts = {}
    for n in range(channels):
        for role in ("initiator", "responder"):
            accounts[keypair(f"bench {role} {n}").address] = ON_CHAIN
    sim = Simulator(accounts=accounts)
    total = sim.chain.total()
    pairs: list[Pair] = []

    def opening() -> None:
        pairs.extend(open_pairs(sim, channels))
        pump(pairs)

    def transferring() -> None:
        for k in range(transfers):
            transfer_round(pairs, k)

    def closing() -> None:
        for pair in pairs:
            pair.initiator.channel.submit(cmd.Shutdown())
        pump(pairs)

    cpu: dict[str, float] = {}
    seconds = {"open": timed(opening, cpu, "open")}
    check_open(pairs)
    seconds["transfers"] = timed(transferring, cpu, "transfers")
    check_transfers(pairs, transfers)
    seconds["close"] = timed(closing, cpu, "close")
    check_closed(sim, pairs, transfers, total)
    elapsed = sum(seconds.values())
    return {
        "channels": channels,
        "transfers_per_channel": transfers,
        "seconds": {"total": elapsed, **seconds},
        "cpu_seconds": {"total": sum(cpu.values()), **cpu},
        "seconds_per_channel": elapsed / channels,
        "transfers_per_second": channels * transfers / seconds["transfers"],
        "blocks": sim.chain.height,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000, help="channels at once (1000)")
    parser.add_argument("--transfers", type=int, default=4, help="transfers per channel (4)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.channels < 1 or args.transfers < 0:
        parser.error("--channels must be at least 1 and --transfers not negative")
    try:
        result = run(args.channels, args.transfers)
    except BenchFailed as exc:
        print(f"bench/simulator.py: FAILED: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    s, c = result["seconds"], result["cpu_seconds"]
    print(
        f"{result['channels']} channels, {result['transfers_per_channel']} transfers each, "
        f"one simulator, in memory ({result['blocks']} blocks mined)"
    )
    print(
        f"  total     {s['total']:8.2f} s  cpu {c['total']:8.2f} s  "
        f"({1000 * result['seconds_per_channel']:.2f} ms per channel: open, transfers and close)"
    )
    print(f"  open      {s['open']:8.2f} s  cpu {c['open']:8.2f} s")
    print(
        f"  transfers {s['transfers']:8.2f} s  cpu {c['transfers']:8.2f} s  "
        f"({result['transfers_per_second']:,.0f} transfers/s)"
    )
    print(f"  close     {s['close']:8.2f} s  cpu {c['close']:8.2f} s")
    print("  checked: every channel closed, every transfer accepted, balances conserved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
