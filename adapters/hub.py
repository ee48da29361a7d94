"""A hub: one asyncio process driving every channel it can lease from a shared store.

::

    hub = Hub(base_url, store, signer=keys, handler=on_event, lease_seconds=30)
    async with hub:                      # runs until the block ends, then lets go
        client = hub.open(options, network_id="ae_uat")
        ...

The hub resumes every channel of the store whose lease it can take (its previous owner let it
go, or died and the lease expired), keeps each on its own (re)connecting client on one event
loop, renews the leases it holds, and releases them when it stops. Sign requests go through
the application's policy with ``signer``; every other event goes to ``handler`` with the
client it came from. Every save carries the channel's lease, so a hub that lost a lease (a
partition from the store longer than the lease, a process paused that long) is refused its
next save and signs nothing more for that channel; the hub then stops driving it
(:class:`ChannelStopped`).

An open that stopped before we signed its create tx can never finish: it is marked in its
record (:attr:`~sansio_channels.record.ChannelRecord.abandoned`) and reported once as
:class:`OpenAbandoned`; it is never retried. Once we signed the create tx, the node refusing
to come back proves nothing: an initiator's FSM is found by the channel id only from
``funding_signed`` on, and it runs on without its client, so the channel may still go on chain.
Such an open is reported once as :class:`OpenInDoubt` and tried again with backoff; the hub
never gives it up on its own (:meth:`Hub.give_up` does, on the application's proof).

The store's calls are blocking and short (one round trip each) and run on the event loop: the
renewal of every lease held is one call, a scan for channels to take one query.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Final

import attrs

from sansio_channels.crypto import Signer
from sansio_channels.events import Event
from sansio_channels.lease import LeasedStore
from sansio_channels.options import OpenOptions, Role
from sansio_channels.policy import Policy
from sansio_channels.record import ChannelRecord
from sansio_channels.state import ChannelState
from sansio_channels.store import Lease, LeaseLost, LeasingStore, record_key

from ._common import DEFAULT_SETTINGS, ClosedWithoutMessage, NodeRefused, Settings
from .asyncio import ChannelClient

__all__ = ["ChannelStopped", "Handler", "Hub", "OpenAbandoned", "OpenInDoubt", "default_owner"]

# Before these, the channel was never open.
_OPENING: Final = (ChannelState.NEW.value, ChannelState.OPENING.value)
# The longest wait between two tries to come back to an open in doubt.
_MOST_BETWEEN_TRIES: Final = 60.0


def _never_open(record: ChannelRecord) -> bool:
    """An open that never got to a co-signed state, not given up yet."""
    return (
        record.abandoned is None
        and record.latest_round is None
        and record.state != ChannelState.CLOSED.value
    )


@attrs.frozen(kw_only=True)
class OpenAbandoned(Event):
    """An open that can never finish: ``record`` (kept in the store, marked) says how far it
    got; ``reason`` why it cannot go on. If ``record.signed_ahead`` holds the create tx we
    signed, that is the tx to look for on chain."""

    key: str
    record: ChannelRecord
    reason: str


@attrs.frozen(kw_only=True)
class OpenInDoubt(Event):
    """An open whose create tx we signed, that the node refused to come back to (``reason``).
    It may still finish, and the channel ``channel_id`` may be on chain: the node finds the
    initiator's FSM by that id only once ``funding_signed`` came back, the FSM runs on without
    its client, and the peer may hold the co-signed ``create_tx``. The hub keeps the record,
    tries again with backoff, and reports this once (each hub that finds it refused); only
    :meth:`Hub.give_up` gives it up."""

    key: str
    record: ChannelRecord
    create_tx: str
    channel_id: str
    reason: str


@attrs.define
class _Doubt:
    """When the hub tries an open in doubt again, and how long it waited last."""

    retry_at: float
    wait: float


@attrs.frozen(kw_only=True)
class ChannelStopped(Event):
    """The hub no longer drives the channel under ``key``: it closed, its lease was taken
    over, or its client failed (``reason``). ``lease_lost``: another owner may drive it now."""

    key: str | None
    reason: str
    lease_lost: bool


# The application's handler of events: the client they came from (None for a record the hub
# gave up without a client) and the event.
Handler = Callable[[ChannelClient | None, Event], Awaitable[None]]


def default_owner() -> str:
    """An owner name unique to this process: host, pid and a random part (a restarted
    process with the same pid is a new owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@attrs.define(eq=False)  # each is itself: a key of the hub's table, by identity
class _Driven:
    """One channel the hub drives: its client, its leased view of the store, its task."""

    client: ChannelClient
    leased: LeasedStore
    renewed_at: float
    task: asyncio.Task[None] | None = None
    stop_reason: str | None = None  # set when the hub stops it (lease lost)

    @property
    def key(self) -> str | None:
        return None if self.leased.lease is None else self.leased.lease.key


class Hub:
    """Every channel of ``store`` this process can lease, driven on one event loop.

    ``signer`` signs for the hub's account; a mapping from ``ak_`` addresses to signers
    serves a hub with an account per channel (a channel of an account it has no signer for
    is left alone).

    ``lease_seconds``: how long a lease lasts without renewal, so how long a dead owner's
    channels wait before another hub takes them; ``renew_every`` (default a third of it):
    how often leases are renewed; ``scan_every`` (default ``renew_every``): how often the
    store is searched for channels to take. A lease not renewed for ``lease_seconds`` (the
    store unreachable) stops its channel here, since another hub may have taken it."""

    def __init__(
        self,
        base_url: str,
        store: LeasingStore,
        *,
        signer: Signer | Mapping[str, Signer],
        handler: Handler | None = None,
        policy: Policy | None = None,
        settings: Settings = DEFAULT_SETTINGS,
        owner: str | None = None,
        lease_seconds: float = 30.0,
        renew_every: float | None = None,
        scan_every: float | None = None,
    ) -> None:
        if not lease_seconds > 0:
            raise ValueError(f"lease_seconds must be > 0, got {lease_seconds!r}")
        self.base_url = base_url
        self.store = store
        self.signer = signer
        self.handler = handler
        self.policy = policy
        self.settings = settings
        self.owner = owner or default_owner()
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every or lease_seconds / 3
        self.scan_every = scan_every or self.renew_every
        # In the order they started; a dict so that a channel's end takes it out in one step
        # (out of a list, any order but the first-in would cost a pass over every channel).
        self._driven: dict[_Driven, None] = {}
        self._runner: asyncio.Task[None] | None = None
        self._reports: set[asyncio.Task[None]] = set()  # handler calls for the hub's events
        self._in_doubt: dict[str, _Doubt] = {}  # opens in doubt, by key

    # --- the application's side -----------------------------------------------------------

    async def __aenter__(self) -> Hub:
        self._runner = asyncio.create_task(self._run())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def clients(self) -> list[ChannelClient]:
        """The clients of the channels driven now."""
        return [driven.client for driven in self._driven]

    def open(self, options: OpenOptions, *, network_id: str) -> ChannelClient:
        """Open a new channel, driven by this hub; its lease is taken with its first save."""
        leased = LeasedStore(self.store, self.owner, seconds=self.lease_seconds)
        account = options.initiator_id if options.role is Role.INITIATOR else options.responder_id
        client = ChannelClient.open(
            self.base_url,
            options,
            network_id=network_id,
            signer=self._signer(account),
            policy=self.policy,
            settings=self.settings,
            store=leased,
        )
        self._start(client, leased)
        return client

    async def stop(self) -> None:
        """Close every client and release every lease held."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        driven = list(self._driven)
        # All at once: one by one, each would wait for its node's answer to its close.
        await asyncio.gather(*(each.client.close() for each in driven))
        await asyncio.gather(*(d.task for d in driven if d.task), return_exceptions=True)
        await asyncio.gather(*self._reports, return_exceptions=True)

    def scan(self) -> None:
        """Take every channel of the store whose lease is free (called every ``scan_every``):
        one query, for the records not finished and not leased."""
        ours = {driven.key for driven in self._driven}
        now = asyncio.get_running_loop().time()
        for record in self.store.takeable():
            key = record_key(record)
            if key in ours:
                continue
            doubt = self._in_doubt.get(key)
            if doubt is not None and now < doubt.retry_at:
                continue  # an open in doubt waits for its next try
            if self._signer(record.account) is None:
                continue
            if record.resumable:
                self._take(key)
            elif _never_open(record):
                # No create tx signed, so no channel to come back to: its opener holds the
                # lease while it lives and can go on; a free lease means it stopped.
                self._abandon_unleased(
                    key,
                    "the open stopped before a create tx was signed",
                    lambda found: (
                        _never_open(found)
                        and not found.resumable
                        and found.signed_create_tx() is None
                    ),
                )

    def renew(self) -> None:
        """Renew every lease held, in one store call (called every ``renew_every``)."""
        now = asyncio.get_running_loop().time()
        driven = list(self._driven)
        held = [d.leased.lease for d in driven if d.leased.lease is not None]
        try:
            renewed = self.store.renew_many(held, seconds=self.lease_seconds)
        except Exception as exc:  # the store unreachable: the leases may run out
            for each in driven:
                if now - each.renewed_at > self.lease_seconds:
                    self._stop(each, f"lease not renewed for {self.lease_seconds} s: {exc}")
            return
        by_token = {(lease.key, lease.token): lease for lease in renewed}
        for each in driven:
            lease = each.leased.lease
            if lease is None:  # a new channel not saved yet: nothing to lose
                each.renewed_at = now
            elif (lease.key, lease.token) in by_token:
                each.leased.renewed(by_token[lease.key, lease.token])
                each.renewed_at = now
            else:
                self._stop(each, f"lease lost: {lease.key}: lease {lease.token} was taken over")

    # --- taking and driving ---------------------------------------------------------------

    def _take(self, key: str) -> None:
        lease = self.store.acquire(key, self.owner, seconds=self.lease_seconds)
        if lease is None:
            return
        record = self.store.load(key)  # read under the lease: no one saves it meanwhile
        if record is None or not record.resumable:
            self.store.release(lease)
            return
        leased = LeasedStore(self.store, self.owner, seconds=self.lease_seconds, lease=lease)
        client = ChannelClient.resume(
            self.base_url,
            record,
            signer=self._signer(record.account),
            policy=self.policy,
            settings=self.settings,
            store=leased,
        )
        self._start(client, leased)

    def _signer(self, account: str) -> Signer | None:
        if isinstance(self.signer, Mapping):
            return self.signer.get(account)
        return self.signer if self.signer.address == account else None

    def give_up(self, key: str, reason: str) -> bool:
        """Give up the open under ``key`` on the application's proof that it can never
        finish: for an open in doubt, that its create tx can never be on chain (the chain
        holds no channel by its id, and the tx can no longer be included: its ``ttl`` has
        passed, or another tx of the initiator took its nonce). The record is marked with
        ``reason`` and :class:`OpenAbandoned` reported. False, and nothing changed, if the
        record is not an open never co-signed past its create tx, or its lease is held."""
        if not reason.strip():
            raise ValueError("give_up needs a reason")
        if key in {driven.key for driven in self._driven}:
            return False
        given_up = self._abandon_unleased(
            key, reason, lambda found: found.abandoned is None and found.state in _OPENING
        )
        if given_up:
            self._in_doubt.pop(key, None)
        return given_up

    def _abandon_unleased(
        self, key: str, reason: str, allowed: Callable[[ChannelRecord], bool]
    ) -> bool:
        lease = self.store.acquire(key, self.owner, seconds=self.lease_seconds)
        if lease is None:
            return False
        try:
            record = self.store.load(key)
            if record is None or not allowed(record):
                return False
            self._abandon(record, lease, reason)
            return True
        finally:
            self.store.release(lease)

    def _abandon(self, record: ChannelRecord, lease: Lease, reason: str) -> None:
        marked = attrs.evolve(record, abandoned=reason)
        self.store.save(marked, lease=lease)
        self._report(None, OpenAbandoned(key=lease.key, record=marked, reason=reason))

    def _start(self, client: ChannelClient, leased: LeasedStore) -> None:
        driven = _Driven(client, leased, asyncio.get_running_loop().time())
        self._driven[driven] = None
        driven.task = asyncio.create_task(self._drive(driven))

    async def _drive(self, driven: _Driven) -> None:
        client, reason, lost, refused = driven.client, "closed", False, False
        try:
            async with client:
                async for event in client:
                    if self.handler is not None:
                        await self.handler(client, event)
        except LeaseLost as exc:
            reason, lost = f"lease lost: {exc}", True
        except (NodeRefused, ClosedWithoutMessage) as exc:
            reason, refused = str(exc), True
            self._refused_in_open(driven, reason)
        except Exception as exc:  # the client or the handler failed: this channel stops
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            del self._driven[driven]
            if not refused and driven.key is not None:
                self._in_doubt.pop(driven.key, None)  # back on the node, or let go
            if driven.stop_reason is not None:
                reason, lost = driven.stop_reason, True
            elif not lost:
                try:
                    driven.leased.release()
                except Exception as exc:  # it expires on its own
                    reason += f" (lease not released: {exc})"
            self._report(client, ChannelStopped(key=driven.key, reason=reason, lease_lost=lost))

    def _refused_in_open(self, driven: _Driven, reason: str) -> None:
        """The node refused to come back to a channel that was never open. Without a create
        tx signed by us the open can never finish; with one, it may still (see
        :class:`OpenInDoubt`): try again later."""
        lease = driven.leased.lease
        record = driven.client.channel.restored_from
        if lease is None or record is None or record.state not in _OPENING:
            return
        current = self.store.load(lease.key)
        if current is None or current.state not in _OPENING or current.abandoned is not None:
            return
        create_tx = current.signed_create_tx()
        channel_id = current.known_channel_id()
        if create_tx is None or channel_id is None:
            self._abandon(current, lease, f"the node no longer knows the channel: {reason}")
            return
        now = asyncio.get_running_loop().time()
        doubt = self._in_doubt.get(lease.key)
        wait = self.scan_every if doubt is None else min(2 * doubt.wait, _MOST_BETWEEN_TRIES)
        self._in_doubt[lease.key] = _Doubt(retry_at=now + wait, wait=wait)
        if doubt is None:
            event = OpenInDoubt(
                key=lease.key,
                record=current,
                create_tx=create_tx,
                channel_id=channel_id,
                reason=f"the node refused to come back to the open: {reason}",
            )
            self._report(driven.client, event)

    def _stop(self, driven: _Driven, reason: str) -> None:
        """Stop a channel whose lease may be another's now. Every save its client tries is
        refused anyway; stopping the client ends it before its next save."""
        driven.stop_reason = reason
        task = asyncio.ensure_future(driven.client.stop(LeaseLost(reason)))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    def _report(self, client: ChannelClient | None, event: Event) -> None:
        if self.handler is None:
            return
        task = asyncio.ensure_future(self.handler(client, event))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_scan = next_renew = loop.time()
        while True:
            now = loop.time()
            if now >= next_renew:
                self.renew()
                next_renew = now + self.renew_every
            if now >= next_scan:
                self.scan()
                next_scan = now + self.scan_every
            await asyncio.sleep(max(0.0, min(next_scan, next_renew) - loop.time()))
