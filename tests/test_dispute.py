"""Disputes: a peer posts an old state on chain; the channel slashes and settles by itself,
asks first, or only reports; a crash in the middle, and a resume, finish the dispute."""

from __future__ import annotations

import json

import pytest

from sansio_channels import commands as cmd
from sansio_channels.channel import Channel
from sansio_channels.dispute import (
    DisputeAction,
    DisputeActionDue,
    DisputeMode,
    DisputePolicy,
    DisputeWatch,
)
from sansio_channels.errors import LocalProtocolError
from sansio_channels.events import FailureReason, Operation, OperationStarted, SignRequest
from sansio_channels.record import ChannelRecord
from sansio_channels.simulator.harness import Pair, Participant
from sansio_channels.state import ChannelState
from sansio_channels.txs import ChannelCloseSoloTx, ChannelSettleTx, ChannelSlashTx

AMOUNT = 10**18
LOCK = 10


def cheated(dispute: DisputePolicy | None = None) -> tuple[Pair, Participant, Participant]:
    """Alice pays Bob 10, then 20; her channel only reports (she is the cheat)."""
    pair = Pair.open(lock_period=LOCK, dispute=dispute)
    pair.run()
    alice, bob = pair.initiator, pair.responder
    alice.channel.dispute.policy = DisputePolicy.off()
    for amount in (10, 20):
        alice.channel.submit(cmd.Transfer(from_id=alice.address, to_id=bob.address, amount=amount))
        pair.run()
    assert bob.channel.record().latest_round == 3
    for side in pair.participants:
        side.clear()
    return pair, alice, bob


def stored(record: ChannelRecord) -> ChannelRecord:
    return ChannelRecord.from_json(json.loads(json.dumps(record.to_json())))


def fees(side: Participant) -> int:
    return sum(request.signed_tx.transaction.fee for request in side.events_of(SignRequest))  # type: ignore[attr-defined]


def chain_txs(pair: Pair, since: int) -> list[tuple[str, int]]:
    """The channel txs mined after height ``since``: (type, blocks after ``since``)."""
    return [
        (type(event.signed_tx.transaction).__name__, event.height - since)
        for event in pair.sim.chain.events
        if event.height > since
    ]


def test_by_default_the_channel_slashes_in_the_lock_period_and_settles_after_it() -> None:
    pair, alice, bob = cheated()
    chain = pair.sim.chain
    before, height = chain.balance(bob.keys.public_key), chain.height
    pair.post_old_state(2, by=alice)  # no call from the application after this
    txs = chain_txs(pair, height)
    assert [name for name, _ in txs] == [
        ChannelCloseSoloTx.__name__,
        ChannelSlashTx.__name__,
        ChannelSettleTx.__name__,
    ]
    (_, closed_at), (_, slashed_at), (_, settled_at) = txs
    assert slashed_at < closed_at + LOCK  # within the cheat's lock period
    assert settled_at >= slashed_at + LOCK  # after the slash's lock period
    due = bob.events_of(DisputeActionDue)
    assert [(d.info, d.action) for d in due] == [
        ("can_slash", DisputeAction.SLASH),
        ("solo_closing", DisputeAction.SETTLE),
    ]
    assert all(d.operation is not None for d in due)
    assert [type(d.operation.command) for d in due if d.operation] == [cmd.Slash, cmd.Settle]
    # Bob gets his round-3 balance (30 more than he put in) less the fees he paid.
    assert chain.balance(bob.keys.public_key) - before == AMOUNT + 30 - fees(bob)
    assert fees(bob) > 0
    assert bob.channel.state is ChannelState.CLOSED
    assert bob.channel.record().dispute is None


def test_turned_off_the_application_gets_the_event_and_nothing_is_sent() -> None:
    pair, alice, bob = cheated(DisputePolicy.off())
    state = alice.states[2]
    assert state.balances is not None
    height = pair.sim.chain.height
    pair.sim.post_close_solo(state.signed_tx, state.balances, alice.keys)
    assert bob.connection is not None
    for frame in pair.sim.frames_for(bob.connection):
        bob.channel.receive_frame(frame)
    events = list(bob.channel.events())
    (due,) = [e for e in events if isinstance(e, DisputeActionDue)]
    assert (due.info, due.action, due.operation, due.deadline) == (
        "can_slash",
        DisputeAction.SLASH,
        None,
        None,
    )
    assert bob.channel.frames_to_send() == []
    assert not [e for e in events if isinstance(e, OperationStarted)]
    pair.mine(2 * LOCK)
    assert [name for name, _ in chain_txs(pair, height)] == [ChannelCloseSoloTx.__name__]
    assert bob.channel.state is ChannelState.SOLO_CLOSING
    assert bob.channel.record().dispute == "slash"


def test_asked_first_the_channel_acts_at_the_deadline() -> None:
    pair, alice, bob = cheated(DisputePolicy.ask(within=60))
    pair.now = 100.0
    pair.post_old_state(2, by=alice)
    (due,) = bob.events_of(DisputeActionDue)
    assert (due.action, due.operation, due.deadline) == (DisputeAction.SLASH, None, 160.0)
    assert bob.channel.next_deadline() == 160.0
    pair.advance(59)
    assert not bob.events_of(OperationStarted)
    pair.advance(2)  # past the deadline: the channel slashes
    slash = [e for e in bob.events_of(DisputeActionDue) if e.operation is not None]
    assert [type(e.operation.command) for e in slash if e.operation] == [cmd.Slash]
    # The settle is asked about in turn; the application takes it itself before its deadline.
    settle_due = bob.events_of(DisputeActionDue)[-1]
    assert settle_due.action is DisputeAction.SETTLE
    assert settle_due.operation is None
    bob.channel.submit(cmd.Settle())
    assert bob.channel.dispute.deadline is None
    pair.run()
    pair.advance(120)
    assert bob.channel.state is ChannelState.CLOSED
    settles = [
        e for e in bob.events_of(OperationStarted) if type(e.operation.command) is cmd.Settle
    ]
    assert len(settles) == 1


def kill(pair: Pair, side: Participant) -> None:
    """The process dies: whatever it had not sent is lost, the node sees the socket go."""
    side.channel.frames_to_send()
    pair.drop(side)


def resume(pair: Pair, side: Participant, record: ChannelRecord) -> None:
    side.channel = Channel.restore(stored(record), ping_interval=None)
    side.clear()
    pair.connect(side)
    pair.run()


def test_killed_right_after_the_old_state_is_posted_a_resume_slashes_and_settles() -> None:
    pair, alice, bob = cheated()
    chain = pair.sim.chain
    before, height = chain.balance(bob.keys.public_key), chain.height
    state = alice.states[2]
    assert state.balances is not None
    pair.sim.post_close_solo(state.signed_tx, state.balances, alice.keys)
    assert bob.connection is not None
    for frame in pair.sim.frames_for(bob.connection):
        bob.channel.receive_frame(frame)
    list(bob.channel.events())  # the slash is started, its request not sent yet
    record = bob.channel.record()  # what the pump stores after taking the events
    assert (record.dispute, record.state) == ("slash", "solo_closing")
    kill(pair, bob)
    resume(pair, bob, record)
    assert [name for name, _ in chain_txs(pair, height)] == [
        ChannelCloseSoloTx.__name__,
        ChannelSlashTx.__name__,
        ChannelSettleTx.__name__,
    ]
    assert bob.channel.state is ChannelState.CLOSED
    assert chain.balance(bob.keys.public_key) - before == AMOUNT + 30 - fees(bob)


def test_killed_between_the_slash_and_the_settle_a_resume_settles() -> None:
    pair, alice, bob = cheated()
    chain = pair.sim.chain
    before, height = chain.balance(bob.keys.public_key), chain.height
    kept: list[ChannelRecord] = []
    paid: list[int] = []

    def die_at_the_settle(request: SignRequest) -> None:
        if request.tag.tag == "settle_sign":
            kept.append(bob.channel.record())
            bob.intercept = None
            kill(pair, bob)
            return
        paid.append(request.signed_tx.transaction.fee)  # type: ignore[attr-defined]
        request.sign(bob.keys)

    bob.intercept = die_at_the_settle
    pair.post_old_state(2, by=alice)
    (record,) = kept
    assert record.dispute == "settle"
    assert bob.connection is None
    pair.mine(2 * LOCK)  # the node holds no settle: the channel stays closing
    assert pair.sim.chain.channels[next(iter(chain.channels))].status == "closing"
    resume(pair, bob, record)
    # The FSM still waits for the settle it asked the dead process to sign: it refuses a new
    # one until its sign timer gives that up. The channel tries again every retry_after
    # seconds (a slash first, which the node refuses: our state is on chain already).
    retries = 0
    while bob.channel.state is not ChannelState.CLOSED and retries < 100:
        pair.advance(DisputePolicy().retry_after)
        retries += 1
    assert bob.channel.state is ChannelState.CLOSED
    assert 40 < retries < 100  # the node's sign timeout is 500 s
    assert [name for name, _ in chain_txs(pair, height)] == [
        ChannelCloseSoloTx.__name__,
        ChannelSlashTx.__name__,
        ChannelSettleTx.__name__,
    ]
    assert chain.balance(bob.keys.public_key) - before == AMOUNT + 30 - sum(paid) - fees(bob)


def test_down_with_its_fsm_when_the_old_state_is_posted_a_resume_slashes_and_settles() -> None:
    """Alice (the initiator) leaves: her FSM stops. Bob posts an old state; Alice comes back
    from her stored record, reestablishes onto the closing channel, slashes and settles."""
    pair = Pair.open(lock_period=LOCK)
    pair.run()
    alice, bob = pair.initiator, pair.responder
    bob.channel.dispute.policy = DisputePolicy.off()
    for amount in (10, 20):
        bob.channel.submit(cmd.Transfer(from_id=bob.address, to_id=alice.address, amount=amount))
        pair.run()
    alice.channel.submit(cmd.Leave())
    pair.run()
    assert alice.channel.record().state == ChannelState.FSM_DOWN.value
    record = alice.channel.record()
    pair.drop(alice)
    chain = pair.sim.chain
    before, height = chain.balance(alice.keys.public_key), chain.height
    pair.post_old_state(2, by=bob)
    pair.reconnect(bob)
    resume(pair, alice, record)
    assert [name for name, _ in chain_txs(pair, height)] == [
        ChannelCloseSoloTx.__name__,
        ChannelSlashTx.__name__,
        ChannelSettleTx.__name__,
    ]
    assert [d.info for d in alice.events_of(DisputeActionDue)] == ["closing", "solo_closing"]
    assert alice.channel.state is ChannelState.CLOSED
    assert chain.balance(alice.keys.public_key) - before == AMOUNT + 30 - fees(alice)


def test_a_slash_the_node_refuses_leaves_the_settle() -> None:
    """Back on a closing channel whose latest state is on chain already: nothing to slash."""
    watch = DisputeWatch()
    due = watch.reported("closing", None)
    assert due is not None
    assert due.action is DisputeAction.SLASH
    following = watch.failed(cmd.Slash(), by_node=True, now=None)
    assert following is not None
    assert following.action is DisputeAction.SETTLE
    assert watch.act_now()


def test_a_settle_the_node_refuses_is_tried_again_later_slash_first() -> None:
    watch = DisputeWatch(due=DisputeAction.SETTLE)
    again = watch.failed(cmd.Settle(), by_node=True, now=100.0)
    assert again is not None
    assert (again.action, again.deadline) == (DisputeAction.SLASH, 110.0)
    assert not watch.act_now()
    assert watch.timer(109.0) is None
    assert watch.timer(110.0) is DisputeAction.SLASH
    # With no clock it waits for the next report or reconnect instead.
    watch = DisputeWatch(due=DisputeAction.SETTLE)
    assert watch.failed(cmd.Settle(), by_node=True, now=None) is not None
    assert (watch.deadline, watch.act_now()) == (None, False)


def test_a_settle_our_checks_refuse_means_an_older_state_is_on_chain() -> None:
    watch = DisputeWatch(due=DisputeAction.SETTLE)
    slash = watch.failed(cmd.Settle(), by_node=False, now=5.0)
    assert slash is not None
    assert (slash.action, slash.deadline, watch.act_now()) == (DisputeAction.SLASH, 15.0, False)
    # A slash our own answer refused is the application's word: nothing more is tried.
    assert watch.failed(cmd.Slash(), by_node=False, now=5.0) is None
    assert not watch.act_now()


def test_other_reports_and_failures_change_nothing() -> None:
    watch = DisputeWatch()
    assert watch.reported("channel_changed", None) is None
    assert watch.failed(cmd.Shutdown(), by_node=True, now=1.0) is None
    assert watch.due is None
    closed = DisputeWatch(due=DisputeAction.SETTLE)
    closed.closed()
    assert closed.due is None


def test_the_policy_refuses_bad_values() -> None:
    with pytest.raises(LocalProtocolError, match="ask_for"):
        DisputePolicy(DisputeMode.ASK, -1)
    with pytest.raises(LocalProtocolError, match="retry_after"):
        DisputePolicy(retry_after=True)
    with pytest.raises(LocalProtocolError, match="mode"):
        DisputePolicy("act")  # type: ignore[arg-type]
    assert DisputePolicy().mode is DisputeMode.ACT
    assert DisputePolicy.ask(5).ask_for == 5


def test_a_due_action_lapses_when_the_channel_is_no_longer_closing() -> None:
    pair, alice, bob = cheated(DisputePolicy.ask(within=5))
    pair.post_old_state(2, by=alice)
    assert bob.channel.record().dispute == "slash"
    bob.channel.state = ChannelState.OPEN  # as after a snapshot reopened it
    pair.advance(10)
    assert not bob.events_of(OperationStarted)
    assert bob.channel.record().dispute is None
    assert bob.channel.next_deadline() is None


def test_only_a_refused_or_aborted_slash_or_settle_makes_the_next_action_due() -> None:
    watch = DisputeWatch(due=DisputeAction.SLASH)
    assert watch.ended(cmd.Slash(), FailureReason.CONFLICT, 1.0) is None
    assert watch.ended(cmd.Slash(), FailureReason.CHANNEL_GONE, 1.0) is None
    following = watch.ended(cmd.Slash(), FailureReason.NODE_ERROR, 1.0)
    assert following is not None
    assert following.action is DisputeAction.SETTLE
    slash = watch.ended(cmd.Settle(), FailureReason.ABORTED, 1.0)  # our checks refused it
    assert slash is not None
    assert (slash.action, slash.deadline) == (DisputeAction.SLASH, 11.0)
    watch.taken(cmd.Settle())  # not the action due: its deadline stands
    assert watch.deadline == 11.0
    watch.taken(cmd.Slash())
    assert watch.deadline is None


def test_a_due_action_starts_once_and_only_while_closing() -> None:
    watch = DisputeWatch()
    due = watch.reported("solo_closing", None)
    assert due is not None
    settling = Operation(id=1, command=cmd.Settle())
    slashing = Operation(id=2, command=cmd.Slash())
    assert not watch.to_start(due, under_way=[slashing, settling], closing=True)
    assert watch.due is DisputeAction.SETTLE
    assert watch.to_start(due, under_way=[slashing], closing=True)
    assert not watch.to_start(due, under_way=[], closing=False)
    assert watch.due is None  # closed, or open again: nothing is due
