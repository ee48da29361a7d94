"""The channel's life cycle, as one role-agnostic transition table.

Every rule about which life-cycle state follows which lives here: the ``TRANSITIONS`` table maps
(state, input) to the next state, the same for the initiator and the responder. An input that
has no row in the current state is not a transition; the channel decides whether that is
harmless (an info event repeated) or a protocol violation. ``docs/state-diagram.md`` is drawn
from this table by ``python -m sansio_channels diagram``.

Whether a connection is up is tracked beside the life cycle, not in it. Operations within
the open channel (updates, deposits, queries, ...) do not change the life-cycle
state; the channel tracks them separately, one own operation at a time.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

__all__ = [
    "INFO_INPUTS",
    "ON_CHAIN_INPUTS",
    "TRANSITIONS",
    "ChannelState",
    "Input",
    "next_state",
]


class ChannelState(enum.Enum):
    """Where the channel is in its life, as this client sees it.

    Whether a connection is up is not part of it: a client may drop and reconnect while the
    node's FSM keeps the channel where it was.
    """

    NEW = "new"  # nothing heard from the node yet about a channel being opened
    OPENING = "opening"  # the node's FSM is up; the open handshake and funding are under way
    REESTABLISHING = "reestablishing"  # a new FSM restores a known channel from the node's cache
    OPEN = "open"  # off-chain updates, deposits, withdrawals, queries
    CLOSING = "closing"  # a mutual close is signed and on its way to the chain
    SOLO_CLOSING = "solo_closing"  # a solo close is on chain: slash, settle, force progress
    CLOSED = "closed"  # the close or settle tx is on chain
    FSM_DOWN = "fsm_down"  # the node's FSM stopped (left, died): only a reestablish brings it back


class Input(enum.Enum):
    """What moves the life cycle: the node's reports."""

    FSM_UP = "fsm_up"  # the node started an FSM to open a channel
    FSM_UP_REESTABLISHED = "fsm_up (new fsm id)"  # a new FSM restores a known channel
    FSM_UP_RECONNECTED = "fsm_up (same fsm id)"  # reattached to the FSM that kept running
    CHANNEL_REESTABLISHED = "channel_reestablished"
    OPEN = "open"  # channels.info open: the channel is (again) open
    CLOSE_MUTUAL_ON_CHAIN = "on_chain_tx close_mutual"
    SOLO_CLOSING_ON_CHAIN = "on_chain_tx solo_closing"
    CLOSING = "closing"  # channels.info closing
    CHANNEL_CLOSED_ON_CHAIN = "on_chain_tx channel_closed"
    CLOSED_CONFIRMED = "closed_confirmed"
    DIED = "died"  # the node's FSM process ended


# The node's reports that move the life cycle: on_chain_tx info -> the input it is.
ON_CHAIN_INPUTS: Final[Mapping[str, Input]] = {
    "close_mutual": Input.CLOSE_MUTUAL_ON_CHAIN,
    "solo_closing": Input.SOLO_CLOSING_ON_CHAIN,
    "can_slash": Input.SOLO_CLOSING_ON_CHAIN,  # an old state is closing on chain
    "channel_closed": Input.CHANNEL_CLOSED_ON_CHAIN,
}
# channels.info event -> the life-cycle input it is (fsm_up is decided by its fsm id).
INFO_INPUTS: Final[Mapping[str, Input]] = {
    "open": Input.OPEN,
    "channel_reestablished": Input.CHANNEL_REESTABLISHED,
    "closing": Input.CLOSING,
    "closed_confirmed": Input.CLOSED_CONFIRMED,
    "died": Input.DIED,
}

S, IN = ChannelState, Input
_LIVE: Final = (S.OPENING, S.REESTABLISHING, S.OPEN, S.CLOSING, S.SOLO_CLOSING)

# (state, input) -> next state.
TRANSITIONS: Final[Mapping[tuple[ChannelState, Input], ChannelState]] = {
    (S.NEW, IN.FSM_UP): S.OPENING,
    (S.OPENING, IN.OPEN): S.OPEN,
    (S.REESTABLISHING, IN.CHANNEL_REESTABLISHED): S.REESTABLISHING,
    (S.REESTABLISHING, IN.OPEN): S.OPEN,
    (S.REESTABLISHING, IN.SOLO_CLOSING_ON_CHAIN): S.SOLO_CLOSING,
    (S.REESTABLISHING, IN.CLOSING): S.SOLO_CLOSING,  # reestablished onto a solo-closing channel
    (S.OPEN, IN.OPEN): S.OPEN,
    (S.OPEN, IN.CLOSE_MUTUAL_ON_CHAIN): S.CLOSING,
    (S.OPEN, IN.CLOSING): S.CLOSING,
    (S.OPEN, IN.SOLO_CLOSING_ON_CHAIN): S.SOLO_CLOSING,
    (S.CLOSING, IN.CLOSE_MUTUAL_ON_CHAIN): S.CLOSING,
    (S.CLOSING, IN.CLOSING): S.CLOSING,
    (S.CLOSING, IN.SOLO_CLOSING_ON_CHAIN): S.SOLO_CLOSING,
    (S.CLOSING, IN.CHANNEL_CLOSED_ON_CHAIN): S.CLOSED,
    (S.CLOSING, IN.CLOSED_CONFIRMED): S.CLOSED,
    (S.SOLO_CLOSING, IN.SOLO_CLOSING_ON_CHAIN): S.SOLO_CLOSING,
    (S.SOLO_CLOSING, IN.CLOSING): S.SOLO_CLOSING,
    (S.SOLO_CLOSING, IN.OPEN): S.OPEN,  # a snapshot or force progress can reopen it
    (S.SOLO_CLOSING, IN.CHANNEL_CLOSED_ON_CHAIN): S.CLOSED,
    (S.SOLO_CLOSING, IN.CLOSED_CONFIRMED): S.CLOSED,
    (S.CLOSED, IN.CHANNEL_CLOSED_ON_CHAIN): S.CLOSED,
    (S.CLOSED, IN.CLOSED_CONFIRMED): S.CLOSED,
    (S.CLOSED, IN.DIED): S.CLOSED,
    (S.FSM_DOWN, IN.FSM_UP_REESTABLISHED): S.REESTABLISHING,
    (S.FSM_DOWN, IN.DIED): S.FSM_DOWN,
    # Any live FSM: a client that reattaches finds it where it was; a new FSM reestablishes
    # (the old one may have stopped while we were away); a stopped one is down.
    **{(state, IN.FSM_UP_RECONNECTED): state for state in _LIVE},
    **{(state, IN.FSM_UP_REESTABLISHED): S.REESTABLISHING for state in _LIVE},
    **{(state, IN.DIED): S.FSM_DOWN for state in _LIVE},
}


def next_state(state: ChannelState, event: Input) -> ChannelState | None:
    """The state ``event`` leads to from ``state``; None when the table has no such row."""
    return TRANSITIONS.get((state, event))
