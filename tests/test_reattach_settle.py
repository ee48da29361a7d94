"""An operation first sent on the socket that reattached is ended by its own flow, not by the
state fetched to settle it (found by the adapters' scenario suite)."""

from __future__ import annotations

from sansio_channels.commands import Transfer
from sansio_channels.events import CoSignedState, OperationAccepted, OperationFailed
from sansio_channels.simulator.harness import Pair
from sansio_channels.state import ChannelState


def test_an_operation_sent_as_the_socket_reattaches_is_accepted() -> None:
    pair = Pair.open()
    pair.run()
    i, r = pair.initiator, pair.responder
    assert i.channel.state is ChannelState.OPEN
    pair.drop(i)
    pair.reconnect(i)  # the node's fsm_up waits for the initiator's channel
    i.clear()
    # Sent before fsm_up arrives: the channel fetches the latest state to settle it, and
    # that state (round 1) is older than the one the node then asks us to sign.
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=3))
    pair.run()
    assert not i.events_of(OperationFailed)
    (accepted,) = i.events_of(OperationAccepted)
    assert accepted.round == 2
    assert [s.accepted for s in i.events_of(CoSignedState)] == [True]
    assert i.channel.record().latest_round == 2
