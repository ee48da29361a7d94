"""``demo [--transcript FILE]``: a whole channel life against the simulator, on loopback.

The simulator runs in-process behind its WebSocket server on 127.0.0.1; two participants,
Alice (initiator) and Bob (responder), use the asyncio adapter to open a channel, pay each
other, exchange a message, survive a dropped connection, deposit, withdraw and close. Sign
requests their default policy does not answer (a peer's deposit, say) are signed here, by the
application, after looking at the checks: nothing is ever signed implicitly.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from ..adapters import ConnectionLost, Outcome, Reconnected, Settings
from ..adapters.asyncio import ChannelClient, open_channel
from ..crypto import KeyPair
from ..events import (
    Event,
    FsmUp,
    MessageReceived,
    OperationAccepted,
    SignRequest,
    StateChanged,
)
from ..options import OpenOptions, Role
from ..policy import DefaultPolicy
from ..simulator import Simulator
from ..simulator.server import SimulatorServer
from ..state import ChannelState

AMOUNT: Final = 10**18  # each side's funds, in aettos
TRANSFERS: Final = 10  # each way
SETTINGS: Final = Settings(open_timeout=5.0, close_timeout=2.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transcript", metavar="FILE", help="write the session in the node's format"
    )


def run(args: argparse.Namespace) -> int:
    asyncio.run(demo(args.transcript, print))
    return 0


class Participant:
    """One side: its client, and a reader that logs its events and answers what is asked."""

    def __init__(self, name: str, client: ChannelClient, log: Callable[[str], None]) -> None:
        self.name = name
        self.client = client
        self.log = log
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()
        self.reattached = asyncio.Event()

    async def read(self) -> None:
        async for event in self.client:
            await self.on(event)

    async def on(self, event: Event) -> None:
        if isinstance(event, SignRequest):
            # The policy left this one to us: look at the checks, then decide.
            if event.safe:
                unchecked = ", ".join(check.name for check in event.checks.not_checked)
                why = f"; not checkable now: {unchecked}" if unchecked else ""
                self.log(f"{self.name}: signs {event.tag.tag} (no check failed{why})")
                await self.client.sign(event)
            else:
                self.log(f"{self.name}: refuses {event.tag.tag}: {event.checks.failed}")
                await self.client.abort(event)
        elif isinstance(event, StateChanged):
            self.log(f"{self.name}: channel {event.previous.value} -> {event.state.value}")
            if event.state is ChannelState.OPEN:
                self.opened.set()
            if event.state is ChannelState.CLOSED:
                self.closed.set()
        elif isinstance(event, MessageReceived):
            self.log(f"{self.name}: message from the peer: {event.info!r}")
        elif isinstance(event, ConnectionLost):
            self.log(f"{self.name}: connection lost ({event.reason}); reconnecting")
        elif isinstance(event, Reconnected):
            self.log(f"{self.name}: reconnected (attempt {event.attempt})")
        elif isinstance(event, FsmUp) and event.reconnected:
            self.log(f"{self.name}: reattached to the node's running FSM")
            self.reattached.set()

    def balance(self) -> int | None:
        balances = self.client.channel.record().balances or {}
        return balances.get(self.client.channel.account.api)


def options(role: Role, alice: KeyPair, bob: KeyPair) -> OpenOptions:
    return OpenOptions(
        role=role,
        host="localhost" if role is Role.INITIATOR else None,
        port=3015,  # where Bob's node listens for Alice's
        initiator_id=alice.address,
        responder_id=bob.address,
        initiator_amount=AMOUNT,
        responder_amount=AMOUNT,
        push_amount=0,
        channel_reserve=1,
        lock_period=5,
    )


async def demo(transcript: str | None, log: Callable[[str], None]) -> dict[str, object]:
    """Run the whole life; returns the summary it prints."""
    sim = Simulator()
    alice_key, bob_key = KeyPair.generate(), KeyPair.generate()
    async with SimulatorServer(sim, port=0, transcript=transcript) as server:
        base = server.url()
        log(f"simulator listening on {base} (network id {sim.network_id})")
        policy = DefaultPolicy()
        net = sim.network_id
        async with (
            open_channel(
                base,
                options(Role.RESPONDER, alice_key, bob_key),
                network_id=net,
                signer=bob_key,
                policy=policy,
                settings=SETTINGS,
            ) as bob_client,
            open_channel(
                base,
                options(Role.INITIATOR, alice_key, bob_key),
                network_id=net,
                signer=alice_key,
                policy=policy,
                settings=SETTINGS,
            ) as alice_client,
        ):
            alice = Participant("Alice", alice_client, log)
            bob = Participant("Bob", bob_client, log)
            readers = [asyncio.create_task(p.read()) for p in (alice, bob)]
            await asyncio.wait_for(asyncio.gather(alice.opened.wait(), bob.opened.wait()), 10)
            log(f"open: channel {alice_client.channel.channel_id}")

            started = time.perf_counter()
            for i in range(TRANSFERS):
                await expect(alice_client.transfer(bob_key.address, 1_000 + i))
                await expect(bob_client.transfer(alice_key.address, 500 + i))
            per_transfer = (time.perf_counter() - started) / (2 * TRANSFERS)
            log(f"{2 * TRANSFERS} transfers, {per_transfer * 1000:.1f} ms each")

            await expect(alice_client.message(bob_key.address, "thanks for the coffee"))

            log("the network drops Alice's connection")
            server.drop("initiator")
            await asyncio.wait_for(alice.reattached.wait(), 10)
            await expect(alice_client.transfer(bob_key.address, 7))

            await expect(bob_client.deposit(50_000))
            log("Bob deposited 50000")
            await expect(alice_client.withdraw(20_000))
            log("Alice withdrew 20000")

            rounds = alice_client.channel.ledger.latest
            final_round = rounds.round if rounds is not None else None
            balances = {"Alice": alice.balance(), "Bob": bob.balance()}
            await expect(alice_client.shutdown())
            await asyncio.wait_for(asyncio.gather(alice.closed.wait(), bob.closed.wait()), 10)
            log("closed mutually")
            for reader in readers:
                reader.cancel()
    summary: dict[str, object] = {
        "rounds": final_round,
        "final_balances": balances,
        "ms_per_transfer": round(per_transfer * 1000, 2),
    }
    log(f"summary: {summary}")
    if transcript:
        log(f"session written to {transcript}")
    return summary


async def expect(outcome: Awaitable[Outcome]) -> Outcome:
    """Await an operation's outcome and insist that it went through."""
    result = await outcome
    if not isinstance(result, OperationAccepted):
        raise RuntimeError(f"an operation did not go through: {result}")
    return result
