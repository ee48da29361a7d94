"""The core's benchmarks, each figure next to the baseline it is judged by, in one run.

- own transfer: from ``submit(Transfer)`` to ``OperationAccepted`` (the sign request checked
  and signed, the co-signed state checked), the node's frames built beforehand;
- acknowledged transfer: the peer's update checked (its signature verified) and signed, its
  co-signed state taken;
- baseline for both: one bare pynacl signature plus one bare verification of the same bytes
  (what a client cannot avoid per update), measured in the same process, interleaved;
- inbound frames per second through ``receive_frame`` + ``next_event`` (a mix of reports,
  messages, pongs and query results);
- memory per open channel (tracemalloc, 10,000 channels held);
- end to end over loopback against the simulator's server, per adapter (bench/e2e.py): transfers
  per second for one channel and for 100 channels at once (``SECTIONS``; ``--no-e2e`` skips them);
- the floor under both ratios (bench/floor.py): the same transfers, on the same frames, checked
  and signed by straight-line code that does only the unavoidable work;
- next to the JavaScript SDK (bench/js_sdk.py, when node and tests/interop's modules are
  there): against one simulator, the runs alternating, ours divided by the SDK's for transfers
  per second with one and with 100 channels (``e2e_vs_js_sdk``,
  ``e2e_100_channels_vs_js_sdk``), and the SDK's client CPU time per transfer divided by ours
  (``cpu_per_transfer_vs_js_sdk``); higher is better.

Transfers (``--repeat`` x ``--rounds`` of each kind) are timed in chunks, each right after as
many baseline steps, and the medians over the chunks are reported: the ratio of each chunk is
taken under the same load on both sides, which matters on a shared machine. The inbound
figure is the median of ``--repeat`` runs, each the median rate of its chunks of frames.

Run: ``python bench/run.py [--json] [--repeat N] [--rounds N] [--no-e2e]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import nacl.signing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import e2e  # bench/e2e.py, beside this file
import floor  # bench/floor.py, beside this file
import js_sdk  # bench/js_sdk.py, beside this file

from sansio_channels import commands as cmd
from sansio_channels import txs
from sansio_channels.channel import Channel
from sansio_channels.events import OperationAccepted, QueryResult, SignRequest
from tests.scripted_node import NETWORK, ScriptedNode, notification, opened

ROUNDS = 300
REPEAT = 5
CHUNK = 20  # transfers timed between two looks at the clock, next to as many baselines
CHANNELS_HELD = 10_000
INBOUND_FRAMES = 20_000
INBOUND_CHUNK = 1_000

Frames = list[tuple[dict[str, Any], dict[str, Any]]]


def own_transfer_frames(node: ScriptedNode, rounds: int) -> Frames:
    """For each own transfer: the node's sign request and the co-signed state it sends."""
    prepared = []
    for _ in range(rounds):
        tx, updates = node.transfer(1, to_peer=True)
        request = node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates)
        prepared.append((request, node.update(node.co_signed(tx))))
        node.took(tx)
    return prepared


def ack_transfer_frames(node: ScriptedNode, rounds: int) -> Frames:
    """For each transfer of the peer's: its signed update request and the co-signed state."""
    prepared = []
    for _ in range(rounds):
        tx, updates = node.transfer(1, to_peer=False)
        request = node.sign_request("update_ack", node.peer_signed(tx), updates)
        prepared.append((request, node.update(node.co_signed(tx))))
        node.took(tx)
    return prepared


Step = Callable[[], None]


def own_transfer_steps(rounds: int) -> list[Step]:
    """One step per own transfer: submit, the sign request checked and signed, the co-signed
    state checked and the operation accepted; the node's frames are prepared beforehand."""
    channel, node = opened()
    command = cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1)

    def step(request_frame: dict[str, Any], update_frame: dict[str, Any]) -> None:
        channel.submit(command)
        channel.frames_to_send()
        channel.receive_frame(request_frame)
        for event in channel.events():
            if isinstance(event, SignRequest):
                event.sign(node.ours)
        channel.frames_to_send()
        channel.receive_frame(update_frame)
        if not any(isinstance(e, OperationAccepted) for e in channel.events()):
            raise AssertionError("the transfer did not go through")

    return [functools.partial(step, *frames) for frames in own_transfer_frames(node, rounds)]


def ack_transfer_steps(rounds: int) -> list[Step]:
    """One step per transfer of the peer's: its request checked (its signature verified) and
    signed, the co-signed state taken; the node's frames are prepared beforehand."""
    channel, node = opened()

    def step(request_frame: dict[str, Any], update_frame: dict[str, Any]) -> None:
        channel.receive_frame(request_frame)
        signed = False
        for event in channel.events():
            if isinstance(event, SignRequest):
                event.sign(node.ours)
                signed = True
        channel.frames_to_send()
        channel.receive_frame(update_frame)
        accepted = [e for e in channel.events() if getattr(e, "accepted", False)]
        if not signed or not accepted:
            raise AssertionError("the peer's transfer did not go through")

    return [functools.partial(step, *frames) for frames in ack_transfer_frames(node, rounds)]


def baseline_step() -> Step:
    """One bare pynacl signature plus one bare verification of an off-chain tx's bytes."""
    _, node = opened()
    tx, _ = node.transfer(1, to_peer=True)
    message = NETWORK.encode() + tx.serialize()
    key = nacl.signing.SigningKey(bytes([5]) * 32)
    verify_key = key.verify_key
    signature = key.sign(message).signature

    def step() -> None:
        key.sign(message)
        verify_key.verify(message, signature)

    return step


def against_baseline(steps: list[Step], chunk: int = CHUNK) -> tuple[float, float, float]:
    """(seconds per step, seconds per baseline, ratio), each the median over chunks of steps
    timed right after a chunk of baseline work: the machine's load, which changes over
    seconds, weighs on both sides of each ratio alike."""
    base, per_step, ratios = [], [], []
    baseline = baseline_step()
    clock = time.perf_counter
    for first in range(0, len(steps) - chunk + 1, chunk):
        start = clock()
        for _ in range(chunk):
            baseline()
        middle = clock()
        for step in steps[first : first + chunk]:
            step()
        end = clock()
        base.append((middle - start) / chunk)
        per_step.append((end - middle) / chunk)
        ratios.append((end - middle) / (middle - start))
    return statistics.median(per_step), statistics.median(base), statistics.median(ratios)


def inbound_frames_per_s(count: int) -> float:
    """Frames per second through receive_frame + next_event: reports, messages, pongs and
    the answers to queries (the queries submitted beforehand, outside the timing)."""
    channel, node = opened()
    message = {
        "channel_id": node.channel_id,
        "from": node.peer.address,
        "to": node.ours.address,
        "info": "hello",
    }
    mix: list[dict[str, Any] | None] = [
        node.info("own_funding_locked"),
        notification("channels.message", {"message": message}, node.channel_id),
        notification("channels.system.pong", {"action": "system", "tag": "pong"}),
        node.info("peer_disconnected"),
        None,  # the answer to a query
    ]
    balances = [{"account": k.address, "balance": 1} for k in (node.ours, node.peer)]
    frames = []
    for i in range(count):
        frame = mix[i % len(mix)]
        if frame is None:
            channel.submit(cmd.GetBalances(accounts=(node.ours.address, node.peer.address)))
            (query,) = channel.frames_to_send()
            frame = {"jsonrpc": "2.0", "id": query["id"], "result": balances}
        frames.append(frame)
    list(channel.events())  # the queries' OperationStarted
    answered = 0
    chunks = []  # seconds per chunk of frames: their median resists bursts of load
    clock = time.perf_counter
    for first in range(0, count, INBOUND_CHUNK):
        start = clock()
        for frame in frames[first : first + INBOUND_CHUNK]:
            channel.receive_frame(frame)
            while (event := channel.next_event()) is not None:
                answered += isinstance(event, QueryResult)
        chunks.append(clock() - start)
    if answered != mix.count(None) * count // len(mix):
        raise AssertionError(f"{answered} queries answered of {count // len(mix)}")
    return INBOUND_CHUNK / statistics.median(chunks)


def bytes_per_channel(count: int) -> float:
    """Bytes allocated per open channel restored from its record, ``count`` of them held."""
    template, _ = opened()
    record = template.record()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = [Channel.restore(record) for _ in range(count)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(held) == count
    return size / count


ADAPTERS: Final = ("asyncio", "trio", "sync")
E2E_TRANSFERS: Final = 200  # per channel, one channel
E2E_MANY: Final = (100, 10)  # channels at once, transfers per channel


def e2e_one_channel() -> dict[str, float]:
    """Transfers per second over loopback against the simulator, one channel, per adapter."""
    return {adapter: e2e.measure(adapter, 1, E2E_TRANSFERS) for adapter in ADAPTERS}


def e2e_many_channels() -> dict[str, float]:
    """The same with ``E2E_MANY[0]`` channels paying at once."""
    channels, transfers = E2E_MANY
    return {adapter: e2e.measure(adapter, channels, transfers) for adapter in ADAPTERS}


# Sections over real sockets (bench/e2e.py), each {adapter name: transfers per second}; they
# take about a minute, so --no-e2e leaves them out.
SECTIONS: dict[str, Callable[[], dict[str, float]]] = {
    "e2e_transfers_per_s": e2e_one_channel,
    f"e2e_{E2E_MANY[0]}_channels_transfers_per_s": e2e_many_channels,
}


def measure(rounds: int, repeat: int, e2e_sections: bool = True) -> dict[str, Any]:
    transfers = rounds * repeat
    own, base_own, own_ratio = against_baseline(own_transfer_steps(transfers))
    ack, base_ack, ack_ratio = against_baseline(ack_transfer_steps(transfers))
    *_, floor_own = against_baseline(floor.own_transfer_steps(transfers, own_transfer_frames))
    *_, floor_ack = against_baseline(floor.ack_transfer_steps(transfers, ack_transfer_frames))
    figures: dict[str, Any] = {
        "baseline_sign_verify_us": statistics.median([base_own, base_ack]) * 1e6,
        "own_transfer_us": own * 1e6,
        "ack_transfer_us": ack * 1e6,
        "own_transfer_ratio": own_ratio,
        "ack_transfer_ratio": ack_ratio,
        "floor_own_transfer_ratio": floor_own,
        "floor_ack_transfer_ratio": floor_ack,
        "inbound_frames_per_s": statistics.median(
            inbound_frames_per_s(INBOUND_FRAMES) for _ in range(repeat)
        ),
        "bytes_per_channel": bytes_per_channel(CHANNELS_HELD),
    }
    if e2e_sections:
        for name, section in SECTIONS.items():
            figures[name] = section()
        if (reason := js_sdk.missing()) is None:
            figures.update(js_sdk.measure())
        else:
            print(f"bench: no comparison with the JavaScript SDK: {reason}", file=sys.stderr)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="transfers of each kind per repeat"
    )
    parser.add_argument(
        "--repeat", type=int, default=REPEAT, help="repeats (transfers: rounds x repeat)"
    )
    parser.add_argument(
        "--no-e2e", action="store_true", help="leave out the end-to-end sections (bench/e2e.py)"
    )
    args = parser.parse_args()
    figures = measure(args.rounds, args.repeat, e2e_sections=not args.no_e2e)
    rounded = {
        k: {a: round(r, 1) for a, r in v.items()} if isinstance(v, dict) else round(v, 2)
        for k, v in figures.items()
    }
    if args.json:
        print(json.dumps(rounded))
        return
    print(f"{args.repeat * args.rounds} transfers of each kind, timed in chunks of {CHUNK}, each")
    print("next to as many baselines (one bare sign + one bare verify); medians over the chunks;")
    print(f"inbound: median of {args.repeat} runs of {INBOUND_FRAMES} frames, each the median")
    print(f"rate of its chunks of {INBOUND_CHUNK} frames")
    for name, value in rounded.items():
        if isinstance(value, dict):
            shown = ", ".join(f"{k} {v}" for k, v in value.items())
            print(f"{name:34} {shown or '-'}")
        else:
            print(f"{name:34} {value:14.2f}")
    if not args.no_e2e:
        print(f"e2e: one channel x {E2E_TRANSFERS} transfers; {E2E_MANY[0]} channels x")
        print(f"{E2E_MANY[1]} transfers at once; sync driven by")
        print(e2e.DRIVEN["sync"])


if __name__ == "__main__":
    main()
