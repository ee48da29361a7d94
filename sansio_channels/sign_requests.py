"""A sign request from the node to its answer: what a ``channels.sign.*`` frame offers, whose
operation it belongs to, what the application's signature or abort becomes on the wire.

The functions receive values (the frame's data, the signing context, the ledger, the
participants) and return values; the channel sends what they return and keeps the request
that is not answered yet. Whatever the node sent wrong raises :class:`RemoteProtocolError`;
whatever the application asked wrong raises :class:`LocalProtocolError`, before anything is
written or sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import crypto, rpc
from .checks import sign_tag_for
from .encoding import Id
from .errors import LocalProtocolError
from .events import SignRequest
from .ledger import Ledger, Participants, is_own_operation_tag
from .node_data import envelope_agrees, string_of
from .offchain import updates_from_json
from .options import Role
from .signing_context import SigningContext
from .txs import (
    CREATE_TXS,
    OffChainUpdate,
    SignedTx,
    decode_signed_tx,
    encode_tx,
)

__all__ = ["abort_params", "learnt_peer", "offered", "own_request", "signature", "signed_params"]


def offered(
    tag: rpc.SignTag, data: Mapping[str, Any], envelope: str | None
) -> tuple[SignedTx, str, tuple[OffChainUpdate, ...]]:
    """What a sign request offers: the tx, its text and the updates the node says it holds.
    A request whose envelope names another channel than its tx is refused."""
    text = string_of(data, "signed_tx", tag.request_method)
    signed = decode_signed_tx(text)
    envelope_agrees(tag, envelope, signed)
    return signed, text, updates_from_json(data.get("updates", []))


def own_request(context: SigningContext, tag: rpc.SignTag) -> bool:
    """Whether a request of ``tag`` is the one of the own operation under way.

    An own request of another kind than the operation under way is not its: the node serves
    late a request it postponed from an earlier connection (the checks refuse it)."""
    pending = context.pending
    return (
        pending is not None
        and sign_tag_for(pending.kind) == tag.tag
        and is_own_operation_tag(tag.tag)
    )


def learnt_peer(signed: SignedTx, role: Role) -> Id | None:
    """The peer a create tx names (a responder that opened with ``initiator_id=any`` learns
    the initiator from it); None for any other tx."""
    inner = crypto.inner_tx(signed)
    if not isinstance(inner, CREATE_TXS):
        return None
    return inner.initiator_id if role is Role.RESPONDER else inner.responder_id


def signature(
    request: SignRequest, signer: crypto.Signer, *, account: Id, network_id: str
) -> tuple[SignedTx, bytes | None]:
    """The request's tx signed by ``signer``, which must be ``account``'s, and the signature
    our own key pair made (valid by construction, so the reply check need not verify it);
    None for any other signer, whose signature is verified."""
    if signer.address != account.api:
        raise LocalProtocolError(
            f"the signer is {signer.address}, the channel's account is {account.api}"
        )
    made = signer.sign_tx(request.signed_tx.transaction.serialize(), network_id)
    signed = crypto.add_signature(request.signed_tx, made)
    return signed, made if type(signer) is crypto.KeyPair else None


def abort_params(request: SignRequest, error: int) -> dict[str, Any]:
    """The params of the reply that aborts ``request`` with the code ``error``."""
    if not request.tag.abortable:
        raise LocalProtocolError(f"{request.tag.tag} cannot be aborted; disconnect instead")
    if not rpc.AbortCode.is_valid(error):
        raise LocalProtocolError(f"abort code {error!r} is not in 1..65535")
    return {"error": error}


def signed_params(
    request: SignRequest,
    signed: SignedTx,
    made: bytes | None,
    *,
    ledger: Ledger,
    participants: Participants,
) -> dict[str, Any]:
    """The params of the reply that carries ``signed``, once it is checked to be the offered
    tx signed by our account; the ledger writes it ahead of the reply leaving."""
    known = ledger.check_reply(participants, request.signed_tx, signed, made)
    text = encode_tx(signed)
    ledger.signed(request.tag.tag, signed, text, known)
    return {"signed_tx": text}
