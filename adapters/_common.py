"""What the three adapters share: the pump between a socket and the channel, their settings,
their errors and the events of their own.

The :class:`Pump` does everything that does not depend on the transport: it feeds text frames
to the :class:`~sansio_channels.channel.Channel`, lets the policy answer sign requests, keeps
the application's bounded event queue, matches outcomes to the operations waiting for them,
holds the frames still to send, and decides what a lost connection means (come back, end, or
fail). An adapter only moves frames, sleeps until deadlines and opens sockets.
"""

from __future__ import annotations

import collections
import json
import logging
import ssl
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, Final, Generic, TypeAlias, TypeVar

import attrs

from sansio_channels import commands as cmd
from sansio_channels.channel import Channel
from sansio_channels.crypto import Signer
from sansio_channels.dispute import DisputePolicy
from sansio_channels.errors import ChannelError, LocalProtocolError
from sansio_channels.events import (
    ChannelErrorReported,
    Conflict,
    Event,
    FsmUp,
    NodeError,
    Operation,
    OperationAccepted,
    OperationFailed,
    QueryResult,
    SignRequest,
)
from sansio_channels.options import OpenOptions
from sansio_channels.policy import DefaultPolicy, Policy, answer, checks_summary
from sansio_channels.record import ChannelRecord
from sansio_channels.rpc import AbortCode
from sansio_channels.state import ChannelState
from sansio_channels.store import ChannelStore, record_key
from sansio_channels.txs import SignedTx

__all__ = [
    "DEFAULT_SETTINGS",
    "AdapterError",
    "Answer",
    "AnswerNeeded",
    "Backoff",
    "ClosedWithoutMessage",
    "ConnectFailed",
    "ConnectionLost",
    "Disconnected",
    "Done",
    "FellBehind",
    "NodeRefused",
    "Outcome",
    "Reconnected",
    "Settings",
]

Outcome: TypeAlias = OperationAccepted | OperationFailed | QueryResult
# What an update, a notice or a close ends in: taken by the node (and co-signed), or failed.
Done: TypeAlias = OperationAccepted | OperationFailed
# What a query ends in: the node's answer, or a failure.
Answer: TypeAlias = QueryResult | OperationFailed
_OUTCOMES: Final = (OperationAccepted, OperationFailed, QueryResult)
# The code a sign request is refused with when the application says only "abort".
DEFAULT_ABORT: Final = AbortCode.ABORT
# After these the node's FSM is gone (left, died, closed): a lost socket ends the stream.
_ENDED: Final = (ChannelState.CLOSED, ChannelState.FSM_DOWN)
# Connections, reconnects, the node's refusals, the application's sign answers and store saves
# (docs/logging.md). Never a key: only addresses, states, rounds, reasons.
_log = logging.getLogger("sansio_channels.adapters")


# --- errors ---------------------------------------------------------------------------------


class AdapterError(ChannelError):
    """Root of the adapters' own errors."""


class ConnectFailed(AdapterError):
    """No WebSocket could be opened: connection refused, TLS or handshake failed, timed out."""


class ClosedWithoutMessage(AdapterError):
    """The node closed the socket before sending anything: bad connect parameters,
    or a channel it cannot reestablish. Trying again would get the same answer."""


class NodeRefused(AdapterError):
    """The node answered the connect with an error and closed the socket before any
    ``fsm_up``: a reconnect it refuses (an unknown fsm id, 1016; a missing one, 2000), open
    params it rejects. Trying again would get the same answer; ``error`` is its reply."""

    def __init__(self, error: NodeError) -> None:
        detail = ", ".join(f"{code} {text}" for code, text in error.data) or error.message
        super().__init__(f"the node refused the connection: {detail}")
        self.error = error


class Disconnected(AdapterError):
    """The connection is gone for good: closed by the application, reconnecting gave up, or
    the channel cannot be come back to (no channel id and fsm id yet)."""


class FellBehind(AdapterError):
    """The application did not read events fast enough: the bounded queue filled up.

    The adapter stops and closes the socket rather than block its reader (which would stop
    keep-alives) or drop events. The channel's record is intact: resume from it.
    """


class AnswerNeeded(AdapterError):
    """The blocking adapter waited for an operation whose sign request the policy handed to
    the application; answer ``request`` (it is in the event stream too), then read events."""

    def __init__(self, request: SignRequest) -> None:
        super().__init__(f"the {request.tag.tag} sign request needs the application's answer")
        self.request = request


# --- the adapters' own events ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ConnectionLost(Event):
    """The socket went away. With ``reconnecting`` the adapter comes back on a new one (the
    node's :class:`FsmUp` then says whether it reattached or reestablished); otherwise the
    event stream ends here."""

    reason: str
    reconnecting: bool


@attrs.frozen(kw_only=True)
class Reconnected(Event):
    """A new socket is open after ``attempt`` tries; the node's :class:`FsmUp` follows."""

    attempt: int


# --- settings -------------------------------------------------------------------------------


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value > 0:
        raise LocalProtocolError(f"{attribute.name}: must be > 0, got {value!r}")


def _positive_or_none(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _positive(instance, attribute, value)


@attrs.frozen(kw_only=True)
class Backoff:
    """Delays between reconnect attempts: ``initial``, times ``factor`` each try, at most
    ``maximum``; after ``attempts`` failed tries (None: never) the adapter gives up."""

    initial: float = attrs.field(default=0.5, validator=_positive)
    factor: float = attrs.field(default=2.0, validator=_positive)
    maximum: float = attrs.field(default=30.0, validator=_positive)
    attempts: int | None = attrs.field(default=10, validator=_positive_or_none)

    def delay(self, attempt: int) -> float | None:
        """Seconds to wait before try number ``attempt`` (1, 2, ...); None to give up."""
        if self.attempts is not None and attempt > self.attempts:
            return None
        return float(min(self.maximum, self.initial * self.factor ** (attempt - 1)))


@attrs.frozen(kw_only=True)
class Settings:
    """How an adapter drives its socket. Times are in seconds."""

    ping_interval: float | None = attrs.field(default=15.0, validator=_positive_or_none)
    """WebSocket pings every this many seconds; None: none (the channel still sends
    ``channels.system`` pings when quiet). The node drops a socket silent for about a minute;
    the JS SDK pings every 10 s."""
    ping_timeout: float = attrs.field(default=10.0, validator=_positive)
    """No pong within this long: the socket is dropped and the client reconnects."""
    open_timeout: float = attrs.field(default=10.0, validator=_positive)
    """For opening a socket (TCP, TLS and the WebSocket handshake), and for a send."""
    close_timeout: float = attrs.field(default=5.0, validator=_positive)
    """For the closing handshake."""
    max_queued_events: int = attrs.field(default=1000, validator=_positive)
    """Events not read yet beyond this many: the client stops with :class:`FellBehind`."""
    max_message_bytes: int = attrs.field(default=16 * 2**20, validator=_positive)
    """The largest message taken from the node."""
    reconnect: Backoff | None = Backoff()
    """Delays between reconnect tries; None: never reconnect (a lost connection ends the
    client with :class:`Disconnected`)."""
    ssl_context: ssl.SSLContext | None = None
    """For ``wss://`` URLs; None takes ``ssl.create_default_context()``."""


DEFAULT_SETTINGS: Final = Settings()


# --- the pump -------------------------------------------------------------------------------


class Pump:
    """The channel, the policy and the queues of one client; no I/O, no clock."""

    def __init__(
        self,
        channel: Channel,
        base_url: str,
        *,
        signer: Signer | None,
        policy: Policy | None,
        settings: Settings,
        store: ChannelStore | None = None,
    ) -> None:
        """With ``store`` the channel's record is kept there; a channel restored from the
        store says so with :attr:`Channel.restored_from`."""
        channel.connect_url(base_url)  # a bad base URL fails here, not in a background task
        self.channel = channel
        self.base_url = base_url
        self.signer = signer
        self.policy: Policy = DefaultPolicy() if policy is None else policy
        self.settings = settings
        self.failure: Exception | None = None
        self.closing = False  # the application asked to close
        self.finished = False  # no connection, none coming: the stream ends once drained
        self._events: collections.deque[Event] = collections.deque()
        self._outbox: collections.deque[str] = collections.deque()
        self._awaited: dict[int, Outcome | None] = {}
        self._asked: dict[int, SignRequest] = {}  # operation id -> request handed to the app
        self._frames_seen = 0  # on the current socket
        self._attempt = 0  # reconnect tries since the last fsm_up
        self.store = store
        # Who speaks in the log: role and account, as two clients may share a process.
        self.who = f"{channel.role.value} {channel.account.api}"
        # The record last saved to the store (replaced under a new key when the channel id
        # becomes known).
        self._saved: ChannelRecord | None = channel.restored_from
        # An error reply to no operation of ours, before any fsm_up on the current socket: if
        # the node then closes the socket, it refused the connect (NodeRefused, no retry).
        self._refusal: NodeError | None = None
        self._up = False  # an fsm_up came on the current socket

    # --- connecting -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.channel.connect_url(self.base_url)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.base_url.startswith("wss:"):
            return None
        return self.settings.ssl_context or ssl.create_default_context()

    def connect_failed(self, exc: BaseException) -> ConnectFailed:
        failed = ConnectFailed(f"cannot connect to {self.base_url}: {describe(exc)}")
        _log.warning("%s: %s", self.who, failed)
        return failed

    def opened(self) -> None:
        """A socket is open; tell the application if it replaces a lost one."""
        self._frames_seen = 0
        self._refusal, self._up = None, False
        if self._attempt:
            _log.info("%s: reconnected to %s (try %d)", self.who, self.base_url, self._attempt)
            self._push(Reconnected(attempt=self._attempt))
        else:
            _log.info("%s: connected to %s", self.who, self.base_url)

    def lost(self, reason: str) -> float | None:
        """The socket went away: seconds to wait before the next try, or None (no more)."""
        self.channel.connection_lost()
        self._take_events()
        if self.closing or self.failure is not None:
            _log.info("%s: connection closed (%s)", self.who, reason)
            self.finished = True
            return None
        if self._frames_seen == 0:
            self.fail(ClosedWithoutMessage(f"{self.base_url}: {reason}"))
            return None
        if self._refusal is not None:
            self.fail(NodeRefused(self._refusal))
            return None
        if self.channel.state in _ENDED:
            _log.info(
                "%s: connection ended (%s); the channel is %s",
                self.who,
                reason,
                self.channel.state.value,
            )
            self._push(ConnectionLost(reason=reason, reconnecting=False))
            self.finished = True
            return None
        if self.settings.reconnect is None:
            self.fail(Disconnected(f"connection lost ({reason}); reconnect is off"))
            return None
        try:
            self.channel.reconnect()
        except LocalProtocolError as exc:  # no channel id or fsm id yet: nothing to come to
            self.fail(Disconnected(f"connection lost ({reason}); {exc}"))
            return None
        _log.warning("%s: connection lost (%s); reconnecting", self.who, reason)
        self._push(ConnectionLost(reason=reason, reconnecting=True))
        return self.retry(reason)

    def retry(self, reason: str) -> float | None:
        """Another reconnect try is due: its delay, or None when the backoff gives up."""
        assert self.settings.reconnect is not None
        self._attempt += 1
        delay = self.settings.reconnect.delay(self._attempt)
        if delay is None:
            self.fail(Disconnected(f"gave up after {self._attempt - 1} tries: {reason}"))
        else:
            _log.info("%s: reconnect try %d in %.3g s", self.who, self._attempt, delay)
        return delay

    def fail(self, failure: Exception) -> None:
        """The client stops; the application gets ``failure`` once it has read every event."""
        if self.failure is None:
            _log.error("%s: the client stops: %s", self.who, describe(failure))
            self.failure = failure
        self.finished = True

    def close(self) -> None:
        _log.debug("%s: closing, as the application asked", self.who)
        self.closing = True

    # --- frames in and out ----------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> None:
        """One message from the socket (a binary one is read as UTF-8 text)."""
        if self.failure is not None:
            return  # the client has stopped: nothing more is taken in
        self._frames_seen += 1
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        self.channel.receive_text(text, now=now)
        self._take_events()

    def deadline(self) -> float | None:
        return self.channel.next_deadline()

    def timer(self, now: float) -> None:
        self.channel.handle_timer(now)
        self._take_events()

    def outgoing(self) -> Iterator[str]:
        """The frames to send, oldest first; each is dropped only once the next is asked for,
        so a frame whose send failed goes out first on the next socket."""
        self._persist()  # write-ahead: the record of what we signed, before the signature
        self._outbox.extend(json.dumps(frame) for frame in self.channel.frames_to_send())
        while self._outbox:
            yield self._outbox[0]
            self._outbox.popleft()

    # --- the application's side -----------------------------------------------------------

    def next_event(self) -> Event | None:
        """The next event; None when there is none now. Raises the failure once drained."""
        if self._events:
            return self._events.popleft()
        if self.failure is not None:
            raise self.failure
        return None

    def start(self, command: cmd.Command) -> Operation:
        if self.failure is not None:
            raise self.failure
        if self.finished or self.closing:
            raise Disconnected("the client is closed")
        operation = self.channel.submit(command)
        self._awaited[operation.id] = None
        self._take_events()
        return operation

    def outcome(self, operation: Operation) -> Outcome | None:
        """The outcome of ``operation`` if it has come; raises if it never will."""
        outcome = self._awaited.get(operation.id)
        if outcome is not None:
            self.forget(operation)
            return outcome
        if self.failure is not None:
            raise self.failure
        if self.finished:
            raise Disconnected("the connection closed before the operation ended")
        return None

    def asked(self, operation: Operation) -> SignRequest | None:
        """The sign request of ``operation`` the policy handed to the application, if any."""
        return self._asked.get(operation.id)

    def forget(self, operation: Operation) -> None:
        self._awaited.pop(operation.id, None)
        self._asked.pop(operation.id, None)

    def sign(
        self, request: SignRequest, signer: Signer | None, *, accept_failed_checks: bool
    ) -> None:
        signer = signer or self.signer
        if signer is None:
            raise LocalProtocolError("no signer: pass one here or to the client")
        request.sign(signer, accept_failed_checks=accept_failed_checks)
        # Signing over failed checks is the application's call, and worth a warning.
        level = logging.WARNING if request.checks.failed else logging.INFO
        if _log.isEnabledFor(level):
            summary = checks_summary(request)
            _log.log(
                level, "%s: %s signed by the application%s", self.who, request.tag.tag, summary
            )
        self._answered(request)

    def respond(self, request: SignRequest, signed_tx: str | SignedTx) -> None:
        request.respond(signed_tx)
        _log.info("%s: %s answered with a tx signed elsewhere", self.who, request.tag.tag)
        self._answered(request)

    def abort(self, request: SignRequest, code: int) -> None:
        request.abort(code)
        _log.info("%s: %s aborted by the application (code %d)", self.who, request.tag.tag, code)
        self._answered(request)

    def _answered(self, request: SignRequest) -> None:
        if request.operation is not None:
            self._asked.pop(request.operation.id, None)
        self._take_events()

    # --- events ---------------------------------------------------------------------------

    def _take_events(self) -> None:
        for event in self.channel.events():
            if isinstance(event, SignRequest) and self._answer(event):
                continue
            _log_event(self.who, event)
            if isinstance(event, FsmUp):
                self._attempt, self._refusal, self._up = 0, None, True
            elif isinstance(event, NodeError) and event.operation is None and not self._up:
                self._refusal = event
            if isinstance(event, SignRequest) and event.operation is not None:
                self._asked[event.operation.id] = event
            if isinstance(event, _OUTCOMES) and event.operation.id in self._awaited:
                self._awaited[event.operation.id] = event
                self._asked.pop(event.operation.id, None)
            self._push(event)
        self._persist()

    # --- the store ------------------------------------------------------------------------

    def _persist(self) -> None:
        """Save the channel's record if it changed since the last save. Called after every
        step of the channel and before any frame is handed to the transport, so what we
        signed is stored before the signature leaves, and a co-signed state or an fsm id as
        soon as it arrives."""
        if self.store is None or self.channel.fsm_id is None:
            return  # before fsm_up there is nothing to come back to
        record = self.channel.record()
        if record == self._saved:
            return
        # An opening record, once the channel id is known, moves to its new key in the
        # same transaction: a crash never leaves a stale opening record beside it.
        previous = None if self._saved is None else record_key(self._saved)
        self.store.save(record, replaces=None if previous == record_key(record) else previous)
        if _log.isEnabledFor(logging.DEBUG):
            key, round_ = record_key(record), record.latest_round
            _log.debug("%s: saved %s (%s, round %s)", self.who, key, record.state, round_)
        self._saved = record

    def _answer(self, request: SignRequest) -> bool:
        if self.signer is None:
            return False
        try:
            return answer(request, self.policy, self.signer)
        except ChannelError as exc:  # a signer for another account: stop, do not guess
            self.fail(exc)
            return True

    def _push(self, event: Event) -> None:
        if len(self._events) >= self.settings.max_queued_events:
            self.fail(FellBehind(f"more than {self.settings.max_queued_events} events not read"))
            return
        self._events.append(event)


def _log_event(who: str, event: Event) -> None:
    """The events an operator looks for in a log: the node's FSM, its refusals, conflicts."""
    if isinstance(event, FsmUp):
        how = "reattached" if event.reconnected else "new"
        _log.info("%s: fsm up: %s (%s)", who, event.fsm_id, how)
    elif isinstance(event, NodeError):
        detail = ", ".join(f"{code} {text}" for code, text in event.data) or event.message
        method = (event.request or {}).get("method", "a request")
        _log.warning("%s: the node refused %s: %s%s", who, method, detail, _cause(event))
    elif isinstance(event, ChannelErrorReported):
        _log.warning("%s: the node reports an error: %s%s", who, event.message, _cause(event))
    elif isinstance(event, Conflict):
        _log.warning(
            "%s: conflict: the node rolled back to round %d: %s",
            who,
            event.round,
            event.error_msg,
        )


def _cause(event: NodeError | ChannelErrorReported) -> str:
    return f"; likely cause: {event.likely_cause}" if event.likely_cause else ""


def describe(exc: BaseException) -> str:
    """An exception as a reason: its type, and its message if it has one."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- what the three clients have in common ------------------------------------------------


def done(outcome: Outcome) -> Done:
    """The outcome of an operation that is not a query, typed as such."""
    # The channel answers with a QueryResult only the operations of a query command.
    assert not isinstance(outcome, QueryResult), outcome
    return outcome


def answered(outcome: Outcome) -> Answer:
    """The outcome of a query, typed as such."""
    # A query ends in its answer or a failure, never in an accepted update.
    assert not isinstance(outcome, OperationAccepted), outcome
    return outcome


# What the verbs give: Done and Answer for the blocking client, awaitables of them for asyncio
# and trio (named for the reference pages, which show them as they are written here).
DoneT = TypeVar("DoneT")
AnswerT = TypeVar("AnswerT")
C = TypeVar("C", bound="ClientBase[Any, Any]")


class ClientBase(Generic[DoneT, AnswerT]):
    """A client's channel and pump, its constructors, and the common commands as verbs.

    ``DoneT`` is what an update verb gives (:data:`Done`, or an awaitable of it), ``AnswerT``
    what a query verb gives (:data:`Answer`, or an awaitable of it). An adapter makes its
    transport's own state in ``_init_transport``, so the constructor is written once.
    """

    def __init__(
        self,
        channel: Channel,
        base_url: str,
        *,
        signer: Signer | None = None,
        policy: Policy | None = None,
        settings: Settings = DEFAULT_SETTINGS,
        store: ChannelStore | None = None,
    ) -> None:
        self.channel = channel
        self._pump = Pump(
            channel, base_url, signer=signer, policy=policy, settings=settings, store=store
        )
        self._init_transport()

    def _init_transport(self) -> None:
        """The adapter's own state (socket, locks, ...), made with the client."""
        raise NotImplementedError

    @classmethod
    def open(
        cls: type[C],
        base_url: str,
        options: OpenOptions,
        *,
        network_id: str,
        signer: Signer | None = None,
        policy: Policy | None = None,
        settings: Settings = DEFAULT_SETTINGS,
        store: ChannelStore | None = None,
        dispute: DisputePolicy | None = None,
    ) -> C:
        """A client that opens a new channel (not connected until entered); with ``store``
        its record is kept there from the first ``fsm_up`` on. ``dispute`` is the channel's
        (:class:`~sansio_channels.dispute.DisputePolicy`; by default it slashes and settles)."""
        channel = Channel(options, network_id=network_id, dispute=dispute)
        return cls(channel, base_url, signer=signer, policy=policy, settings=settings, store=store)

    @classmethod
    def resume(
        cls: type[C],
        base_url: str,
        record: ChannelRecord,
        *,
        signer: Signer | None = None,
        policy: Policy | None = None,
        settings: Settings = DEFAULT_SETTINGS,
        store: ChannelStore | None = None,
        dispute: DisputePolicy | None = None,
    ) -> C:
        """A client that comes back to a channel from its record (reconnect or reestablish,
        as the node's answer says); a dispute the record has due goes on."""
        channel = Channel.restore(record, dispute=dispute)
        return cls(channel, base_url, signer=signer, policy=policy, settings=settings, store=store)

    @classmethod
    def resume_all(
        cls: type[C],
        base_url: str,
        store: ChannelStore,
        *,
        signer: Signer | None = None,
        policy: Policy | None = None,
        settings: Settings = DEFAULT_SETTINGS,
        dispute: DisputePolicy | None = None,
    ) -> list[C]:
        """A client (not connected until entered) for every channel in ``store`` that can be
        come back to, each keeping its record there (:attr:`ChannelRecord.resumable`)."""
        return [
            cls.resume(
                base_url,
                r,
                signer=signer,
                policy=policy,
                settings=settings,
                store=store,
                dispute=dispute,
            )
            for r in store.records()
            if r.resumable
        ]

    def record(self) -> ChannelRecord:
        """The channel's durable record (store it after every co-signed state)."""
        return self.channel.record()

    def _update(self, command: cmd.Command) -> DoneT:
        """Send ``command`` (not a query) and give its :data:`Done` outcome."""
        raise NotImplementedError

    def _query(self, command: cmd.Command) -> AnswerT:
        """Send the query ``command`` and give its :data:`Answer`."""
        raise NotImplementedError

    def transfer(
        self,
        to_id: str,
        amount: int,
        *,
        from_id: str | None = None,
        block_hash: str | None = None,
        meta: Sequence[str] | None = None,
    ) -> DoneT:
        """Move ``amount`` off-chain (from our account unless ``from_id`` says otherwise)."""
        return self._update(
            cmd.Transfer(
                from_id=from_id or self.channel.account.api,
                to_id=to_id,
                amount=amount,
                block_hash=block_hash,
                meta=meta,
            )
        )

    def message(self, to_id: str, info: str) -> DoneT:
        """A generic message to ``to_id`` (the peer)."""
        return self._update(cmd.Message(to_id=to_id, info=info))

    def get_balances(self, accounts: Sequence[str] | None = None) -> AnswerT:
        """The balances of ``accounts`` (default: both participants, as far as known)."""
        if accounts is None:
            peer = self.channel.peer
            accounts = [self.channel.account.api, *([peer.api] if peer else [])]
        return self._query(cmd.GetBalances(accounts=accounts))

    def deposit(self, amount: int) -> DoneT:
        """Move ``amount`` from our account on chain into the channel."""
        return self._update(cmd.Deposit(amount=amount))

    def withdraw(self, amount: int) -> DoneT:
        """Move ``amount`` from the channel to our account on chain."""
        return self._update(cmd.Withdraw(amount=amount))

    def shutdown(self) -> DoneT:
        """Close the channel mutually."""
        return self._update(cmd.Shutdown())

    def leave(self) -> DoneT:
        """Both FSMs stop and keep the state; resume later from the record."""
        return self._update(cmd.Leave())

    def close_solo(self, **tx_params: int) -> DoneT:
        """Close alone, putting our latest co-signed state on chain; settle after the lock
        period. ``tx_params``: ``fee``, ``gas_price``, ``nonce`` (the FSM picks the rest)."""
        return self._update(cmd.CloseSolo(**tx_params))

    def slash(self, **tx_params: int) -> DoneT:
        """Answer an older state the peer put on chain with our latest one."""
        return self._update(cmd.Slash(**tx_params))

    def settle(self, **tx_params: int) -> DoneT:
        """Pay out a solo-closed channel (the node holds the tx until the lock period ends)."""
        return self._update(cmd.Settle(**tx_params))

    def snapshot_solo(self, **tx_params: int) -> DoneT:
        """Put our latest co-signed state on chain; the channel stays open."""
        return self._update(cmd.SnapshotSolo(**tx_params))


A = TypeVar("A", bound="AsyncClient")


class AsyncClient(ClientBase[Coroutine[Any, Any, Done], Coroutine[Any, Any, Answer]]):
    """The application's side of the asyncio and trio clients: events, commands and answers
    to sign requests, as coroutines.

    A subclass sends what the pump has queued in ``_flush()`` and returns from ``_wait()``
    when the reader has moved the pump on (see ``_notify`` in each).
    """

    async def _flush(self) -> None:
        raise NotImplementedError

    async def _wait(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Close the socket (code 1000) and stop; the channel's FSM on the node stays up."""
        raise NotImplementedError

    async def stop(self, failure: Exception) -> None:
        """Stop the client because of ``failure`` (a lease lost, a shutdown of the
        application): at once it takes in no frame more and starts no operation, then its
        socket closes as with :meth:`close`. The event stream raises ``failure`` after the
        events before it, and so does every later command."""
        self._pump.fail(failure)
        await self.close()

    def __aiter__(self: A) -> A:
        return self

    async def __anext__(self) -> Event:
        event = await self.next_event()
        if event is None:
            raise StopAsyncIteration
        return event

    async def next_event(self) -> Event | None:
        """The next event; None once the connection has ended for good. Raises the client's
        failure (:class:`FellBehind`, :class:`Disconnected`, ...) after the events before it."""
        while (event := self._pump.next_event()) is None and not self._pump.finished:
            await self._wait()
        return event

    async def start(self, command: cmd.Command) -> Operation:
        """Send ``command``; its outcome comes as an event about the operation."""
        operation = self._pump.start(command)
        await self._flush()
        return operation

    async def submit(self, command: cmd.Command) -> Outcome:
        """Send ``command`` and wait for its outcome (accepted, failed, or a query's result)."""
        operation = await self.start(command)
        try:
            while (outcome := self._pump.outcome(operation)) is None:
                await self._wait()
        finally:
            self._pump.forget(operation)
        return outcome

    async def _update(self, command: cmd.Command) -> Done:
        return done(await self.submit(command))

    async def _query(self, command: cmd.Command) -> Answer:
        return answered(await self.submit(command))

    async def sign(
        self,
        request: SignRequest,
        signer: Signer | None = None,
        *,
        accept_failed_checks: bool = False,
    ) -> None:
        """Sign a request handed to the application (with the client's signer by default)."""
        self._pump.sign(request, signer, accept_failed_checks=accept_failed_checks)
        await self._flush()

    async def respond(self, request: SignRequest, signed_tx: str | SignedTx) -> None:
        """Answer with a tx signed elsewhere."""
        self._pump.respond(request, signed_tx)
        await self._flush()

    async def abort(self, request: SignRequest, code: int = DEFAULT_ABORT) -> None:
        """Refuse a sign request handed to the application, with ``code``."""
        self._pump.abort(request, code)
        await self._flush()
