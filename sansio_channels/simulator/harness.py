"""Two :class:`~sansio_channels.channel.Channel` s and a :class:`~.Simulator`, wired in memory.

For tests of an application or of the library itself, with no I/O::

    pair = Pair.open(initiator_amount=10**18, responder_amount=10**18)
    pair.run()                                   # open: both sides reach OPEN
    pair.initiator.channel.submit(Transfer(from_id=..., to_id=..., amount=1))
    pair.run()                                   # sign requests are signed with the keys
    assert pair.initiator.events_of(OperationAccepted)

:meth:`Pair.step` moves every frame one hop (clients to the simulator, the nodes' link, the
simulator to the clients) and answers sign requests with each participant's :class:`KeyPair`,
unless the participant's ``intercept`` takes them (to abort, hold or inspect them).
:meth:`Pair.run` steps until nothing moves. Chain control: :meth:`Pair.mine`,
:meth:`Pair.post_old_state`, :meth:`Pair.drop`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs

from ..channel import Channel
from ..crypto import KeyPair, blake2b_256
from ..dispute import DisputePolicy
from ..events import CoSignedState, Event, SignRequest
from ..options import OpenOptions, Role
from .simulator import Connection, Simulator

__all__ = ["BASE_URL", "Pair", "Participant", "keypair", "open_options"]

BASE_URL: Final = "ws://simulator:3014/channel"
_E = TypeVar("_E", bound=Event)


def keypair(name: str) -> KeyPair:
    """A key pair that is the same in every run (from ``name``): tests stay reproducible."""
    return KeyPair.from_secret(blake2b_256(b"sansio-channels test key " + name.encode()))


def open_options(
    role: Role,
    initiator: KeyPair,
    responder: KeyPair,
    *,
    port: int = 3014,
    amount: int = 10**18,
    **options: Any,
) -> OpenOptions:
    """One side's options for a channel between two accounts a simulator funds: each puts in
    ``amount``, nothing is pushed, the reserve is 1 and the lock period 5 blocks, and the
    initiator reaches the responder's node on ``localhost:port``. ``options`` set or override
    any other :class:`OpenOptions` field."""
    fields: dict[str, Any] = {
        "host": "localhost" if role is Role.INITIATOR else None,
        "port": port,
        "initiator_id": initiator.address,
        "responder_id": responder.address,
        "initiator_amount": amount,
        "responder_amount": amount,
        "push_amount": 0,
        "channel_reserve": 1,
        "lock_period": 5,
    }
    return OpenOptions(role=role, **{**fields, **options})


@attrs.define(eq=False)
class Participant:
    """One side of the pair: its keys, its :class:`Channel`, and what it saw.

    ``intercept``, when set, gets each sign request instead of the default (sign with
    ``keys``); it may sign, abort, or keep it for later. ``states`` are the co-signed states
    accepted, by round, to post an old one.
    """

    role: Role
    keys: KeyPair
    channel: Channel
    connection: Connection | None = None
    events: list[Event] = attrs.Factory(list)
    intercept: Callable[[SignRequest], None] | None = None
    states: dict[int, CoSignedState] = attrs.Factory(dict)

    @property
    def address(self) -> str:
        return self.keys.address

    def events_of(self, kind: type[_E]) -> list[_E]:
        """The events of one kind this side saw, in order."""
        return [event for event in self.events if isinstance(event, kind)]

    def clear(self) -> None:
        self.events.clear()


class Pair:
    """An initiator and a responder talking to one simulator, fully in memory."""

    def __init__(
        self, sim: Simulator, initiator: Participant, responder: Participant, *, now: float = 0.0
    ) -> None:
        self.sim = sim
        self.initiator = initiator
        self.responder = responder
        self.now = now

    @classmethod
    def open(
        cls,
        *,
        sim: Simulator | None = None,
        initiator_keys: KeyPair | None = None,
        responder_keys: KeyPair | None = None,
        initiator_amount: int = 10**18,
        responder_amount: int = 10**18,
        push_amount: int = 0,
        channel_reserve: int = 1,
        lock_period: int = 10,
        port: int = 3014,
        connect: bool = True,
        dispute: DisputePolicy | None = None,
        **options: Any,
    ) -> Pair:
        """A pair about to open a channel (both connected, initiator first); :meth:`run` opens
        it. ``options`` go to both sides' :class:`OpenOptions` (``timeouts``, ``minimum_depth``,
        ...); a responder's own options can be given as ``responder_options={...}``.
        ``dispute`` is both channels' dispute policy (each side's ``channel.dispute.policy``
        can be set apart)."""
        sim = sim or Simulator()
        initiator_keys = initiator_keys or keypair(f"initiator {port}")
        responder_keys = responder_keys or keypair(f"responder {port}")
        responder_only = options.pop("responder_options", {})
        common = {
            "initiator_id": initiator_keys.address,
            "responder_id": responder_keys.address,
            "initiator_amount": initiator_amount,
            "responder_amount": responder_amount,
            "push_amount": push_amount,
            "channel_reserve": channel_reserve,
            "lock_period": lock_period,
            "port": port,
            **options,
        }
        sides = {}
        for role, keys, extra in (
            (Role.INITIATOR, initiator_keys, {"host": "localhost"}),
            (Role.RESPONDER, responder_keys, responder_only),
        ):
            opts = OpenOptions(role=role, **{**common, **extra})
            channel = Channel(opts, network_id=sim.network_id, ping_interval=None, dispute=dispute)
            sides[role] = Participant(role=role, keys=keys, channel=channel)
        pair = cls(sim, sides[Role.INITIATOR], sides[Role.RESPONDER])
        if connect:
            pair.connect(pair.initiator)
            pair.connect(pair.responder)
        return pair

    @property
    def participants(self) -> tuple[Participant, Participant]:
        return self.initiator, self.responder

    # --- connections -----------------------------------------------------------------------

    def connect(self, side: Participant) -> Connection:
        """Open ``side``'s socket with its channel's connect URL."""
        url = side.channel.connect_url(BASE_URL)
        side.connection = self.sim.connect(url, now=self.now)
        return side.connection

    def drop(self, side: Participant) -> None:
        """``side``'s socket breaks: both the channel and the node see it go."""
        if side.connection is not None:
            self.sim.disconnect(side.connection, now=self.now)
            side.connection = None
        side.channel.connection_lost()

    def reconnect(self, side: Participant) -> Connection:
        """``side`` comes back (reconnect or reestablish, from what its channel knows)."""
        if side.connection is not None:
            self.drop(side)
        side.channel.reconnect()
        return self.connect(side)

    def send_raw(self, side: Participant, frame: Any) -> None:
        """Send a frame the typed API would not build (a string amount, a bad signature, ...)
        on ``side``'s socket; the node's answer reaches ``side``'s channel on the next step."""
        assert side.connection is not None, "not connected"
        self.sim.receive(side.connection, frame, now=self.now)

    # --- moving frames ---------------------------------------------------------------------

    def step(self) -> bool:
        """Move every pending frame one hop; True if anything moved."""
        moved = False
        for side in self.participants:
            for event in side.channel.events():  # raised by a submit, with no frame in
                self._take(side, event)
            for frame in side.channel.frames_to_send():
                moved = True
                if side.connection is not None:
                    self.sim.receive(side.connection, frame, now=self.now, deliver=False)
        self.sim.deliver()
        for side in self.participants:
            moved = self._to_client(side) or moved
        return moved

    def _to_client(self, side: Participant) -> bool:
        connection = side.connection
        if connection is None:
            return False
        incoming = self.sim.frames_for(connection)
        for frame in incoming:
            side.channel.receive_frame(frame, now=self.now)
            for event in side.channel.events():
                self._take(side, event)
        if self.sim.is_closed(connection):
            # The node closed the socket (the FSM died, or the connect was refused).
            self.sim.disconnect(connection, now=self.now)
            side.connection = None
            side.channel.connection_lost()
            return True
        return bool(incoming)

    def _take(self, side: Participant, event: Event) -> None:
        side.events.append(event)
        if isinstance(event, CoSignedState) and event.accepted and event.round is not None:
            side.states[event.round] = event
        if isinstance(event, SignRequest):
            if side.intercept is not None:
                side.intercept(event)
            else:
                event.sign(side.keys)

    def run(self, max_steps: int = 1000) -> None:
        """Step until nothing moves (a :class:`RuntimeError` if it never settles)."""
        for _ in range(max_steps):
            if not self.step():
                return
        raise RuntimeError(f"the pair did not settle in {max_steps} steps")

    # --- time and the chain ----------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: the nodes' timers fire, then the channels' (a dispute action
        whose deadline passed), then the frames move."""
        self.now += seconds
        self.sim.advance(self.now)
        for side in self.participants:
            side.channel.handle_timer(self.now)
        self.run()

    def mine(self, blocks: int = 1) -> None:
        self.sim.mine(blocks)
        self.run()

    def post_old_state(self, round_: int, by: Participant | None = None) -> str:
        """``by`` (the initiator by default) closes the channel on chain with the co-signed
        state of ``round_``, one its peer may have moved past: the peer can slash."""
        side = by or self.initiator
        state = side.states[round_]
        assert state.balances is not None
        tx_hash = self.sim.post_close_solo(state.signed_tx, state.balances, side.keys)
        self.run()
        return tx_hash
