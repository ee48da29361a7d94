"""A connect URL as the node reads it: what it reads, what it ignores, how it refuses.

The client's parser (:mod:`..options`) is strict on purpose: an application's own typo must not
reach a node. The node is lenient: it reads the parameters it knows and ignores the rest (a
client's own extras, the JavaScript SDK's ``reestablish``, ``offchain_tx`` since v5.5.3, the
open amounts on a reestablish). When it refuses, it explains four refusals in an error frame
(data codes 105, 1011, 1016, 2000) and closes the socket without a word on any other bad
parameter; the simulator then names the parameter in the WebSocket close frame's reason, which
a JSON-RPC client never sees as a message.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Final

from .. import encoding
from ..errors import DecodingError, LocalProtocolError
from ..options import REPORTS, TIMEOUTS, ConnectOptions, from_query_params
from ..rpc import ErrorDataCode
from .frames import NodeError

__all__ = ["READ_ON_OPEN", "READ_ON_REESTABLISH", "Refused", "query", "read"]

# What the node reads on either kind of connect (its sc_ws_handler), besides the
# timeout_*, report_* and bh_delta_* families.
_COMMON: Final = (
    "role",
    "protocol",
    "port",
    "host",
    "minimum_depth",
    "minimum_depth_strategy",
    "ttl",
    "fee",
    "gas_price",
    "nonce",
    "keep_running",
    "msg_forwarding",
    "log_keep",
    "slogan",
)
_FAMILIES: Final = tuple(f"timeout_{name}" for name in TIMEOUTS) + tuple(
    f"report_{name}" for name in REPORTS
)
_BH_DELTAS: Final = {
    "bh_delta_not_newer_than": 0,
    "bh_delta_not_older_than": 10,
    "bh_delta_pick": 0,
}
# The parameters the node reads for an open, and for a reconnect or reestablish.
READ_ON_OPEN: Final = frozenset(
    _COMMON
    + _FAMILIES
    + tuple(_BH_DELTAS)
    + (
        "initiator_id",
        "responder_id",
        "lock_period",
        "push_amount",
        "initiator_amount",
        "responder_amount",
        "channel_reserve",
    )
)
READ_ON_REESTABLISH: Final = frozenset(
    _COMMON + _FAMILIES + tuple(_BH_DELTAS) + ("existing_channel_id", "existing_fsm_id")
)
# The open amounts the node checks first, for "Value too low" (data code 105).
_AMOUNTS: Final = (
    "initiator_amount",
    "responder_amount",
    "channel_reserve",
    "push_amount",
    "lock_period",
)


class Refused(Exception):
    """A connect the node closes without a word (the reason is the simulator's own)."""


def query(url: str) -> dict[str, str]:
    """The query parameters of ``url``; of a name given twice the node reads the first."""
    try:
        pairs = urllib.parse.parse_qsl(
            urllib.parse.urlsplit(url).query, keep_blank_values=True, max_num_fields=200
        )
    except ValueError as exc:
        raise Refused(f"cannot parse the URL ({exc})") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)
    return params


def read(params: Mapping[str, str]) -> ConnectOptions:
    """The options the node takes from a connect's ``params``.

    Raises :class:`~.frames.NodeError` for the refusals the node explains, and
    :class:`Refused` for those it does not."""
    if params.get("protocol") != "json-rpc":
        raise Refused("protocol: must be json-rpc")
    if params.get("role") not in ("initiator", "responder"):
        raise Refused("role: must be initiator or responder")
    if "existing_channel_id" in params:
        fsm_id = params.get("existing_fsm_id")
        if fsm_id is None:
            raise NodeError.rejected(ErrorDataCode.MISSING_FSM_ID)
        try:
            if len(encoding.decode(fsm_id, "ba")) != 32:
                raise DecodingError("size")
        except DecodingError:
            raise NodeError.rejected(ErrorDataCode.INVALID_FSM_ID) from None
        known = READ_ON_REESTABLISH
    else:
        _check_amounts(params)
        known = READ_ON_OPEN
    taken = {name: value for name, value in params.items() if name in known}
    _drop_empty_window(taken)
    try:
        return from_query_params(taken)
    except LocalProtocolError as exc:
        raise Refused(str(exc)) from None


def _check_amounts(params: Mapping[str, str]) -> None:
    values: dict[str, int] = {}
    for name in _AMOUNTS:
        try:
            values[name] = int(params.get(name, "0"))
        except ValueError:
            raise Refused(f"{name}: not an integer") from None
    push, reserve = values["push_amount"], values["channel_reserve"]
    if (
        any(value < 0 for value in values.values())
        or values["initiator_amount"] - push < reserve
        or values["responder_amount"] + push < reserve
    ):
        raise NodeError.rejected(ErrorDataCode.VALUE_TOO_LOW)


def _drop_empty_window(taken: dict[str, str]) -> None:
    """The node falls back to its block-hash window when the one given is empty."""
    given = {name: taken[name] for name in _BH_DELTAS if name in taken}
    if not given:
        return
    try:
        window = {name: int(given.get(name, default)) for name, default in _BH_DELTAS.items()}
    except ValueError:
        return  # the options parser names the bad value
    newer, older = window["bh_delta_not_newer_than"], window["bh_delta_not_older_than"]
    if older < newer + window["bh_delta_pick"]:
        for name in _BH_DELTAS:
            taken.pop(name, None)
