"""Reading what the node's notifications carry: objects and strings of their data, whether a
sign request's envelope names the channel of its tx, balances by address.

Whatever is wrong raises :class:`RemoteProtocolError`, which the channel turns into a
:class:`~sansio_channels.events.ProtocolViolation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from . import crypto, encoding
from .checks import derived_channel_id
from .encoding import Id
from .errors import RemoteProtocolError
from .operations import SignTag
from .trees import StateTrees
from .txs import ChannelCreateTx, ChannelCreateTxV1, SignedTx

__all__ = ["api_balances", "envelope_agrees", "object_of", "string_of"]

_CREATE: Final = (ChannelCreateTx, ChannelCreateTxV1)


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
    named = (
        derived_channel_id(signed) if isinstance(tx, _CREATE) else getattr(tx, "channel_id", None)
    )
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
