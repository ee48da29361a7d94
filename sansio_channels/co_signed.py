"""The intake of a co-signed state (``channels.update``, or the state ``channels.leave``
carries): checked against what we know, taken into the ledger when it passes, told to the
application as a :class:`~sansio_channels.events.CoSignedState` either way.

It receives the ledger and the signing context as values and returns the event; what the
state ends (an own operation, a leave) the channel decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .checks import check_co_signed_state
from .encoding import Id
from .events import CoSignedState
from .ledger import Ledger
from .node_data import string_of
from .signing_context import SigningContext
from .txs import decode_signed_tx

__all__ = ["take_co_signed_state"]


def take_co_signed_state(
    ledger: Ledger,
    context: SigningContext,
    data: Mapping[str, Any],
    *,
    known_peer: Id | None,
    left: bool,
) -> CoSignedState:
    """Check the state in ``data`` and take it into ``ledger`` if it passes; ``left``: it
    came with ``channels.leave``."""
    text = string_of(data, "state", "channels.update")
    # The state we signed second comes back co-signed as we sent it; decoding is strict, so
    # that text decodes to what we encoded it from.
    signed = ledger.sent(text) or decode_signed_tx(text)
    checks = check_co_signed_state(context, signed)
    round_, accepted = ledger.take_co_signed(signed, text, checks, known_peer=known_peer)
    return CoSignedState(
        round=round_,
        signed_tx=signed,
        tx=text,
        accepted=accepted,
        checks=checks,
        balances=ledger.balances_api() if accepted else None,
        left=left,
    )
