"""What the channel tells the application: frozen, slotted, keyword-only event objects.

``Channel.next_event()`` hands them out one at a time. Every event is complete when it is
built; none is filled in later. A :class:`SignRequest` is the one event that wants an answer,
and carries the methods that give it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from .checks import CheckReport
from .codec import JSON
from .commands import Command
from .crypto import Signer
from .errors import DecodingError, LocalProtocolError, RemoteProtocolError
from .rpc import SignTag
from .state import ChannelState
from .trees import StateTrees
from .txs import OffChainUpdate, SignedTx, decode_signed_tx

__all__ = [
    "ChannelErrorReported",
    "CoSignedState",
    "Conflict",
    "Event",
    "FailureReason",
    "FsmUp",
    "Info",
    "MessageReceived",
    "NodeError",
    "OffChainStateFetched",
    "OnChainTx",
    "Operation",
    "OperationAccepted",
    "OperationFailed",
    "OperationQueued",
    "OperationStarted",
    "Pong",
    "ProtocolViolation",
    "QueryResult",
    "SignRequest",
    "StateChanged",
]


class Event:
    """Base of every event."""

    __slots__ = ()


@attrs.frozen(kw_only=True)
class Operation:
    """The handle of a command given to the channel; its outcome arrives as an event."""

    id: int
    command: Command


@attrs.frozen(kw_only=True)
class StateChanged(Event):
    """The channel's life cycle moved."""

    previous: ChannelState
    state: ChannelState


@attrs.frozen(kw_only=True)
class FsmUp(Event):
    """The node runs an FSM for us; its id must be kept to reconnect or reestablish.

    ``reconnected`` is true when it is the FSM we were attached to before (same id).
    """

    fsm_id: str
    reconnected: bool


@attrs.frozen(kw_only=True)
class Info(Event):
    """A ``channels.info`` report with no event of its own (``channel_open``, ...).

    ``data`` is the report's data, as the node sent it.
    """

    event: str
    data: Mapping[str, Any] = attrs.field(hash=False)


@attrs.frozen(kw_only=True)
class OnChainTx(Event):
    """``channels.on_chain_tx``: a channel tx was co-signed, posted or seen on chain."""

    info: str
    tx_type: str
    tx: str
    signed_tx: SignedTx | None  # None when the node's ``tx`` does not decode


@attrs.frozen(kw_only=True)
class CoSignedState(Event):
    """A co-signed state arrived (``channels.update``, or ``channels.leave``).

    ``accepted`` tells whether it passed the checks and is now the channel's latest state;
    ``checks`` says why or why not. ``balances`` are the participants' balances in it, when the
    client can know them (pubkey bytes as ``ak_`` strings).
    """

    round: int | None
    signed_tx: SignedTx
    tx: str
    accepted: bool
    checks: CheckReport
    balances: Mapping[str, int] | None = attrs.field(hash=False)
    left: bool = False  # it came with channels.leave


@attrs.frozen(kw_only=True)
class OperationQueued(Event):
    """Another own operation is under way; this one waits its turn."""

    operation: Operation
    ahead: int


@attrs.frozen(kw_only=True)
class OperationStarted(Event):
    """The request of an own operation (or a query) left for the node."""

    operation: Operation


@attrs.frozen(kw_only=True)
class OperationAccepted(Event):
    """An own operation went through: co-signed (``round``) or, for a solo tx, on its way."""

    operation: Operation
    round: int | None


class FailureReason(enum.Enum):
    """Why an operation failed (:class:`OperationFailed` ``reason``)."""

    NODE_ERROR = "node_error"  # the node refused the request
    CONFLICT = "conflict"  # the node rolled back the update
    ABORTED = "aborted"  # we aborted the sign request
    CHANNEL_GONE = "channel_gone"  # the FSM stopped or the channel closed before it ended


@attrs.frozen(kw_only=True)
class OperationFailed(Event):
    """An operation ended without its effect: the node refused it, a conflict or an abort
    rolled it back, or the channel or connection went away first. ``error_code`` is the node's
    error code, or the conflict's or abort's code, when there is one."""

    operation: Operation
    reason: FailureReason
    detail: str
    error_code: int | None = None  # the node's error code or the conflict's / abort's code


@attrs.frozen(kw_only=True)
class QueryResult(Event):
    """The answer to a query (``get_balances``, ``dry_run``, ...), as the node sent it.

    ``result`` is the reply's decoded JSON; :attr:`balances` reads a ``get_balances`` answer.
    """

    operation: Operation
    result: JSON = attrs.field(hash=False)

    @property
    def balances(self) -> dict[str, int]:
        """A ``get_balances`` answer by account: ``{"ak_...": balance}``.

        These are the node's word, which nothing in the answer lets the client check (the
        balances of :class:`OffChainStateFetched` are checked). :class:`RemoteProtocolError`
        when ``result`` is not a list of ``{"account": ..., "balance": ...}``.
        """
        problem = RemoteProtocolError(f"not a get_balances answer: {self.result!r:.200}")
        if not isinstance(self.result, list):
            raise problem
        balances: dict[str, int] = {}
        for row in self.result:
            if not isinstance(row, dict):
                raise problem
            account, balance = row.get("account"), row.get("balance")
            if not isinstance(account, str) or type(balance) is not int:
                raise problem
            balances[account] = balance
        return balances


@attrs.frozen(kw_only=True)
class OffChainStateFetched(Event):
    """A ``GetOffchainState`` answer, rebuilt and checked by the library.

    ``verified`` says that the trees hash to the state hash of the signed state beside them and
    that it carries valid signatures of both participants: balances and contract stores read
    from ``trees`` can then be trusted. ``detail`` says what failed otherwise.
    """

    operation: Operation
    signed_tx: SignedTx | None
    round: int | None
    trees: StateTrees | None = attrs.field(eq=False)
    verified: bool
    detail: str
    balances: Mapping[str, int] | None = attrs.field(hash=False)  # ak_/ct_ -> balance


@attrs.frozen(kw_only=True)
class NodeError(Event):
    """The node refused something with an error reply.

    ``operation`` is the operation it answers, when the channel could tell which;
    ``likely_cause`` what most often leads to the error, when the channel can tell (for a bad
    signature, the network id our signatures were made for).
    """

    code: int
    message: str
    data: tuple[tuple[int, str], ...]
    request: Mapping[str, Any] | None = attrs.field(hash=False)
    operation: Operation | None
    likely_cause: str | None = None

    @property
    def data_codes(self) -> tuple[int, ...]:
        return tuple(code for code, _ in self.data)


@attrs.frozen(kw_only=True)
class Conflict(Event):
    """The node rolled back an update to ``round``, the last co-signed round."""

    round: int
    error_code: int
    error_msg: str


@attrs.frozen(kw_only=True)
class ChannelErrorReported(Event):
    """``channels.error``: the node's FSM reports an error, e.g. a bad signature in a reply.

    ``likely_cause``, when the channel can tell one, says what most often leads to
    ``message``: for ``bad_signature``, the network id our signatures were made for.
    """

    message: str
    likely_cause: str | None = None


@attrs.frozen(kw_only=True)
class MessageReceived(Event):
    """A generic message from the peer (``channels.message``)."""

    from_id: str
    to_id: str
    info: str


@attrs.frozen(kw_only=True)
class Pong(Event):
    """The node answered ``channels.system`` ping."""


@attrs.frozen(kw_only=True)
class ProtocolViolation(Event):
    """The node sent something the protocol does not allow; it changed nothing.

    ``frame`` is what arrived, as decoded.
    """

    reason: str
    frame: Any = attrs.field(hash=False)


class SignResponder(Protocol):
    """What a :class:`SignRequest` answers through (the channel that made it)."""

    def _answer_sign_request(
        self, request: SignRequest, signed: SignedTx | None, error: int | None
    ) -> None: ...

    def _sign_for(self, request: SignRequest, signer: Signer) -> SignedTx: ...


@attrs.frozen(kw_only=True)
class SignRequest(Event):
    """The node asks us to sign a tx (``channels.sign.<tag>``). Nothing is signed unless asked.

    ``checks`` is what the channel verified about the tx before offering it; :meth:`sign`
    refuses a request whose checks failed. ``operation`` is our own operation this request
    belongs to, or None when the peer (or the open handshake) started it.
    """

    tag: SignTag
    signed_tx: SignedTx
    tx: str
    updates: tuple[OffChainUpdate, ...]
    checks: CheckReport
    operation: Operation | None
    _responder: SignResponder = attrs.field(alias="responder", repr=False, eq=False)

    @property
    def safe(self) -> bool:
        """Nothing failed the checks (some may not have been possible; see ``checks``)."""
        return self.checks.ok

    def sign(self, signer: Signer, *, accept_failed_checks: bool = False) -> None:
        """Sign with ``signer`` and send the reply. Refuses if a check failed, unless told."""
        if not self.checks.ok and not accept_failed_checks:
            failed = ", ".join(f"{c.name}: {c.detail}" for c in self.checks.failed)
            raise LocalProtocolError(f"refusing to sign {self.tag.tag}: {failed}")
        self._responder._answer_sign_request(self, self._responder._sign_for(self, signer), None)

    def respond(self, signed_tx: str | SignedTx) -> None:
        """Send a tx signed elsewhere (a hardware or remote signer, or a generalized account).

        It must hold the same inner tx and a valid signature by our account (or be a
        generalized account's meta tx around it); anything else is refused.
        """
        if isinstance(signed_tx, str):
            try:
                signed_tx = decode_signed_tx(signed_tx)
            except DecodingError as exc:
                raise LocalProtocolError(f"not a signed tx: {exc}") from None
        self._responder._answer_sign_request(self, signed_tx, None)

    def abort(self, code: int) -> None:
        """Refuse the request with an error code (4 "abort", or 128..65535 of your own)."""
        self._responder._answer_sign_request(self, None, code)
