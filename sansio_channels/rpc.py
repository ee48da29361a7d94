"""The JSON-RPC layer under the channel state machine.

Inbound, :func:`parse_frame` turns one decoded JSON value into a typed message: a
:class:`Notification`, a :class:`ResultReply`, an :class:`ErrorReply`, or a :class:`Batch` of
them. Whatever is wrong with the value, only :class:`RemoteProtocolError` comes out, and its
message says what was wrong and where.

Outbound, :func:`build_request` makes the plain dict the adapter JSON-encodes, and
:class:`RequestTable` allocates ids and matches replies to what was asked.

The tables the channel needs from this layer live here as data: the node's error codes
(:class:`ErrorCode`, :class:`ErrorDataCode`), the abort codes of a sign reply
(:class:`AbortCode`); the sign tags come from the operation table (:mod:`.operations`).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, Generic, TypeAlias, TypeGuard, TypeVar

import attrs

from . import encoding
from .errors import DecodingError, LocalProtocolError, RemoteProtocolError
from .operations import SIGN_TAGS, SignTag

__all__ = [
    "API_VERSION",
    "JSONRPC_VERSION",
    "SIGN_TAGS",
    "AbortCode",
    "Batch",
    "ErrorCode",
    "ErrorDataCode",
    "ErrorReply",
    "Message",
    "Notification",
    "PendingRequest",
    "RequestId",
    "RequestTable",
    "ResultReply",
    "SignTag",
    "build_request",
    "parse_frame",
    "parse_text",
    "sign_tag_for_reply",
]

JSONRPC_VERSION: Final = "2.0"
API_VERSION: Final = 1  # the "version" of the node's channel API frames
RequestId: TypeAlias = "int | str"


# -- error codes ------------------------------------------------------------------------------


class ErrorCode(enum.IntEnum):
    """The top-level ``error.code`` of a node error reply."""

    PARSE_ERROR = -32700  # in the node's table, never sent: bad frames are dropped
    INVALID_REQUEST = -32000  # likewise never sent
    METHOD_NOT_FOUND = -32601  # unknown method, or required params missing
    INVALID_PARAMS = -32602  # in the table, unused
    INTERNAL_ERROR = -32603  # every FSM refusal without a mapping (unknown_request, ...)
    UNAUTHORIZED = 1  # unused
    ACTION_NOT_ALLOWED = 2  # only with data 1012
    REJECTED = 3  # everything else

    @property
    def message(self) -> str:
        """The ``error.message`` the node sends with this code."""
        return _ERROR_MESSAGES[self]


_ERROR_MESSAGES: Final = {
    ErrorCode.PARSE_ERROR: "Parse error",
    ErrorCode.INVALID_REQUEST: "Invalid request",
    ErrorCode.METHOD_NOT_FOUND: "Method not found",
    ErrorCode.INVALID_PARAMS: "Invalid params",
    ErrorCode.INTERNAL_ERROR: "Internal error",
    ErrorCode.UNAUTHORIZED: "Unauthorized",
    ErrorCode.ACTION_NOT_ALLOWED: "Action not allowed",
    ErrorCode.REJECTED: "Rejected",
}


class ErrorDataCode(enum.IntEnum):
    """The ``code`` of an entry of ``error.data``: why the node refused."""

    NOT_FOUND = 100
    REQUIRES_COIN = 101  # in the table, never raised
    GAS_TOO_LOW = 102  # in the table, never raised
    GAS_LIMIT_EXCEEDED = 103  # in the table, never raised
    REJECTED = 104
    VALUE_TOO_LOW = 105
    TIMEOUT = 106  # in the table, never raised
    CONFLICT = 107  # nodes since 2020 report races as channels.conflict instead
    NOT_READY = 108
    INSUFFICIENT_BALANCE = 1001
    NEGATIVE_AMOUNT = 1002
    INVALID_PUBKEYS = 1003
    CALL_NOT_FOUND = 1004
    BROKEN_ENCODING_ACCOUNT = 1005
    BROKEN_ENCODING_CONTRACT = 1006
    CONTRACT_INIT_FAILED = 1007
    NOT_A_NUMBER = 1008
    BROKEN_ENCODING_BYTEARRAY = 1009
    BROKEN_ENCODING_TRANSACTION = 1010
    PARTICIPANT_NOT_FOUND = 1011
    OFFCHAIN_TX_EXPECTED = 1012
    TX_ALREADY_ON_CHAIN = 1013
    INVALID_META = 1014
    INVALID_ERROR_CODE = 1015  # defined, unused: bad abort codes give -32603
    INVALID_FSM_ID = 1016
    BAD_SIGNATURE = 1017
    NOT_ALLOWED_NOW = 1018
    ABI_VERSION_MISMATCH = 1019
    VM_VERSION_MISMATCH = 1020
    MISSING_FSM_ID = 2000

    @property
    def message(self) -> str:
        """The ``message`` the node sends with this code."""
        return _DATA_MESSAGES[self]


_DATA_MESSAGES: Final = {
    ErrorDataCode.NOT_FOUND: "X doesn't exist",
    ErrorDataCode.REQUIRES_COIN: "Requires coin",
    ErrorDataCode.GAS_TOO_LOW: "Gas too low",
    ErrorDataCode.GAS_LIMIT_EXCEEDED: "Gas limit exceeded",
    ErrorDataCode.REJECTED: "Rejected",
    ErrorDataCode.VALUE_TOO_LOW: "Value too low",
    ErrorDataCode.TIMEOUT: "Timeout",
    ErrorDataCode.CONFLICT: "Conflict",
    ErrorDataCode.NOT_READY: "Not ready",
    ErrorDataCode.INSUFFICIENT_BALANCE: "Insufficient balance",
    ErrorDataCode.NEGATIVE_AMOUNT: "Negative amount",
    ErrorDataCode.INVALID_PUBKEYS: "Invalid pubkeys",
    ErrorDataCode.CALL_NOT_FOUND: "Call not found",
    ErrorDataCode.BROKEN_ENCODING_ACCOUNT: "Broken encoding: account pubkey",
    ErrorDataCode.BROKEN_ENCODING_CONTRACT: "Broken encoding: contract pubkey",
    ErrorDataCode.CONTRACT_INIT_FAILED: "Contract init failed",
    ErrorDataCode.NOT_A_NUMBER: "Not a number",
    ErrorDataCode.BROKEN_ENCODING_BYTEARRAY: "Broken encoding: contract bytearray",
    ErrorDataCode.BROKEN_ENCODING_TRANSACTION: "Broken encoding: transaction",
    ErrorDataCode.PARTICIPANT_NOT_FOUND: "Participant not found",
    ErrorDataCode.OFFCHAIN_TX_EXPECTED: "Offchain tx expected",
    ErrorDataCode.TX_ALREADY_ON_CHAIN: "Tx already on-chain",
    ErrorDataCode.INVALID_META: "Invalid meta object",
    ErrorDataCode.INVALID_ERROR_CODE: "Invalid error code (expect 1...65535)",
    ErrorDataCode.INVALID_FSM_ID: "Invalid fsm id",
    ErrorDataCode.BAD_SIGNATURE: "Bad signature",
    ErrorDataCode.NOT_ALLOWED_NOW: "Not allowed at current channel state",
    ErrorDataCode.ABI_VERSION_MISMATCH: "ABI version mismatch",
    ErrorDataCode.VM_VERSION_MISMATCH: "VM version mismatch",
    ErrorDataCode.MISSING_FSM_ID: "Missing field: existing_fsm_id",
}


class AbortCode(enum.IntEnum):
    """Codes a client may abort a sign request with (``{"error": N}``).

    Any int in 128..65535 is a user-defined code; the peer sees it in ``channels.conflict``.
    """

    VALIDATION = 1
    CONFLICT = 2
    TIMEOUT = 3
    ABORT = 4
    REJECTED_ON_CHAIN = 5

    @property
    def message(self) -> str:
        """The ``error_msg`` of the ``channels.conflict`` the peer gets for this code."""
        return _ABORT_MESSAGES[self]

    @staticmethod
    def is_valid(code: int) -> bool:
        """Whether the node accepts ``code`` in an abort (1..65535; else -32603)."""
        return isinstance(code, int) and not isinstance(code, bool) and 1 <= code <= 65535


_ABORT_MESSAGES: Final = {
    AbortCode.VALIDATION: "validation error",
    AbortCode.CONFLICT: "conflict",
    AbortCode.TIMEOUT: "timeout",
    AbortCode.ABORT: "abort",
    AbortCode.REJECTED_ON_CHAIN: "rejected on-chain",
}


# -- sign tags ---------------------------------------------------------------------------------

# The sign tags are a column of the operation table (operations.SIGN_TAGS); replies are looked
# up by their method here.
_BY_REPLY: Final = {
    method: row for row in SIGN_TAGS.values() for method in (row.reply_method, *row.aliases)
}


def sign_tag_for_reply(method: str) -> SignTag | None:
    """The sign tag a reply method (or one of its aliases) answers, if it is one."""
    return _BY_REPLY.get(method)


# -- field checks -----------------------------------------------------------------------------


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: object) -> str:
    """A short description of a hostile value: never a huge repr, never a deep walk."""
    if isinstance(value, str):
        return repr(encoding.short(value))
    if _is_int(value):
        # str() of an int with thousands of digits raises, and says nothing useful anyway.
        return str(value) if abs(value) < 10**30 else f"an int of {value.bit_length()} bits"
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    return f"a {type(value).__name__}"


_Validator: TypeAlias = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _id(nullable: bool) -> _Validator:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if (value is None and nullable) or _is_int(value) or isinstance(value, str):
            return
        kinds = "an int, a string or null" if nullable else "an int or a string"
        raise LocalProtocolError(f"{attribute.name}: expected {kinds}, got {_describe(value)}")

    return check


def _int(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not _is_int(value):
        raise LocalProtocolError(f"{attribute.name}: expected an int, got {_describe(value)}")


def _api_version(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # The node's channel API is version 1; a frame of another version is not one we understand.
    if value is not None and (not _is_int(value) or value != API_VERSION):
        raise LocalProtocolError(
            f"version: expected {API_VERSION}, the channel API's, got {_describe(value)}"
        )


def _str(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise LocalProtocolError(f"{attribute.name}: expected a string, got {_describe(value)}")


def _channel_id(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise LocalProtocolError(
            f"{attribute.name}: expected a ch_ string or null, got {_describe(value)}"
        )
    try:
        encoding.decode(value, "ch")
    except DecodingError as exc:
        raise LocalProtocolError(f"{attribute.name}: {exc}") from None


def _known(enum_type: type[enum.IntEnum], value: int) -> int:
    """A known code becomes its enum member (nicer repr, same int); others stay plain ints."""
    try:
        return enum_type(value)
    except ValueError:
        return value


def _error_code(value: Any) -> Any:
    return _known(ErrorCode, value) if _is_int(value) else value


def _error_data(value: object) -> tuple[tuple[int, str], ...]:
    if not isinstance(value, (list, tuple)):
        raise LocalProtocolError(f"data: expected a list, got {_describe(value)}")
    entries: list[tuple[int, str]] = []
    for i, entry in enumerate(value):
        if isinstance(entry, Mapping):
            code, message = entry.get("code"), entry.get("message")
        elif isinstance(entry, tuple) and len(entry) == 2:
            code, message = entry
        else:
            raise LocalProtocolError(
                f"data[{i}]: expected an object with code and message, got {_describe(entry)}"
            )
        if not _is_int(code):
            raise LocalProtocolError(f"data[{i}].code: expected an int, got {_describe(code)}")
        if not isinstance(message, str):
            raise LocalProtocolError(
                f"data[{i}].message: expected a string, got {_describe(message)}"
            )
        entries.append((_known(ErrorDataCode, code), message))
    return tuple(entries)


def _optional_object(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise LocalProtocolError(
            f"{attribute.name}: expected an object or null, got {_describe(value)}"
        )


# -- inbound messages -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Notification:
    """A message the node sends on its own: ``channels.info``, ``channels.sign.*``, ...

    ``data`` is ``params.data`` as decoded; the channel layer reads it. It is not copied, so
    do not mutate it.
    """

    method: str = attrs.field(validator=_str)
    channel_id: str | None = attrs.field(default=None, validator=_channel_id)
    data: Any = attrs.field(default=None, hash=False)
    version: int | None = attrs.field(default=None, validator=_api_version)

    @property
    def sign_tag(self) -> SignTag | None:
        """The sign tag when this is a known ``channels.sign.<tag>`` request."""
        prefix = "channels.sign."
        if not self.method.startswith(prefix):
            return None
        return SIGN_TAGS.get(self.method[len(prefix) :])


@attrs.frozen(kw_only=True)
class ResultReply:
    """The node's successful reply to a request that carried an ``id``."""

    id: RequestId = attrs.field(validator=_id(nullable=False))
    result: Any = attrs.field(hash=False)
    channel_id: str | None = attrs.field(default=None, validator=_channel_id)
    version: int | None = attrs.field(default=None, validator=_api_version)


@attrs.frozen(kw_only=True)
class ErrorReply:
    """The node's refusal. ``id`` is null when the request had none, and at connect time.

    ``code`` and the codes in ``data`` are :class:`ErrorCode` / :class:`ErrorDataCode` members
    when the node's table knows them, plain ints otherwise. ``request`` is the request the node
    echoes (``{}`` for connect errors), or None when it sent none.
    """

    id: RequestId | None = attrs.field(validator=_id(nullable=True))
    code: int = attrs.field(converter=_error_code, validator=_int)
    message: str = attrs.field(validator=_str)
    data: tuple[tuple[int, str], ...] = attrs.field(default=(), converter=_error_data)
    request: Mapping[str, Any] | None = attrs.field(
        default=None, validator=_optional_object, hash=False
    )
    channel_id: str | None = attrs.field(default=None, validator=_channel_id)
    version: int | None = attrs.field(default=None, validator=_api_version)

    @property
    def data_codes(self) -> tuple[int, ...]:
        return tuple(code for code, _ in self.data)


Message: TypeAlias = "Notification | ResultReply | ErrorReply"
MESSAGE_TYPES: Final = (Notification, ResultReply, ErrorReply)


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    if not isinstance(value, (list, tuple)):
        raise LocalProtocolError(f"messages: expected a list, got {_describe(value)}")
    return tuple(value)


@attrs.frozen(kw_only=True)
class Batch:
    """A JSON array of messages, in the order the node sent them."""

    messages: tuple[Message, ...] = attrs.field(converter=_messages)

    @messages.validator
    def _check(self, attribute: attrs.Attribute[Any], value: tuple[object, ...]) -> None:
        if not value:
            raise LocalProtocolError("a batch holds at least one message")
        for i, message in enumerate(value):
            if not isinstance(message, (Notification, ResultReply, ErrorReply)):
                raise LocalProtocolError(f"[{i}]: not a message: {_describe(message)}")

    def __iter__(self) -> Iterator[Message]:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)


def parse_frame(frame: object) -> Message | Batch:
    """The typed message a decoded JSON value holds; :class:`RemoteProtocolError` if none."""
    if isinstance(frame, list):
        if not frame:
            raise RemoteProtocolError("an empty batch (JSON array) holds no message")
        return Batch(messages=[_parse_one(item, f"[{i}]") for i, item in enumerate(frame)])
    return _parse_one(frame, "frame")


def parse_text(text: str) -> Message | Batch:
    """:func:`parse_frame` on a text frame, with JSON errors as :class:`RemoteProtocolError`."""
    try:
        frame = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise RemoteProtocolError("frame: JSON nested too deeply") from None
    except _DuplicateKey as exc:
        raise RemoteProtocolError(f"frame: {exc}") from None
    except ValueError as exc:  # JSONDecodeError, and ints too long to convert
        raise RemoteProtocolError(f"frame: not JSON ({encoding.short(str(exc), 80)})") from None
    return parse_frame(frame)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # JSON parsers disagree on which of two equal keys wins; a frame that holds two "method"
    # or "data" keys could read one way here and another way elsewhere, so it is refused.
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"the key {encoding.short(key)!r} appears twice in an object")
            seen.add(key)
    return found


def _parse_one(frame: object, where: str) -> Message:
    if not isinstance(frame, dict):
        raise RemoteProtocolError(f"{where}: expected a JSON-RPC object, got {_describe(frame)}")
    jsonrpc = frame.get("jsonrpc")
    if jsonrpc != JSONRPC_VERSION or not isinstance(jsonrpc, str):
        raise RemoteProtocolError(f'{where}: "jsonrpc" must be "2.0", got {_describe(jsonrpc)}')
    is_method, is_result, is_error = "method" in frame, "result" in frame, "error" in frame
    if is_method + is_result + is_error != 1:
        kinds = [key for key in ("method", "result", "error") if key in frame]
        found = ", ".join(kinds) or "none"
        raise RemoteProtocolError(
            f'{where}: expected exactly one of "method", "result", "error"; found {found}'
        )
    try:
        if is_method:
            return _notification(frame, where)
        if is_result:
            return _result(frame, where)
        return _error(frame, where)
    except LocalProtocolError as exc:
        # The message classes check their fields; what fails here is the node's doing.
        raise RemoteProtocolError(f"{where}: {exc}") from None


def _notification(frame: dict[Any, Any], where: str) -> Notification:
    if "id" in frame:
        # The node never calls the client: an id next to a method is a request to us.
        raise LocalProtocolError("a request from the node (method with id) is not allowed")
    params = frame.get("params")
    if not isinstance(params, dict):
        raise LocalProtocolError(f"params: expected an object, got {_describe(params)}")
    if "data" not in params:
        raise LocalProtocolError('params: "data" is missing')
    return Notification(
        method=frame["method"],
        channel_id=params.get("channel_id"),
        data=params["data"],
        version=frame.get("version"),
    )


def _result(frame: dict[Any, Any], where: str) -> ResultReply:
    if "id" not in frame:
        raise LocalProtocolError('a result without "id" answers no request')
    return ResultReply(
        id=frame["id"],
        result=frame["result"],
        channel_id=frame.get("channel_id"),
        version=frame.get("version"),
    )


def _error(frame: dict[Any, Any], where: str) -> ErrorReply:
    error = frame["error"]
    if not isinstance(error, dict):
        raise LocalProtocolError(f"error: expected an object, got {_describe(error)}")
    for key in ("code", "message"):
        if key not in error:
            raise LocalProtocolError(f'error: "{key}" is missing')
    return ErrorReply(
        id=frame.get("id"),
        code=error["code"],
        message=error["message"],
        data=error.get("data", ()),
        request=error.get("request"),
        channel_id=frame.get("channel_id"),
        version=frame.get("version"),
    )


# -- outbound requests ------------------------------------------------------------------------


def build_request(
    method: str, params: Mapping[str, Any] | None = None, *, id: RequestId | None = None
) -> dict[str, Any]:
    """The request frame ``{"jsonrpc": "2.0", "method", "params"[, "id"]}``.

    ``params`` is always sent, ``{}`` when None: some methods (``channels.get.offchain_state``)
    are refused without it. Without ``id`` the node answers a query with a notification.
    """
    if not isinstance(method, str) or not method:
        raise LocalProtocolError(f"method: expected a non-empty string, got {_describe(method)}")
    if params is None:
        params = {}
    if type(params) is not dict and not isinstance(params, Mapping):  # JSON's are dicts: quick
        raise LocalProtocolError(f"params: expected an object, got {_describe(params)}")
    frame: dict[str, Any] = {"jsonrpc": JSONRPC_VERSION, "method": method, "params": dict(params)}
    if id is not None:
        if not (_is_int(id) or isinstance(id, str)):
            raise LocalProtocolError(f"id: expected an int or a string, got {_describe(id)}")
        frame["id"] = id
    return frame


T = TypeVar("T")


@attrs.frozen(kw_only=True)
class PendingRequest(Generic[T]):
    """A request sent with an id and not answered yet, with what the caller asked for."""

    id: RequestId
    method: str
    params: Mapping[str, Any] = attrs.field(hash=False)
    context: T = attrs.field(hash=False)


class RequestTable(Generic[T]):
    """Allocates request ids and matches the node's replies to the requests they answer.

    ``context`` is whatever the caller wants back with the reply (a command handle, say).
    """

    def __init__(self, first_id: int = 1) -> None:
        if not _is_int(first_id):
            raise LocalProtocolError(f"first_id: expected an int, got {_describe(first_id)}")
        self._next_id = first_id
        self._pending: dict[RequestId, PendingRequest[T]] = {}

    def request(
        self, method: str, params: Mapping[str, Any] | None = None, *, context: T
    ) -> dict[str, Any]:
        """Build a request with a fresh id and remember it until its reply."""
        while self._next_id in self._pending:  # ids added by hand may be in the way
            self._next_id += 1
        frame = build_request(method, params, id=self._next_id)
        self._next_id += 1
        # Built just now and its id free: what add() checks holds already.
        self._pending[frame["id"]] = PendingRequest(
            id=frame["id"], method=method, params=dict(frame["params"]), context=context
        )
        return frame

    def add(self, frame: Mapping[str, Any], *, context: T) -> PendingRequest[T]:
        """Remember a request built elsewhere (it must carry an id not pending yet)."""
        if not isinstance(frame, Mapping):
            raise LocalProtocolError(f"expected a request object, got {_describe(frame)}")
        request_id, method = frame.get("id"), frame.get("method")
        if not isinstance(method, str):
            raise LocalProtocolError(f"method: expected a string, got {_describe(method)}")
        rebuilt = build_request(method, frame.get("params"), id=request_id)
        if request_id is None:
            raise LocalProtocolError("a request without an id gets no reply to match")
        if request_id in self._pending:
            raise LocalProtocolError(f"request id {_describe(request_id)} is already pending")
        pending = PendingRequest(
            id=request_id, method=rebuilt["method"], params=rebuilt["params"], context=context
        )
        self._pending[request_id] = pending
        return pending

    def match(self, reply: ResultReply | ErrorReply) -> PendingRequest[T] | None:
        """The request ``reply`` answers, which is no longer pending afterwards.

        None for an error reply with a null id: it answers a request sent without an id, or
        the connection itself. A reply to an id that is not pending is the node's fault.
        """
        if reply.id is None:
            return None
        pending = self._pending.pop(reply.id, None)
        if pending is None:
            kind = "result" if isinstance(reply, ResultReply) else "error"
            raise RemoteProtocolError(
                f"{kind} reply to unknown request id {_describe(reply.id)} "
                "(never sent, or already answered)"
            )
        return pending

    def discard(self, request_id: RequestId) -> None:
        """Stop waiting for a reply to ``request_id`` (the request was answered another way)."""
        self._pending.pop(request_id, None)

    def drop_all(self) -> tuple[PendingRequest[T], ...]:
        """Forget every pending request (the connection is gone) and return them, oldest first."""
        pending = tuple(self._pending.values())
        self._pending.clear()
        return pending

    @property
    def pending(self) -> tuple[PendingRequest[T], ...]:
        return tuple(self._pending.values())

    def __contains__(self, request_id: object) -> bool:
        return (_is_int(request_id) or isinstance(request_id, str)) and request_id in self._pending

    def __len__(self) -> int:
        return len(self._pending)
