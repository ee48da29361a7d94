"""Benchmark: the core's cost per transfer and memory per channel with many channels held.

For each size N, N channels (each its own pair of accounts, so nothing is shared between them
but what the library shares on purpose) are opened and held open together. Transfers then go
round all of them, one channel after another, so that any cache that holds a fixed number of
channels' worth of data misses as it would in a hub. Only the initiator's own work counts as
the core's cost (its channel's calls, the events it works out as they are iterated, and its
signature), timed in chunks right after as many baseline steps (one bare signature plus one
bare verification): the per-transfer figure and the baseline are medians over the chunks.
Both are timed in CPU time, not wall time: on a shared machine a transfer spread over a few
milliseconds of the server's work is preempted far more often than a chunk of baselines, and
wall time would charge the core for that.

Over WebSockets (the default): the simulator's server runs in a process of its own
(``python -m sansio_channels simulate --play-responders``) and plays every responder itself;
a fresh process for each run opens the N initiators with the asyncio adapter's
``ChannelClient``, at most ``--in-flight`` opens at a time, on one event loop. Besides the
core's cost (the channel's calls, and the client's answer to each sign request: the policy's
decision and the signature), each row gives that whole process's CPU time per transfer
(asyncio, websockets, the adapter and the core), the server's, the growth of that process's
RSS per channel held (sockets included), the time to open the N channels, transfers per
second with every channel paying at once (one transfer each), and the CPU time of one full
collection of the garbage collector once they are open (it walks every object held;
``--freeze`` then freezes them out of every later one, as a hub that holds its channels for
long may). Every transfer must be accepted and every channel must end with the balances its
transfers predict. Neither side sends keep-alives: the adapter's WebSocket pings and the
channel's ``channels.system`` pings are off (the simulator drops no quiet socket, and N
channels pinging every 20 s would spend CPU during the timed transfers that is not theirs);
``--keepalive`` turns both on at their defaults (WebSocket pings every 15 s, a
``channels.system`` ping after 20 quiet seconds), and ``--idle S`` then holds every channel
quiet for S seconds and gives the share of a core each process spent meanwhile. The process
raises its soft limit on file descriptors to the hard one (one descriptor a channel there,
one in the server, which inherits the limit).

Through a hub (``--hub URL``, ``sqlite:PATH`` or a libpq URL of a store that holds no
records): the same run, but the N initiators are opened through one ``Hub`` on that store,
with the library's default policy and a signer per account (the mapping form of
``signer=``), every event to a handler; every co-signed state and every state signed ahead
is saved, under its lease, before its signature leaves. The hub renews its leases and scans
the store every ``--renew-every`` seconds (2). Besides the figures above, a row gives the
saves per timed transfer and their wall time; each ``renew()`` and ``scan()`` the hub made by
itself while it held every channel (during the timed transfers and the transfers all at
once, then ``3 * --renew-every`` seconds of every channel quiet), timed around the hub's own
call in wall time, as how long the event loop waited for it; then how long ``hub.stop()``
took, and how much of it went to the store's releases; the store must then say that every
lease is released. The run then deletes its records, so the next run starts from an empty
store. In both modes a row gives the median wall time per transfer over the chunks and the
event loop's lag meanwhile: how late a task that sleeps 5 ms over and over wakes (median,
99th percentile, longest).

In memory (``--in-memory``): one in-process simulator, both sides sans-IO channels wired by
the harness, no sockets; only the core's cost and its memory are measured.

Memory per channel (``bytes_per_channel``, both modes): the bytes tracemalloc sees allocated
to restore every initiator channel from its own record (distinct channels, distinct records),
divided by their number.

Every size is measured ``--runs`` times (3), the sizes taking turns; each row gives the median
of each figure over the runs, and every run's core cost (``per_transfer_us_runs``).

Run: ``python bench/scale.py [--channels 100,1000,10000] [--transfers 2000] [--runs 3]
[--in-memory] [--freeze] [--keepalive] [--idle S] [--hub URL [--renew-every S]] [--json]``;
the last line of ``--json``
is ``{"rows": [{"channels", "per_transfer_us", "bytes_per_channel", "baseline_us", ...},
...]}``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import e2e  # bench/e2e.py, beside this file
import run  # bench/run.py, beside this file

from sansio_channels import commands as cmd
from sansio_channels.adapters import DEFAULT_SETTINGS, Settings
from sansio_channels.adapters.asyncio import ChannelClient
from sansio_channels.adapters.hub import ChannelStopped, Hub
from sansio_channels.channel import DEFAULT_PING_INTERVAL, Channel
from sansio_channels.events import Event, OperationAccepted, SignRequest, StateChanged
from sansio_channels.options import OpenOptions, Role
from sansio_channels.record import ChannelRecord
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import Pair, keypair, open_options
from sansio_channels.state import ChannelState
from sansio_channels.store import RELEASED_EXPIRY, LeasingStore, open_store, record_key

AMOUNT = 10**18
CHUNK = 20
INITIATOR: Final = "scale initiator"
RESPONDER: Final = "scale responder"  # the server plays these accounts' responders
# No keep-alives (the module's docstring says why); patient opens and closes, as the server
# is busy with thousands of them; room for the events nobody reads (a few per transfer).
SETTINGS: Final = Settings(
    ping_interval=None, open_timeout=120.0, close_timeout=60.0, max_queued_events=100_000
)
# With --keepalive: the adapter's WebSocket pings and the channel's pings at their defaults.
KEEPALIVE: Final = attrs.evolve(SETTINGS, ping_interval=DEFAULT_SETTINGS.ping_interval)
LIMIT: Final = 3600.0  # seconds any one phase of a run may take


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


# --- in memory ------------------------------------------------------------------------------


def open_channels(count: int) -> list[Pair]:
    sim = Simulator()
    pairs = []
    for n in range(count):
        pair = Pair.open(
            sim=sim,
            initiator_keys=keypair(f"{INITIATOR} {n}"),
            responder_keys=keypair(f"{RESPONDER} {n}"),
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
    order = round_robin(pairs, transfers)
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


def round_robin(items: Sequence[Any], transfers: int) -> list[Any]:
    """Who makes each of ``transfers`` transfers: a stride over every channel when there are
    more channels than transfers, round and round them otherwise."""
    stride = max(1, len(items) // transfers)
    return [items[(i * stride + i // len(items)) % len(items)] for i in range(transfers)]


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


def bytes_per_channel(records: Sequence[ChannelRecord]) -> float:
    """What tracemalloc sees allocated to restore a channel from each of ``records``."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = [Channel.restore(record) for record in records]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert len(held) == len(records)
    return sum(s.size_diff for s in after.compare_to(before, "filename")) / len(records)


def measure_in_memory(count: int, transfers: int) -> dict[str, Any]:
    pairs = open_channels(count)
    per, base = per_transfer(pairs, transfers)
    records = [pair.initiator.channel.record() for pair in pairs]
    return {
        "channels": count,
        "per_transfer_us": round(per * 1e6, 1),
        "baseline_us": round(base * 1e6, 1),
        "ratio": round(per / base, 2),
        "bytes_per_channel": round(bytes_per_channel(records)),
    }


# --- over WebSockets -------------------------------------------------------------------------


@attrs.frozen
class How:
    """How a run over WebSockets goes, besides its size."""

    transfers: int = 2000  # timed, round every channel
    in_flight: int = 100  # opens at a time
    freeze: bool = False  # gc.freeze() once every channel is open
    keepalive: bool = False  # the adapter's and the channel's pings at their defaults
    idle: float = 0.0  # seconds every channel is then held quiet, its CPU measured
    hub: str | None = None  # the store's URL: the initiators opened through one Hub on it
    renew_every: float = 2.0  # the hub's renewals and scans, this often

    def argv(self) -> list[str]:
        """The command-line options that say the same."""
        flags = [name for name in ("freeze", "keepalive") if getattr(self, name)]
        hub = [] if self.hub is None else ["--hub", self.hub]
        return [
            *("--transfers", str(self.transfers), "--in-flight", str(self.in_flight)),
            *("--idle", str(self.idle), *(f"--{flag}" for flag in flags)),
            *(*hub, "--renew-every", str(self.renew_every)),
        ]


class Held:
    """One initiator over its own WebSocket: its client, its peer, and its transfers made."""

    def __init__(self, n: int, client: ChannelClient, peer: str) -> None:
        self.n = n
        self.client = client
        self.peer = peer
        self.transfers = 0

    async def transfer(self) -> None:
        outcome = await self.client.transfer(self.peer, 1)
        if not isinstance(outcome, OperationAccepted):
            raise e2e.BenchFailed(f"channel {self.n}: a transfer did not go through: {outcome}")
        self.transfers += 1

    def check_balances(self) -> None:
        record = self.client.record()
        own = self.client.channel.account.api
        expected = {own: AMOUNT - self.transfers, self.peer: AMOUNT + self.transfers}
        if record.balances != expected:
            raise e2e.BenchFailed(f"channel {self.n}: balances {record.balances}, not {expected}")

    def time_core(self, spent: list[float]) -> None:
        """From now on, the core's work for this channel adds its CPU time to ``spent``: the
        channel's calls (the adapter's pump makes them all), and the answer to each sign
        request (the policy's decision and the signature)."""
        pump = self.client._pump
        pump.channel = Timed(pump.channel, spent)  # type: ignore[assignment]
        answer = pump._answer

        def timed_answer(request: SignRequest) -> bool:
            start = time.thread_time()
            try:
                return answer(request)
            finally:
                spent[0] += time.thread_time() - start

        pump._answer = timed_answer  # type: ignore[method-assign]


async def open_one(
    url: str, network_id: str, n: int, keepalive: bool = False, hub: HubRun | None = None
) -> Held:
    keys, peer = keypair(f"{INITIATOR} {n}"), keypair(f"{RESPONDER} {n}").address
    options = open_options(Role.INITIATOR, keys, keypair(f"{RESPONDER} {n}"), amount=AMOUNT)
    pings = DEFAULT_PING_INTERVAL if keepalive else None
    if hub is not None:
        return Held(n, await hub.open(options, network_id, pings), peer)
    channel = Channel(options, network_id=network_id, ping_interval=pings)
    settings = KEEPALIVE if keepalive else SETTINGS
    client = ChannelClient(channel, url, signer=keys, settings=settings)
    await client.__aenter__()
    while (event := await client.next_event()) is not None:
        if isinstance(event, StateChanged) and event.state is ChannelState.OPEN:
            return Held(n, client, peer)
    raise e2e.BenchFailed(f"channel {n}: the client stopped before the channel opened")


async def open_all(
    url: str,
    network_id: str,
    count: int,
    in_flight: int,
    keepalive: bool = False,
    hub: HubRun | None = None,
) -> list[Held]:
    """Open ``count`` channels, at most ``in_flight`` opens at a time."""
    gate = asyncio.Semaphore(in_flight)

    async def gated(n: int) -> Held:
        async with gate:
            return await open_one(url, network_id, n, keepalive, hub)

    return await asyncio.wait_for(asyncio.gather(*(gated(n) for n in range(count))), LIMIT)


class HubRun:
    """The initiators opened through one :class:`Hub` on ``store``, as an application runs
    one: the library's default policy, a signer per account (the mapping form of
    ``signer=``), every event to a handler. Around the hub's own calls it counts and times
    the store's saves, and times each ``renew()`` and ``scan()`` the hub makes by itself
    (every ``how.renew_every``), in wall time: the time the event loop waited for them."""

    def __init__(self, store: LeasingStore, url: str, count: int, how: How) -> None:
        if store.records():
            raise e2e.BenchFailed("the hub's store must hold no records: the hub would take them")
        self.store = store
        accounts = (keypair(f"{INITIATOR} {n}") for n in range(count))
        self.hub = Hub(
            url,
            store,
            signer={keys.address: keys for keys in accounts},
            handler=self.on_event,
            settings=KEEPALIVE if how.keepalive else SETTINGS,
            renew_every=how.renew_every,
            scan_every=how.renew_every,
        )
        self.saves = [0, 0.0]  # saves made, seconds they took
        self.releases = [0, 0.0]  # leases released, seconds they took
        self.held = False  # every channel open: the calls timed from now on count
        self.renewals: list[float] = []
        self.scans: list[float] = []
        self._opening: dict[ChannelClient, asyncio.Future[None]] = {}
        store.save = _counted(store.save, self.saves)  # type: ignore[method-assign]
        store.release = _counted(store.release, self.releases)  # type: ignore[method-assign]
        self.hub.renew = self._timed(self.hub.renew, self.renewals)  # type: ignore[method-assign]
        self.hub.scan = self._timed(self.hub.scan, self.scans)  # type: ignore[method-assign]

    def _timed(self, call: Callable[[], None], spent: list[float]) -> Callable[[], None]:
        def timed() -> None:
            start = time.perf_counter()
            try:
                call()
            finally:
                if self.held:
                    spent.append(time.perf_counter() - start)

        return timed

    async def open(
        self, options: OpenOptions, network_id: str, pings: float | None
    ) -> ChannelClient:
        client = self.hub.open(options, network_id=network_id)
        client.channel.ping_interval = pings  # before its task first runs
        opened = asyncio.get_running_loop().create_future()
        self._opening[client] = opened
        await opened
        return client

    async def on_event(self, client: ChannelClient | None, event: Event) -> None:
        """The hub's handler: it tells :meth:`open` when its channel is open, or stopped."""
        opened = None if client is None else self._opening.get(client)
        if client is None or opened is None or opened.done():
            return
        if isinstance(event, StateChanged) and event.state is ChannelState.OPEN:
            opened.set_result(None)
            del self._opening[client]
        elif isinstance(event, ChannelStopped):
            opened.set_exception(e2e.BenchFailed(f"the hub stopped an open: {event.reason}"))

    async def stop(self, held: Sequence[Held]) -> dict[str, Any]:
        """Stop the hub; how long that took, and that the store has every lease released."""
        start, releasing = time.perf_counter(), self.releases[1]
        await asyncio.wait_for(self.hub.stop(), LIMIT)
        stopped = time.perf_counter() - start
        releasing = self.releases[1] - releasing
        keys = [record_key(channel.client.record()) for channel in held]
        leases = [self.store.lease(key) for key in keys]
        released = sum(1 for lease in leases if lease and lease.expires == RELEASED_EXPIRY)
        if released != len(held):
            raise e2e.BenchFailed(f"{len(held) - released} leases not released by the stop")
        for key in keys:  # the next run starts from an empty store
            self.store.delete(key)
        return {
            "stop_seconds": round(stopped, 2),
            "stop_release_seconds": round(releasing, 2),
            "leases_released": released,
        }

    def figures(self, transfers: int, saves: tuple[int, float]) -> dict[str, Any]:
        """Saves per timed transfer and their wall time; the hub's renewals and scans while
        it held every channel (count, median and longest, in ms)."""
        figures: dict[str, Any] = {
            "saves_per_transfer": round(saves[0] / transfers, 2),
            "save_wall_per_transfer_us": round(saves[1] / transfers * 1e6, 1),
        }
        for name, spent in (("renew", self.renewals), ("scan", self.scans)):
            if not spent:
                raise e2e.BenchFailed(f"the hub made no {name}() while it held the channels")
            figures[f"{name}s"] = len(spent)
            figures[f"{name}_ms"] = round(statistics.median(spent) * 1e3, 2)
            figures[f"{name}_max_ms"] = round(max(spent) * 1e3, 2)
        return figures


def _counted(call: Callable[..., None], tally: list[Any]) -> Callable[..., None]:
    """``call``, adding each call to ``tally[0]`` and its wall time to ``tally[1]``."""

    def counted(*args: Any, **kwargs: Any) -> None:
        start = time.perf_counter()
        try:
            call(*args, **kwargs)
        finally:
            tally[0] += 1
            tally[1] += time.perf_counter() - start

    return counted


class LoopLag:
    """How late the event loop wakes a task that sleeps ``period`` over and over."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.period)
            self.lags.append(loop.time() - start - self.period)

    async def stop(self) -> dict[str, Any]:
        """The lags seen (ms): median, 99th percentile, longest."""
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        lags = sorted(self.lags) or [0.0]
        return {
            "loop_lag_median_ms": round(statistics.median(lags) * 1e3, 2),
            "loop_lag_p99_ms": round(lags[int(0.99 * (len(lags) - 1))] * 1e3, 2),
            "loop_lag_max_ms": round(lags[-1] * 1e3, 2),
        }


async def timed_transfers(
    held: Sequence[Held], transfers: int, server: CpuClock, hub: HubRun | None = None
) -> dict[str, Any]:
    """Transfers round every channel, one after another, in chunks after as many baseline
    steps: medians of the core's CPU time, this process's and the server's, and of the wall
    time per transfer; the event loop's lag meanwhile; through a hub, its saves."""
    spent = [0.0]
    for channel in held:
        channel.time_core(spent)
    baseline = run.baseline_step()
    order = round_robin(held, transfers)
    core, process, wall, base, served = [], [], [], [], 0.0
    saved = (0, 0.0) if hub is None else (hub.saves[0], hub.saves[1])
    lag = LoopLag()
    lag.start()
    for first in range(0, transfers - CHUNK + 1, CHUNK):
        start = time.thread_time()
        for _ in range(CHUNK):
            baseline()
        base.append((time.thread_time() - start) / CHUNK)
        spent[0] = 0.0
        process_start, server_start = time.process_time(), server.seconds()
        wall_start = time.perf_counter()
        for channel in order[first : first + CHUNK]:
            await channel.transfer()
        wall.append((time.perf_counter() - wall_start) / CHUNK)
        process.append((time.process_time() - process_start) / CHUNK)
        served += server.seconds() - server_start
        core.append(spent[0] / CHUNK)
    timed = len(core) * CHUNK
    saves = (0, 0.0) if hub is None else (hub.saves[0] - saved[0], hub.saves[1] - saved[1])
    return {
        "core": statistics.median(core),
        "process": statistics.median(process),
        "wall": statistics.median(wall),
        "baseline": statistics.median(base),
        "server": served / timed,
        "timed": timed,
        "saves": saves,
        "lag": await lag.stop(),
    }


async def everyone_pays(held: Sequence[Held]) -> float:
    """Every channel makes one transfer, all at once: transfers per second."""
    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(channel.transfer() for channel in held)), LIMIT)
    return len(held) / (time.perf_counter() - start)


class CpuClock:
    """Another process's CPU time (user and system), from /proc; 0 where there is none."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/stat")
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float:
        try:
            fields = self.path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime


def rss_bytes() -> int:
    """This process's resident memory now (Linux), or its peak elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def raise_descriptor_limit(needed: int) -> int:
    """Raise the soft limit on open files to the hard one; the limit, and a warning on stderr
    if it is below ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = hard if hard != resource.RLIM_INFINITY else needed
    if limit < needed:
        print(f"warning: {limit} open files allowed, {needed} needed", file=sys.stderr)
    return limit


async def held_quiet(seconds: float, server: CpuClock) -> tuple[float, float]:
    """This process's and the server's CPU time over ``seconds`` with nothing to do but
    keep the channels alive, as shares of one core."""
    process, served = time.process_time(), server.seconds()
    await asyncio.sleep(seconds)
    return (time.process_time() - process) / seconds, (server.seconds() - served) / seconds


async def measure_held(
    url: str, network_id: str, server: CpuClock, count: int, how: How, hub: HubRun | None = None
) -> dict[str, Any]:
    gc.collect()
    rss_before = rss_bytes()
    if hub is not None:
        await hub.hub.__aenter__()  # its renewals and scans start
    start = time.perf_counter()
    held: list[Held] = []
    stopped: dict[str, Any] = {}
    try:
        held = await open_all(url, network_id, count, how.in_flight, how.keepalive, hub)
        opened = time.perf_counter() - start
        # A full collection walks every object the process holds: what it costs with N held.
        collect = time.process_time()
        gc.collect()
        full_gc = time.process_time() - collect
        rss_per_channel = (rss_bytes() - rss_before) / count
        if how.freeze:
            gc.freeze()  # the channels held stay out of every later collection
        if hub is not None:
            hub.held = True
        timed = await timed_transfers(held, how.transfers, server, hub)
        rate = await everyone_pays(held)
        quiet = await held_quiet(how.idle, server) if how.idle else None
        if hub is not None:  # a few more rounds of renewals and scans, every channel quiet
            await asyncio.sleep(3 * how.renew_every)
            hub.held = False
        for channel in held:
            channel.check_balances()
        made = sum(channel.transfers for channel in held)
        records = [channel.client.record() for channel in held]
    finally:
        if hub is not None:
            stopped = await hub.stop(held)
        else:
            closing = (channel.client.close() for channel in held)
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), LIMIT)
        if how.freeze:
            gc.unfreeze()
    core, base = timed["core"], timed["baseline"]
    idle = {}
    if quiet is not None:  # shares of one core spent keeping the channels alive
        idle = {"idle_process_cpu": round(quiet[0], 4), "idle_server_cpu": round(quiet[1], 4)}
    through_hub = {} if hub is None else {**hub.figures(timed["timed"], timed["saves"]), **stopped}
    return {
        "channels": count,
        "per_transfer_us": round(core * 1e6, 1),
        "baseline_us": round(base * 1e6, 1),
        "ratio": round(core / base, 2),
        "process_cpu_per_transfer_us": round(timed["process"] * 1e6, 1),
        "process_ratio": round(timed["process"] / base, 2),
        "server_cpu_per_transfer_us": round(timed["server"] * 1e6, 1),
        "wall_per_transfer_us": round(timed["wall"] * 1e6, 1),
        **timed["lag"],
        "bytes_per_channel": round(bytes_per_channel(records)),
        "rss_bytes_per_channel": round(rss_per_channel),
        "open_seconds": round(opened, 2),
        "full_gc_ms": round(full_gc * 1e3, 1),
        "transfers_per_s": round(rate, 1),
        "transfers": made,
        **idle,
        **through_hub,
    }


def measure_in_child(count: int, how: How) -> dict[str, Any]:
    """:func:`measure_websockets` in a fresh process of its own: the growth of its RSS is then
    the channels' (a process that held channels before reuses the memory they left)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--here", "--json"]
    command += ["--channels", str(count), "--runs", "1", *how.argv()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=LIMIT, check=False)
    if done.returncode != 0:
        raise e2e.BenchFailed(f"the run of {count} channels failed:\n{done.stderr}")
    row: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])["rows"][0]
    return row


def measure_websockets(count: int, how: How) -> dict[str, Any]:
    """One row: a server of its own playing ``count`` responders, ``count`` initiators here."""
    raise_descriptor_limit(count + 100)
    with e2e.Server("--play-responders", f"{RESPONDER}:{count}") as server:
        clock = CpuClock(server.process.pid)
        if how.hub is None:
            return asyncio.run(measure_held(server.url, server.network_id, clock, count, how))
        with open_store(how.hub) as store:
            hub = HubRun(store, server.url, count, how)
            held = measure_held(server.url, server.network_id, clock, count, how, hub)
            return asyncio.run(held)


# --- the command line ------------------------------------------------------------------------


def combined(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One size's row from its runs: the median of each figure, every run's core cost too."""
    figures = [name for name in runs[0] if name != "per_transfer_us_runs"]  # a child's row
    row = {name: round(statistics.median(run[name] for run in runs), 2) for name in figures}
    row["channels"] = runs[0]["channels"]
    if "transfers" in row:
        row["transfers"] = sum(run["transfers"] for run in runs)
    row["per_transfer_us_runs"] = [run["per_transfer_us"] for run in runs]
    return row


def show(row: dict[str, Any], label: str) -> None:
    print(
        f"{label}{row['channels']:>6} channels: {row['per_transfer_us']:7.1f} us per transfer "
        f"(baseline {row['baseline_us']:.1f} us, ratio {row['ratio']}), "
        f"{row['bytes_per_channel']:,} bytes per channel",
        flush=True,
    )
    if "process_cpu_per_transfer_us" in row:
        print(
            f"{'':14} process CPU {row['process_cpu_per_transfer_us']:.1f} us per transfer "
            f"(ratio {row['process_ratio']}), server CPU "
            f"{row['server_cpu_per_transfer_us']:.1f} us; RSS "
            f"{row['rss_bytes_per_channel']:,} bytes per channel; opened in "
            f"{row['open_seconds']} s (a full gc {row['full_gc_ms']} ms); "
            f"{row['transfers_per_s']} transfers/s all at once",
            flush=True,
        )
    if "loop_lag_max_ms" in row:
        print(
            f"{'':14} wall {row['wall_per_transfer_us']:.1f} us per transfer; the loop's lag "
            f"{row['loop_lag_median_ms']} ms median, {row['loop_lag_p99_ms']} ms p99, "
            f"{row['loop_lag_max_ms']} ms at most",
            flush=True,
        )
    if "saves_per_transfer" in row:
        print(
            f"{'':14} hub: {row['saves_per_transfer']} saves per transfer "
            f"({row['save_wall_per_transfer_us']:.1f} us of wall time); renew "
            f"{row['renew_ms']} ms (at most {row['renew_max_ms']} ms, {row['renews']} times), "
            f"scan {row['scan_ms']} ms (at most {row['scan_max_ms']} ms, {row['scans']} times); "
            f"stopped in {row['stop_seconds']} s ({row['stop_release_seconds']} s of it in "
            f"store.release), {row['leases_released']:,} leases released",
            flush=True,
        )
    if "idle_process_cpu" in row:
        print(
            f"{'':14} held quiet: {row['idle_process_cpu']:.1%} of a core here, "
            f"{row['idle_server_cpu']:.1%} in the server",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", default="100,1000,10000")
    parser.add_argument("--transfers", type=int, default=2000, help="timed, at each size")
    parser.add_argument("--runs", type=int, default=3, help="runs of every size, alternating")
    parser.add_argument("--in-memory", action="store_true", help="no sockets: one simulator here")
    parser.add_argument("--in-flight", type=int, default=100, help="opens at a time (WebSockets)")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() once open")
    parser.add_argument("--keepalive", action="store_true", help="default pings, both kinds")
    parser.add_argument("--idle", type=float, default=0.0, help="then hold quiet S seconds")
    parser.add_argument("--hub", metavar="URL", help="open through one Hub on this store")
    parser.add_argument("--renew-every", type=float, default=2.0, help="the hub's, in seconds")
    parser.add_argument("--json", action="store_true")
    # A run over WebSockets goes to a fresh process; --here is that process.
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.channels.split(",")]
    how = How(
        args.transfers,
        args.in_flight,
        args.freeze,
        args.keepalive,
        args.idle,
        args.hub,
        args.renew_every,
    )
    runs: dict[int, list[dict[str, Any]]] = {count: [] for count in counts}
    # The sizes take turns, so that a change in the machine's load weighs on each alike.
    for number in range(1, args.runs + 1):
        for count in counts:
            if args.in_memory:
                row = measure_in_memory(count, args.transfers)
            elif args.here:
                row = measure_websockets(count, how)
            else:
                row = measure_in_child(count, how)
            runs[count].append(row)
            show(row, f"run {number}")
    rows = [combined(runs[count]) for count in counts]
    if args.runs > 1:
        for row in rows:
            show(row, "median")
    if args.json:
        print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
