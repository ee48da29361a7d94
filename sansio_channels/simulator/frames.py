"""The node's side of the wire: the frames it sends, and how it reads request params.

Frame shapes follow the recorded sessions (``"version": 1`` on everything, ``channel_id``
null until the channel has an id). A refusal is raised as :class:`NodeError` wherever it is
found and becomes an error frame at the top.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from .. import encoding, txs
from ..encoding import Id, IdTag
from ..errors import DecodingError
from ..offchain import updates_to_json
from ..rpc import AbortCode, ErrorCode, ErrorDataCode

__all__ = [
    "NodeError",
    "account_param",
    "conflict",
    "error",
    "error_message",
    "info",
    "int_param",
    "meta_param",
    "notification",
    "on_chain_tx",
    "optional_int",
    "result",
    "sign_request",
]

JSONRPC: Final = "2.0"
VERSION: Final = 1


class NodeError(Exception):
    """A request the node refuses: ``code`` and the data codes of the error frame."""

    def __init__(self, code: ErrorCode, *data: ErrorDataCode) -> None:
        super().__init__(f"{code.name}: {', '.join(d.name for d in data)}")
        self.code = code
        self.data = data

    @classmethod
    def rejected(cls, data: ErrorDataCode) -> NodeError:
        return cls(ErrorCode.REJECTED, data)

    @classmethod
    def internal(cls) -> NodeError:
        """The bare -32603 of every FSM refusal without a mapping (unknown_request, ...)."""
        return cls(ErrorCode.INTERNAL_ERROR)

    @classmethod
    def not_found(cls) -> NodeError:
        """-32601: an unknown method, or a required param missing."""
        return cls(ErrorCode.METHOD_NOT_FOUND)


# --- frames ------------------------------------------------------------------------------


def notification(method: str, channel_id: str | None, data: Any) -> dict[str, Any]:
    return {
        "jsonrpc": JSONRPC,
        "method": method,
        "params": {"channel_id": channel_id, "data": data},
        "version": VERSION,
    }


def info(channel_id: str | None, event: str, **extra: Any) -> dict[str, Any]:
    return notification("channels.info", channel_id, {"event": event, **extra})


def on_chain_tx(channel_id: str | None, what: str, signed: txs.SignedTx) -> dict[str, Any]:
    data = {"info": what, "tx": txs.encode_tx(signed), "type": signed.transaction.TYPE}
    return notification("channels.on_chain_tx", channel_id, data)


def sign_request(
    channel_id: str | None, tag: str, signed: txs.SignedTx, updates: Iterable[txs.OffChainUpdate]
) -> dict[str, Any]:
    data = {"signed_tx": txs.encode_tx(signed), "updates": updates_to_json(updates)}
    return notification("channels.sign." + tag, channel_id, data)


def error_message(code: int) -> str:
    """The ``error_msg`` a conflict carries for an abort or rollback code."""
    if code >= 128:
        return "user-defined"
    try:
        return AbortCode(code).message
    except ValueError:
        return "unknown"


def conflict(channel_id: str | None, round_: int, code: int) -> dict[str, Any]:
    data = {
        "channel_id": channel_id,
        "error_code": code,
        "error_msg": error_message(code),
        "round": round_,
    }
    return notification("channels.conflict", channel_id, data)


def result(channel_id: str | None, request_id: Any, value: Any) -> dict[str, Any]:
    return {
        "channel_id": channel_id,
        "id": request_id,
        "jsonrpc": JSONRPC,
        "result": value,
        "version": VERSION,
    }


def error(
    channel_id: str | None, request_id: Any, problem: NodeError, request: Mapping[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": int(problem.code), "message": problem.code.message}
    if problem.data:
        body["data"] = [{"code": int(code), "message": code.message} for code in problem.data]
    body["request"] = dict(request)
    return {
        "channel_id": channel_id,
        "error": body,
        "id": request_id,
        "jsonrpc": JSONRPC,
        "version": VERSION,
    }


# --- params ------------------------------------------------------------------------------


def _required(params: Mapping[str, Any], key: str) -> Any:
    if key not in params:
        raise NodeError.not_found()
    return params[key]


def int_param(params: Mapping[str, Any], key: str) -> int:
    """A required integer: a string or float is 1008 "Not a number"."""
    value = _required(params, key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise NodeError.rejected(ErrorDataCode.NOT_A_NUMBER)
    return value


def optional_int(params: Mapping[str, Any], key: str) -> int | None:
    return int_param(params, key) if key in params else None


def on_chain_params(params: Mapping[str, Any]) -> tuple[int | None, int | None, int | None]:
    """The optional ``fee``, ``gas_price`` and ``nonce`` of a request that makes an on-chain
    tx."""
    fee, gas_price, nonce = (optional_int(params, key) for key in ("fee", "gas_price", "nonce"))
    return fee, gas_price, nonce


def account_param(params: Mapping[str, Any], key: str) -> Id:
    """A required ``ak_`` id: anything else is 1005 "Broken encoding: account pubkey"."""
    value = _required(params, key)
    try:
        return Id.from_api(value, IdTag.ACCOUNT) if isinstance(value, str) else _bad_account()
    except (DecodingError, ValueError):
        return _bad_account()


def _bad_account() -> Id:
    raise NodeError.rejected(ErrorDataCode.BROKEN_ENCODING_ACCOUNT)


def meta_param(params: Mapping[str, Any]) -> tuple[bytes, ...]:
    """The optional ``meta`` list of strings (OffChainMeta data); else 1014."""
    value = params.get("meta", [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise NodeError.rejected(ErrorDataCode.INVALID_META)
    return tuple(item.encode("utf-8") for item in value)


def decode_reply_tx(params: Mapping[str, Any]) -> txs.SignedTx:
    """The ``signed_tx`` of a sign reply; 1010 if it is not one."""
    value = _required(params, "signed_tx")
    try:
        if isinstance(value, str):
            return txs.decode_signed_tx(value)
    except DecodingError:
        pass
    raise NodeError.rejected(ErrorDataCode.BROKEN_ENCODING_TRANSACTION)


def fsm_id_text(payload: bytes) -> str:
    return encoding.encode("ba", payload)
