"""What the node's latest state, fetched after a reattach, says of what we were doing.

While we were away the node went on: an update we signed may have been co-signed, rolled back
or never taken. The channel asks for the node's latest state when it reattaches, and these
functions read the answer from values (no channel): which signed rounds to forget, and how the
own operation under way ends, if it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import attrs

from .events import FailureReason
from .own_operations import Accepted, Ending, Failed

if TYPE_CHECKING:
    from .ledger import FetchedState, Ledger

__all__ = ["NOT_TAKEN", "Reattached", "Settlement", "reattached", "rounds_to_keep", "settle"]

# Why an own operation fails after a reattach when the node had not taken its request.
NOT_TAKEN: Final = (
    "the node had not taken its request when the connection dropped; if it postponed it, it may "
    "still ask to sign it (the checks then fail: refuse it)"
)


def rounds_to_keep(*, verified: bool, latest_round: int | None, half_signed: bool) -> int | None:
    """The round above which what we signed is forgotten, or None to keep it all.

    What we signed above the node's latest co-signed state, of which the node holds no
    half-signed tx, was rolled back or never arrived; the node reuses those rounds, so they
    are forgotten as after a conflict.
    """
    if not verified or latest_round is None or half_signed:
        return None
    return latest_round


@attrs.frozen
class Settlement:
    """How the own operation under way ends after a reattach (``ending`` None: not yet), and
    whether the node never took its request (``not_taken``) or rolled rounds back to
    ``roll_back_to``."""

    ending: Ending | None = None
    roll_back_to: int | None = None
    not_taken: bool = False


def settle(
    *,
    in_flight: bool,
    own_round: int | None,
    latest_round: int | None,
    stale: bool,
    aborted: bool,
    request_pending: bool,
) -> Settlement:
    """End the operation under way by what the node's latest state says.

    ``in_flight``: the node still holds our signed state, waiting for the peer (its update or
    conflict ends it); ``own_round``: the round we signed for it, if we did; ``latest_round``
    and ``stale``: the node's latest co-signed round as the ledger now knows it; ``aborted``:
    we aborted its sign request; ``request_pending``: no answer to its request came.
    """
    if in_flight:
        return Settlement()
    if own_round is not None:
        if latest_round is None or stale:
            return Settlement()
        if latest_round == own_round:
            return Settlement(ending=Accepted(own_round))
        if latest_round < own_round:
            # The node's latest co-signed state says so, as a conflict would have.
            failed = Failed(FailureReason.CONFLICT, "rolled back while we were away")
            return Settlement(ending=failed, roll_back_to=latest_round)
        return Settlement()
    # We never signed it: aborted, its sign request abandoned with the connection, or its
    # request not taken yet. The node may have postponed that one and still serve it: its
    # sign request then fails the checks, and the FSM's sign timer rolls it back.
    if aborted:
        return Settlement(ending=Failed(FailureReason.ABORTED, "aborted"))
    if request_pending:
        return Settlement(ending=Failed(FailureReason.CHANNEL_GONE, NOT_TAKEN), not_taken=True)
    detail = "its sign request was abandoned with the connection"
    return Settlement(ending=Failed(FailureReason.CHANNEL_GONE, detail))


@attrs.frozen
class Reattached:
    """What the node's latest state, fetched after a reattach, tells the channel: the round
    the node reached while we were away (``opened_round``, where verified), and how the own
    operation under way ends (``settlement``; None when none is under way)."""

    opened_round: int | None = None
    settlement: Settlement | None = None


def reattached(
    ledger: Ledger,
    fetched: FetchedState,
    result: object,
    *,
    under_way: bool,
    request_pending: bool,
) -> Reattached:
    """Read the node's latest state (``fetched``, from the answer ``result``) into ``ledger``:
    forget what the node rolled back, and say how the own operation under way ends
    (``request_pending``: the node has not answered its request)."""
    in_flight = ledger.own_state_in_flight(result)
    latest, stale = ledger.latest, ledger.stale
    opened = None
    if latest is not None and not stale:
        half_signed = isinstance(result, Mapping) and bool(result.get("half_signed_tx"))
        keep = rounds_to_keep(
            verified=fetched.verified, latest_round=latest.round, half_signed=half_signed
        )
        if keep is not None:
            ledger.roll_back(keep)
        opened = latest.round if fetched.verified else None
    if not under_way:
        return Reattached(opened)
    found = settle(
        in_flight=in_flight,
        own_round=ledger.own_round,
        latest_round=None if latest is None else latest.round,
        stale=stale,
        aborted=ledger.last_abort_was_own,
        request_pending=request_pending,
    )
    if found.roll_back_to is not None:
        ledger.roll_back(found.roll_back_to)
    return Reattached(opened, found)
