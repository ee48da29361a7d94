"""Responders the simulator plays itself, so that only the initiators are its clients.

A load test of many channels needs a peer for each, and each peer over a socket of its own
doubles the sockets and the client work. Given signers for some accounts, :class:`PlayedPeers`
answers an initiator that names one of them as ``responder_id``: before the initiator's
connect reaches the node, it connects a responder :class:`~sansio_channels.channel.Channel`
of the core to the :class:`~.Simulator` in memory, with the initiator's open parameters
(the same channel, seen from the other side). Its frames go to and from the simulator
directly; its sign requests are answered by :class:`PeerPolicy` with the account's signer.

A played responder answers what comes: its channel's own timers (keep-alive pings, a dispute
action due after a lock period) do not run, and it does not come back to a channel after a
``leave`` (its node's FSM keeps running through the initiator's reconnects).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from ..channel import Channel
from ..crypto import Signer
from ..errors import DecodingError, LocalProtocolError
from ..events import SignRequest
from ..options import OpenOptions, Role
from ..policy import Decision, DefaultPolicy, answer
from . import params
from .frames import NodeError
from .harness import BASE_URL
from .simulator import Connection, Simulator

__all__ = ["PeerPolicy", "PlayedPeers"]

_DEFAULT: Final = DefaultPolicy()


@attrs.frozen
class PeerPolicy:
    """A cooperative peer: the :class:`~sansio_channels.policy.DefaultPolicy`, and what it
    leaves to an application (the create tx, a close, a peer's update that is not a payment
    to us) signed when every check passed, aborted otherwise."""

    def decide(self, request: SignRequest, account: str) -> Decision:
        decision = _DEFAULT.decide(request, account)
        if decision is not Decision.ASK:
            return decision
        if request.safe:
            return Decision.SIGN
        # Nothing to abort with: left unanswered, the node's sign timer ends it.
        return Decision.ABORT if request.tag.abortable else Decision.ASK


@attrs.define(eq=False)
class _Peer:
    channel: Channel
    signer: Signer
    connection: Connection


class PlayedPeers:
    """The responders a simulator plays for the accounts of ``signers`` (address -> signer).

    A transport calls :meth:`connect_for` with each client's connect URL before handing it
    to the simulator, then routes the simulator's frames to :meth:`receive` when
    :meth:`plays` the connection, and calls :meth:`closed` when the node closes one.
    """

    def __init__(self, sim: Simulator, signers: Mapping[str, Signer]) -> None:
        self.sim = sim
        self.signers = dict(signers)
        self.policy = PeerPolicy()
        self._peers: dict[Connection, _Peer] = {}

    def __len__(self) -> int:
        """How many responders are connected now."""
        return len(self._peers)

    def connect_for(self, url: str, *, now: float) -> Connection | None:
        """An initiator is about to connect with ``url``: if it opens a channel with an
        account we play, connect that account's responder first (as a responder listens
        before its initiator comes). Its connection, or None."""
        try:
            options = params.read(params.query(url))
        except (NodeError, params.Refused, LocalProtocolError, DecodingError, ValueError):
            # The node refuses the initiator itself, and says why.
            return None
        if not isinstance(options, OpenOptions) or options.role is not Role.INITIATOR:
            return None
        signer = self.signers.get(options.responder_id)
        if signer is None:
            return None
        own = attrs.evolve(options, role=Role.RESPONDER, host=None)
        channel = Channel(own, network_id=self.sim.network_id, ping_interval=None)
        connection = self.sim.connect(channel.connect_url(BASE_URL), now=now)
        peer = _Peer(channel=channel, signer=signer, connection=connection)
        self._peers[connection] = peer
        # The node's first frames (fsm_up) are for the responder now, before the initiator
        # connects; the transport hands them over with the rest of outbound().
        return connection

    def plays(self, connection: Connection) -> bool:
        """Whether ``connection`` is one of our responders'."""
        return connection in self._peers

    def receive(self, connection: Connection, frame: object, *, now: float) -> None:
        """A frame from the node to our responder: its channel takes it, the policy answers
        any sign request, and its replies go straight to the simulator."""
        peer = self._peers.get(connection)
        if peer is None:
            return
        channel = peer.channel
        channel.receive_frame(frame, now=now)
        for event in channel.events():
            if isinstance(event, SignRequest):
                answer(event, self.policy, peer.signer)
        for reply in channel.frames_to_send():
            self.sim.receive(connection, reply, now=now)

    def closed(self, connection: Connection) -> None:
        """The node closed our responder's socket (its FSM is gone): forget it."""
        self._peers.pop(connection, None)
