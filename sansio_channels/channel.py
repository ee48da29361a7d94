"""The channel: a sans-IO state machine for one participant of one state channel.

Frames go in with :meth:`Channel.receive_frame` and are processed lazily, one at a time, as
:meth:`Channel.next_event` is called, so the channel never runs ahead of the application.
Frames to send collect in an outbox drained by :meth:`Channel.frames_to_send`: the adapter
JSON-encodes and sends them after every call into the channel. Time only comes in as ``now``
arguments; the channel reads no clock and does no I/O.

The life cycle follows :mod:`.state`; own operations run one at a time (:mod:`.operations`);
sign requests are checked (:mod:`.checks`) before they are offered, and are only answered when
the application says so.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from . import commands as cmd
from . import crypto, rpc, sign_requests
from .checks import (
    CheckReport,
    check_sign_request,
)
from .co_signed import take_co_signed_state
from .dispute import DisputeActionDue, DisputePolicy, DisputeWatch, command_for
from .encoding import Id
from .errors import DecodingError, LocalProtocolError, RemoteProtocolError
from .events import (
    ChannelErrorReported,
    Event,
    FailureReason,
    FsmUp,
    Info,
    Operation,
    OperationAccepted,
    OperationFailed,
    OperationStarted,
    Pong,
    ProtocolViolation,
    QueryResult,
    ReportIgnored,
    SignRequest,
    StateChanged,
)
from .fees import FeePolicy
from .ledger import FetchedState, Ledger, Participants
from .node_data import (
    bad_signature_cause,
    conflict_of,
    message_of,
    node_error_of,
    object_of,
    on_chain_tx_of,
    string_of,
)
from .node_requests import NodeRequests
from .options import ConnectOptions, OpenOptions, ReestablishOptions, Role
from .own_operations import Accepted, Failed, OwnOperations, Signal
from .reattach import NOT_TAKEN, reattached
from .record import ChannelRecord
from .signing_context import SigningContext
from .state import INFO_INPUTS, ON_CHAIN_INPUTS, ChannelState, Input, next_state
from .txs import SignedTx

__all__ = ["DEFAULT_PING_INTERVAL", "NOT_TAKEN", "Channel"]

# Seconds between keep-alive pings while connected: the node drops a socket that is silent
# for about a minute, and a ping every 20 s leaves room for a late one.
DEFAULT_PING_INTERVAL: Final = 20.0

_PARSED: Final = (rpc.Batch, *rpc.MESSAGE_TYPES)


class Channel:
    """One participant's view of one channel, driven by frames in and commands from the user."""

    def __init__(
        self,
        options: ConnectOptions,
        *,
        network_id: str,
        account: str | None = None,
        ping_interval: float | None = DEFAULT_PING_INTERVAL,
        fee_policy: FeePolicy | None = None,
        dispute: DisputePolicy | None = None,
    ) -> None:
        """A channel to open (:class:`OpenOptions`) or to come back to.

        For :class:`ReestablishOptions` (which do not name the participants) pass ``account``,
        or better, use :meth:`restore` with the channel's record. ``fee_policy`` bounds the
        fees the node chooses (:class:`~sansio_channels.fees.FeePolicy`; its defaults when
        None): a sign request above it fails its ``fee`` check. ``dispute`` says what the
        channel does when it is closing on chain (:mod:`.dispute`; by default it slashes an
        older state and settles by itself).
        """
        if not isinstance(network_id, str) or not network_id:
            raise LocalProtocolError("network_id: a non-empty string is required")
        self.options: ConnectOptions = options
        self.network_id = network_id
        self.role: Role = options.role
        self.ping_interval = ping_interval
        if fee_policy is not None and not isinstance(fee_policy, FeePolicy):
            raise LocalProtocolError("fee_policy: a FeePolicy or None is required")
        self.fee_policy = fee_policy if fee_policy is not None else FeePolicy()
        self.dispute = DisputeWatch(dispute or DisputePolicy())
        self.state = ChannelState.NEW
        self.connected = False
        self.fsm_id: str | None = None
        self.channel_id: str | None = None
        self._who = Participants.of(options, network_id=network_id, account=account)
        self.account = self._who.account
        if isinstance(options, ReestablishOptions):
            self.channel_id = options.existing_channel_id
            self.fsm_id = options.existing_fsm_id
            self.state = ChannelState.FSM_DOWN
        self.ledger = Ledger.initial(options if isinstance(options, OpenOptions) else None)
        self._inbound: collections.deque[tuple[Any, float | None]] = collections.deque()
        self._events: collections.deque[Event] = collections.deque()
        self._outbox: list[dict[str, Any]] = []
        self._requests = NodeRequests()
        self._settling: Operation | None = (
            None  # the query that settles an operation after a reattach
        )
        self._own = OwnOperations(self._events.append, self._start_operation, self._failed)
        self._next_operation = 1
        self._sign_request: SignRequest | None = None  # the one not answered yet
        self._last_activity: float | None = None
        # The record this channel was resumed from (after a crash): what the node did while
        # we were gone is unknown until its latest state is fetched.
        self.restored_from: ChannelRecord | None = None

    @property
    def peer(self) -> Id | None:
        """The peer's account, once known (a responder that accepts any initiator learns it
        from the create tx)."""
        return self._who.peer

    @peer.setter
    def peer(self, peer: Id | None) -> None:
        self._who = attrs.evolve(self._who, peer=peer)

    @property
    def participants(self) -> Participants:
        """Who takes part, as a value: the network id, our role and account, the peer."""
        return self._who

    def signing_context(self) -> SigningContext:
        """What the checks of a sign request arriving now would read."""
        return self.ledger.context(
            self._who,
            channel_id=self.channel_id,
            operation=self._own.current,
            fee_policy=self.fee_policy,
        )

    # --- connecting ---------------------------------------------------------------------

    def connect_url(self, base: str) -> str:
        """The URL to open the WebSocket on (``base`` like ``ws://host:3014/channel``)."""
        return self.options.connect_url(base)

    def reconnect(self, options: ReestablishOptions | None = None) -> None:
        """Come back to the channel on a new connection (after :meth:`connection_lost`).

        Without ``options`` they are built from what the channel knows: its id, the fsm id of
        the latest ``fsm_up`` and the original connect parameters.
        """
        if options is None:
            if self.channel_id is None or self.fsm_id is None:
                raise LocalProtocolError("reconnect: the channel has no id or fsm id yet")
            options = self.options.reestablish(
                existing_channel_id=self.channel_id, existing_fsm_id=self.fsm_id
            )
        if options.role is not self.role:
            raise LocalProtocolError("reconnect: the options are for the other role")
        self.options = options
        self.connected = False

    def connection_lost(self) -> None:
        """The transport went away. Queries and notices not answered yet fail (they may or
        may not have reached the node); own operations wait for the node to be back."""
        self.connected = False
        for operation in self._requests.drop_all():
            self._fail(operation, FailureReason.CHANNEL_GONE, "connection lost")
        # A sign request not answered yet is abandoned: the FSM may roll it back while we are
        # away (its sign timer), and a reply to a dead request would leave our signature on a
        # state the node's next request for that round must differ from.
        self._sign_request = None

    # --- input ---------------------------------------------------------------------------

    def receive_frame(self, frame: Any, *, now: float | None = None) -> None:
        """Take one decoded JSON frame from the node. It is processed by :meth:`next_event`."""
        self._inbound.append((frame, now))

    def receive_text(self, text: str, *, now: float | None = None) -> None:
        """Take one text frame; a frame that is not JSON becomes a :class:`ProtocolViolation`."""
        try:
            message = rpc.parse_text(text)
        except RemoteProtocolError as exc:
            self._events.append(ProtocolViolation(reason=str(exc), frame=text))
            return
        self._inbound.append((message, now))

    def next_event(self) -> Event | None:
        """The next event, processing inbound frames as needed; None when there is none."""
        while not self._events and self._inbound:
            frame, now = self._inbound.popleft()
            self._process(frame, now)
        return self._events.popleft() if self._events else None

    def events(self) -> Iterable[Event]:
        """Every event available now, in order."""
        while (event := self.next_event()) is not None:
            yield event

    def frames_to_send(self) -> list[dict[str, Any]]:
        """The frames to send, oldest first; the outbox is empty afterwards."""
        frames, self._outbox = self._outbox, []
        return frames

    # --- time -------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` wants to be called (a keep-alive ping, or a dispute
        action the application was asked to take), or None."""
        if not self.connected:
            return None
        deadlines = [d for d in (self._ping_deadline(), self.dispute.deadline) if d is not None]
        return min(deadlines, default=None)

    def _ping_deadline(self) -> float | None:
        if self.ping_interval is None or self._last_activity is None:
            return None
        return self._last_activity + self.ping_interval

    def handle_timer(self, now: float) -> None:
        """Send what is due at ``now``: a keep-alive ping after a quiet ``ping_interval``; a
        dispute action whose deadline passed."""
        if not self.connected:
            return
        action = self.dispute.timer(now)
        if action is not None:
            self._take_dispute_action(
                DisputeActionDue(info=self.dispute.info, action=action, operation=None)
            )
        deadline = self._ping_deadline()
        if deadline is not None and now >= deadline:
            self.submit(cmd.Ping())
            self._last_activity = now

    # --- processing --------------------------------------------------------------------

    def _process(self, frame: Any, now: float | None) -> None:
        if now is not None:
            self._last_activity = now
        try:
            message = frame if isinstance(frame, _PARSED) else None
            message = message or rpc.parse_frame(frame)
        except RemoteProtocolError as exc:
            self._events.append(ProtocolViolation(reason=str(exc), frame=frame))
            return
        self.connected = True
        for one in message if isinstance(message, rpc.Batch) else (message,):
            self._dispatch(one, frame)

    def _dispatch(self, message: rpc.Message, frame: Any) -> None:
        try:
            if isinstance(message, rpc.Notification):
                self._on_notification(message)
            elif isinstance(message, rpc.ResultReply):
                self._on_result(message)
            else:
                self._on_error(message)
        except (RemoteProtocolError, DecodingError) as exc:
            self._events.append(ProtocolViolation(reason=str(exc), frame=frame))

    def _on_notification(self, note: rpc.Notification) -> None:
        data = note.data
        method = note.method
        if note.channel_id is not None and self.channel_id not in (None, note.channel_id):
            raise RemoteProtocolError(
                f"{method} names channel {note.channel_id}, not ours ({self.channel_id})"
            )
        if method.endswith(".reply"):
            self._query_answered(self._requests.answered_by(method), data)
            return
        if method == "channels.system.pong":
            self._events.append(Pong())
            return
        if note.sign_tag is not None:
            self._on_sign_request(note.sign_tag, object_of(data, method), note.channel_id)
            return
        handler = _NOTIFICATION_HANDLERS.get(method)
        if handler is None:
            raise RemoteProtocolError(f"unknown notification {method!r}")
        handler(self, object_of(data, method))
        # Learnt only once the notification went through, so a bad one changes nothing.
        if note.channel_id is not None and self.channel_id is None:
            self.channel_id = note.channel_id

    def _on_info(self, data: Mapping[str, Any]) -> None:
        event = data.get("event")
        if not isinstance(event, str):
            raise RemoteProtocolError("channels.info without an event name")
        if event == "fsm_up":
            self._on_fsm_up(string_of(data, "fsm_id", "fsm_up"))
            return
        if event in ("funding_created", "funding_signed") and isinstance(data.get("fsm_id"), str):
            self.fsm_id = data["fsm_id"]
        if event == "aborted_update" and self._own.current and self.ledger.last_abort_was_own:
            self._own.finish(Failed(FailureReason.ABORTED, "aborted"))
        self._events.append(Info(event=event, data=data))
        transition = INFO_INPUTS.get(event)
        previous = self.state
        if transition is not None:
            self._move(transition)
        if previous is ChannelState.REESTABLISHING and self.state is ChannelState.SOLO_CLOSING:
            self._on_closing_again()
        if event == "died":
            self._channel_gone("the node's FSM stopped")

    def _on_fsm_up(self, fsm_id: str) -> None:
        if self.state is ChannelState.NEW:
            transition = Input.FSM_UP
        elif fsm_id == self.fsm_id:
            transition = Input.FSM_UP_RECONNECTED
        else:
            transition = Input.FSM_UP_REESTABLISHED
        reconnected = transition is Input.FSM_UP_RECONNECTED
        if reconnected:
            self.ledger.stale = True
        elif transition is Input.FSM_UP_REESTABLISHED:
            # A new FSM knows only co-signed states: what was under way did not happen.
            self._sign_request = None
            self.ledger.new_fsm()
            if self._own.current is not None:
                failed = Failed(FailureReason.CHANNEL_GONE, "the node's FSM restarted")
                self._own.finish(failed, start_next=False)  # the next one after the FsmUp
        self.fsm_id = fsm_id
        self._events.append(FsmUp(fsm_id=fsm_id, reconnected=reconnected))
        self._move(transition)
        if reconnected and (self._own.current is not None or self.restored_from):
            # The outcome may have come while we were away, and the node tells nothing on a
            # reattach: ask for the latest state to settle the operation (after a crash, to
            # learn whether what we signed ahead was co-signed).
            self._settling = self.submit(cmd.GetOffchainState())
        self._own.start_next()
        if reconnected and self._settling is None:
            self._resume_dispute()

    def _move(self, transition: Input) -> None:
        target = next_state(self.state, transition)
        if target is None:
            # A report this state has no row for (a late one, say): nothing moves, and the
            # application hears of it.
            self._events.append(ReportIgnored(state=self.state, report=transition))
            return
        if target is not self.state:
            previous, self.state = self.state, target
            self._events.append(StateChanged(previous=previous, state=target))

    def _on_on_chain_tx(self, data: Mapping[str, Any]) -> None:
        report = on_chain_tx_of(data)
        self._events.append(report)
        info = report.info
        if self._own.seen(Signal.ON_CHAIN, info=info):
            self._own.finish(Accepted(None))
        transition = ON_CHAIN_INPUTS.get(info)
        if transition is not None:
            self._move(transition)
        if self.state is ChannelState.CLOSED:
            self.dispute.closed()
        elif self.state is ChannelState.SOLO_CLOSING:
            self._dispute_due(self.dispute.reported(info, self._last_activity))

    def _on_co_signed_state(self, data: Mapping[str, Any], *, left: bool = False) -> None:
        state = take_co_signed_state(
            self.ledger, self.signing_context(), data, known_peer=self.peer, left=left
        )
        self._events.append(state)
        round_, accepted = state.round, state.accepted
        if accepted:
            self._opened_while_away(round_)
            ours = round_ is not None and self.ledger.is_own_round(round_)
            if ours and self._own.seen(Signal.CO_SIGNED):
                self._own.finish(Accepted(round_))
        leave = self._requests.took_leave() if left else None
        if leave is not None:
            self._events.append(OperationAccepted(operation=leave, round=round_))

    def _on_leave(self, data: Mapping[str, Any]) -> None:
        self._on_co_signed_state(data, left=True)

    def _on_conflict(self, data: Mapping[str, Any]) -> None:
        conflict = conflict_of(data)
        self._events.append(conflict)
        self.ledger.roll_back(conflict.round)
        offered = self._sign_request
        self._sign_request = None  # a request still held for the rolled-back update is dead
        current = self._own.current
        if current is None:
            return
        if self._requests.pending(current) and (offered is None or offered.operation is not None):
            # The node has not taken our request (no "ok", no sign request) and was not asking
            # us to sign the peer's update (then our request would have become this conflict):
            # it is postponed behind the update rolled back here, and the node serves it next.
            return
        detail = conflict.error_msg or "conflict"
        self._own.finish(Failed(FailureReason.CONFLICT, detail, conflict.error_code))

    def _on_message(self, data: Mapping[str, Any]) -> None:
        self._events.append(message_of(data))

    def _on_channel_error(self, data: Mapping[str, Any]) -> None:
        message = str(data.get("message"))
        cause = bad_signature_cause(self.network_id) if message == "bad_signature" else None
        self._events.append(ChannelErrorReported(message=message, likely_cause=cause))

    def _on_debug(self, data: Mapping[str, Any]) -> None:
        self._events.append(Info(event="debug", data=data))

    # --- replies ----------------------------------------------------------------------------

    def _on_result(self, reply: rpc.ResultReply) -> None:
        operation = self._requests.result(reply)
        if operation is None:
            return  # the node took a sign reply
        if self._requests.take_query(operation):
            self._query_answered(operation, reply.result)
        elif operation.command.KIND is cmd.CommandKind.NOTICE and operation is not (
            self._requests.leave
        ):
            # A leave ends with channels.leave and its state, not with the node's "ok".
            self._events.append(OperationAccepted(operation=operation, round=None))

    def _on_error(self, reply: rpc.ErrorReply) -> None:
        operation = self._requests.error(reply, self._own.current)
        self._events.append(node_error_of(reply, operation, self.network_id))
        if operation is None:
            return
        detail = ", ".join(message for _, message in reply.data) or reply.message
        if self._requests.take_query(operation):
            self._fail(operation, FailureReason.NODE_ERROR, detail, reply.code)
        elif operation is self._own.current:
            self._own.finish(Failed(FailureReason.NODE_ERROR, detail, reply.code))

    def _query_answered(self, operation: Operation, result: Any) -> None:
        self._events.append(QueryResult(operation=operation, result=result))
        if isinstance(operation.command, cmd.GetOffchainState):
            fetched = self.ledger.take_fetched(self._who, result)
            if operation is self._settling:
                self._settling = None
                self._settle_after_reattach(fetched, result)
                self._resume_dispute()  # once what was under way is settled
            self._events.append(fetched.event(operation))

    def _settle_after_reattach(self, fetched: FetchedState, result: Any) -> None:
        """The node's latest state after a reattach: forget what it rolled back, and end the
        operation under way as that state says (:mod:`.reattach`)."""
        operation = self._own.current
        found = reattached(
            self.ledger,
            fetched,
            result,
            under_way=operation is not None,
            request_pending=operation is not None and self._requests.pending(operation),
        )
        self._opened_while_away(found.opened_round)
        if operation is None or found.settlement is None:
            return
        if found.settlement.not_taken:
            self._requests.forget(operation)
        if found.settlement.ending is not None:
            self._own.finish(found.settlement.ending)

    def _opened_while_away(self, round_: int | None) -> None:
        # The node only makes update rounds (past the create tx's 1) in an open channel, and
        # it says nothing of an open that happened while we were away.
        if self.state is ChannelState.OPENING and round_ is not None and round_ > 1:
            self._move(Input.OPEN)

    # --- sign requests ----------------------------------------------------------------------

    def _on_sign_request(
        self, tag: rpc.SignTag, data: Mapping[str, Any], envelope: str | None
    ) -> None:
        signed, text, updates = sign_requests.offered(tag, data, envelope)
        context = self.signing_context()
        operation = self._own.current if sign_requests.own_request(context, tag) else None
        if operation is not None:
            self._requests.forget(operation)  # the node took the request
            # Asked after a reattach, the node is live on it: its own flow ends it, not the
            # fetched state (older than what we are about to sign).
            self._settling = None
        checks: CheckReport = check_sign_request(context, tag.tag, signed, updates)
        request = SignRequest(
            tag=tag,
            signed_tx=signed,
            tx=text,
            updates=updates,
            checks=checks,
            calls=context.calls(updates),
            operation=operation,
            responder=self,
        )
        self._sign_request = request
        self.ledger.offered(tag.tag, signed, updates, checks)
        if self.peer is None:
            self.peer = sign_requests.learnt_peer(signed, self.role)
        self._events.append(request)

    def _sign_for(
        self, request: SignRequest, signer: crypto.Signer
    ) -> tuple[SignedTx, bytes | None]:
        return sign_requests.signature(
            request, signer, account=self.account, network_id=self.network_id
        )

    def _answer_sign_request(
        self,
        request: SignRequest,
        signed: SignedTx | None,
        error: int | None,
        made: bytes | None = None,
    ) -> None:
        """Answer ``request``: ``signed`` (``made``: the signature our own key pair just added
        to it), or abort it with ``error``."""
        if request is not self._sign_request:
            raise LocalProtocolError(
                f"the {request.tag.tag} sign request is no longer pending (answered, or "
                "rolled back)"
            )
        if signed is None:
            assert error is not None
            params = sign_requests.abort_params(request, error)
            self._send(self._requests.reply(request.tag.reply_method, params))
            self.ledger.aborted(own=request.operation is not None)
        else:
            params = sign_requests.signed_params(
                request, signed, made, ledger=self.ledger, participants=self._who
            )
            self._send(self._requests.reply(request.tag.reply_method, params))
            ours = request.operation is not None and request.operation is self._own.current
            if ours and self._own.seen(Signal.SIGNED):
                self._own.finish(Accepted(None))
        self._sign_request = None

    # --- commands ---------------------------------------------------------------------------

    def submit(self, command: cmd.Command) -> Operation:
        """Give the channel a command; its outcome arrives as events about the operation.

        Own operations (updates, deposits, closes, ...) run one at a time: a second one waits
        (:class:`OperationQueued`) until the first has ended.
        """
        if not isinstance(command, cmd.Command):
            raise LocalProtocolError(f"not a command: {command!r}")
        if self.state in (ChannelState.CLOSED,) and command.KIND is cmd.CommandKind.OPERATION:
            raise LocalProtocolError(f"the channel is {self.state.value}")
        operation = Operation(id=self._next_operation, command=command)
        self._next_operation += 1
        if command.KIND is cmd.CommandKind.OPERATION:
            self.dispute.taken(command)
            self._own.add(operation)
        elif command.SENT_WITH_ID or command.KIND is cmd.CommandKind.QUERY:
            self._send_request(operation)
        else:
            self._send(command.request())
            self._events.append(OperationStarted(operation=operation))
        return operation

    def _start_operation(self, operation: Operation) -> None:
        self.ledger.operation_started()
        self._send_request(operation)

    def _send_request(self, operation: Operation) -> None:
        self._send(self._requests.request(operation))
        self._events.append(OperationStarted(operation=operation))

    def _send(self, frame: dict[str, Any]) -> None:
        self._outbox.append(frame)

    def _fail(
        self, operation: Operation, reason: FailureReason, detail: str, code: int | None = None
    ) -> None:
        self._events.append(
            OperationFailed(operation=operation, reason=reason, detail=detail, error_code=code)
        )
        self._failed(operation, Failed(reason, detail, code))

    def _failed(self, operation: Operation, failed: Failed) -> None:
        # A slash or settle that failed may leave the dispute's next action due.
        self._dispute_due(self.dispute.ended(operation.command, failed.reason, self._last_activity))

    # --- disputes -----------------------------------------------------------------------------

    def _resume_dispute(self) -> None:
        # The FSM kept the channel closing while we were away: the dispute goes on.
        if self.state is ChannelState.SOLO_CLOSING:
            self._dispute_due(self.dispute.again(self._last_activity))

    def _on_closing_again(self) -> None:
        """A reestablish found the channel closing on chain; the node does not say with which
        state. A dispute the record knows goes on; otherwise a slash is tried."""
        now = self._last_activity
        self._dispute_due(self.dispute.again(now) or self.dispute.reported("closing", now))

    def _dispute_due(self, due: DisputeActionDue | None) -> None:
        """Announce an action a close on chain makes due; start it if the policy says so."""
        if due is None:
            return
        if self.dispute.act_now():
            self._take_dispute_action(due)
        else:
            self._events.append(due)

    def _take_dispute_action(self, due: DisputeActionDue) -> None:
        under_way = [*([self._own.current] if self._own.current else []), *self._own.waiting]
        closing = self.state is ChannelState.SOLO_CLOSING
        if self.dispute.to_start(due, under_way=under_way, closing=closing):
            operation = self.submit(command_for(due.action))
            self._events.append(attrs.evolve(due, operation=operation, deadline=None))

    def _channel_gone(self, detail: str) -> None:
        self._own.abandon(detail)
        self._sign_request = None

    # --- what the channel holds -------------------------------------------------------------

    @property
    def current_operation(self) -> Operation | None:
        """The own operation under way, if any."""
        return self._own.current

    @property
    def pending_sign_request(self) -> SignRequest | None:
        """The sign request not answered yet, if any."""
        return self._sign_request

    def without_stored_state(self) -> Channel:
        """This channel as a client sees it that kept its id and fsm id but no state.

        The replay of recorded sessions uses it where recorded cases were left out.
        """
        self.ledger.forget()
        return self

    # --- the durable record -----------------------------------------------------------------

    def record(self) -> ChannelRecord:
        """What must survive a crash to resume this channel (never a secret key)."""
        return ChannelRecord.of(
            self._who,
            channel_id=self.channel_id,
            fsm_id=self.fsm_id,
            options=self.options,
            state=self.state,
            ledger=self.ledger,
            dispute=self.dispute,
        )

    @classmethod
    def restore(
        cls,
        record: ChannelRecord,
        *,
        ping_interval: float | None = DEFAULT_PING_INTERVAL,
        fee_policy: FeePolicy | None = None,
        dispute: DisputePolicy | None = None,
    ) -> Channel:
        """A channel resumed from its record, disconnected; :meth:`reconnect` comes next.

        The network id, account and options are the record's, and so is a dispute action
        due; only how the channel runs here (``ping_interval``, ``fee_policy``, ``dispute``)
        is chosen anew."""
        if not isinstance(record, ChannelRecord):
            raise LocalProtocolError(f"a ChannelRecord is required, got {type(record).__name__}")
        channel = cls(
            record.reestablish_options(),
            network_id=record.network_id,
            account=record.account,
            ping_interval=ping_interval,
            fee_policy=fee_policy,
        )
        channel.state = ChannelState(record.state)
        channel.dispute = record.dispute_watch(dispute)
        channel.ledger.restore(record)
        channel.peer = record.peer_id()
        channel.restored_from = record
        return channel


_NOTIFICATION_HANDLERS: Final = {
    "channels.info": Channel._on_info,
    "channels.on_chain_tx": Channel._on_on_chain_tx,
    "channels.update": Channel._on_co_signed_state,
    "channels.leave": Channel._on_leave,
    "channels.conflict": Channel._on_conflict,
    "channels.message": Channel._on_message,
    "channels.error": Channel._on_channel_error,
    "channels.debug": Channel._on_debug,
}
