"""Two participants and the simulator, driven at random, with invariants after every step.

A hypothesis ``RuleBasedStateMachine`` opens a channel in memory (:class:`Pair`) and then
mixes transfers both ways (amounts the node refuses included), deposits, withdrawals, generic
messages, updates started by both sides at once, sign requests held, signed late or aborted,
time passing (the node's timers), disconnects at any point (in the middle of an operation too)
and reconnects, leave and reestablish, a client process that dies and resumes from its stored
record, off-chain state fetched and checked, hostile frames fed straight to a client, and at
last a mutual or a solo close.

After every step:

- funds are conserved: the chain's accounts, channels and burnt fees add up to what the chain
  started with; an open channel's on-chain state holds exactly the channel's total;
- nothing was signed that failed a check, and nothing was signed but what the test signed;
  the simulator asked for nothing that fails a check, except (a protocol limit, named in
  ``_served_late``) a request postponed past its connection and served late;
- every operation ended exactly once, or is pending for a reason named here (a sign request
  held, a side disconnected, a node timer that will roll it back, a request the node postponed,
  a queue behind one of those);
- no frame of the simulator's own is a protocol violation, and every co-signed state the
  simulator reports is accepted;
- each side's latest round never goes back;
- when the system is idle (both connected, open, nothing held or under way), both sides hold
  the same round and balances, the same as both node FSMs, as the operations accepted so far
  predict, adding up to the channel's total on chain.

The client bugs the machine found have regression tests in test_machine_findings.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Final

import attrs
from hypothesis import event as note_event
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sansio_channels import commands as cmd
from sansio_channels.channel import NOT_TAKEN, Channel
from sansio_channels.crypto import KeyPair
from sansio_channels.dispute import DisputePolicy
from sansio_channels.encoding import Id, IdTag
from sansio_channels.events import (
    CoSignedState,
    Event,
    FsmUp,
    OffChainStateFetched,
    Operation,
    OperationAccepted,
    OperationFailed,
    OperationStarted,
    ProtocolViolation,
    QueryResult,
    SignRequest,
)
from sansio_channels.options import Role
from sansio_channels.record import ChannelRecord
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.fsm import Fsm
from sansio_channels.simulator.harness import Pair, Participant, keypair
from sansio_channels.simulator.state import State
from sansio_channels.state import ChannelState

from ..profile import PROFILE

# On-chain funds of each participant: enough for dozens of deposits' fees (about 2e13 each),
# little enough that a deposit of TOO_MUCH is refused.
ON_CHAIN: Final = 10**15
TOO_MUCH: Final = 10**16
RESERVE: Final = 10
# A channel this rich pays a mutual close's fee (about 2e13); the small ones cannot.
RICH: Final = 10**14
MIN_FEE_BOUND: Final = RICH
# Short sign and accept timers, so that "advance" can roll an update back; idle stays long.
TIMEOUTS: Final = {"sign": 20_000, "accept": 20_000}
# Before this many steps no rule closes the channel (a close ends most of the exploration).
STEPS_BEFORE_CLOSE: Final = 12
# FSM states that end on their own: a timer rolls the update back or the chain moves it on.
_WAITING: Final = frozenset(
    {
        State.AWAITING_SIGNATURE,
        State.AWAITING_UPDATE_ACK,
        State.MUTUAL_CLOSING,
        State.AWAITING_LOCKED,
        State.SIGNED,
        State.AWAITING_LEAVE_ACK,
        State.REESTABLISH_INIT,
    }
)

ROLES: Final = (Role.INITIATOR, Role.RESPONDER)
amounts = st.one_of(st.integers(0, 40), st.integers(0, 6_000), st.sampled_from([RESERVE, TOO_MUCH]))
positive = st.one_of(st.integers(1, 40), st.integers(1, 6_000), st.just(TOO_MUCH))


class CountingSigner:
    """The participant's key, counting every signature: only the test may sign."""

    def __init__(self, keys: KeyPair) -> None:
        self.keys = keys
        self.count = 0

    @property
    def address(self) -> str:
        return self.keys.address

    def sign_tx(self, tx_bytes: bytes, network_id: str) -> bytes:
        self.count += 1
        return self.keys.sign_tx(tx_bytes, network_id)


@attrs.define(eq=False)
class Tracked:
    """An operation a rule started, and how it ended (each end event, in order)."""

    side: Participant
    operation: Operation
    ends: list[Event] = attrs.Factory(list)


# --- hostile frames ------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
not_objects = st.one_of(_scalars, st.lists(json_values, max_size=3))
not_strings = st.one_of(st.none(), st.booleans(), st.integers(), st.lists(_scalars, max_size=2))
not_ints = st.one_of(st.none(), st.text(max_size=6), st.floats(allow_nan=False), st.booleans())
# A tx string that does not decode: random text, or a real one with a character changed.
CORRUPT: Final = "<corrupt the latest state>"
bad_txs = st.one_of(st.text(max_size=30), st.just(CORRUPT))
sign_tags = st.sampled_from(["update", "update_ack", "deposit_tx", "withdraw_ack", "shutdown_sign"])


def _notification(method: str, data: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": {"data": data}}


def _no_envelope(value: Any) -> bool:
    """Whether ``value`` holds no JSON-RPC 2.0 object (so it cannot be a valid frame)."""
    items = value if isinstance(value, list) else [value]
    return not any(isinstance(item, dict) and item.get("jsonrpc") == "2.0" for item in items)


hostile_frames = st.one_of(
    json_values.filter(_no_envelope),
    st.builds(lambda p: {"jsonrpc": "2.0", "method": "channels.info", "params": p}, not_objects),
    st.builds(lambda m: _notification(m, {}), st.sampled_from(["channels.nope", "x", ""])),
    st.builds(lambda d: _notification("channels.info", d), not_objects),
    st.builds(lambda e: _notification("channels.info", {"event": e}), not_strings),
    st.builds(lambda s: _notification("channels.update", {"state": s}), bad_txs),
    st.builds(lambda s: _notification("channels.leave", {"state": s}), bad_txs),
    st.builds(
        lambda tag, s: _notification(f"channels.sign.{tag}", {"signed_tx": s}), sign_tags, bad_txs
    ),
    st.builds(lambda r: _notification("channels.conflict", {"round": r}), not_ints),
    st.builds(lambda i: _notification("channels.on_chain_tx", {"info": i, "tx": "x"}), not_strings),
    st.builds(lambda m: _notification("channels.message", {"message": m}), not_objects),
    st.builds(lambda d: {**_notification("channels.info", d), "id": 1}, json_values),
    st.builds(lambda e: {"jsonrpc": "2.0", "id": 1, "error": e}, not_objects),
    st.builds(lambda r: {"jsonrpc": "2.0", "id": "hostile", "result": r}, json_values),
    st.builds(lambda r: {"jsonrpc": "2.0", "method": "x", "result": r, "params": {}}, _scalars),
)


def _is_unmatched_result(frame: Any) -> bool:
    """A result to an id we never used: dropped without a word, as it answers nothing."""
    return isinstance(frame, dict) and frame.get("id") == "hostile" and "result" in frame


# --- the machine ---------------------------------------------------------------------------


class ChannelMachine(RuleBasedStateMachine):
    pair: Pair

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.tracked: list[Tracked] = []
        # (role, generation, operation id): a restored channel numbers operations anew.
        self.by_operation: dict[tuple[Role, int, int], Tracked] = {}
        self.generation: dict[Role, int] = dict.fromkeys(ROLES, 0)
        self.held: dict[Role, SignRequest] = {}
        self.hold_next: set[Role] = set()
        self.signers: dict[Role, CountingSigner] = {}
        self.signed = 0  # signatures the test meant to make
        self.unsafe: list[str] = []  # requests from the simulator that failed a check
        self.seen: dict[Role, int] = dict.fromkeys(ROLES, 0)  # events absorbed, by side
        self.rounds: dict[Role, int] = {}
        self.model: dict[str, int] = {}  # channel balances the accepted operations predict
        self.total = 0  # every coin the chain holds
        self.problems: list[str] = []  # found while absorbing events, reported by invariants

    # --- set up --------------------------------------------------------------------------

    @initialize(
        initiator_amount=st.integers(2 * RESERVE, 5_000) | st.integers(RICH, RICH + 5_000),
        responder_amount=st.integers(2 * RESERVE, 5_000) | st.integers(RICH, RICH + 5_000),
        keep_running=st.booleans(),
    )
    def open_channel(
        self, initiator_amount: int, responder_amount: int, keep_running: bool
    ) -> None:
        keys = {role: keypair(f"stateful {role.value}") for role in ROLES}
        sim = Simulator(accounts={k.address: ON_CHAIN + RICH for k in keys.values()})
        self.total = sim.chain.total()
        self.pair = Pair.open(
            sim=sim,
            initiator_keys=keys[Role.INITIATOR],
            responder_keys=keys[Role.RESPONDER],
            initiator_amount=initiator_amount,
            responder_amount=responder_amount,
            channel_reserve=RESERVE,
            timeouts=TIMEOUTS,
            responder_options={"keep_running": keep_running},
            dispute=DisputePolicy.off(),  # the machine slashes and settles by its own rules
        )
        for side in self.pair.participants:
            self.signers[side.role] = CountingSigner(side.keys)
            side.intercept = self._intercept(side)
        self.pair.run()
        self._absorb()
        i, r = self.pair.initiator, self.pair.responder
        assert i.channel.state is ChannelState.OPEN, i.events
        assert r.channel.state is ChannelState.OPEN, r.events
        self.model = {i.address: initiator_amount, r.address: responder_amount}

    # --- signing -------------------------------------------------------------------------

    def _intercept(self, side: Participant) -> Callable[[SignRequest], None]:
        def take(request: SignRequest) -> None:
            if not request.checks.ok and self._served_late(side, request):
                note_event("a request postponed past its connection, served late: not signed")
                return  # the FSM's sign timer rolls it back
            if not request.checks.ok:
                # An honest simulator never asks for this; not signing is the client's job.
                failed = ", ".join(f"{c.name}: {c.detail}" for c in request.checks.failed)
                self.unsafe.append(f"{side.role.value} {request.tag.tag}: {failed}")
                return
            if side.role in self.hold_next:
                self.hold_next.discard(side.role)
                self.held[side.role] = request
                return
            self._sign(side, request)

        return take

    @staticmethod
    def _served_late(side: Participant, request: SignRequest) -> bool:
        """A protocol limit, named: after a reattach the client cannot know whether its node
        holds a request of the earlier connection postponed (docs/simulator.md). The operation then
        failed saying so (NOT_TAKEN); the node may serve that request later, and its sign
        request, for no operation of ours, fails the own_operation check alone."""
        given_up = any(
            isinstance(e, OperationFailed) and e.detail == NOT_TAKEN for e in side.events
        )
        return given_up and [c.name for c in request.checks.failed] == ["own_operation"]

    def _sign(self, side: Participant, request: SignRequest) -> None:
        assert request.checks.ok, request.checks  # the one place that signs
        self.signed += 1
        request.sign(self.signers[side.role])

    # --- helpers -------------------------------------------------------------------------

    def _side(self, role: Role) -> Participant:
        return self.pair.initiator if role is Role.INITIATOR else self.pair.responder

    def _peer(self, side: Participant) -> Participant:
        return self.pair.responder if side is self.pair.initiator else self.pair.initiator

    def _fsm(self, side: Participant) -> Fsm | None:
        channel_id = side.channel.channel_id
        for fsm in self.pair.sim.fsms:
            if fsm.role is side.role and fsm.channel_text == channel_id:
                return fsm
        return None

    def _connected(self) -> list[Participant]:
        return [s for s in self.pair.participants if s.connection is not None]

    def _startable(self) -> list[Participant]:
        """The sides that can start an operation: connected, with the channel open."""
        return [s for s in self._connected() if s.channel.state is ChannelState.OPEN]

    def _draw(self, data: st.DataObject, sides: list[Participant]) -> Participant:
        role = data.draw(st.sampled_from([s.role for s in sides]))
        return self._side(role)

    def _closed(self) -> bool:
        return any(s.channel.state is ChannelState.CLOSED for s in self.pair.participants)

    def _submit(self, side: Participant, command: cmd.Command) -> None:
        operation = side.channel.submit(command)
        tracked = Tracked(side=side, operation=operation)
        self.tracked.append(tracked)
        self.by_operation[(side.role, self.generation[side.role], operation.id)] = tracked

    def _run(self) -> None:
        self.pair.run()
        self._absorb()

    def _transfer(self, payer: Participant, amount: int) -> cmd.Transfer:
        payee = self._peer(payer)
        return cmd.Transfer(from_id=payer.address, to_id=payee.address, amount=amount)

    def _absorb(self) -> None:
        """Read what each side saw since the last step: ends of operations, violations."""
        for side in self.pair.participants:
            new = side.events[self.seen[side.role] :]
            self.seen[side.role] = len(side.events)
            for event in new:
                if isinstance(event, ProtocolViolation):
                    self.problems.append(f"{side.role.value}: violation {event.reason}")
                elif isinstance(event, CoSignedState) and not event.accepted:
                    failed = [f"{c.name}: {c.detail}" for c in event.checks.failed]
                    self.problems.append(
                        f"{side.role.value}: co-signed round {event.round} refused {failed}"
                    )
                elif isinstance(event, OperationStarted):
                    self._started_by_channel(side, event.operation)
                elif isinstance(event, (OperationAccepted, OperationFailed, QueryResult)):
                    self._ended(side, event)

    def _started_by_channel(self, side: Participant, operation: Operation) -> None:
        """Track what the channel started on its own (the query that settles an operation
        after a reattach): it must end like any other."""
        key = (side.role, self.generation[side.role], operation.id)
        if key not in self.by_operation:
            tracked = Tracked(side=side, operation=operation)
            self.tracked.append(tracked)
            self.by_operation[key] = tracked

    def _ended(
        self, side: Participant, event: OperationAccepted | OperationFailed | QueryResult
    ) -> None:
        key = (side.role, self.generation[side.role], event.operation.id)
        tracked = self.by_operation.get(key)
        if tracked is None:
            self.problems.append(f"{side.role.value}: an end for no operation: {event}")
            return
        tracked.ends.append(event)
        name = type(event.operation.command).__name__
        if isinstance(event, OperationFailed):
            note_event(f"{name} failed: {event.reason.value}")  # for --hypothesis-show-statistics
        else:
            note_event(f"{name} ended well")
        if len(tracked.ends) > 1 or not isinstance(event, OperationAccepted):
            return
        command = event.operation.command
        if isinstance(command, cmd.Transfer):
            self.model[command.from_id] -= command.amount
            self.model[command.to_id] += command.amount
        elif isinstance(command, cmd.Deposit):
            self.model[side.address] += command.amount
        elif isinstance(command, cmd.Withdraw):
            self.model[side.address] -= command.amount

    def _idle(self) -> bool:
        """Both connected and open, nothing held, no operation under way on either side."""
        if self.held or self._closed():
            return False
        for side in self.pair.participants:
            fsm = self._fsm(side)
            if (
                side.connection is None
                or side.channel.state is not ChannelState.OPEN
                or side.channel.current_operation is not None
                or fsm is None
                or fsm.state is not State.OPEN
            ):
                return False
        return True

    def _why_pending(self, tracked: Tracked) -> str | None:
        """Why an operation has not ended yet; None when nothing explains it."""
        side, channel = tracked.side, tracked.side.channel
        current = channel.current_operation
        if current is None:
            return None
        if current is not tracked.operation:
            ahead = self.by_operation.get((side.role, self.generation[side.role], current.id))
            reason = None if ahead is None else self._why_pending(ahead)
            return None if reason is None else f"queued behind #{current.id} ({reason})"
        if self.held:
            return "a sign request is held by the test"
        if side.connection is None:
            return "its side is disconnected"
        fsm = self._fsm(side)
        if fsm is not None and fsm.state in _WAITING and fsm.deadline is not None:
            return f"its node waits in {fsm.state.value} until its timer"
        if fsm is not None and any(req.frame.get("id") is not None for req in fsm.postponed):
            return "its node postponed the request until it is open again"
        return None

    # --- rules: updates ------------------------------------------------------------------

    @precondition(lambda self: bool(self._startable()))
    @rule(data=st.data(), amount=amounts)
    def transfer(self, data: st.DataObject, amount: int) -> None:
        side = self._draw(data, self._startable())
        self._submit(side, self._transfer(side, amount))
        self._run()

    @precondition(lambda self: bool(self._startable()))
    @rule(data=st.data(), amount=positive, withdraw=st.booleans())
    def fund(self, data: st.DataObject, amount: int, withdraw: bool) -> None:
        side = self._draw(data, self._startable())
        self._submit(side, cmd.Withdraw(amount=amount) if withdraw else cmd.Deposit(amount=amount))
        self._run()

    @precondition(lambda self: bool(self._startable()))
    @rule(data=st.data(), info=st.text(max_size=40))
    def message(self, data: st.DataObject, info: str) -> None:
        side = self._draw(data, self._startable())
        self._submit(side, cmd.Message(to_id=self._peer(side).address, info=info))
        self._run()

    @precondition(lambda self: self._idle())
    @rule(
        kinds=st.tuples(*[st.sampled_from(["transfer", "deposit", "withdraw"])] * 2),
        amounts=st.tuples(amounts, amounts),
    )
    def both_at_once(self, kinds: tuple[str, str], amounts: tuple[int, int]) -> None:
        """Both sides start an update before either hears of the other's: they conflict."""
        for side, kind, amount in zip(self.pair.participants, kinds, amounts, strict=True):
            if kind == "transfer":
                self._submit(side, self._transfer(side, amount))
            elif kind == "deposit":
                self._submit(side, cmd.Deposit(amount=max(amount, 1)))
            else:
                self._submit(side, cmd.Withdraw(amount=max(amount, 1)))
        self._run()

    # --- rules: sign requests held -------------------------------------------------------

    @precondition(lambda self: len(self.held) + len(self.hold_next) < 2 and not self._closed())
    @rule(data=st.data())
    def hold_next_sign_request(self, data: st.DataObject) -> None:
        """The next sign request this side gets waits for ``release`` (or a timer)."""
        free = [r for r in ROLES if r not in self.held and r not in self.hold_next]
        self.hold_next.add(data.draw(st.sampled_from(free)))

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data(), action=st.sampled_from(["sign", "abort"]))
    def release(self, data: st.DataObject, action: str) -> None:
        role = data.draw(st.sampled_from(sorted(self.held, key=lambda r: r.value)))
        side = self._side(role)
        request = self.held[role]
        if side.channel.pending_sign_request is not request:
            note_event("a held request was rolled back")
            del self.held[role]  # rolled back (conflict, timeout) or a new FSM: nothing to answer
            self._run()
            return
        if side.connection is None:
            return  # the harness would drop the reply; answer once reconnected
        del self.held[role]
        note_event(f"a held request: {action}")
        if action == "sign":
            self._sign(side, request)
        elif request.tag.abortable:
            request.abort(4)
        else:
            return  # the create tx cannot be aborted (not held after the open anyway)
        self._run()

    # --- rules: time and the chain -------------------------------------------------------

    @rule(seconds=st.sampled_from([1.0, 30.0, 700.0]))
    def advance(self, seconds: float) -> None:
        """Time passes: sign and accept timers roll updates back, idle timers end FSMs."""
        self.pair.advance(seconds)
        self._absorb()

    @rule(blocks=st.integers(1, 3))
    def mine(self, blocks: int) -> None:
        self.pair.mine(blocks)
        self._absorb()

    # --- rules: connections --------------------------------------------------------------

    def _droppable(self) -> list[Participant]:
        # Any connected side, also in the middle of an operation or with a request held.
        return [] if self._closed() else self._connected()

    @precondition(lambda self: bool(self._droppable()))
    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        self.pair.drop(self._draw(data, self._droppable()))
        self._run()

    def _away(self) -> list[Participant]:
        if self._closed():
            return []
        return [s for s in self.pair.participants if s.connection is None]

    @precondition(lambda self: bool(self._away()))
    @rule(data=st.data())
    def come_back(self, data: st.DataObject) -> None:
        """Reconnect to the running FSM, or reestablish one that stopped (after a leave)."""
        side = self._draw(data, self._away())
        self.pair.reconnect(side)
        self._run()
        ups = side.events_of(FsmUp)
        if ups and side.channel.connected:
            note_event("reconnected" if ups[-1].reconnected else "reestablished")

    @precondition(lambda self: self._idle() and not self.hold_next)
    @rule(role=st.sampled_from(ROLES))
    def leave(self, role: Role) -> None:
        self._submit(self._side(role), cmd.Leave())
        self._run()

    def _crashable(self) -> list[Participant]:
        """Sides whose process may die: nothing of theirs under way (it would die with it)."""
        if self._closed():
            return []
        return [
            s
            for s in self.pair.participants
            if s.role not in self.held
            and s.channel.fsm_id is not None
            and all(t.ends for t in self.tracked if t.side is s)
        ]

    @precondition(lambda self: bool(self._crashable()))
    @rule(data=st.data())
    def crash_and_restore(self, data: st.DataObject) -> None:
        """The client's process dies; a new one resumes from the stored record."""
        side = self._draw(data, self._crashable())
        stored = json.loads(json.dumps(side.channel.record().to_json()))  # as a store keeps it
        if side.connection is not None:
            self.pair.drop(side)
        side.channel = Channel.restore(
            ChannelRecord.from_json(stored), ping_interval=None, dispute=DisputePolicy.off()
        )
        self.generation[side.role] += 1
        self.pair.reconnect(side)
        self._run()
        note_event("restored from the record")

    @precondition(lambda self: bool(self._startable()))
    @rule(data=st.data())
    def fetch_offchain_state(self, data: st.DataObject) -> None:
        """The node's latest state, rebuilt and checked by the client: the node's own."""
        side = self._draw(data, self._startable())
        before = len(side.events)
        self._submit(side, cmd.GetOffchainState())
        self._run()
        (fetched,) = [e for e in side.events[before:] if isinstance(e, OffChainStateFetched)]
        fsm = self._fsm(side)
        assert fsm is not None
        assert fsm.latest is not None
        assert fetched.verified, fetched.detail
        assert fetched.round == fsm.latest.round

    @precondition(lambda self: bool(self._connected()))
    @rule(data=st.data(), frame=hostile_frames)
    def hostile_frame(self, data: st.DataObject, frame: Any) -> None:
        """A frame no node sends, straight into the client: an event says so, nothing moves."""
        side = self._draw(data, self._connected())
        frame = self._corrupt(side, frame)
        before = self._snapshot(side)
        side.channel.receive_frame(frame, now=self.pair.now)
        events = list(side.channel.events())
        assert side.channel.frames_to_send() == [], "a hostile frame made the client send"
        assert self._snapshot(side) == before, frame
        assert all(isinstance(e, ProtocolViolation) for e in events), (frame, events)
        assert events or _is_unmatched_result(frame), frame
        note_event("hostile frame")

    def _corrupt(self, side: Participant, frame: Any) -> Any:
        """Put a real tx string with one character changed where the frame asks for one."""
        if not isinstance(frame, dict) or "params" not in frame:
            return frame
        data = frame["params"].get("data") if isinstance(frame["params"], dict) else None
        if not isinstance(data, dict):
            return frame
        latest = side.channel.ledger.latest
        text = latest.tx if latest is not None and latest.tx is not None else "tx_abc"
        middle = len(text) // 2
        broken = text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]
        fixed = {k: broken if v == CORRUPT else v for k, v in data.items()}
        return {**frame, "params": {**frame["params"], "data": fixed}}

    def _snapshot(self, side: Participant) -> tuple[Any, ...]:
        channel = side.channel
        return (
            channel.state,
            channel.connected,
            channel.fsm_id,
            channel.channel_id,
            channel.peer,
            channel.current_operation,
            channel.pending_sign_request,
            channel.record(),
            channel.ledger.stale,
        )

    # --- rules: closing ------------------------------------------------------------------

    @precondition(
        lambda self: self.steps >= STEPS_BEFORE_CLOSE and self._idle() and not self.hold_next
    )
    @rule(role=st.sampled_from(ROLES), solo=st.booleans())
    def close(self, role: Role, solo: bool) -> None:
        """Close mutually, or alone and then settle; afterwards only the chain moves."""
        side = self._side(role)
        chain = self.pair.sim.chain
        (on_chain,) = chain.channels.values()
        if not solo:
            self._submit(side, cmd.Shutdown())
            self._run()
            (end,) = self.tracked[-1].ends
            if isinstance(end, OperationFailed):
                # The channel pays a mutual close's fee: a small one cannot, and goes solo.
                assert end.error_code == 3, end
                assert "Insufficient balance" in end.detail, end
                assert on_chain.total < MIN_FEE_BOUND
                solo = True
        if solo:
            self._submit(side, cmd.CloseSolo())
            self._run()
            for each in self.pair.participants:
                assert each.channel.state is ChannelState.SOLO_CLOSING, each.events[-5:]
            self._submit(self._peer(side), cmd.Settle())
            self._run()
        assert (on_chain.status, on_chain.total) == ("closed", 0)
        for each in self.pair.participants:
            assert each.channel.state is ChannelState.CLOSED, each.events[-5:]

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def all_invariants_hold(self) -> None:
        if not hasattr(self, "pair"):
            return  # before the channel is open
        self.steps += 1
        self.funds_are_conserved()
        self.nothing_unsafe_was_signed()
        self.the_simulators_frames_are_valid()
        self.rounds_only_move_forward()
        self.every_operation_ends()
        self.idle_sides_agree()

    def funds_are_conserved(self) -> None:
        chain = self.pair.sim.chain
        assert chain.total() == self.total, "coins made or lost on chain"
        for on_chain in chain.channels.values():
            if on_chain.status != "closed":
                assert sum(on_chain.balances.values()) == on_chain.total

    def nothing_unsafe_was_signed(self) -> None:
        assert not self.unsafe, self.unsafe
        made = sum(signer.count for signer in self.signers.values())
        assert made == self.signed, f"{made} signatures made, {self.signed} asked for"

    def the_simulators_frames_are_valid(self) -> None:
        assert not self.problems, self.problems

    def rounds_only_move_forward(self) -> None:
        for side in self.pair.participants:
            latest = side.channel.ledger.latest
            if latest is None:
                continue
            assert latest.round >= self.rounds.get(side.role, 0), side.role
            self.rounds[side.role] = latest.round

    def every_operation_ends(self) -> None:
        for tracked in self.tracked:
            role = tracked.side.role.value
            assert len(tracked.ends) <= 1, (role, tracked.operation, tracked.ends)
            if not tracked.ends:
                reason = self._why_pending(tracked)
                assert reason is not None, (
                    f"{role} #{tracked.operation.id} {tracked.operation.command!r} has not "
                    "ended and nothing explains it"
                )
        if self._idle():
            assert all(t.ends for t in self.tracked), "idle with an operation under way"

    def idle_sides_agree(self) -> None:
        if not self._idle():
            return
        note_event("idle: both sides compared")
        rounds = set()
        for side in self.pair.participants:
            latest = side.channel.ledger.latest
            assert latest is not None
            fsm = self._fsm(side)
            assert fsm is not None
            assert fsm.latest is not None
            assert fsm.latest.round == latest.round, side.role
            rounds.add(latest.round)
            ours = side.channel.ledger.balances_api()
            # A record keeps the balances of what was signed ahead too, so a side restarted
            # after signing knows them once that state is co-signed.
            assert ours is not None, side.role
            node = {Id(IdTag.ACCOUNT, key).api: value for key, value in fsm.latest.balances.items()}
            assert ours == node, side.role
            assert ours == self.model, (side.role, ours, self.model)
        assert len(rounds) == 1, rounds
        (on_chain,) = self.pair.sim.chain.channels.values()
        assert sum(self.model.values()) == on_chain.total
        accounts = sum(self.pair.sim.chain.balances.values())
        assert sum(self.model.values()) + accounts + self.pair.sim.chain.burnt == self.total


ChannelMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("STATEFUL_EXAMPLES", PROFILE.stateful_examples)),
    stateful_step_count=50,
    deadline=None,
)
test_channel_machine = ChannelMachine.TestCase
