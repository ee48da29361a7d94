"""The crash test: a client process killed with SIGKILL at random moments, resumed from its store.

The parent (this process) runs the simulator's WebSocket server and the peer (a responder on
the asyncio adapter, with a store of its own) on one asyncio loop, with no threads. Each client
run is a child forked from it (imports already paid): the initiator, on the blocking adapter
with an :class:`~sansio_channels.store.SQLiteStore`, resumes from its store (or opens a
channel when there is nothing to come back to) and moves the channel through its life:
open, transfers, a deposit, transfers, a mutual close.

Kill points are drawn from a seed: the child counts its "moments" (each record saved to the
store, each frame handed to the socket) and SIGKILLs itself at the drawn one, after writing
what it was doing to a shared page. So a kill lands right after the write-ahead of a signature
(before it left), right after the frame with the signature left (before the co-signed state
came back), in the middle of a resume, ... and the same seed gives the same kill points.

Whenever the child is at rest (after a resume, after each operation) it tells the parent,
which waits for the node to settle and then checks that the child's stored record, the
simulator's FSMs and the peer's stored record agree on round, co-signed state and balances.

Run it alone for figures: ``python -m tests.durability.crash --kills 200 --seed 1``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import mmap
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs

from sansio_channels.adapters import _blocking
from sansio_channels.adapters import asyncio as async_adapter
from sansio_channels.adapters import sync as sync_adapter
from sansio_channels.adapters._common import (
    ClosedWithoutMessage,
    Disconnected,
    NodeRefused,
    Settings,
)
from sansio_channels.events import FsmUp, OperationAccepted, OperationFailed, SignRequest
from sansio_channels.options import OpenOptions, Role
from sansio_channels.policy import Decision
from sansio_channels.record import ChannelRecord
from sansio_channels.simulator import Simulator, harness
from sansio_channels.simulator.harness import keypair
from sansio_channels.simulator.server import SimulatorServer
from sansio_channels.simulator.state import State
from sansio_channels.state import ChannelState
from sansio_channels.store import SQLiteStore, record_key
from sansio_channels.txs import encode_tx

INITIATOR: Final = keypair("crash initiator")
RESPONDER: Final = keypair("crash responder")
AMOUNT: Final = 10**18
TRANSFER: Final = 10**15
DEPOSIT: Final = 10**16
TRANSFERS_BEFORE_DEPOSIT: Final = 4
TRANSFERS_AFTER_DEPOSIT: Final = 3
# The kill point of a run is drawn from 1..MOMENTS: a run gets a few steps done on average.
MOMENTS: Final = 9
# A share of the runs is killed by the parent instead, after a random delay (up to TIMER_MAX s):
# anywhere, inside a store commit too. Those are not replayed exactly by the seed.
TIMER_SHARE: Final = 0.2
TIMER_MAX: Final = 0.08
# Lives go on past the kills wanted until each of these was hit (at most MAX_LIVES).
REQUIRED_PHASES: Final = frozenset({"open", "transfer", "deposit", "close"})
REQUIRED_DETAILS: Final = frozenset({"signed, not sent", "signature sent"})
MAX_LIVES: Final = 40
# Liveness bounds, not timing assertions: generous, so a loaded machine only runs slower.
SETTLE_BOUND: Final = 30.0
RUN_BOUND: Final = 60.0
# Exit codes of a child run.
LIFE_DONE: Final = 0
OPEN_AGAIN: Final = 3  # the node never got the create tx we signed: open a new channel
CHILD_FAILED: Final = 70
# The child's FSM gives up a sign request after this (ms): a run killed before its signature
# left leaves the node waiting, and the timer's rollback lets the channel go on.
INITIATOR_SIGN_TIMEOUT_MS: Final = 300


def open_options(role: Role, port: int) -> OpenOptions:
    timeouts = {"sign": INITIATOR_SIGN_TIMEOUT_MS} if role is Role.INITIATOR else {}
    return harness.open_options(
        role, INITIATOR, RESPONDER, port=port, amount=AMOUNT, timeouts=timeouts
    )


@attrs.frozen
class PeerPolicy:
    """The peer signs whatever passed every check (it never crashes, it only acks)."""

    def decide(self, request: SignRequest, account: str) -> Decision:
        if request.checks.ok and all(c.name == "poi" for c in request.checks.not_checked):
            return Decision.SIGN
        return Decision.ABORT if request.tag.abortable else Decision.ASK


# --- the child: one run of the crashing client -----------------------------------------------


class KillSwitch:
    """Counts the child's moments and SIGKILLs the process at the drawn one; keeps what the
    child is doing on the shared page, for a kill from the parent's timer too."""

    def __init__(self, kill_at: int | None, page: mmap.mmap) -> None:
        self.kill_at = kill_at
        self.page = page
        self.moments = 0
        self.at("-", "starting")  # the store opened, the record read

    def at(self, phase: str, stage: str) -> None:
        """``phase``: the step of the channel's life (open, transfer, deposit, close);
        ``stage``: starting, resuming, in the step, at rest."""
        self.phase, self.stage = phase, stage
        self._show("(timer)")

    def moment(self, detail: str) -> None:
        self.moments += 1
        if self.kill_at is not None and self.moments >= self.kill_at:
            self._show(detail)
            os.kill(os.getpid(), signal.SIGKILL)

    def _show(self, detail: str) -> None:
        text = f"{self.phase:8} {self.stage:11} {detail}".encode()
        self.page[: len(text) + 1] = text + b"\0"


class CountingStore:
    """The child's store: every save is a moment (after it is durable)."""

    def __init__(self, store: SQLiteStore, switch: KillSwitch) -> None:
        self.inner = store
        self.switch = switch
        # The rounds signed ahead in the store already: a resumed channel's are not new.
        self._ahead = {r for record in store.records() for r in record.signed_ahead}

    def save(self, record: ChannelRecord, *, replaces: str | None = None) -> None:
        self.inner.save(record, replaces=replaces)
        new = set(record.signed_ahead) - self._ahead
        self._ahead = set(record.signed_ahead)
        self.switch.moment("signed, not sent" if new else "record saved")

    def load(self, key: str) -> ChannelRecord | None:
        return self.inner.load(key)

    def records(self) -> list[ChannelRecord]:
        return self.inner.records()

    def delete(self, key: str) -> None:
        self.inner.delete(key)


class Control:
    """The child's end of its line-based pipes to the parent."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.reader = os.fdopen(read_fd, "r")
        self.write_fd = write_fd

    def send(self, line: str) -> None:
        os.write(self.write_fd, (line + "\n").encode())

    def ask(self, line: str) -> str:
        self.send(line)
        return self.reader.readline().strip()


CHILD_SETTINGS: Final = Settings(ping_interval=None, reconnect=None, open_timeout=30.0)


def child_main(config: Config, kill_at: int | None, control: Control, page: mmap.mmap) -> int:
    switch = KillSwitch(kill_at, page)
    send = _blocking.BlockingSocket.send

    def counted_send(socket: _blocking.BlockingSocket, text: str) -> None:
        send(socket, text)
        switch.moment("signature sent" if '"signed_tx"' in text else "frame sent")

    _blocking.BlockingSocket.send = counted_send  # type: ignore[method-assign,assignment]
    store = CountingStore(SQLiteStore(config.child_store), switch)
    client = _start(config, store, switch, control)
    if client is None:
        return OPEN_AGAIN
    resumed = client.channel.restored_from
    while True:
        if client.channel.state is ChannelState.OPEN:
            switch.at(switch.phase, "at rest")
            _at_rest(client, control)
            latest = client.channel.ledger.latest
            if resumed is not None and resumed.latest_round is not None and latest is not None:
                if latest.round > resumed.latest_round:
                    control.send("ahead")  # we died after our signature left; it was co-signed
                resumed = None
        step = _next_step(client.channel)
        switch.at(step, "in the step")
        if step == "closed":
            return LIFE_DONE
        _do(client, step)


def _start(
    config: Config, store: CountingStore, switch: KillSwitch, control: Control
) -> sync_adapter.ChannelClient | None:
    clients = sync_adapter.ChannelClient.resume_all(
        config.url, store, signer=INITIATOR, settings=CHILD_SETTINGS
    )
    if not clients:
        _forget_open(store)
        switch.at("open", "in the step")
        client = sync_adapter.ChannelClient.open(
            config.url,
            open_options(Role.INITIATOR, config.port),
            network_id=config.network_id,
            signer=INITIATOR,
            settings=CHILD_SETTINGS,
            store=store,
        )
        client.connect()
        return client
    (client,) = clients
    channel = client.channel
    step = "open" if channel.state is ChannelState.OPENING else _next_step(channel)
    switch.at("close" if step == "closed" else step, "resuming")  # closing when it died
    record = channel.record()
    for _ in range(10):
        try:
            client.connect()
            _wait_for(client, lambda e: isinstance(e, FsmUp))
            return client
        except ClosedWithoutMessage:
            # No FSM and no channel on chain with this id. Right after our create tx left,
            # the node names the channel only once the peer has signed: try again shortly.
            if record.latest_state is None:
                time.sleep(0.03)
                client = sync_adapter.ChannelClient.resume(
                    config.url, record, signer=INITIATOR, settings=CHILD_SETTINGS, store=store
                )
                continue
            raise
        except NodeRefused:
            # The node refused to come back to the channel (no FSM, no cached state): it
            # closed on chain while we were away. The application asks the chain.
            status = control.ask(f"chain {record.known_channel_id()}")
            if status == "closed":
                # Only a mutual close ends these channels, and it needs our signature: the
                # close tx we signed was written to the record before that signature left.
                if record.closing is None:
                    raise AssertionError(
                        "closed on chain, but the record has no close tx"
                    ) from None
                store.save(attrs.evolve(record, state=ChannelState.CLOSED.value))
                raise SystemExit(LIFE_DONE) from None
            raise
    _forget_open(store)
    return None


def _forget_open(store: CountingStore) -> None:
    """An open that never got to the node: its record goes, a new channel is opened."""
    for record in store.records():
        if record.state != ChannelState.CLOSED.value:
            store.delete(record_key(record))


def _next_step(channel: Any) -> str:
    state = channel.state
    if state in (ChannelState.CLOSING, ChannelState.CLOSED, ChannelState.FSM_DOWN):
        return "closed"
    latest = channel.ledger.latest
    if latest is None:
        return "open"
    round_ = latest.round
    if round_ < 1 + TRANSFERS_BEFORE_DEPOSIT:
        return "transfer"
    if round_ == 1 + TRANSFERS_BEFORE_DEPOSIT:
        return "deposit"
    if round_ < 2 + TRANSFERS_BEFORE_DEPOSIT + TRANSFERS_AFTER_DEPOSIT:
        return "transfer"
    return "close"


def _do(client: sync_adapter.ChannelClient, step: str) -> None:
    if step == "open":
        client.poll(0.02)  # the open goes on: fsm_up, the create tx, funding, open
        return
    if step == "transfer":
        outcome = client.transfer(RESPONDER.address, TRANSFER)
    elif step == "deposit":
        outcome = client.deposit(DEPOSIT)
    else:
        outcome = client.shutdown()
        if isinstance(outcome, OperationAccepted):
            _wait_for(client, lambda e: client.channel.state is ChannelState.CLOSED)
        return
    if isinstance(outcome, OperationFailed):
        # A conflict (the node's sign timer, or it was not open yet): try again shortly.
        client.poll(0.02)


def _at_rest(client: sync_adapter.ChannelClient, control: Control) -> None:
    """Tell the parent, which checks the records once the node has settled; the query is a
    barrier: once answered, every frame the node sent before it has been taken in."""
    if control.ask("idle") != "check":
        raise RuntimeError("the parent lost track")
    client.get_balances()
    if control.ask("checked") != "go":
        raise RuntimeError("the parent lost track")


def _wait_for(client: sync_adapter.ChannelClient, done: Any) -> None:
    for event in client:
        if done(event):
            return
    raise Disconnected("the event stream ended")


# --- the parent ---------------------------------------------------------------------------


@attrs.define
class Config:
    url: str
    network_id: str
    port: int
    child_store: Path


@attrs.define
class Figures:
    seed: int
    kills: collections.Counter[str] = attrs.Factory(collections.Counter)
    runs: int = 0
    lives: int = 0
    opens_restarted: int = 0
    node_ahead: int = 0  # resumes that found the node a round ahead of the store
    checks: int = 0
    seconds: float = 0.0

    @property
    def total_kills(self) -> int:
        return sum(self.kills.values())

    def missing(self) -> frozenset[str]:
        """The kinds of kill the issue names that no kill has hit yet."""
        phases = {key.split()[0] for key in self.kills}
        details = {d for d in REQUIRED_DETAILS if any(key.endswith(d) for key in self.kills)}
        return (REQUIRED_PHASES - phases) | (REQUIRED_DETAILS - details)

    def table(self) -> str:
        lines = [f"seed {self.seed}: {self.total_kills} kills over {self.lives} channel lives"]
        lines.append(
            f"{self.runs} client runs, {self.opens_restarted} opens started over, "
            f"{self.checks} agreement checks passed, {self.seconds:.1f} s"
        )
        lines.append(f"{self.node_ahead} resumes found the node a round ahead of the store")
        for key, count in sorted(self.kills.items()):
            lines.append(f"  {count:4}  {key}")
        return "\n".join(lines)


class CrashTest:
    def __init__(self, seed: int, kills: int, workdir: Path) -> None:
        self.rng = random.Random(seed)
        self.wanted = kills
        self.workdir = workdir
        self.figures = Figures(seed=seed)
        self.sim = Simulator()
        self.page = mmap.mmap(-1, 256)
        self.peer_store = SQLiteStore(workdir / "peer.sqlite3")
        self.peer: async_adapter.ChannelClient | None = None
        self.peer_task: asyncio.Task[None] | None = None
        self.port = 4000

    async def run(self) -> Figures:
        started = time.monotonic()
        async with SimulatorServer(self.sim, port=0) as server:
            config = Config(
                url=server.url(),
                network_id=self.sim.network_id,
                port=self.port,
                child_store=self.workdir / "client.sqlite3",
            )
            try:
                await self._lives(config)
            finally:
                await self._stop_peer()
        self.peer_store.close()
        self.figures.seconds = time.monotonic() - started
        return self.figures

    async def _lives(self, config: Config) -> None:
        while True:
            last = self._enough() or self.figures.lives >= MAX_LIVES
            await self._life(config, kills=not last)
            self.figures.lives += 1
            if last:
                return

    async def _life(self, config: Config, *, kills: bool) -> None:
        """One channel, from open to close, the client killed and resumed on the way."""
        await self._new_peer(config)
        while True:
            # Most runs die at a counted moment; some at a random instant, from outside.
            timed = kills and self.rng.random() < TIMER_SHARE
            kill_at = self.rng.randint(1, MOMENTS) if kills and not timed else None
            kill_after = self.rng.uniform(0.0, TIMER_MAX) if timed else None
            code = await self._run_child(config, kill_at, kill_after)
            self.figures.runs += 1
            if code == -signal.SIGKILL:
                doing = self.page[:256].split(b"\0")[0].decode()
                self.figures.kills[doing or "-        forked      (timer)"] += 1
                kills = not self._enough()
                if not self._resumable(config):
                    await self._new_peer(config)  # the open died with the client
                continue
            if code == OPEN_AGAIN:
                self.figures.opens_restarted += 1
                await self._new_peer(config)
                continue
            if code != LIFE_DONE:
                raise AssertionError(f"the client run ended with {code}")
            self._check_closed(config)
            return

    def _enough(self) -> bool:
        return self.figures.total_kills >= self.wanted and not self.figures.missing()

    def _resumable(self, config: Config) -> bool:
        with SQLiteStore(config.child_store) as store:
            return any(r.resumable for r in store.records())

    async def _new_peer(self, config: Config) -> None:
        await self._stop_peer()
        self.port += 1
        config.port = self.port
        self.peer = async_adapter.ChannelClient.open(
            config.url,
            open_options(Role.RESPONDER, self.port),
            network_id=config.network_id,
            signer=RESPONDER,
            policy=PeerPolicy(),
            store=self.peer_store,
            settings=Settings(ping_interval=None, reconnect=None),
        )
        await self.peer.__aenter__()
        self.peer_task = asyncio.create_task(self._drain(self.peer))

    async def _drain(self, peer: async_adapter.ChannelClient) -> None:
        with contextlib.suppress(Disconnected):
            async for _ in peer:
                pass

    async def _stop_peer(self) -> None:
        if self.peer is not None:
            await self.peer.close()
        if self.peer_task is not None:
            await self.peer_task
        self.peer = self.peer_task = None

    # --- one child ----------------------------------------------------------------------------

    async def _run_child(
        self, config: Config, kill_at: int | None, kill_after: float | None
    ) -> int:
        self.page[:1] = b"\0"
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's loop
            code = CHILD_FAILED
            try:
                os.close(to_child_w)
                os.close(to_parent_r)
                code = child_main(config, kill_at, Control(to_child_r, to_parent_w), self.page)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else CHILD_FAILED
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        os.close(to_child_r)
        os.close(to_parent_w)
        loop = asyncio.get_running_loop()
        timer = None if kill_after is None else loop.call_later(kill_after, _kill, pid)
        try:
            await asyncio.wait_for(self._serve_child(config, to_parent_r, to_child_w), RUN_BOUND)
        finally:
            os.close(to_child_w)
            if timer is not None:
                timer.cancel()
        return await _exit_code(pid)

    async def _serve_child(self, config: Config, read_fd: int, write_fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb")
        )
        try:
            while line := (await reader.readline()).decode().strip():
                if line == "idle":
                    await self._settled(config)
                    _tell(write_fd, "check")
                elif line == "checked":
                    self._check_agreement(config)
                    _tell(write_fd, "go")
                elif line == "ahead":
                    self.figures.node_ahead += 1
                elif line.startswith("chain "):
                    _tell(write_fd, self._chain_status(line[6:]))
        finally:
            transport.close()

    # --- what the parent checks -----------------------------------------------------------

    def _channel_fsms(self) -> dict[Role, Any]:
        peer = self.peer
        assert peer is not None
        assert peer.channel.channel_id is not None
        key = _channel_key(peer.channel.channel_id)
        return {f.role: f for f in self.sim.fsms if f.channel_id == key}

    async def _settled(self, config: Config) -> None:
        """Wait until both FSMs are open with nothing pending and the peer has taken in the
        node's latest state (bounded: a node that never settles fails the test)."""
        until = time.monotonic() + SETTLE_BOUND
        while time.monotonic() < until:
            if self._is_settled():
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"the node did not settle: {self._views(config)}")

    def _is_settled(self) -> bool:
        if self.peer is None or self.peer.channel.channel_id is None:
            return False
        fsms = self._channel_fsms()
        if len(fsms) != 2 or any(
            f.state is not State.OPEN or f.pending is not None or f.latest is None
            for f in fsms.values()
        ):
            return False
        latest = self.peer.channel.ledger.latest
        return latest is not None and latest.round == fsms[Role.RESPONDER].latest.round

    def _check_agreement(self, config: Config) -> None:
        views = self._views(config)
        problems = [
            f"the {name} differs from the client"
            for name in ("initiator fsm", "responder fsm", "peer")
            if views[name] != views["client"]
        ]
        problems += [
            f"the {name}'s record holds a round signed ahead at rest"
            for name in ("client", "peer")
            if views[name].get("signed ahead")
        ]
        if problems:
            raise AssertionError(f"{problems}: {views}")
        self.figures.checks += 1

    def _views(self, config: Config) -> dict[str, dict[str, Any]]:
        with SQLiteStore(config.child_store) as store:
            mine = [r for r in store.records() if r.resumable]
        views: dict[str, dict[str, Any]] = {}
        views["client"] = _record_view(mine[0]) if len(mine) == 1 else {"records": len(mine)}
        assert self.peer is not None
        stored = self.peer_store.load(record_key(self.peer.record()))
        views["peer"] = {} if stored is None else _record_view(stored)
        for role, fsm in self._channel_fsms().items():
            views[f"{role.value} fsm"] = {
                "round": fsm.latest.round,
                "state": encode_tx(fsm.latest.signed),
                "balances": {_ak(k): v for k, v in fsm.latest.balances.items()},
                "signed ahead": {},
            }
        return views

    def _chain_status(self, channel_id: str) -> str:
        on_chain = self.sim.chain.channel(_channel_key(channel_id))
        return "none" if on_chain is None else str(on_chain.status)

    def _check_closed(self, config: Config) -> None:
        """At the end of a life: the channel closed on chain, and the client's last co-signed
        state is the peer's."""
        with SQLiteStore(config.child_store) as store:
            (record,) = [
                r
                for r in store.records()
                if r.known_channel_id() == (self.peer.channel.channel_id if self.peer else None)
            ]
        assert record.state == ChannelState.CLOSED.value, record.state
        assert self.peer is not None
        assert self.peer.channel.channel_id is not None
        assert self._chain_status(self.peer.channel.channel_id) == "closed"
        peer = self.peer_store.load(record_key(self.peer.record()))
        assert peer is not None
        assert _record_view(record) == _record_view(peer), (
            _record_view(record),
            _record_view(peer),
        )
        self.figures.checks += 1


def _record_view(record: ChannelRecord) -> dict[str, Any]:
    return {
        "round": record.latest_round,
        "state": record.latest_state,
        "balances": dict(record.balances or {}),
        "signed ahead": dict(record.signed_ahead),
    }


def _channel_key(channel_id: str) -> bytes:
    from sansio_channels.encoding import Id

    return Id.from_api(channel_id).key


def _ak(key: bytes) -> str:
    from sansio_channels.encoding import encode

    return encode("ak", key)


def _tell(fd: int, line: str) -> None:
    with contextlib.suppress(BrokenPipeError):  # the child was killed meanwhile
        os.write(fd, (line + "\n").encode())


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def _exit_code(pid: int) -> int:
    """Wait for the child without blocking the loop: its pidfd becomes readable at exit."""
    loop = asyncio.get_running_loop()
    fd = os.pidfd_open(pid)
    done = loop.create_future()
    loop.add_reader(fd, done.set_result, None)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run(seed: int, kills: int, workdir: Path | None = None) -> Figures:
    with _workdir(workdir) as path:
        return asyncio.run(CrashTest(seed, kills, path).run())


@contextlib.contextmanager
def _workdir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    parser.add_argument("--json", action="store_true", help="the figures as JSON, last line")
    args = parser.parse_args()
    print(f"seed {args.seed}", flush=True)
    figures = run(args.seed, args.kills)
    print(figures.table(), flush=True)
    if args.json:
        print(json.dumps(attrs.asdict(figures)))


if __name__ == "__main__":
    main()
