"""Connect parameters, typed and validated, and the connect URL.

:class:`OpenOptions` opens a new channel; :class:`ReestablishOptions` comes back to an existing
one (the node reconnects to a running FSM or reestablishes a stopped one; the URL is the same).
Both are frozen and checked when built: a wrong value raises :class:`LocalProtocolError` naming
the parameter and saying why, including the business rules the node checks at open (reserve
against amounts, ...), so a refused open shows up at the call instead of as a closed socket.

An optional parameter left at None is not sent, and the node's default applies.
"""

from __future__ import annotations

import enum
import re
import types
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias

import attrs

from . import encoding
from .errors import DecodingError, LocalProtocolError

__all__ = [
    "ANY_INITIATOR",
    "PROTOCOL",
    "REPORTS",
    "TIMEOUTS",
    "ConnectOptions",
    "MinimumDepthStrategy",
    "OpenOptions",
    "ReestablishOptions",
    "Role",
    "from_query_params",
    "parse_connect_url",
]

PROTOCOL: Final = "json-rpc"  # the only protocol left; without it the node closes the socket
ANY_INITIATOR: Final = "any"  # a responder's initiator_id: accept whoever opens

# The FSM timers (ms) a client may set as timeout_<name>; initialized is read for the initiator
# only, awaiting_open for the responder only (the node ignores the other).
TIMEOUTS: Final = (
    "idle",
    "funding_create",
    "funding_sign",
    "funding_lock",
    "sign",
    "accept",
    "initialized",
    "awaiting_open",
)
# Notification kinds a client may turn on or off as report_<name> (all on but debug).
REPORTS: Final = (
    "info",
    "update",
    "leave",
    "conflict",
    "message",
    "error",
    "on_chain_tx",
    "min_depth",
    "debug",
)
_BH_DELTA_DEFAULTS: Final = {"not_newer_than": 0, "not_older_than": 10, "pick": 0}
# Amounts are uint256 on chain; the bound also keeps str(int) cheap.
_MAX_INT: Final = 2**256 - 1
_INT_TEXT = re.compile(r"-?[0-9]{1,100}")


class Role(enum.Enum):
    """Which participant a client is: the initiator opens, the responder accepts."""

    INITIATOR = "initiator"
    RESPONDER = "responder"


class MinimumDepthStrategy(enum.Enum):
    """How the node reads ``minimum_depth``: a factor on the fee, or a number of blocks."""

    TXFEE = "txfee"  # minimum_depth is a factor on the create tx's fee
    PLAIN = "plain"  # minimum_depth is a number of blocks (node v6.3.0+)


# -- validators: each raises LocalProtocolError naming the parameter ---------------------------


def _describe(value: object) -> str:
    if isinstance(value, str):
        return repr(encoding.short(value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an int of {value.bit_length()} bits"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return f"a {type(value).__name__}"


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise LocalProtocolError(f"{name}: expected an int, got {_describe(value)}")
    if value < minimum:
        raise LocalProtocolError(f"{name}: must be >= {minimum}, got {_describe(value)}")
    if value > _MAX_INT:
        raise LocalProtocolError(f"{name}: must fit in 256 bits, got {_describe(value)}")


_Validator: TypeAlias = Callable[[Any, "attrs.Attribute[Any]", Any], None]
_INT: Final = {"kind": int}
_BOOL: Final = {"kind": bool}
_STR: Final = {"kind": str}


def _int(minimum: int = 0, *, optional: bool = False) -> _Validator:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        _check_int(attribute.name, value, minimum)

    return check


def _bool(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise LocalProtocolError(
            f"{attribute.name}: expected true or false, got {_describe(value)}"
        )


def _check_text(name: str, value: object, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise LocalProtocolError(f"{name}: expected a string, got {_describe(value)}")
    if not empty and not value:
        raise LocalProtocolError(f"{name}: must not be empty")
    try:
        value.encode("utf-8")  # lone surrogates cannot go into a URL
    except UnicodeEncodeError:
        raise LocalProtocolError(f"{name}: not valid unicode text") from None
    return value


def _text(*, empty: bool = True) -> _Validator:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            _check_text(attribute.name, value, empty=empty)

    return check


def _api_string(prefix: str, *, size: int | None = None, optional: bool = False) -> _Validator:
    """An API string: ``ak_...``, ``ch_...``; ``size`` adds a payload size check."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        _check_api_string(attribute.name, value, prefix, size)

    return check


def _check_api_string(name: str, value: object, prefix: str, size: int | None) -> None:
    if not isinstance(value, str):
        raise LocalProtocolError(f"{name}: expected a {prefix}_ string, got {_describe(value)}")
    try:
        payload = encoding.decode(value, prefix)
    except DecodingError as exc:
        raise LocalProtocolError(f"{name}: {exc}") from None
    if size is not None and len(payload) != size:
        raise LocalProtocolError(
            f"{name}: {encoding.short(value)!r} holds {len(payload)} bytes, expected {size}"
        )


def _enum(enum_type: type[enum.Enum], name: str, value: object) -> Any:
    if isinstance(value, enum_type):
        return value
    for member in enum_type:
        if value == member.value and isinstance(value, str):
            return member
    allowed = " or ".join(repr(member.value) for member in enum_type)
    raise LocalProtocolError(f"{name}: expected {allowed}, got {_describe(value)}")


def _role(value: Role | str) -> Role:
    result: Role = _enum(Role, "role", value)
    return result


def _strategy(value: MinimumDepthStrategy | str | None) -> MinimumDepthStrategy | None:
    if value is None:
        return None
    result: MinimumDepthStrategy = _enum(MinimumDepthStrategy, "minimum_depth_strategy", value)
    return result


def _named_map(prefix: str, names: tuple[str, ...], value: object, check: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise LocalProtocolError(f"{prefix}s: expected a mapping, got {_describe(value)}")
    for name, item in value.items():
        if name not in names:
            known = ", ".join(names)
            raise LocalProtocolError(
                f"{prefix}s: unknown {prefix} {_describe(name)} (known: {known})"
            )
        check(f"{prefix}_{name}", item)
    # A read-only copy, in a stable order, so the options stay frozen.
    return types.MappingProxyType({name: value[name] for name in names if name in value})


def _timeouts(value: Mapping[str, int]) -> Mapping[str, int]:
    return _named_map("timeout", TIMEOUTS, value, lambda name, ms: _check_int(name, ms, 0))


def _check_report(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise LocalProtocolError(f"{name}: expected true or false, got {_describe(value)}")


def _reports(value: Mapping[str, bool]) -> Mapping[str, bool]:
    return _named_map("report", REPORTS, value, _check_report)


# -- the options ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _CommonOptions:
    """Parameters of both an open and a reestablish."""

    role: Role = attrs.field(converter=_role, metadata=_STR)
    # Initiator: the responder node's port to connect to; responder: the port to listen on.
    port: int = attrs.field(metadata=_INT)
    # The responder node's host; required for the initiator, ignored for the responder.
    host: str | None = attrs.field(default=None, validator=_text(empty=False), metadata=_STR)
    protocol: str = attrs.field(default=PROTOCOL, metadata=_STR)
    minimum_depth: int | None = attrs.field(
        default=None, validator=_int(optional=True), metadata=_INT
    )
    minimum_depth_strategy: MinimumDepthStrategy | None = attrs.field(
        default=None, converter=_strategy, metadata=_STR
    )
    # ttl, fee, gas_price and nonce of the channel_create_tx; the FSM picks them when absent.
    ttl: int | None = attrs.field(default=None, validator=_int(optional=True), metadata=_INT)
    fee: int | None = attrs.field(default=None, validator=_int(optional=True), metadata=_INT)
    gas_price: int | None = attrs.field(default=None, validator=_int(optional=True), metadata=_INT)
    nonce: int | None = attrs.field(default=None, validator=_int(optional=True), metadata=_INT)
    # timeout_<name> in ms and report_<name>, keyed by <name> (TIMEOUTS, REPORTS).
    timeouts: Mapping[str, int] = attrs.field(factory=dict, converter=_timeouts, hash=False)
    reports: Mapping[str, bool] = attrs.field(factory=dict, converter=_reports, hash=False)
    bh_delta_not_newer_than: int | None = attrs.field(
        default=None, validator=_int(optional=True), metadata=_INT
    )
    bh_delta_not_older_than: int | None = attrs.field(
        default=None, validator=_int(optional=True), metadata=_INT
    )
    bh_delta_pick: int | None = attrs.field(
        default=None, validator=_int(optional=True), metadata=_INT
    )
    # Responder only (the node's default is true): the FSM outlives the peer's departure.
    keep_running: bool | None = attrs.field(default=None, validator=_bool, metadata=_BOOL)
    msg_forwarding: bool | None = attrs.field(default=None, validator=_bool, metadata=_BOOL)
    log_keep: int | None = attrs.field(default=None, validator=_int(optional=True), metadata=_INT)
    slogan: str | None = attrs.field(default=None, validator=_text(), metadata=_STR)

    @port.validator
    def _check_port(self, attribute: attrs.Attribute[int], value: object) -> None:
        _check_int("port", value, 1)
        assert isinstance(value, int)
        if value > 65535:
            raise LocalProtocolError(f"port: must be <= 65535, got {_describe(value)}")

    @protocol.validator
    def _check_protocol(self, attribute: attrs.Attribute[str], value: object) -> None:
        if value != PROTOCOL:
            raise LocalProtocolError(f"protocol: must be {PROTOCOL!r}, got {_describe(value)}")

    def __attrs_post_init__(self) -> None:
        if self.role is Role.INITIATOR and self.host is None:
            raise LocalProtocolError("host: required for the initiator (the responder's host)")
        deltas = {
            name: getattr(self, "bh_delta_" + name) for name, default in _BH_DELTA_DEFAULTS.items()
        }
        if any(value is not None for value in deltas.values()):
            # The node silently falls back to its defaults when the window is empty.
            window = {
                name: default if deltas[name] is None else deltas[name]
                for name, default in _BH_DELTA_DEFAULTS.items()
            }
            if window["not_older_than"] < window["not_newer_than"] + window["pick"]:
                raise LocalProtocolError(
                    "bh_delta_not_older_than: must be >= bh_delta_not_newer_than + "
                    f"bh_delta_pick ({window}); the node would ignore all three"
                )
        self._check_rules()

    def _check_rules(self) -> None:
        pass

    def query_params(self) -> dict[str, str]:
        """The connect URL's query parameters, sorted by name, as the node reads them."""
        params: dict[str, str] = {}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if field.name in ("timeouts", "reports"):
                prefix = field.name[:-1] + "_"
                params.update({prefix + name: _format(item) for name, item in value.items()})
            elif value is not None:
                params[field.name] = _format(value)
        return dict(sorted(params.items()))

    def connect_url(self, base: str) -> str:
        """The URL to open the WebSocket on, from ``base`` such as ``ws://host:3014/channel``."""
        if not isinstance(base, str):
            raise LocalProtocolError(f"base: expected a string, got {_describe(base)}")
        try:
            parts = urllib.parse.urlsplit(base)
        except ValueError:
            raise LocalProtocolError(f"base: not a URL: {_describe(base)}") from None
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise LocalProtocolError(f"base: expected ws://host:port/path, got {_describe(base)}")
        if parts.query or parts.fragment or base.endswith(("?", "#")):
            raise LocalProtocolError("base: must carry no query or fragment")
        return f"{base}?{urllib.parse.urlencode(self.query_params())}"


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)  # ints are exact: never 1e+21


@attrs.frozen(kw_only=True)
class OpenOptions(_CommonOptions):
    """Parameters to open a new channel."""

    # ak_..., or "any" for a responder that accepts whoever opens.
    initiator_id: str = attrs.field(metadata=_STR)
    responder_id: str = attrs.field(validator=_api_string("ak"), metadata=_STR)
    # Blocks during which a solo close can be disputed.
    lock_period: int = attrs.field(validator=_int(), metadata=_INT)
    # Moved from the initiator to the responder in the first state; not in the create tx.
    push_amount: int = attrs.field(validator=_int(), metadata=_INT)
    initiator_amount: int = attrs.field(validator=_int(), metadata=_INT)
    responder_amount: int = attrs.field(validator=_int(), metadata=_INT)
    # The least each participant must keep in the channel.
    channel_reserve: int = attrs.field(validator=_int(), metadata=_INT)

    @initiator_id.validator
    def _check_initiator_id(self, attribute: attrs.Attribute[str], value: object) -> None:
        if value != ANY_INITIATOR:
            _check_api_string("initiator_id", value, "ak", None)

    def _check_rules(self) -> None:
        if self.initiator_id == ANY_INITIATOR and self.role is not Role.RESPONDER:
            raise LocalProtocolError('initiator_id: "any" is for the responder only')
        # The node's open checks (data code 105): each side keeps the reserve after the push.
        start = self.initiator_amount - self.push_amount
        if start < self.channel_reserve:
            raise LocalProtocolError(
                f"initiator_amount: minus push_amount ({start}) must be >= channel_reserve "
                f"({self.channel_reserve})"
            )
        start = self.responder_amount + self.push_amount
        if start < self.channel_reserve:
            raise LocalProtocolError(
                f"responder_amount: plus push_amount ({start}) must be >= channel_reserve "
                f"({self.channel_reserve})"
            )

    def reestablish(self, *, existing_channel_id: str, existing_fsm_id: str) -> ReestablishOptions:
        """The options to come back to this channel once it has an id and an fsm id."""
        common = {field.name: getattr(self, field.name) for field in attrs.fields(_CommonOptions)}
        return ReestablishOptions(
            **common, existing_channel_id=existing_channel_id, existing_fsm_id=existing_fsm_id
        )


@attrs.frozen(kw_only=True)
class ReestablishOptions(_CommonOptions):
    """Parameters to reconnect to a running FSM, or reestablish a stopped one.

    ``existing_fsm_id`` is the one from the latest ``fsm_up``. ``offchain_tx`` is the legacy
    latest-state parameter: nodes since v5.5.3 ignore it, the recordings still send it; it is
    accepted and sent back unchanged, nothing more.
    """

    existing_channel_id: str = attrs.field(validator=_api_string("ch"), metadata=_STR)
    existing_fsm_id: str = attrs.field(validator=_api_string("ba", size=32), metadata=_STR)
    offchain_tx: str | None = attrs.field(
        default=None, validator=_api_string("tx", optional=True), metadata=_STR
    )

    def reestablish(self, *, existing_channel_id: str, existing_fsm_id: str) -> ReestablishOptions:
        """These options, coming back to the channel with this id and fsm id."""
        return attrs.evolve(
            self, existing_channel_id=existing_channel_id, existing_fsm_id=existing_fsm_id
        )


ConnectOptions: TypeAlias = "OpenOptions | ReestablishOptions"


# -- parsing a connect URL back ---------------------------------------------------------------


def parse_connect_url(url: str) -> ConnectOptions:
    """The options a connect URL carries (``existing_channel_id`` makes it a reestablish)."""
    if not isinstance(url, str):
        raise LocalProtocolError(f"url: expected a string, got {_describe(url)}")
    try:
        parts = urllib.parse.urlsplit(url)
        pairs = urllib.parse.parse_qsl(
            parts.query, keep_blank_values=True, errors="strict", max_num_fields=200
        )
    except ValueError as exc:  # a bad URL, bad percent-encoding, too many fields
        raise LocalProtocolError(f"url: cannot parse ({encoding.short(str(exc), 80)})") from None
    if parts.scheme not in ("ws", "wss"):
        raise LocalProtocolError(f"url: expected a ws:// or wss:// URL, got {_describe(url)}")
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise LocalProtocolError(f"{_describe(name)}: given more than once")
        params[name] = value
    return from_query_params(params)


def from_query_params(params: Mapping[str, str]) -> ConnectOptions:
    """The options from a connect URL's query parameters (names and raw string values)."""
    if not isinstance(params, Mapping):
        raise LocalProtocolError(f"params: expected a mapping, got {_describe(params)}")
    cls: type[OpenOptions | ReestablishOptions]
    cls = ReestablishOptions if "existing_channel_id" in params else OpenOptions
    fields = {field.name: field for field in attrs.fields(cls)}
    kwargs: dict[str, Any] = {}
    timeouts: dict[str, int] = {}
    reports: dict[str, bool] = {}
    unknown: list[str] = []
    for name, text in params.items():
        if not isinstance(name, str) or not isinstance(text, str):
            raise LocalProtocolError(f"{_describe(name)}: names and values must be strings")
        field = fields.get(name)
        if name.startswith("timeout_") and name[8:] in TIMEOUTS:
            timeouts[name[8:]] = _parse_value(name, text, int)
        elif name.startswith("report_") and name[7:] in REPORTS:
            reports[name[7:]] = _parse_value(name, text, bool)
        elif field is None or name in ("timeouts", "reports"):
            unknown.append(name)
        else:
            kwargs[name] = _parse_value(name, text, field.metadata["kind"])
    if unknown:
        mode = "a reestablish" if cls is ReestablishOptions else "an open"
        listed = ", ".join(_describe(name) for name in sorted(unknown))
        raise LocalProtocolError(f"unknown parameter(s) for {mode}: {listed}")
    # The node closes the socket without a word when protocol is missing.
    required = {"protocol"} | {f.name for f in fields.values() if f.default is attrs.NOTHING}
    missing = sorted(required - kwargs.keys())
    if missing:
        raise LocalProtocolError(f"missing parameter(s): {', '.join(missing)}")
    return cls(**kwargs, timeouts=timeouts, reports=reports)


def _parse_value(name: str, text: str, kind: type) -> Any:
    if kind is int:
        if not _INT_TEXT.fullmatch(text):
            raise LocalProtocolError(f"{name}: not a decimal integer: {_describe(text)}")
        return int(text)
    if kind is bool:
        if text not in ("true", "false"):
            raise LocalProtocolError(f"{name}: expected true or false, got {_describe(text)}")
        return text == "true"
    return text
