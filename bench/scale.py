"""Benchmark: the core's cost per transfer and memory per channel with many channels held.

For each size, that many channels (each its own pair of accounts, so nothing is shared
between them but what the library shares on purpose) are opened on one in-memory simulator
and held open together. Transfers then go round all of them, one channel after another, so
that any cache that holds a fixed number of channels' worth of data misses as it would in a
hub. Only the initiator's own work is timed (its channel's calls and its signature), never the
simulator's or the responder's, in chunks right after as many baseline steps (one bare
signature plus one bare verification): the per-transfer figure and the baseline are medians
over the chunks. Both are timed in the thread's CPU time, not wall time: on a shared machine a
transfer spread over a few milliseconds of simulator work is preempted far more often than a
chunk of baselines, and wall time would charge the core for that. Memory per channel: the
bytes allocated to restore every initiator channel from its own record (distinct channels,
distinct records), divided by their number.

Run: ``python bench/scale.py [--channels 100,1000,10000] [--transfers 2000] [--json]``; the
last line of ``--json`` is ``{"rows": [{"channels", "per_transfer_us", "bytes_per_channel",
"baseline_us"}, ...]}``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import run  # bench/run.py, beside this file

from sansio_channels import commands as cmd
from sansio_channels.channel import Channel
from sansio_channels.events import OperationAccepted, SignRequest
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import Pair, keypair
from sansio_channels.state import ChannelState

AMOUNT = 10**18
CHUNK = 20


class Timed:
    """A channel whose calls add their time to ``spent`` (the harness calls it as a channel).
    A call that gives an iterator (``events()`` works as it is iterated) is timed through
    its iteration too."""

    def __init__(self, channel: Channel, spent: list[float]) -> None:
        self._channel = channel
        self._spent = spent

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._channel, name)
        if not callable(target):
            return target
        spent, clock = self._spent, time.thread_time

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                result = target(*args, **kwargs)
            finally:
                spent[0] += clock() - start
            return _timed_iteration(result, spent) if isinstance(result, Iterator) else result

        return timed


def _timed_iteration(items: Iterator[Any], spent: list[float]) -> Iterator[Any]:
    clock = time.thread_time
    while True:
        start = clock()
        try:
            item = next(items)
        except StopIteration:
            spent[0] += clock() - start
            return
        spent[0] += clock() - start
        yield item


def open_channels(count: int) -> list[Pair]:
    sim = Simulator()
    pairs = []
    for n in range(count):
        pair = Pair.open(
            sim=sim,
            initiator_keys=keypair(f"scale initiator {n}"),
            responder_keys=keypair(f"scale responder {n}"),
            initiator_amount=AMOUNT,
            responder_amount=AMOUNT,
        )
        pair.run()
        if pair.initiator.channel.state is not ChannelState.OPEN:
            raise AssertionError(f"channel {n} did not open")
        pairs.append(pair)
    return pairs


def per_transfer(pairs: Sequence[Pair], transfers: int) -> tuple[float, float]:
    """(seconds of the initiator's core per transfer, seconds per baseline step), medians
    over chunks; the transfers go round every channel."""
    spent = [0.0]
    for pair in pairs:
        side = pair.initiator
        side.channel = Timed(side.channel, spent)  # type: ignore[assignment]
        side.intercept = _timed_sign(side.keys, spent)
    baseline = run.baseline_step()
    stride = max(1, len(pairs) // transfers)  # spread over all channels when there are more
    order = [pairs[(i * stride + i // len(pairs)) % len(pairs)] for i in range(transfers)]
    clock = time.thread_time
    per_step, base = [], []
    for first in range(0, transfers - CHUNK + 1, CHUNK):
        start = clock()
        for _ in range(CHUNK):
            baseline()
        base.append((clock() - start) / CHUNK)
        spent[0] = 0.0
        for pair in order[first : first + CHUNK]:
            _transfer(pair, spent)
        per_step.append(spent[0] / CHUNK)
    return statistics.median(per_step), statistics.median(base)


def _timed_sign(keys: Any, spent: list[float]) -> Callable[[SignRequest], None]:
    def sign(request: SignRequest) -> None:
        start = time.thread_time()
        request.sign(keys)
        spent[0] += time.thread_time() - start

    return sign


def _transfer(pair: Pair, spent: list[float]) -> None:
    alice, bob = pair.initiator, pair.responder
    before = len(alice.events)
    alice.channel.submit(cmd.Transfer(from_id=alice.address, to_id=bob.address, amount=1))
    pair.run()
    if not any(isinstance(e, OperationAccepted) for e in alice.events[before:]):
        raise AssertionError("a transfer did not go through")
    del alice.events[:], bob.events[:]


def bytes_per_channel(pairs: Sequence[Pair]) -> float:
    records = [pair.initiator.channel.record() for pair in pairs]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = [Channel.restore(record) for record in records]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert len(held) == len(records)
    return sum(s.size_diff for s in after.compare_to(before, "filename")) / len(records)


def measure(count: int, transfers: int) -> dict[str, Any]:
    pairs = open_channels(count)
    per, base = per_transfer(pairs, transfers)
    return {
        "channels": count,
        "per_transfer_us": round(per * 1e6, 1),
        "baseline_us": round(base * 1e6, 1),
        "ratio": round(per / base, 2),
        "bytes_per_channel": round(bytes_per_channel(pairs)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", default="100,1000,10000")
    parser.add_argument("--transfers", type=int, default=2000, help="timed, at each size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for count in (int(c) for c in args.channels.split(",")):
        row = measure(count, args.transfers)
        rows.append(row)
        print(
            f"{row['channels']:>6} channels: {row['per_transfer_us']:7.1f} us per transfer "
            f"(baseline {row['baseline_us']:.1f} us, ratio {row['ratio']}), "
            f"{row['bytes_per_channel']:,} bytes per channel",
            flush=True,
        )
    if args.json:
        print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
