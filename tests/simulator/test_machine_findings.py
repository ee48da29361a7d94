"""Regression tests for what the stateful machine (test_stateful.py) found, one flow each.

Each test drives a :class:`Pair` through the shortest sequence the machine shrank a failure
to, and checks how every operation ended and that nothing was refused or signed wrongly.
"""

from __future__ import annotations

import json

import pytest

from sansio_channels import commands as cmd
from sansio_channels.channel import NOT_TAKEN, Channel
from sansio_channels.events import (
    CoSignedState,
    Event,
    FailureReason,
    FsmUp,
    OperationAccepted,
    OperationFailed,
    ProtocolViolation,
    SignRequest,
)
from sansio_channels.ledger import Ledger, SignedRound
from sansio_channels.record import ChannelRecord
from sansio_channels.simulator.harness import Pair, Participant
from sansio_channels.simulator.state import State

from .conftest import open_pair

# Short sign and accept timers, so that time passing rolls an update back.
TIMEOUTS = {"sign": 20_000, "accept": 20_000}


def ends(side: Participant) -> list[tuple[str, str]]:
    """How each own operation ended, in order: (command, outcome)."""
    found = []
    for event in side.events:
        if isinstance(event, OperationAccepted):
            found.append((type(event.operation.command).__name__, "accepted"))
        elif isinstance(event, OperationFailed):
            found.append((type(event.operation.command).__name__, event.reason.value))
    return found


def refused(side: Participant) -> list[Event]:
    """Sign requests that failed a check, co-signed states not taken, violations."""
    return [
        e
        for e in side.events
        if (isinstance(e, SignRequest) and not e.checks.ok)
        or (isinstance(e, CoSignedState) and not e.accepted)
        or isinstance(e, ProtocolViolation)
    ]


def test_leave_is_accepted_once() -> None:
    pair = Pair.open()
    pair.run()
    operation = pair.initiator.channel.submit(cmd.Leave())
    pair.run()
    ends = [e for e in pair.initiator.events_of(OperationAccepted) if e.operation == operation]
    assert len(ends) == 1, ends


@pytest.mark.parametrize("answer", ["sign", "abort"])
def test_an_operation_ends_across_a_reconnect(answer: str) -> None:
    pair = Pair.open()
    pair.run()
    i, r = pair.initiator, pair.responder
    held: list[SignRequest] = []
    r.intercept = held.append  # the responder holds its update_ack
    i.channel.submit(cmd.Transfer(from_id=i.address, to_id=r.address, amount=1))
    pair.run()  # the initiator signed; its update waits for the ack
    pair.drop(i)
    if answer == "sign":
        held[0].sign(r.keys)  # co-signed while the initiator is away
    else:
        held[0].abort(4)  # rolled back while the initiator is away
    pair.run()
    pair.reconnect(i)  # the same FSM: the node sends fsm_up and nothing else
    pair.run()
    assert [e for e in i.events if isinstance(e, (OperationAccepted, OperationFailed))]
    assert i.channel.current_operation is None


@pytest.mark.parametrize("answer", ["sign", "timeout"])
def test_an_update_still_awaiting_the_ack_stays_under_way_across_a_reconnect(
    answer: str,
) -> None:
    """Our signed update still waits for the peer when we come back: the fetched state shows
    it as the half-signed tx, so it is neither taken as rolled back nor ended early (before,
    the client failed it as a conflict and sent the queued deposit while it was in flight)."""
    pair = open_pair(timeouts=TIMEOUTS)
    i, r = pair.initiator, pair.responder
    held: list[SignRequest] = []
    i.intercept = held.append  # the initiator holds its update_ack
    r.channel.submit(cmd.Transfer(from_id=r.address, to_id=i.address, amount=1))
    r.channel.submit(cmd.Deposit(amount=1))  # queued behind the transfer
    pair.run()
    pair.drop(r)
    pair.reconnect(r)
    pair.run()
    assert ends(r) == []
    assert r.channel.current_operation is not None
    assert isinstance(r.channel.current_operation.command, cmd.Transfer)
    i.intercept = None
    if answer == "sign":
        held[0].sign(i.keys)
        pair.run()
        assert ends(r) == [("Transfer", "accepted"), ("Deposit", "accepted")]
    else:
        pair.advance(30)  # the initiator's sign timer rolls the transfer back
        assert ends(r) == [("Transfer", "conflict"), ("Deposit", "accepted")]
    assert refused(r) == []
    assert refused(i) == []


def test_a_conflict_does_not_end_a_request_the_node_postponed() -> None:
    """Our own sign request was abandoned with the connection, so the FSM still waits for our
    signature when we come back; the next operation is postponed behind it. The conflict its
    sign timer brings is about the abandoned update: the postponed one goes on (before, the
    client failed it, then refused the node's request for it as no operation of ours)."""
    pair = open_pair(timeouts=TIMEOUTS)
    i, r = pair.initiator, pair.responder
    r.intercept = lambda request: None  # the transfer's sign request is never answered
    r.channel.submit(cmd.Transfer(from_id=r.address, to_id=i.address, amount=1))
    r.channel.submit(cmd.Deposit(amount=1))
    pair.run()
    pair.drop(r)
    r.intercept = None
    pair.reconnect(r)
    pair.run()
    fsm = next(f for f in pair.sim.fsms if f.role is r.role)
    assert fsm.state is State.AWAITING_SIGNATURE
    assert fsm.postponed
    assert ends(r) == [("Transfer", FailureReason.CHANNEL_GONE.value)]
    pair.advance(30)
    assert ends(r)[1:] == [("Deposit", "accepted")]
    assert refused(r) == []
    assert refused(i) == []


def test_a_half_signed_tx_that_does_not_decode_is_not_ours() -> None:
    ledger = Ledger.initial(None)
    ledger.own_round = 2
    ledger.signed_rounds[2] = SignedRound(inner=b"ours", tx="tx_ours", state=None)
    assert not ledger.own_state_in_flight({"half_signed_tx": "tx_garbage"})
    assert not ledger.own_state_in_flight({"half_signed_tx": ""})
    assert not ledger.own_state_in_flight("not an object")


def test_a_request_postponed_past_two_reconnects_is_refused_late() -> None:
    """A protocol limit, named: after a reattach the client cannot know whether the node holds
    a request of the previous connection postponed. The operation fails saying so; when the
    node serves it later, its sign request fails the checks and is left unsigned, and the
    FSM's sign timer rolls it back. The node's "ok" for it goes to the connection that asked,
    which is gone (before, it reached the new one: an id the client never sent there)."""
    pair = open_pair(timeouts=TIMEOUTS)
    i, r = pair.initiator, pair.responder
    late: list[SignRequest] = []

    def take(request: SignRequest) -> None:
        if request.checks.ok:
            request.sign(r.keys)
        else:
            late.append(request)  # left unanswered: the sign timer rolls it back

    r.intercept = lambda request: None  # the transfer's sign request is never answered
    r.channel.submit(cmd.Transfer(from_id=r.address, to_id=i.address, amount=1))
    r.channel.submit(cmd.Deposit(amount=1))
    pair.run()
    r.intercept = take
    pair.drop(r)
    pair.reconnect(r)
    pair.run()  # the transfer failed; the deposit's request waits behind its update
    r.channel.submit(cmd.Transfer(from_id=r.address, to_id=i.address, amount=2))
    pair.run()
    pair.drop(r)
    pair.reconnect(r)
    pair.run()
    failed = r.events_of(OperationFailed)
    assert [type(e.operation.command) for e in failed] == [cmd.Transfer, cmd.Deposit]
    assert failed[1].detail == NOT_TAKEN
    for _ in range(4):
        pair.advance(30)  # sign timers: the node serves what it postponed, late
    assert late
    assert all([c.name for c in request.checks.failed] == ["own_operation"] for request in late)
    assert r.channel.current_operation is None
    assert len(ends(r)) == 3  # every operation ended
    assert not r.events_of(ProtocolViolation)
    assert refused(i) == []
    (fsm,) = [f for f in pair.sim.fsms if f.role is r.role]
    assert fsm.state is State.OPEN
    assert fsm.latest is not None
    assert r.channel.ledger.latest is not None
    assert fsm.latest.round == r.channel.ledger.latest.round


def test_after_a_reestablish_the_rounds_above_the_new_fsms_state_are_signed_anew() -> None:
    """Our update was signed for round 2, then aborted by the peer while we were away (we
    never saw the conflict), and the FSMs stopped. The new FSM goes on from round 1 and reuses
    round 2, as after a conflict: the client forgets what it signed above the state the new
    FSM reports (before, it refused the next update as a second state for round 2)."""
    pair = open_pair(
        timeouts=TIMEOUTS,
        initiator_amount=20,
        responder_amount=20,
        channel_reserve=10,
        responder_options={"keep_running": False},
    )
    i, r = pair.initiator, pair.responder
    held: list[SignRequest] = []
    i.intercept = held.append
    r.channel.submit(cmd.Transfer(from_id=r.address, to_id=i.address, amount=0))
    pair.run()
    pair.drop(r)
    held[0].abort(4)
    pair.run()
    i.intercept = None
    pair.advance(700)  # idle: both FSMs stop
    pair.reconnect(i)
    pair.run()
    pair.reconnect(r)
    pair.run()
    assert not r.events_of(FsmUp)[-1].reconnected  # a new FSM
    assert ends(r) == [("Transfer", FailureReason.CHANNEL_GONE.value)]
    r.channel.submit(cmd.Transfer(from_id=r.address, to_id=i.address, amount=1))
    pair.run()
    assert ends(r)[1:] == [("Transfer", "accepted")]
    assert refused(r) == []
    assert refused(i) == []


def test_a_state_signed_before_a_restart_keeps_its_balances() -> None:
    """The record keeps the balances of a state signed ahead (not co-signed yet), so a process
    restarted after signing it knows them as soon as the state is co-signed."""
    pair = open_pair(timeouts=TIMEOUTS)
    i, r = pair.initiator, pair.responder
    held: list[SignRequest] = []
    i.intercept = held.append
    r.channel.submit(cmd.Transfer(from_id=r.address, to_id=i.address, amount=3))
    pair.run()
    stored = json.loads(json.dumps(r.channel.record().to_json()))
    pair.drop(r)
    r.channel = Channel.restore(ChannelRecord.from_json(stored), ping_interval=None)
    pair.reconnect(r)
    pair.run()
    held[0].sign(i.keys)
    pair.run()
    latest = r.channel.ledger.latest
    assert latest is not None
    assert latest.round == 2
    assert r.channel.ledger.balances_api() == i.channel.ledger.balances_api()
    assert i.address in (r.channel.ledger.balances_api() or {})
