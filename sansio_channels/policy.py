"""Policies: who answers a sign request, the application or a rule it chose.

A policy looks at a :class:`~sansio_channels.events.SignRequest` and decides: sign it, abort it,
or hand it to the application. It never signs by itself; :func:`answer` carries the decision
out with the signer the application gave. The default policy signs only what passed every check
and is routine: the open handshake we asked for, our own operations, and payments to us.
"""

from __future__ import annotations

import enum
import logging
from typing import Final, Protocol

import attrs

from .crypto import Signer
from .events import SignRequest
from .rpc import AbortCode
from .txs import OffChainMeta, OffChainTransfer

__all__ = ["AskPolicy", "Decision", "DefaultPolicy", "Policy", "answer"]


class Decision(enum.Enum):
    """What a policy decides about a sign request."""

    SIGN = "sign"
    ABORT = "abort"  # refuse with the validation error code
    ASK = "ask"  # hand the request to the application


class Policy(Protocol):
    """Anything that decides about sign requests: :class:`DefaultPolicy`, :class:`AskPolicy`,
    or the application's own rule."""

    def decide(self, request: SignRequest, account: str) -> Decision:
        """What to do with ``request`` for our ``account`` (``ak_...``)."""
        ...


_OPENING: Final = frozenset({"initiator_sign", "responder_sign"})
_log = logging.getLogger(__name__)


@attrs.frozen
class DefaultPolicy:
    """Signs the routine, refuses what failed a check, asks about the rest.

    Routine: the create tx of the channel we asked to open, the sign requests of our own
    operations, and a peer's update that only pays us (transfers to our account, meta data).
    With ``require_all_checks`` (the default), a request with a check that could not be made
    (contracts in the channel, a stale state after a reconnect) is asked about, not signed.
    """

    require_all_checks: bool = True

    def decide(self, request: SignRequest, account: str) -> Decision:
        """Sign the routine, abort what failed a check (ask, where it cannot be aborted)."""
        if not request.checks.ok:
            return Decision.ABORT if request.tag.abortable else Decision.ASK
        # The proof of inclusion is the node's to build; it is never checked.
        if self.require_all_checks and any(
            check.name != "poi" for check in request.checks.not_checked
        ):
            return Decision.ASK
        if request.tag.tag in _OPENING or request.operation is not None:
            return Decision.SIGN
        if request.tag.tag == "update_ack" and _pays_us(request, account):
            return Decision.SIGN
        return Decision.ASK


@attrs.frozen
class AskPolicy:
    """Hands every request to the application."""

    def decide(self, request: SignRequest, account: str) -> Decision:
        """Always :attr:`Decision.ASK`."""
        return Decision.ASK


def _pays_us(request: SignRequest, account: str) -> bool:
    transfers = [u for u in request.updates if not isinstance(u, OffChainMeta)]
    return bool(transfers) and all(
        isinstance(u, OffChainTransfer) and u.to_id.api == account for u in transfers
    )


# How a decision is logged: its level (routine signing is DEBUG, a request handed to the
# application INFO, a refusal WARNING) and what was done.
_LOGGED: Final = {
    Decision.SIGN: (logging.DEBUG, "signed"),
    Decision.ASK: (logging.INFO, "handed to the application"),
    Decision.ABORT: (logging.WARNING, "aborted"),
}


def checks_summary(request: SignRequest) -> str:
    """The checks of ``request`` that failed or could not be made, as a log line's tail."""
    failed = "; ".join(f"{check.name}: {check.detail}" for check in request.checks.failed)
    unchecked = ", ".join(check.name for check in request.checks.not_checked)
    return (f"; failed: {failed}" if failed else "") + (
        f"; not checked: {unchecked}" if unchecked else ""
    )


def answer(request: SignRequest, policy: Policy, signer: Signer) -> bool:
    """Carry out the policy's decision; False when the application must answer itself."""
    decision = policy.decide(request, signer.address)
    if decision is Decision.SIGN:
        request.sign(signer)
    elif decision is Decision.ABORT:
        request.abort(AbortCode.VALIDATION)
    # Who decided what, on which checks: the record of every decision made for the application.
    level, done = _LOGGED[decision]
    if _log.isEnabledFor(level):
        _log.log(
            level,
            "%s: %s %s by %s%s",
            signer.address,
            request.tag.tag,
            done,
            type(policy).__name__,
            checks_summary(request),
        )
    return decision is not Decision.ASK
