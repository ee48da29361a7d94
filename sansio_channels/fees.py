"""What the chain charges for a channel tx, and how much more an application lets the node ask.

The node prices a tx in gas: a base gas for its type plus :data:`BYTE_GAS` for each byte of
the serialized tx (the bare tx, fee included, without the signed-tx wrapper and its
signatures). The minimum fee is that gas times a gas price, and the node's channel FSM writes
exactly that minimum into every tx whose fee the application did not set: at its miner's
minimum gas price (:data:`MIN_GAS_PRICE` by default) or at the ``gas_price`` the application
passed. Because the fee is part of what is measured, the node repeats the pricing until the
fee pays for the tx that carries it (:func:`least_fee`).

A ``ga_meta_tx`` (version 2, from Iris on) pays for its own bytes only: the tx it wraps pays
its own fee, so the wrapped tx's bytes are left out. A ``ga_meta_tx`` of version 1 paid for all
of its bytes. A force progress tx has a base gas as large as the most expensive contract call,
because the node cannot know the call's cost before it runs it. Off-chain txs and updates
never reach the chain and pay no fee.

:class:`FeePolicy` is the application's bound on what the node may choose: a fee at most a
multiple of the minimum (or an absolute ``max_fee``), a gas price at most ``max_gas_price``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Final

import attrs

from . import txs
from .codec import ChainObject
from .errors import LocalProtocolError

__all__ = [
    "BASE_GAS",
    "BYTE_GAS",
    "DEFAULT_FEE_MULTIPLE",
    "DEFAULT_MAX_GAS_PRICE",
    "MIN_GAS_PRICE",
    "TX_BASE_GAS",
    "FeePolicy",
    "least_fee",
    "minimum_fee",
    "minimum_gas",
]

TX_BASE_GAS: Final = 15_000  # the base gas of most tx types
BYTE_GAS: Final = 20  # gas per byte of the serialized tx
# The least gas price a node's miner accepts unless its operator lowers it (the node's
# ``mining.min_miner_gas_price``); the consensus floor under it is 10**6. The FSM prices the
# txs it proposes at the higher of the two.
MIN_GAS_PRICE: Final = 1_000_000_000

# Base gas per tx type, in the node's names, for every tx a channel client may be asked to sign
# that pays a fee. A force progress costs as much as the dearest contract call; a meta tx as
# much as a contract's authentication.
BASE_GAS: Final[Mapping[str, int]] = types.MappingProxyType(
    {
        "channel_create_tx": TX_BASE_GAS,
        "channel_deposit_tx": TX_BASE_GAS,
        "channel_withdraw_tx": TX_BASE_GAS,
        "channel_close_mutual_tx": TX_BASE_GAS,
        "channel_close_solo_tx": TX_BASE_GAS,
        "channel_slash_tx": TX_BASE_GAS,
        "channel_settle_tx": TX_BASE_GAS,
        "channel_snapshot_solo_tx": TX_BASE_GAS,
        "channel_set_delegates_tx": TX_BASE_GAS,
        "channel_force_progress_tx": 30 * TX_BASE_GAS,
        "ga_meta_tx": 5 * TX_BASE_GAS,
    }
)

DEFAULT_FEE_MULTIPLE: Final = 2
DEFAULT_MAX_GAS_PRICE: Final = DEFAULT_FEE_MULTIPLE * MIN_GAS_PRICE
_MAX_INT: Final = 2**256 - 1  # amounts are uint256 on chain


def _check_int(name: str, value: object, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise LocalProtocolError(f"{name}: expected an int, got a {type(value).__name__}")
    if value < minimum:
        raise LocalProtocolError(f"{name}: must be >= {minimum}, got {value}")
    if value > _MAX_INT:
        raise LocalProtocolError(
            f"{name}: must fit in 256 bits, got an int of {value.bit_length()} bits"
        )
    return value


def _priced(tx: object) -> ChainObject:
    """The tx the chain prices: a signed tx's own tx; refused when it pays no fee."""
    if isinstance(tx, txs.SignedTx):
        tx = tx.transaction
    if not isinstance(tx, ChainObject):
        raise LocalProtocolError(f"tx: expected a chain object, got a {type(tx).__name__}")
    if tx.TYPE not in BASE_GAS:
        raise LocalProtocolError(f"a {tx.TYPE} pays no fee: it never goes on chain by itself")
    return tx


def minimum_gas(tx: ChainObject) -> int:
    """The gas the node requires ``tx`` to pay for: its type's base gas plus
    :data:`BYTE_GAS` per byte of the serialized tx as it stands (its own fee included).

    A :class:`~sansio_channels.txs.SignedTx` is priced by the tx it carries. Raises
    :class:`LocalProtocolError` for an object that pays no fee (an off-chain tx or update).
    """
    tx = _priced(tx)
    size = len(tx.serialize())
    if isinstance(tx, txs.GAMetaTx):
        # From Iris on the wrapped tx pays for its own bytes with its own fee.
        size -= len(tx.tx.transaction.serialize())
    return BASE_GAS[tx.TYPE] + BYTE_GAS * size


def minimum_fee(tx: ChainObject, gas_price: int = MIN_GAS_PRICE) -> int:
    """The least fee a node accepts for ``tx`` at ``gas_price``: ``minimum_gas(tx) * gas_price``."""
    return minimum_gas(tx) * _check_int("gas_price", gas_price, 1)


def least_fee(tx: ChainObject, gas_price: int = MIN_GAS_PRICE) -> int:
    """The fee the node's FSM writes into ``tx`` when the application sets none: the least fee
    that pays for the tx carrying it. It starts from a fee of 0 and raises the fee to the
    minimum of the tx until the tx's size, which grows with the fee, stops changing it."""
    tx = _priced(tx)
    fee = 0
    while (needed := minimum_fee(_with_fee(tx, fee), gas_price)) > fee:
        fee = needed
    return fee


def _with_fee(tx: ChainObject, fee: int) -> ChainObject:
    fields = {name: getattr(tx, name) for name, _codec in tx.FIELDS}
    fields["fee"] = fee
    return type(tx)(**fields)


def _fee_multiple(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    _check_int(attribute.name, value, 1)


def _gas_price(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    _check_int(attribute.name, value, 1)


def _max_fee(instance: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is not None:
        _check_int(attribute.name, value, 0)


@attrs.frozen(kw_only=True)
class FeePolicy:
    """How much the application lets the node charge where the node chooses.

    * ``max_fee``: an absolute cap on any fee; when None (the default) a fee may be at most
      ``fee_multiple`` times the tx's minimum fee at ``min_gas_price``.
    * ``max_gas_price``: the most a gas price chosen by the node may be (the call update of a
      force progress, a meta tx).
    * ``min_gas_price``: the gas price the network's nodes accept at least; fees are priced
      from it, and a fee or gas price below it would leave the tx unmined.

    Raising ``max_gas_price`` does not raise the fee bound: set ``fee_multiple`` (or
    ``max_fee``) with it.
    """

    max_fee: int | None = attrs.field(default=None, validator=_max_fee)
    max_gas_price: int = attrs.field(default=DEFAULT_MAX_GAS_PRICE, validator=_gas_price)
    fee_multiple: int = attrs.field(default=DEFAULT_FEE_MULTIPLE, validator=_fee_multiple)
    min_gas_price: int = attrs.field(default=MIN_GAS_PRICE, validator=_gas_price)

    def __attrs_post_init__(self) -> None:
        if self.max_gas_price < self.min_gas_price:
            raise LocalProtocolError(
                f"max_gas_price: must be >= min_gas_price {self.min_gas_price}, "
                f"got {self.max_gas_price}"
            )

    def fee_bound(self, tx: ChainObject) -> int:
        """The highest fee this policy accepts for ``tx``."""
        if self.max_fee is not None:
            return self.max_fee
        return self.fee_multiple * minimum_fee(tx, self.min_gas_price)

    def fee_problems(self, tx: ChainObject, fee: int) -> list[str]:
        """What is wrong with ``fee`` for ``tx`` under this policy; [] when it is within bound."""
        fee = _check_int("fee", fee, 0)
        gas = minimum_gas(tx)
        least = gas * self.min_gas_price
        problems = []
        if fee < least:
            problems.append(
                f"fee {fee} is below {least}, the least a node accepts for this "
                f"{_priced(tx).TYPE} ({gas} gas at gas price {self.min_gas_price})"
            )
        bound = self.fee_bound(tx)
        if fee > bound:
            why = (
                "max_fee"
                if self.max_fee is not None
                else f"fee_multiple {self.fee_multiple} x the minimum fee {least}"
            )
            problems.append(f"fee {fee} is above {bound}, the most the fee policy allows ({why})")
        return problems

    def gas_price_problems(self, gas_price: int) -> list[str]:
        """What is wrong with a gas price the node chose; [] when it is within bound."""
        gas_price = _check_int("gas_price", gas_price, 0)
        if gas_price < self.min_gas_price:
            return [
                f"gas price {gas_price} is below {self.min_gas_price}, the least a node accepts"
            ]
        if gas_price > self.max_gas_price:
            return [
                f"gas price {gas_price} is above {self.max_gas_price}, "
                "the most the fee policy allows (max_gas_price)"
            ]
        return []
