"""Coming back to an open between the initiator's signature of the create tx and the channel on
chain: what the node answers (a running FSM is found by channel id only from funding_signed
on; with none running, the chain is read before the cache)."""

from __future__ import annotations

from typing import Any

from sansio_channels.channel import Channel
from sansio_channels.encoding import Id, IdTag
from sansio_channels.events import FsmUp, SignRequest
from sansio_channels.record import ChannelRecord
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import BASE_URL, Pair, Participant
from sansio_channels.simulator.state import State


def come_back(pair: Pair, record: ChannelRecord) -> tuple[list[dict[str, Any]], str | None]:
    """A client resumed from ``record`` connects: the frames the node sent, and why it closed
    the socket without a word (None if it did not)."""
    url = Channel.restore(record, ping_interval=None).connect_url(BASE_URL)
    connection = pair.sim.connect(url)
    frames = pair.sim.frames_for(connection)
    reason = pair.sim.close_reason(connection) if pair.sim.is_closed(connection) else None
    return frames, reason


def signed_the_create_tx_and_left() -> tuple[Pair, ChannelRecord, list[SignRequest]]:
    """The initiator's client signed the create tx and went away; the responder's client has
    not signed yet (its sign request is held)."""
    pair = Pair.open()
    i, r = pair.initiator, pair.responder
    held: list[SignRequest] = []
    r.intercept = held.append
    pair.run()
    record = i.channel.record()
    assert record.channel_id is None
    assert 1 in record.signed_ahead
    assert record.resumable
    assert [request.tag.tag for request in held] == ["responder_sign"]
    pair.drop(i)
    return pair, record, held


def initiator_fsm_state(sim: Simulator) -> State | None:
    found = [fsm.state for fsm in sim.fsms if fsm.role.value == "initiator"]
    return found[0] if found else None


def test_a_come_back_before_funding_signed_is_refused_though_the_open_goes_on() -> None:
    pair, record, held = signed_the_create_tx_and_left()
    frames, refused = come_back(pair, record)
    # Refused without a word: the FSM is not filed under the channel id yet, and the chain
    # has no such channel.
    assert frames == []
    assert refused is not None
    assert "no such channel on chain" in refused
    # The FSM runs on without its client, and the open with it.
    assert initiator_fsm_state(pair.sim) is State.HALF_SIGNED
    held[0].sign(pair.responder.keys)
    pair.run()
    channel_id = record.known_channel_id()
    assert channel_id is not None
    assert pair.sim.chain.channel(Id.from_api(channel_id, IdTag.CHANNEL).key) is not None
    # From funding_signed on, the same record comes back to the same FSM.
    pair.initiator = Participant(
        role=pair.initiator.role,
        keys=pair.initiator.keys,
        channel=Channel.restore(record, ping_interval=None),
    )
    pair.connect(pair.initiator)
    pair.run()
    (up,) = pair.initiator.events_of(FsmUp)
    assert (up.fsm_id, up.reconnected) == (record.fsm_id, True)


def test_no_reestablish_while_the_create_tx_waits_in_the_mempool() -> None:
    pair = Pair.open(sim=Simulator(auto_mine=False), timeouts={"funding_lock": 1000})
    pair.run()
    i = pair.initiator
    record = i.channel.record()
    assert record.channel_id is not None  # funding_signed came back
    assert pair.sim.chain.mempool  # the create tx, not mined
    pair.drop(i)
    pair.advance(2.0)  # the initiator's FSM times out waiting for the lock, and stops
    assert initiator_fsm_state(pair.sim) is None
    channel = Id.from_api(record.channel_id, IdTag.CHANNEL).key
    assert pair.sim.chain.channel(channel) is None
    # Its state is cached, but the node reads the chain first: no channel there yet.
    frames, refused = come_back(pair, record)
    assert frames == []
    assert refused is not None
    assert "no such channel on chain" in refused
    # Once it is mined, the cache serves: a reestablish under a new fsm id.
    pair.sim.mine(1)
    frames, refused = come_back(pair, record)
    assert refused is None
    (up,) = [f for f in frames if f.get("params", {}).get("data", {}).get("event") == "fsm_up"]
    assert up["params"]["data"]["fsm_id"] != record.fsm_id
