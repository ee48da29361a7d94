"""Leave, reconnect and reestablish; solo close, slash, settle and snapshot; timeouts."""

from __future__ import annotations

from sansio_channels.commands import (
    CloseSolo,
    Leave,
    Message,
    Ping,
    Settle,
    Slash,
    SnapshotSolo,
    Transfer,
)
from sansio_channels.dispute import DisputePolicy
from sansio_channels.events import (
    Conflict,
    FsmUp,
    MessageReceived,
    NodeError,
    OperationAccepted,
    Pong,
    SignRequest,
)
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import Pair, keypair
from sansio_channels.state import ChannelState

from .conftest import balances, names, open_pair

AMOUNT = 10**18


def transfer(pair: Pair, amount: int) -> None:
    i, r = pair.initiator, pair.responder
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=amount))
    pair.run()


def test_leave_then_reestablish() -> None:
    pair = open_pair(responder_options={"keep_running": False})
    i, r = pair.initiator, pair.responder
    transfer(pair, 5)
    i.channel.submit(Leave())
    pair.run()
    assert names(i)[-3:] == ["left", "OperationAccepted", "died"]
    assert names(r)[-2:] == ["left", "died"]
    for side in pair.participants:
        assert side.channel.state is ChannelState.FSM_DOWN
    old = {side.role: side.channel.fsm_id for side in pair.participants}
    for side in (r, i):  # the responder must listen first
        side.clear()
        pair.reconnect(side)
    pair.run()
    for side in pair.participants:
        assert names(side) == ["fsm_up", "channel_reestablished", "open", "update"]
        assert side.channel.fsm_id != old[side.role]
        assert side.channel.state is ChannelState.OPEN
    transfer(pair, 1)
    assert balances(r) == {i.address: AMOUNT - 6, r.address: AMOUNT + 6}


def test_a_responder_that_keeps_running() -> None:
    pair = open_pair()  # keep_running is the responder's default
    i, r = pair.initiator, pair.responder
    i.channel.submit(Leave())
    pair.run()
    assert names(i)[-3:] == ["left", "OperationAccepted", "died"]
    assert names(r) == ["left", "peer_disconnected"]
    for side in pair.participants:
        side.clear()
    pair.reconnect(i)
    pair.run()
    assert names(i) == ["fsm_up", "channel_reestablished", "open", "update"]
    assert names(r) == ["channel_reestablished", "open"]
    transfer(pair, 2)
    assert balances(i) == {i.address: AMOUNT - 2, r.address: AMOUNT + 2}


def test_reconnect_to_a_running_fsm() -> None:
    pair = open_pair()
    i, r = pair.initiator, pair.responder
    fsm_id = i.channel.fsm_id
    pair.drop(i)
    # While the initiator's client is away its FSM cannot sign: the peer's update conflicts.
    r.channel.submit(Transfer(from_id=r.address, to_id=i.address, amount=1))
    pair.run()
    assert [c.error_code for c in r.events_of(Conflict)] == [2]
    pair.reconnect(i)
    pair.run()
    (up,) = i.events_of(FsmUp)
    assert (up.fsm_id, up.reconnected) == (fsm_id, True)
    assert names(i) == ["fsm_up"]
    transfer(pair, 3)
    assert balances(r) == {i.address: AMOUNT - 3, r.address: AMOUNT + 3}


def test_reconnect_errors() -> None:
    pair = open_pair()
    i = pair.initiator
    pair.drop(i)
    base = "ws://simulator:3014/channel"
    assert i.channel.channel_id is not None
    query = f"existing_channel_id={i.channel.channel_id}&host=localhost&port=3014"
    query += "&protocol=json-rpc&role=initiator"
    cases = {
        f"{base}?{query}": 2000,
        f"{base}?{query}&existing_fsm_id=ba_WOenMHaoJdYNkWpK": 1016,
        f"{base}?{query}&existing_fsm_id={keypair('x').address.replace('ak_', 'ba_')}": 1016,
    }
    for bad, code in cases.items():
        connection = pair.sim.connect(bad)
        (frame,) = pair.sim.frames_for(connection)
        assert frame["error"]["data"][0]["code"] == code
        assert pair.sim.is_closed(connection)


def report_only(pair: Pair) -> None:
    """The application slashes and settles itself (the channel would by default)."""
    for side in pair.participants:
        side.channel.dispute.policy = DisputePolicy.off()


def test_solo_close_and_settle(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    report_only(pair)
    transfer(pair, 10)
    i.clear()
    r.clear()
    i.channel.submit(CloseSolo())
    pair.run()
    assert names(i) == [
        "sign:close_solo_sign",
        "OperationAccepted",
        "on_chain:solo_closing",
        "closing",
    ]
    assert names(r) == ["on_chain:solo_closing", "closing"]
    height = pair.sim.chain.height
    r.channel.submit(Settle())
    pair.run()
    assert pair.sim.chain.height >= height + 10  # the settle waited for the lock period
    for side in pair.participants:
        assert names(side)[-3:] == ["on_chain:channel_closed", "closed_confirmed", "died"]
        assert side.channel.state is ChannelState.CLOSED
    chain = pair.sim.chain
    assert chain.channels[next(iter(chain.channels))].status == "closed"


def test_slash_an_old_state(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    report_only(pair)
    transfer(pair, 10)
    transfer(pair, 20)
    for side in pair.participants:
        side.clear()
    pair.post_old_state(2)  # the initiator cheats with round 2; round 3 gives it less
    for side in pair.participants:
        assert names(side) == ["on_chain:can_slash", "closing"]
    r.channel.submit(Slash())
    pair.run()
    assert names(r)[-1] == "on_chain:solo_closing"
    assert names(i)[-1] == "on_chain:solo_closing"
    before = pair.sim.chain.balance(r.keys.public_key)
    r.channel.submit(Settle())
    pair.run()
    settle_fee = r.events_of(SignRequest)[-1].signed_tx.transaction.fee  # type: ignore[attr-defined]
    assert pair.sim.chain.balance(r.keys.public_key) == before + AMOUNT + 30 - settle_fee


def test_snapshot(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    i.channel.submit(SnapshotSolo())
    pair.run()
    (error,) = i.events_of(NodeError)  # the latest state is the create tx
    assert (int(error.code), *error.data_codes) == (2, 1012)
    transfer(pair, 1)
    i.clear()
    i.channel.submit(SnapshotSolo())
    pair.run()
    assert names(i) == [
        "sign:snapshot_solo_tx",
        "OperationAccepted",
        "on_chain:channel_changed",
        "min_depth_achieved",
    ]
    assert names(r)[-1] == "on_chain:channel_changed"
    r.clear()
    r.channel.submit(SnapshotSolo())
    pair.run()
    (error,) = r.events_of(NodeError)
    assert (int(error.code), *error.data_codes) == (3, 1013)


def test_messages_and_ping(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    i.channel.submit(Message(to_id=r.address, info="Hello"))
    r.channel.submit(Message(to_id=i.address, info="Hello back"))
    i.channel.submit(Ping())
    pair.run()
    assert [(m.from_id, m.info) for m in r.events_of(MessageReceived)] == [(i.address, "Hello")]
    assert [m.info for m in i.events_of(MessageReceived)] == ["Hello back"]
    assert len(i.events_of(Pong)) == 1


def test_an_initiator_alone_times_out() -> None:
    pair = Pair.open(connect=False, timeouts={"accept": 500})
    pair.connect(pair.initiator)
    pair.run()
    pair.advance(0.4)
    assert names(pair.initiator) == ["fsm_up"]
    pair.advance(0.2)
    assert names(pair.initiator) == ["fsm_up", "timeout", "died"]
    assert pair.initiator.connection is None


def test_timeouts_in_an_update() -> None:
    pair = open_pair(timeouts={"sign": 1000}, responder_options={"keep_running": False})
    i, r = pair.initiator, pair.responder
    r.intercept = lambda req: None  # the responder never answers its update_ack
    transfer(pair, 1)
    pair.advance(1.5)
    for side in pair.participants:
        assert [(c.round, c.error_code, c.error_msg) for c in side.events_of(Conflict)] == [
            (1, 3, "timeout")
        ]
    # The idle timer (the open state's) ends an FSM, and its peer goes with it.
    pair.advance(600)
    assert names(i)[-2:] == ["timeout", "died"]
    assert names(r)[-1] == "died"


def test_unknown_participants_on_a_pinned_chain() -> None:
    known = keypair("known")
    sim = Simulator(accounts={known.address: 10**20})
    pair = Pair.open(sim=sim, initiator_keys=known)
    pair.run()
    for side in pair.participants:
        error = side.events_of(NodeError)[0]
        assert error.data_codes == (1011,)
        assert side.connection is None


def test_many_channels_at_once() -> None:
    sim = Simulator()
    pairs = [Pair.open(sim=sim, port=port) for port in (4001, 4002, 4003)]
    for pair in pairs:
        pair.run()
    for n, pair in enumerate(pairs, start=1):
        transfer(pair, n)
        assert pair.initiator.events_of(OperationAccepted)
        assert balances(pair.responder)[pair.responder.address] == AMOUNT + n


def test_a_sign_request_left_pending_across_a_reconnect() -> None:
    pair = open_pair(timeouts={"sign": 2000})
    i, r = pair.initiator, pair.responder
    i.intercept = lambda req: None  # the client goes away before it signs
    transfer(pair, 1)
    pair.drop(i)
    pair.reconnect(i)
    pair.run()
    # Reattached, the client abandons the request it did not answer, and says so at once.
    assert names(i)[-2:] == ["fsm_up", "OperationFailed"]
    pair.advance(2.5)  # the node's sign timer rolls the update back
    assert [(c.round, c.error_code) for c in i.events_of(Conflict)] == [(1, 3)]
    assert names(r) == []
    i.intercept = None
    transfer(pair, 2)  # the next operation goes through
    assert balances(r) == {i.address: AMOUNT - 2, r.address: AMOUNT + 2}


def test_blocks_on_an_interval() -> None:
    sim = Simulator(auto_mine=False, block_interval=1.0)
    pair = Pair.open(sim=sim)
    pair.run()
    assert names(pair.initiator)[-1] == "on_chain:funding_signed"  # in the mempool
    pair.advance(1.0)
    assert names(pair.initiator)[-1] == "on_chain:channel_changed"
    pair.advance(2.0)  # the default minimum depth of this fee is 3 blocks
    for side in pair.participants:
        assert side.channel.state is ChannelState.OPEN
    assert sim.chain.height == 3


def test_timers_of_many_channels_run_out_in_order() -> None:
    # Channels on one node with idle timers of their own: the earliest is the node's next
    # deadline after any traffic, and advancing past it ends only that channel's FSMs.
    sim = Simulator()
    pairs = []
    for n, idle in enumerate((900, 300, 600)):
        pair = open_pair(
            sim=sim,
            port=4000 + n,
            timeouts={"idle": idle * 1000},
            responder_options={"keep_running": False},
        )
        pairs.append(pair)
    for _ in range(60):  # every FSM call re-arms a timer: the dead ones must not pile up
        for pair in pairs:
            transfer(pair, 1)
    assert len(sim._timers) <= 2 * len(sim.fsms) + 65
    assert sim.next_deadline() == min(f.deadline for f in sim.fsms if f.deadline is not None)
    first = sim.next_deadline()
    assert first is not None
    pairs[1].advance(first - pairs[1].now + 0.001)
    alive = {f.options.port for f in sim.fsms}
    assert alive == {4000, 4002}
    assert sim.next_deadline() == min(f.deadline for f in sim.fsms if f.deadline is not None)
