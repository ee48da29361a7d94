"""Reading what the node's notifications carry: objects and strings of their data, whether a
sign request's envelope names the channel of its tx, balances by address, the reports that
become events as they are (on-chain txs, conflicts, messages).

Whatever is wrong raises :class:`RemoteProtocolError`, which the channel turns into a
:class:`~sansio_channels.events.ProtocolViolation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import crypto, encoding, rpc
from .checks import derived_channel_id
from .encoding import Id
from .errors import DecodingError, RemoteProtocolError
from .events import Conflict, MessageReceived, NodeError, OnChainTx, Operation
from .operations import SignTag
from .trees import StateTrees
from .txs import CREATE_TXS, SignedTx, decode_signed_tx

__all__ = [
    "api_balances",
    "bad_signature_cause",
    "conflict_of",
    "envelope_agrees",
    "message_of",
    "node_error_of",
    "object_of",
    "on_chain_tx_of",
    "string_of",
]


def object_of(value: Any, where: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):  # JSON's are dicts: quick
        raise RemoteProtocolError(f"{where}: data is not an object")
    return value


def string_of(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise RemoteProtocolError(f"{where}: {key} is missing or not a string")
    return value


def envelope_agrees(tag: SignTag, envelope: str | None, signed: SignedTx) -> None:
    """A sign request's ``params.channel_id`` names the channel of the tx it carries."""
    if envelope is None:
        return  # the open handshake's requests come before the channel has an id
    tx = crypto.inner_tx(signed)
    creates = isinstance(tx, CREATE_TXS)
    named = derived_channel_id(signed) if creates else getattr(tx, "channel_id", None)
    if isinstance(named, Id) and named.api != envelope:
        raise RemoteProtocolError(
            f"{tag.request_method} names channel {envelope}, its tx is for {named.api}"
        )


def api_balances(trees: StateTrees) -> dict[str, int]:
    """Account balances by address; a contract's own account under its ``ct_`` id."""
    contracts = trees.contract_keys()
    return {
        encoding.encode("ct" if key in contracts else "ak", key): balance
        for key, balance in trees.accounts().items()
    }


def on_chain_tx_of(data: Mapping[str, Any]) -> OnChainTx:
    """A ``channels.on_chain_tx`` report; a tx that does not decode is kept as its text."""
    info = string_of(data, "info", "on_chain_tx")
    text = string_of(data, "tx", "on_chain_tx")
    tx_type = data.get("type")
    try:
        signed: SignedTx | None = decode_signed_tx(text)
    except DecodingError:
        signed = None
    return OnChainTx(
        info=info, tx_type=tx_type if isinstance(tx_type, str) else "", tx=text, signed_tx=signed
    )


def conflict_of(data: Mapping[str, Any]) -> Conflict:
    """A ``channels.conflict`` report: the round the node rolled back to, and why."""
    round_, code, message = data.get("round"), data.get("error_code"), data.get("error_msg")
    if not isinstance(round_, int) or isinstance(round_, bool):
        raise RemoteProtocolError("channels.conflict without a round")
    return Conflict(
        round=round_,
        error_code=code if isinstance(code, int) and not isinstance(code, bool) else 0,
        error_msg=message if isinstance(message, str) else "",
    )


def message_of(data: Mapping[str, Any]) -> MessageReceived:
    """A ``channels.message`` from the peer."""
    message = object_of(data.get("message"), "channels.message")
    return MessageReceived(
        from_id=string_of(message, "from", "message"),
        to_id=string_of(message, "to", "message"),
        info=string_of(message, "info", "message"),
    )


def bad_signature_cause(network_id: str) -> str:
    """The likely cause of the node's "bad signature" answer.

    A signature made for another network id fails every check the node makes, and the node
    says no more than "bad signature": name the network id we signed for."""
    return (
        f"our signatures are made for network id {network_id!r}; a node of another "
        "network (ae_mainnet, ae_uat, ae_dev, ...) finds every one of them bad"
    )


def node_error_of(reply: rpc.ErrorReply, operation: Operation | None, network_id: str) -> NodeError:
    """The node's error answer to ``operation`` (None: to no request of ours we know)."""
    bad_signature = rpc.ErrorDataCode.BAD_SIGNATURE in (code for code, _ in reply.data)
    return NodeError(
        code=reply.code,
        message=reply.message,
        data=reply.data,
        request=reply.request,
        operation=operation,
        likely_cause=bad_signature_cause(network_id) if bad_signature else None,
    )
