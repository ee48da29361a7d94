"""The worker-kill test: hub processes on one store, SIGKILLed at random and restarted.

Processes, all on loopback:

- the **node**: the simulator's WebSocket server and every channel's responder (a bare channel
  on a plain socket that signs what it is asked, and pays the initiator back once), in one
  process; at the end it reports what it saw: each channel's co-signed states, the states
  the initiator's signature reached it on, and whether the chain holds the channel closed;
- the **workers**: hub processes (``adapters.hub.Hub``) with a signer for every initiator
  account, on one store. Each drives the channels it holds through their life by their
  latest round: two transfers, a transfer back from the responder, a deposit, a withdrawal,
  a mutual close once the parent has made its kills. Worker ``w`` of ``workers`` opens the
  channels ``n`` with ``n % workers == w`` that have no record still in use (none yet, or only
  records of opens given up), and so does the worker started in its place after a kill;
  channels move between workers as they are killed. Every save is logged with its lease
  token, refused ones too;
- a **thief**: now and then tries to take the lease of a random channel it does not hold;
- the **parent** (:func:`run`): SIGKILLs a random worker every so often from the start (up
  to half the kills land while channels are still opening, the rest once all are open) and
  starts a new one in its place, until every channel is closed; then checks the logs and the
  node's report. Now and then it pauses a worker instead (SIGSTOP) for longer than a lease
  and lets it go on: its channels were taken meanwhile, and the saves it tries on waking are
  refused. An open cut by a kill before its create tx was signed is given up and marked by
  the hub that finds its lease free, then opened again by its slot's worker; one cut after it
  is resumed by another worker, and the node refusing to come back to it (before
  ``funding_signed`` it does not know the channel by its id yet; the responders of every
  fifth channel sign late to widen that window) only makes it wait and try again
  (``OpenInDoubt``, logged by the worker that saw it). A worker killed after saving its
  signature and before sending it (or stopped there, its lease lost after a pause) leaves
  an open the node refuses for good: a worker gives it up (``Hub.give_up``) once it is
  past the initiator FSM's timers (:data:`GIVE_UP_AFTER`), and its slot opens anew.

What it checks: no two processes ever saved for one channel at the same time (per channel,
the tokens of accepted saves never go back: a save under an older token after one under a
newer was accepted would be one); no account's signature reached the node on two different
states of one round; no state lost (each channel's record ends at the round and balances the
responder last co-signed); every channel closed on chain, the initiator's last record closed
with the balances the responder holds; one record in use per channel; every open given up
saying why; and every open given up after its create tx was signed proven never on chain:
the initiator's nonce has moved past the create tx's (it can never be included), and the
chain holds no channel by its id, or holds the one the slot's next open made with that nonce
(a channel id derives from the initiator, its nonce and the responder), closed by it.

Run it alone: ``python bench/hub.py --store URL --workers 4 --channels 200 --kills 20``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import attrs

from sansio_channels import commands as cmd
from sansio_channels.adapters._common import Settings
from sansio_channels.adapters.asyncio import ChannelClient
from sansio_channels.adapters.hub import ChannelStopped, Hub, OpenInDoubt
from sansio_channels.channel import Channel
from sansio_channels.crypto import KeyPair, Signer, inner_tx, verify
from sansio_channels.encoding import Id, IdTag
from sansio_channels.events import (
    CoSignedState,
    Event,
    FsmUp,
    Info,
    OffChainStateFetched,
    OperationAccepted,
    OperationFailed,
    SignRequest,
)
from sansio_channels.options import OpenOptions, Role
from sansio_channels.record import ChannelRecord
from sansio_channels.simulator import Simulator, harness
from sansio_channels.simulator.harness import keypair
from sansio_channels.simulator.server import SimulatorServer
from sansio_channels.state import ChannelState
from sansio_channels.store import Lease, LeaseLost, LeasingStore, open_store, record_key
from sansio_channels.txs import ChannelCreateTx, decode_signed_tx, encode_tx

AMOUNT: Final = 10**18
TRANSFER: Final = 10**15
BACK: Final = 3 * 10**14
DEPOSIT: Final = 10**16
WITHDRAWAL: Final = 4 * 10**15
PORTS: Final = 20_000  # channel n meets its responder under port PORTS + n
# The node rolls back a request whose signer died after this; long enough for a loaded
# machine's saves.
SIGN_TIMEOUT_MS: Final = 8000
# The initiator's FSM stops if funding_signed has not come back this long after its client
# signed the create tx; then its node never posts the create tx.
FUNDING_SIGN_MS: Final = 8000
LEASE_SECONDS: Final = 1.5
SETTINGS: Final = Settings(ping_interval=None, open_timeout=30.0)
KILL_EVERY: Final = (0.2, 0.8)  # seconds between two actions on the workers
PAUSE_SHARE: Final = 0.2  # of the actions on a worker, pauses past a lease (the rest kills)
OP_BOUND: Final = 20.0  # an operation that takes longer is abandoned and tried again later
NUDGE_EVERY: Final = 1.0  # seconds between first updates tried by a channel resumed in its open
# The responders of every SLOW_EVERY-th channel sign the create tx SLOW_CREATE seconds late:
# a kill of the initiator's worker in that window has the next worker come back before
# funding_signed, which the node refuses (the open is in doubt) though the open goes on.
SLOW_EVERY: Final = 5
SLOW_CREATE: Final = 2 * LEASE_SECONDS
# An open in doubt this long after a worker first saw it refused is given up by that worker:
# past the initiator's FSM timers (its signature, then funding_signed), its node never posts
# the create tx, and the only other holder of it, this test's responder, never posts alone.
# (A worker killed after saving its signature and before sending it leaves such an open.) The
# check proves each such give-up right on the simulator's chain.
GIVE_UP_AFTER: Final = (SIGN_TIMEOUT_MS + FUNDING_SIGN_MS) / 1000 + 2 * LEASE_SECONDS
GIVEN_UP_IN_DOUBT: Final = "in doubt past the initiator FSM's timers: its node never posts it"


def initiator(n: int) -> KeyPair:
    return keypair(f"hub initiator {n}")


def responder(n: int) -> KeyPair:
    return keypair(f"hub responder {n}")


def options(role: Role, n: int) -> OpenOptions:
    return harness.open_options(
        role,
        initiator(n),
        responder(n),
        port=PORTS + n,
        amount=AMOUNT,
        timeouts={"sign": SIGN_TIMEOUT_MS, "funding_sign": FUNDING_SIGN_MS},
    )


# --- the node ---------------------------------------------------------------------------------


class Responder:
    """Channel ``n``'s responder: signs every request; pays back once at round 3."""

    def __init__(self, n: int, network_id: str) -> None:
        self.n = n
        self.network_id = network_id
        self.channel = Channel(options(Role.RESPONDER, n), network_id=network_id)
        self.keys = responder(n)
        self.peer = initiator(n)
        self.co_signed: dict[int, str] = {}
        # round -> the distinct states the initiator's signature reached us on, in the
        # current channel; and the rounds signed twice in channels given up before it
        self.initiator_signed: dict[int, set[str]] = {}
        self.double_signed_before: list[int] = []
        # The initiator's FSM went away (its worker killed during the open): the responder's
        # FSM keeps running and would hold the port; it leaves and waits for a new open.
        self.peer_gone = False
        self.paid_back = False
        self.paying = False
        self.held: SignRequest | None = None  # the create tx, signed late (SLOW_EVERY)

    def new_channel(self) -> None:
        """The open died before it was co-signed: wait for the initiator's next open, a new
        channel (its create tx is another round 1, not a second state of this one's)."""
        self.double_signed_before += self.double_signed()
        self.channel = Channel(options(Role.RESPONDER, self.n), network_id=self.network_id)
        self.co_signed, self.initiator_signed = {}, {}
        self.peer_gone = False

    def double_signed(self) -> list[int]:
        return sorted(r for r, states in self.initiator_signed.items() if len(states) > 1)

    def take(self, event: Event) -> None:
        if isinstance(event, Info) and event.event == "peer_disconnected":
            self.peer_gone = True
        if isinstance(event, SignRequest):
            self._note_initiator_signature(event)
            if event.tag.tag == "responder_sign" and self.n % SLOW_EVERY == 0:
                self.held = event
            else:
                event.sign(self.keys, accept_failed_checks=True)
        elif isinstance(event, CoSignedState) and event.accepted and event.round is not None:
            self.co_signed[event.round] = encode_tx(event.signed_tx)
            self._note_initiator_signature_on(event.signed_tx)
        elif isinstance(event, OperationAccepted) and isinstance(
            event.operation.command, cmd.Transfer
        ):
            self.paid_back, self.paying = True, False
        elif isinstance(event, OperationFailed):
            self.paying = False  # refused or rolled back: tried again on the next state

    def _note_initiator_signature(self, request: SignRequest) -> None:
        self._note_initiator_signature_on(request.signed_tx)

    def _note_initiator_signature_on(self, signed: Any) -> None:
        tx = inner_tx(signed)
        round_ = getattr(tx, "round", None)
        if round_ is None:
            return
        serialized = tx.serialize()
        for signature in signed.signatures:
            if verify(signature, serialized, self.channel.network_id, self.peer.public_key):
                self.initiator_signed.setdefault(round_, set()).add(serialized.hex())

    def next_command(self) -> cmd.Command | None:
        latest = max(self.co_signed, default=0)
        if latest == 3 and not self.paid_back and not self.paying:
            self.paying = True
            return cmd.Transfer(from_id=self.keys.address, to_id=self.peer.address, amount=BACK)
        return None


async def respond(base_url: str, party: Responder) -> None:
    """Serve channel ``n`` until it is closed: an open whose FSM died (the initiator's worker
    was killed before it signed) is waited for again, with a new channel."""
    while True:
        await respond_once(base_url, party)
        if party.channel.state is ChannelState.CLOSED or party.channel.ledger.latest is not None:
            return
        party.new_channel()


async def respond_once(base_url: str, party: Responder) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def sign_late(request: SignRequest) -> None:
        await asyncio.sleep(SLOW_CREATE)
        request.sign(party.keys, accept_failed_checks=True)
        for event in channel.events():
            party.take(event)
        for frame in channel.frames_to_send():
            await socket.send(json.dumps(frame))

    channel = party.channel
    late: list[asyncio.Task[None]] = []
    async with connect(channel.connect_url(base_url), ping_interval=None) as socket:
        try:
            async for text in socket:
                assert isinstance(text, str)
                channel.receive_text(text)
                for event in channel.events():
                    party.take(event)
                if party.peer_gone and channel.ledger.latest is None:
                    return  # an open whose initiator is gone: a new one comes
                if party.held is not None:
                    late.append(asyncio.ensure_future(sign_late(party.held)))
                    party.held = None
                command = party.next_command()
                if command is not None and channel.state is ChannelState.OPEN:
                    channel.submit(command)
                    for event in channel.events():
                        party.take(event)
                for frame in channel.frames_to_send():
                    await socket.send(json.dumps(frame))
        except ConnectionClosed:
            pass
        finally:
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)


async def node_main(channels: int, ready: Path, stop: Path, report: Path) -> None:
    sim = Simulator()
    async with SimulatorServer(sim, port=0) as server:
        parties = [Responder(n, sim.network_id) for n in range(channels)]
        tasks = [asyncio.ensure_future(respond(server.url(), p)) for p in parties]
        ready.write_text(json.dumps({"url": server.url(), "network_id": sim.network_id}))
        while not stop.exists():
            await asyncio.sleep(0.1)
        rows = []
        for party in parties:
            channel_id = party.channel.channel_id
            on_chain = None
            if channel_id is not None:
                from sansio_channels.encoding import decode

                found = sim.chain.channel(decode(channel_id, "ch"))
                on_chain = None if found is None else str(found.status)
            latest = party.channel.ledger.latest
            rows.append(
                {
                    "n": party.n,
                    "channel_id": channel_id,
                    "state": party.channel.state.value,
                    "round": None if latest is None else latest.round,
                    "balances": party.channel.ledger.balances_api(),
                    "on_chain": on_chain,
                    "double_signed": party.double_signed_before + party.double_signed(),
                    "paid_back": party.paid_back,
                }
            )
        chain = sim.chain
        chain_ids = [Id(IdTag.CHANNEL, key).api for key in chain.channels]
        nonces = {
            initiator(n).address: chain.next_nonce(Id.account(initiator(n).address).key)
            for n in range(channels)
        }
        report.write_text(json.dumps({"rows": rows, "on_chain": chain_ids, "nonces": nonces}))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- a worker ---------------------------------------------------------------------------------


class LoggedStore:
    """The worker's store: every save, accepted or refused, logged with its lease token; and
    the opens in doubt the hub reported (:meth:`doubt`)."""

    def __init__(self, store: LeasingStore, log: Any) -> None:
        self.store = store
        self.log = log

    def save(
        self, record: ChannelRecord, *, replaces: str | None = None, lease: Lease | None = None
    ) -> None:
        entry = {
            "start": time.time(),
            "pid": os.getpid(),
            "key": record_key(record),
            "token": None if lease is None else lease.token,
            "round": record.latest_round,
            "state": record.state,
        }
        try:
            self.store.save(record, replaces=replaces, lease=lease)
        except LeaseLost:
            self._write({**entry, "at": time.time(), "refused": True})
            raise
        self._write({**entry, "at": time.time(), "refused": False})

    def doubt(self, key: str) -> None:
        self._write({"doubt": key, "pid": os.getpid(), "at": time.time()})

    def gave_up(self, record: ChannelRecord) -> None:
        """An open in doubt this worker gave up: the channel its create tx names, and the
        nonce (the record may be overwritten by the slot's next open, of the same id)."""
        create = record.signed_create_tx()
        assert create is not None
        tx = inner_tx(decode_signed_tx(create))
        assert isinstance(tx, ChannelCreateTx)
        self._write(
            {
                "gave_up": record_key(record),
                "account": record.account,
                "channel_id": record.known_channel_id(),
                "nonce": tx.nonce,
                "pid": os.getpid(),
                "at": time.time(),
            }
        )

    def _write(self, entry: dict[str, Any]) -> None:
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class Driver:
    """What the application of a worker does: each channel's next step by its latest round."""

    def __init__(
        self,
        hub: Hub,
        store: LeasingStore,
        network_id: str,
        channels: int,
        close_flag: Path,
        slot: tuple[int, int],
        doubted: Callable[[str], None],
        gave_up: Callable[[ChannelRecord], None],
    ) -> None:
        self.hub = hub
        self.store = store
        self.network_id = network_id
        # (w, workers): this worker opens the channels n with n % workers == w
        self.mine = range(slot[0], channels, slot[1])
        self.opening: dict[int, ChannelClient] = {}  # the clients of the opens it made
        # The parent makes this file once its kills are done: the channels close only then,
        # so a fast machine cannot finish every channel before the kills it owes.
        self.close_flag = close_flag
        self.slots = {initiator(n).address: n for n in range(channels)}
        self.busy: set[int] = set()
        self.nudged: dict[int, float] = {}  # client -> when it may try its first update again
        self.up: set[int] = set()  # clients back on the node (FsmUp seen)
        self.tasks: set[asyncio.Task[None]] = set()
        self.doubted = doubted  # logs an open the hub reported in doubt
        self.gave_up = gave_up  # logs an open in doubt given up
        self.doubt_since: dict[str, float] = {}  # key -> when this worker first saw it refused

    async def handler(self, client: ChannelClient | None, event: Event) -> None:
        # A new channel is driven from its FsmUp on; a resumed one once the node's latest
        # state is fetched and taken (its record may be a round behind the node).
        resumed = client is not None and client.channel.restored_from is not None
        if client is not None and isinstance(event, OffChainStateFetched if resumed else FsmUp):
            self.up.add(id(client))
        if isinstance(event, OpenInDoubt):
            self.doubted(event.key)
            self.doubt_since.setdefault(event.key, time.monotonic())
        if isinstance(event, ChannelStopped) and client is not None:
            self.up.discard(id(client))
            n = self.slots[client.channel.account.api]
            if self.opening.get(n) is client:
                del self.opening[n]
            self._closed_on_chain(client, event)

    async def open_missing(self) -> None:
        """Open each of this worker's channels that has no record in use: none yet (its
        opener was killed before saving one), or only opens given up before a create tx was
        signed (``OpenAbandoned``, reported by whichever hub found them; an open in doubt
        stays in use). Only this slot's worker opens channel n, and the parent starts the
        next one only once this one is dead: one open at a time."""
        records = self.store.records()
        self._give_up_past_doubt(records)
        in_use = {r.account for r in records if r.abandoned is None}
        for n in self.mine:
            if n in self.opening or initiator(n).address in in_use:
                continue
            self.opening[n] = self.hub.open(options(Role.INITIATOR, n), network_id=self.network_id)
            await asyncio.sleep(0.05)  # a few at a time, as a hub takes on new customers
            self.step()

    def _give_up_past_doubt(self, records: list[ChannelRecord]) -> None:
        """Give up each open in doubt past :data:`GIVE_UP_AFTER` that no one has come back to
        since (no co-signed state in its record); its slot opens anew."""
        now = time.monotonic()
        by_key = {record_key(r): r for r in records}
        for key, since in list(self.doubt_since.items()):
            record = by_key.get(key)
            # Back on the node (its record holds the co-signed create tx), or given up.
            settled = (
                record is None or record.latest_state is not None or record.abandoned is not None
            )
            if settled:
                del self.doubt_since[key]
            elif now - since > GIVE_UP_AFTER and self.hub.give_up(key, GIVEN_UP_IN_DOUBT):
                assert record is not None
                self.gave_up(record)
                del self.doubt_since[key]

    def _closed_on_chain(self, client: ChannelClient, event: ChannelStopped) -> None:
        """A channel whose close we signed, refused by the node: it closed on chain while
        its driver was away (only a mutual close ends these channels, and the close tx we
        signed was saved before it left). Recorded as closed; the test checks the chain."""
        record = client.channel.record()
        if event.lease_lost or "refused" not in event.reason or record.closing is None:
            return
        lease = self.store.acquire(record_key(record), self.hub.owner, seconds=LEASE_SECONDS)
        if lease is None:
            return
        try:
            current = self.store.load(lease.key)
            if current is not None and current.state != ChannelState.CLOSED.value:
                closed = attrs.evolve(current, state=ChannelState.CLOSED.value)
                self.store.save(closed, lease=lease)
        finally:
            self.store.release(lease)

    def step(self) -> None:
        for client in self.hub.clients():
            if id(client) in self.busy or id(client) not in self.up:
                continue
            command = self._next(client)
            if command is not None:
                self.busy.add(id(client))
                task = asyncio.ensure_future(self._do(client, command))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    def _next(self, client: ChannelClient) -> cmd.Command | None:
        channel = client.channel
        latest = channel.ledger.latest
        if latest is None:
            return None
        if channel.state is ChannelState.OPENING and latest.round == 1:
            # Resumed after a kill in the open: the node says nothing of an open that
            # happened while no client was there; the first co-signed update shows it. Try
            # the first transfer now and then (refused while the funding is not locked).
            now = time.monotonic()
            if channel.restored_from is None or now < self.nudged.get(id(client), 0.0):
                return None
            self.nudged[id(client)] = now + NUDGE_EVERY
        elif channel.state is not ChannelState.OPEN:
            return None
        peer = None if channel.peer is None else channel.peer.api
        me = channel.account.api
        round_ = latest.round
        if round_ in (1, 2) and peer is not None:
            return cmd.Transfer(from_id=me, to_id=peer, amount=TRANSFER)
        if round_ == 4:
            return cmd.Deposit(amount=DEPOSIT)
        if round_ == 5:
            return cmd.Withdraw(amount=WITHDRAWAL)
        if round_ >= 6:
            return cmd.Shutdown() if self.close_flag.exists() else None
        return None  # round 3: the responder pays back

    async def _do(self, client: ChannelClient, command: cmd.Command) -> None:
        try:
            await asyncio.wait_for(client.submit(command), OP_BOUND)
        except Exception:
            pass  # failed, refused or cut off: the channel's round says what comes next
        finally:
            self.busy.discard(id(client))


async def worker_main(
    store_url: str, node: dict[str, Any], slot: tuple[int, int], log: Path
) -> None:
    with log.open("a") as handle:
        inner = open_store(store_url)
        store = LoggedStore(inner, handle)
        signers: dict[str, Signer] = {}
        channels = node["channels"]
        for n in range(channels):
            signers[initiator(n).address] = initiator(n)
        hub = Hub(
            node["url"],
            store,
            signer=signers,
            settings=SETTINGS,
            lease_seconds=LEASE_SECONDS,
            renew_every=LEASE_SECONDS / 4,
            scan_every=0.3,
        )
        driver = Driver(
            hub,
            inner,
            node["network_id"],
            channels,
            Path(node["close_flag"]),
            slot,
            store.doubt,
            store.gave_up,
        )
        hub.handler = driver.handler
        async with hub:
            while True:
                await driver.open_missing()
                for _ in range(10):
                    driver.step()
                    await asyncio.sleep(0.05)


# --- the thief --------------------------------------------------------------------------------


def thief_main(store_url: str, log: Path) -> None:
    """Tries to take leases it does not hold; with a lease it once held and that another
    owner has taken since, tries to save: the store must refuse every such save."""
    store = open_store(store_url)
    rng = random.Random(os.getpid())
    figures = {"tries": 0, "taken": 0, "stale_saves": 0, "stale_accepted": 0}
    old: list[Lease] = []
    while True:
        time.sleep(rng.uniform(0.05, 0.3))
        records = store.records()
        if not records:
            continue
        key = record_key(rng.choice(records))
        figures["tries"] += 1
        lease = store.acquire(key, f"thief {os.getpid()}", seconds=0.2)
        if lease is not None:  # its owner was gone: hold it a moment, then give it back
            figures["taken"] += 1
            time.sleep(0.05)
            store.release(lease)
            old.append(lease)
        stale = [a for a in old if (now := store.lease(a.key)) and now.token != a.token]
        if stale:
            lease = rng.choice(stale)
            record = store.load(lease.key)
            if record is not None:
                figures["stale_saves"] += 1
                try:
                    store.save(record, lease=lease)
                    figures["stale_accepted"] += 1
                except LeaseLost:
                    pass
                old.remove(lease)
        log.write_text(json.dumps(figures))


# --- the parent ---------------------------------------------------------------------------------


@attrs.define
class Outcome:
    channels: int
    seed: int
    closed: int = 0
    kills: int = 0
    kills_during_opens: int = 0  # while some channel had no co-signed state yet
    abandoned: int = 0  # opens given up (records marked), all before a create tx was signed
    in_doubt: int = 0  # opens the node refused to come back to after the create tx was signed
    given_up_in_doubt: int = 0  # of those, given up (each proven never on chain)
    fenced_saves: int = 0
    double_driven: int = 0
    double_signed: int = 0
    lost: int = 0
    saves: int = 0
    pauses: int = 0
    thief_tries: int = 0
    thief_taken: int = 0
    thief_stale_saves: int = 0  # saves under a lease taken over since: all refused
    transfers: int = 0
    seconds: float = 0.0
    problems: list[str] = attrs.Factory(list)

    def figures(self) -> dict[str, Any]:
        view = attrs.asdict(self)
        view["transfers_per_s"] = round(self.transfers / self.seconds, 1) if self.seconds else 0
        view["problems"] = self.problems[:20]
        return view


def _spawn(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "tests.hubkill", *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=Path(__file__).resolve().parent.parent,
        )


def run(
    store_url: str,
    *,
    workers: int = 4,
    channels: int = 200,
    kills: int = 20,
    seed: int | None = None,
    bound: float = 600.0,
) -> Outcome:
    seed = random.randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    outcome = Outcome(channels=channels, seed=seed)
    with tempfile.TemporaryDirectory(prefix="hubkill-") as tmp:
        home = Path(tmp)
        ready, stop, report = home / "ready", home / "stop", home / "report"
        errors = home / "stderr"
        node = _spawn("node", str(channels), str(ready), str(stop), str(report), log=errors)
        start = time.monotonic()
        while not ready.exists():
            if node.poll() is not None or time.monotonic() - start > 60:
                raise RuntimeError(f"the node did not start: {errors.read_text()[-2000:]}")
            time.sleep(0.05)
        time.sleep(0.5)  # the responders connect
        close_flag = home / "close"
        info = {
            **json.loads(ready.read_text()),
            "channels": channels,
            "close_flag": str(close_flag),
        }
        config = json.dumps(info)
        procs: dict[int, subprocess.Popen[bytes]] = {}
        paused: dict[int, float] = {}  # worker -> when it goes on
        started = time.monotonic()
        for w in range(workers):
            procs[w] = _spawn(
                "worker", store_url, config, f"{w}/{workers}", str(home / f"w{w}.log"), log=errors
            )
        thief = _spawn("thief", store_url, str(home / "thief.json"), log=errors)
        store = open_store(store_url)
        try:
            # The first kill lands while the workers are opening their channels.
            next_kill = started + rng.uniform(0.5, 2.0)
            while True:
                records = [r for r in store.records() if r.abandoned is None]
                closed = sum(r.state == ChannelState.CLOSED.value for r in records)
                if closed == channels and outcome.kills >= kills:
                    break
                if time.monotonic() - started > bound:
                    states = sorted(f"{r.state}@{r.latest_round}" for r in records)
                    outcome.problems.append(f"not done after {bound} s: {closed} closed; {states}")
                    outcome.problems.append(errors.read_text()[-3000:])
                    break
                # Kills start at once: the first ones land in the opens, the later ones
                # anywhere in the channels' use.
                opened = sum(r.latest_round is not None for r in records) >= channels
                now = time.monotonic()
                for w, until in list(paused.items()):
                    if now >= until:
                        procs[w].send_signal(signal.SIGCONT)
                        del paused[w]
                # Half the kills at most land in the opens; the rest once all are open.
                in_opens = not opened and outcome.kills_during_opens >= kills // 2
                awake = [w for w in range(workers) if w not in paused]  # all may be paused
                if now >= next_kill and closed < channels and not in_opens and awake:
                    w = rng.choice(awake)
                    if rng.random() < PAUSE_SHARE:
                        procs[w].send_signal(signal.SIGSTOP)
                        paused[w] = now + LEASE_SECONDS * 2
                        outcome.pauses += 1
                    else:
                        procs[w].send_signal(signal.SIGKILL)
                        procs[w].wait()
                        outcome.kills += 1
                        outcome.kills_during_opens += not opened
                        procs[w] = _spawn(
                            "worker",
                            store_url,
                            config,
                            f"{w}/{workers}",
                            str(home / f"w{w}.log"),
                            log=errors,
                        )
                    next_kill = now + rng.uniform(*KILL_EVERY)
                if closed == channels and outcome.kills < kills:
                    outcome.problems.append(f"every channel closed after {outcome.kills} kills")
                    break
                if outcome.kills >= kills:
                    next_kill = float("inf")  # enough: the channels finish in peace
                    close_flag.touch()
                time.sleep(0.1)
            outcome.seconds = time.monotonic() - started
        finally:
            for proc in [*procs.values(), thief]:
                proc.send_signal(signal.SIGKILL)  # a stopped process dies of it too
                proc.wait()
            stop.write_text("stop")
            try:
                node.wait(60)
            except subprocess.TimeoutExpired:
                node.kill()
        _check(outcome, store, home, workers, report)
        store.close()
    return outcome


def _logged(home: Path, workers: int) -> Iterator[dict[str, Any]]:
    """What the workers logged: saves, and opens in doubt."""
    for w in range(workers):
        path = home / f"w{w}.log"
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue  # a line cut by the kill


def _check(outcome: Outcome, store: Any, home: Path, workers: int, report: Path) -> None:
    logged = list(_logged(home, workers))
    saves = [entry for entry in logged if "start" in entry]
    gave_up = [entry for entry in logged if "gave_up" in entry]
    outcome.in_doubt = len({entry["doubt"] for entry in logged if "doubt" in entry})
    outcome.saves = sum(not s["refused"] for s in saves)
    outcome.fenced_saves = sum(s["refused"] for s in saves)
    # A save commits between its start and its end (a process paused in between logs a late
    # end). Two owners drove one channel at once if a save under an older token started after
    # one under a newer token had ended: the older one committed after the newer.
    by_key: dict[str, list[dict[str, Any]]] = {}
    for save in saves:
        if not save["refused"] and save["token"] is not None:
            by_key.setdefault(save["key"], []).append(save)
    for key, accepted in by_key.items():
        for old in accepted:
            for new in accepted:
                if old["token"] < new["token"] and old["start"] > new["at"]:
                    outcome.double_driven += 1
                    outcome.problems.append(
                        f"{key}: a save under token {old['token']} after one under {new['token']}"
                    )
    thief = home / "thief.json"
    if thief.exists():
        figures = json.loads(thief.read_text() or "{}")
        outcome.thief_tries, outcome.thief_taken = figures.get("tries", 0), figures.get("taken", 0)
        outcome.thief_stale_saves = figures.get("stale_saves", 0)
        outcome.fenced_saves += outcome.thief_stale_saves - figures.get("stale_accepted", 0)
        if figures.get("stale_accepted"):
            outcome.double_driven += figures["stale_accepted"]
            outcome.problems.append(f"{figures['stale_accepted']} stale saves of the thief kept")
    if not report.exists():
        outcome.problems.append("the node wrote no report")
        return
    view = json.loads(report.read_text())
    rows = view["rows"]
    records: dict[str, ChannelRecord] = {}
    for record in store.records():
        if record.abandoned is not None:
            outcome.abandoned += 1
            if not record.abandoned.strip():
                outcome.problems.append(f"{record_key(record)}: given up without a reason")
            if record.signed_create_tx() is not None and record.abandoned != GIVEN_UP_IN_DOUBT:
                outcome.problems.append(
                    f"{record_key(record)}: given up after its create tx was signed: "
                    f"{record.abandoned}"
                )
        elif record.account in records:
            outcome.problems.append(f"{record.account}: two records in use")
        else:
            records[record.account] = record
    outcome.given_up_in_doubt = len(gave_up)
    for entry in gave_up:
        # The create tx given up can never be included (its nonce is used), and the channel
        # it names is off chain, or the one the slot's next open made with that nonce.
        account, named = entry["account"], entry["channel_id"]
        now_in_use = records.get(account)
        reopened = (
            now_in_use is not None
            and now_in_use.known_channel_id() == named
            and now_in_use.state == ChannelState.CLOSED.value
        )
        nonce_used = view["nonces"][account] > entry["nonce"]
        if not nonce_used or (named in view["on_chain"] and not reopened):
            outcome.problems.append(
                f"{entry['gave_up']}: given up in doubt, not proven off chain (nonce "
                f"{entry['nonce']}, next {view['nonces'][account]}; on chain: "
                f"{named in view['on_chain']}, reopened: {reopened})"
            )
    for row in rows:
        n = row["n"]
        outcome.double_signed += len(row["double_signed"])
        record = records.get(initiator(n).address)
        if record is None:
            outcome.lost += 1
            outcome.problems.append(f"channel {n}: no record")
            continue
        closed = record.state == ChannelState.CLOSED.value and row["on_chain"] is not None
        if closed:
            outcome.closed += 1
        else:
            lease = store.lease(record_key(record))
            holder = None if lease is None else (lease.owner, round(lease.expires - time.time()))
            outcome.problems.append(
                f"channel {n}: {record.state} at round {record.latest_round}, on chain "
                f"{row['on_chain']}, lease {holder}, signed ahead {sorted(record.signed_ahead)}"
            )
        if record.latest_round != row["round"] or dict(record.balances or {}) != row["balances"]:
            outcome.lost += 1
            outcome.problems.append(
                f"channel {n}: record at round {record.latest_round}, peer at {row['round']}"
            )
        # Two transfers of ours and one back: rounds 2, 3 and 4 of each channel.
        outcome.transfers += min(max((row["round"] or 1) - 1, 0), 3)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "node":
        _, count, ready, stop, report = argv
        asyncio.run(node_main(int(count), Path(ready), Path(stop), Path(report)))
        return 0
    if argv and argv[0] == "worker":
        _, url, config, slot, log = argv
        w, workers = (int(part) for part in slot.split("/"))
        asyncio.run(worker_main(url, json.loads(config), (w, workers), Path(log)))
        return 0
    if argv and argv[0] == "thief":
        thief_main(argv[1], Path(argv[2]))
        return 0
    raise SystemExit(
        f"a role is required (node, worker or thief), got {argv!r}: "
        "bench/hub.py runs the whole test"
    )


if __name__ == "__main__":
    sys.exit(main())
