"""Benchmark: off-chain transfers per second through each adapter, over loopback, against the
simulator's WebSocket server.

The server is the project's own (``python -m sansio_channels simulate --port 0``), in a
process of its own, so it does not share the clients' interpreter lock. Both participants of
every channel are clients of the adapter under test, in this process: the initiator pays the
responder one aetto at a time, each transfer awaited (``submit``) before the next; the
responder's default policy co-signs. With several channels they all pay at once. The clock
runs from the moment every channel is open to the moment the last transfer is accepted; opening
and the mutual close that ends each channel are not timed.

asyncio and trio run every client on one event loop. The blocking adapter has no threads of its
own, so the benchmark gives each of its clients a thread (two per channel): that is how the
``sync`` rows were driven.

Every transfer must be accepted and every channel must end with the balances its transfers
predict; otherwise the run fails, saying why. Each run is bounded in time (``LIMIT``).

Run: ``python bench/e2e.py [--adapters asyncio,trio,sync] [--channels 1,100]
[--transfers 200,10] [--json]``; ``measure(adapter, channels, transfers)`` is the function
behind each row.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sansio_channels.adapters import Settings
from sansio_channels.cli.demo import load_adapter
from sansio_channels.crypto import KeyPair
from sansio_channels.events import Event, OperationAccepted, SignRequest, StateChanged
from sansio_channels.options import OpenOptions, Role
from sansio_channels.simulator.harness import keypair, open_options
from sansio_channels.state import ChannelState

AMOUNT: Final = 10**18
LIMIT: Final = 300.0  # seconds a whole run may take, opening and closing included
SETTINGS: Final = Settings(open_timeout=30.0, close_timeout=10.0, max_queued_events=100_000)
DRIVEN: Final = {
    "asyncio": "one asyncio loop, every client a task",
    "trio": "one trio run, every client a task",
    "sync": "one thread per blocking client (two per channel), started by the benchmark",
}


class BenchFailed(Exception):
    """The run did not do what it claims to measure."""


# --- the server -------------------------------------------------------------------------------


class Server:
    """``python -m sansio_channels simulate --port 0 [ARGV...]`` in a child process."""

    def __init__(self, *argv: str) -> None:
        self.argv = argv

    def __enter__(self) -> Server:
        command = [sys.executable, "-m", "sansio_channels", "simulate", "--port", "0", *self.argv]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "simulator: listening on ws://... (ae_dev)"
        if "listening on" not in line:
            self.__exit__()
            raise BenchFailed(f"the simulator did not start: {line!r}")
        self.url, network = line.split("listening on ")[1].split()
        self.network_id = network.strip("()")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        finally:
            assert self.process.stdout is not None
            self.process.stdout.close()


# --- one channel's two sides, whatever the adapter --------------------------------------------


def keys(n: int) -> tuple[KeyPair, KeyPair]:
    return keypair(f"e2e initiator {n}"), keypair(f"e2e responder {n}")


def channel_options(role: Role, n: int) -> OpenOptions:
    # Each responder listens on a port of its own.
    return open_options(role, *keys(n), port=20_000 + n, amount=AMOUNT)


def client(module: Any, server: Server, role: Role, n: int) -> Any:
    initiator, responder = keys(n)
    return module.open_channel(
        server.url,
        channel_options(role, n),
        network_id=server.network_id,
        signer=initiator if role is Role.INITIATOR else responder,
        settings=SETTINGS,
    )


def answer(event: Event) -> str | None:
    """What a side does with an event: its client's method to call on it, if any. The policy
    leaves the create tx to the application (its channel id cannot be checked before the open
    names it), and the responder's close ack."""
    if isinstance(event, SignRequest):
        return "sign" if event.safe else "abort"
    return None


def opened(event: Event) -> bool:
    return isinstance(event, StateChanged) and event.state is ChannelState.OPEN


class Clock:
    """Starts when every channel is open, stops when every channel has made its transfers.
    It reads this process's CPU time too: both participants of every channel run here, the
    simulator in a process of its own."""

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self.open = self.done = 0
        self.started = self.stopped = 0.0
        self.cpu_started = self.cpu_stopped = 0.0
        self.lock = threading.Lock()

    def channel_open(self) -> bool:
        """One more channel is open; True when it was the last (the clock starts)."""
        with self.lock:
            self.open += 1
            if self.open == self.channels:
                self.started = time.perf_counter()
                self.cpu_started = time.process_time()
            return self.open == self.channels

    def channel_done(self) -> None:
        with self.lock:
            self.done += 1
            if self.done == self.channels:
                self.stopped = time.perf_counter()
                self.cpu_stopped = time.process_time()


def check(outcome: object, n: int) -> None:
    if not isinstance(outcome, OperationAccepted):
        raise BenchFailed(f"channel {n}: a transfer did not go through: {outcome}")


def check_balances(record: Any, n: int, transfers: int) -> None:
    initiator, responder = keys(n)
    expected = {initiator.address: AMOUNT - transfers, responder.address: AMOUNT + transfers}
    if record.balances != expected:
        raise BenchFailed(f"channel {n}: balances {record.balances}, expected {expected}")


# --- asyncio and trio -------------------------------------------------------------------------


class Kit:
    """What the async run needs of its event loop: events and a way to start a task."""

    def __init__(self, event: Callable[[], Any], spawn: Callable[..., None]) -> None:
        self.event = event
        self.spawn = spawn


async def read(side: Any, is_open: Any, ended: Any) -> None:
    """Handle one client's events until its stream ends."""
    try:
        async for event in side:
            if (method := answer(event)) is not None:
                await getattr(side, method)(event)
            elif opened(event):
                is_open.set()
    finally:
        ended.set()


async def async_channel(
    kit: Kit, module: Any, server: Server, n: int, transfers: int, clock: Clock, go: Any
) -> None:
    _, responder_keys = keys(n)
    sides = []
    async with (
        client(module, server, Role.RESPONDER, n) as responder,  # the responder listens first
        client(module, server, Role.INITIATOR, n) as initiator,
    ):
        for side in (responder, initiator):
            is_open, ended = kit.event(), kit.event()
            kit.spawn(read, side, is_open, ended)
            sides.append((is_open, ended))
        for is_open, _ in sides:
            await is_open.wait()
        if clock.channel_open():
            go.set()
        await go.wait()
        for _ in range(transfers):
            check(await initiator.transfer(responder_keys.address, 1), n)
        clock.channel_done()
        check_balances(initiator.record(), n, transfers)
        check(await initiator.shutdown(), n)
        for _, ended in sides:  # the node closes both sockets once the channel is closed
            await ended.wait()


async def run_asyncio(module: Any, server: Server, channels: int, transfers: int) -> Clock:
    clock, go, tasks = Clock(channels), asyncio.Event(), []
    kit = Kit(asyncio.Event, lambda f, *args: tasks.append(asyncio.ensure_future(f(*args))))
    work = [async_channel(kit, module, server, n, transfers, clock, go) for n in range(channels)]
    try:
        await asyncio.wait_for(asyncio.gather(*work), LIMIT)
    finally:
        for task in tasks:
            task.cancel()
    return clock


async def run_trio(module: Any, server: Server, channels: int, transfers: int) -> Clock:
    trio = importlib.import_module("trio")
    clock, go = Clock(channels), trio.Event()
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            kit = Kit(trio.Event, nursery.start_soon)
            for n in range(channels):
                nursery.start_soon(async_channel, kit, module, server, n, transfers, clock, go)
    return clock


# --- blocking clients, a thread each ----------------------------------------------------------


def sync_side(
    module: Any, server: Server, role: Role, n: int, transfers: int, clock: Clock, state: Any
) -> None:
    _, responder_keys = keys(n)
    with client(module, server, role, n) as side:
        if role is Role.RESPONDER:
            state["listening"].set()  # the initiator may come
        for event in side:
            if (method := answer(event)) is not None:
                getattr(side, method)(event)
            elif opened(event):
                break
        if role is Role.RESPONDER:
            for event in side:  # until the node closes the socket after the close
                if (method := answer(event)) is not None:
                    getattr(side, method)(event)
            return
        if clock.channel_open():
            state["go"].set()
        state["go"].wait(LIMIT)
        for _ in range(transfers):
            check(side.transfer(responder_keys.address, 1), n)
            drain(side)  # our events: the client would fall behind otherwise
        clock.channel_done()
        check_balances(side.record(), n, transfers)
        check(side.shutdown(), n)
        for _ in side:
            pass


def drain(side: Any) -> None:
    try:
        while side.next_event(timeout=0) is not None:
            pass
    except TimeoutError:
        return


def run_sync(module: Any, server: Server, channels: int, transfers: int) -> Clock:
    clock, go = Clock(channels), threading.Event()
    failures: list[BaseException] = []

    def guarded(*args: Any) -> None:
        try:
            sync_side(*args)
        except BaseException as exc:
            failures.append(exc)
            go.set()  # nobody waits for a channel that failed
            args[-1]["listening"].set()

    threads = []
    for n in range(channels):
        if failures:
            break
        state = {"listening": threading.Event(), "go": go}
        for role in (Role.RESPONDER, Role.INITIATOR):
            args = (module, server, role, n, transfers, clock, state)
            thread = threading.Thread(target=guarded, args=args, daemon=True)
            thread.start()
            threads.append(thread)
            if role is Role.RESPONDER and not state["listening"].wait(LIMIT):
                raise BenchFailed(f"channel {n}: the responder did not connect in {LIMIT} s")
            if failures:  # a client that failed to connect: stop starting more
                break
    until = time.monotonic() + LIMIT
    for thread in threads:
        thread.join(max(0.0, until - time.monotonic()))
    if failures:
        raise BenchFailed(f"{len(failures)} client(s) failed, first: {failures[0]!r}")
    if any(thread.is_alive() for thread in threads):
        raise BenchFailed(f"the run took longer than {LIMIT} s")
    return clock


# --- the measure ------------------------------------------------------------------------------


def measure(adapter: str, channels: int, transfers: int) -> float:
    """Transfers per second through ``adapter`` (asyncio, trio or sync) with ``channels``
    channels open at once, each making ``transfers`` transfers, against the simulator's
    server on loopback. Raises :class:`BenchFailed` if any transfer is not accepted."""
    with Server() as server:
        rate, _ = measure_on(server, adapter, channels, transfers)
    return rate


def measure_on(server: Server, adapter: str, channels: int, transfers: int) -> tuple[float, float]:
    """The same against a running ``server`` (its channels of earlier runs are closed): the
    transfers per second, and the clients' CPU seconds per transfer."""
    module = load_adapter(adapter)
    if adapter == "asyncio":
        clock = asyncio.run(run_asyncio(module, server, channels, transfers))
    elif adapter == "trio":
        trio = importlib.import_module("trio")
        clock = trio.run(run_trio, module, server, channels, transfers)
    else:
        clock = run_sync(module, server, channels, transfers)
    if clock.done != channels:
        raise BenchFailed(f"{clock.done} of {channels} channels made their transfers")
    count = channels * transfers
    return count / (clock.stopped - clock.started), (clock.cpu_stopped - clock.cpu_started) / count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapters", default="asyncio,trio,sync")
    parser.add_argument("--channels", default="1,100", help="channel counts, one row each")
    parser.add_argument(
        "--transfers", default="200,10", help="transfers per channel, one per channel count"
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.channels.split(",")]
    per_channel = [int(t) for t in args.transfers.split(",")]
    if len(per_channel) != len(counts):
        parser.error("--transfers needs one number per --channels count")
    rows = []
    for adapter in args.adapters.split(","):
        for channels, transfers in zip(counts, per_channel, strict=True):
            rate = measure(adapter, channels, transfers)
            rows.append(
                {
                    "adapter": adapter,
                    "channels": channels,
                    "transfers": channels * transfers,
                    "transfers_per_s": round(rate, 1),
                    "driven_by": DRIVEN[adapter],
                }
            )
            if not args.json:
                print(
                    f"{adapter:8} {channels:4} channel(s) {channels * transfers:6} transfers"
                    f" {rate:9.1f} transfers/s   ({DRIVEN[adapter]})",
                    flush=True,
                )
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
