"""What the two participants' nodes say to each other (the node's Noise session).

Each message is a frozen record; :class:`Link` queues them between the two FSMs of a channel
until the simulator delivers them, so that two updates started at once cross on the wire and
end in a conflict, as between real nodes.
"""

from __future__ import annotations

import collections
import enum
from typing import TYPE_CHECKING, TypeAlias

import attrs

from .. import txs
from ..options import MinimumDepthStrategy

if TYPE_CHECKING:
    from .fsm import Fsm

__all__ = [
    "ChannelAccept",
    "ChannelOpen",
    "FundingCreated",
    "FundingSigned",
    "Inband",
    "Leave",
    "LeaveAck",
    "Link",
    "LockKind",
    "Locked",
    "PeerGone",
    "PeerMessage",
    "Reestablish",
    "ReestablishAck",
    "Shutdown",
    "ShutdownAck",
    "Update",
    "UpdateAck",
    "UpdateError",
]


class LockKind(enum.Enum):
    """What a minimum-depth watch is for; the value is the word in its info events."""

    FUNDING = "funding"
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"


@attrs.frozen(kw_only=True)
class ChannelOpen:
    """The initiator's open request (its id and the amounts come from its options)."""

    initiator: bytes
    responder: bytes


@attrs.frozen(kw_only=True)
class ChannelAccept:
    """The responder's minimum depth, which the initiator takes unless it set its own."""

    minimum_depth: int
    strategy: MinimumDepthStrategy


@attrs.frozen(kw_only=True)
class FundingCreated:
    signed: txs.SignedTx  # the create tx, signed by the initiator


@attrs.frozen(kw_only=True)
class FundingSigned:
    signed: txs.SignedTx  # the create tx, co-signed


@attrs.frozen(kw_only=True)
class Locked:
    kind: LockKind


@attrs.frozen(kw_only=True)
class Update:
    """An off-chain update, deposit or withdrawal, signed by its starter."""

    signed: txs.SignedTx
    updates: tuple[txs.OffChainUpdate, ...]


@attrs.frozen(kw_only=True)
class UpdateAck:
    signed: txs.SignedTx  # co-signed


@attrs.frozen(kw_only=True)
class UpdateError:
    """The update was refused (conflict, abort, timeout): roll back to ``round``."""

    round: int
    code: int


@attrs.frozen(kw_only=True)
class Shutdown:
    signed: txs.SignedTx  # the close_mutual tx, signed by the closer


@attrs.frozen(kw_only=True)
class ShutdownAck:
    signed: txs.SignedTx  # co-signed


@attrs.frozen(kw_only=True)
class Inband:
    from_id: str
    to_id: str
    info: str


@attrs.frozen(kw_only=True)
class Leave:
    pass


@attrs.frozen(kw_only=True)
class LeaveAck:
    pass


@attrs.frozen(kw_only=True)
class Reestablish:
    channel_id: bytes


@attrs.frozen(kw_only=True)
class ReestablishAck:
    pass


@attrs.frozen(kw_only=True)
class PeerGone:
    """The peer's FSM stopped: the session is over."""


PeerMessage: TypeAlias = (
    ChannelOpen
    | ChannelAccept
    | FundingCreated
    | FundingSigned
    | Locked
    | Update
    | UpdateAck
    | UpdateError
    | Shutdown
    | ShutdownAck
    | Inband
    | Leave
    | LeaveAck
    | Reestablish
    | ReestablishAck
    | PeerGone
)


class Link:
    """Messages on their way between FSMs, in the order they were sent."""

    def __init__(self) -> None:
        self._queue: collections.deque[tuple[Fsm, PeerMessage]] = collections.deque()

    def send(self, to: Fsm, message: PeerMessage) -> None:
        self._queue.append((to, message))

    def pop(self) -> tuple[Fsm, PeerMessage] | None:
        return self._queue.popleft() if self._queue else None

    def __len__(self) -> int:
        return len(self._queue)
