"""The node's fee formula, confirmed on every fee in the recorded sessions, and the fee policy."""

from __future__ import annotations

import enum
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import fees, txs
from sansio_channels.codec import ChainObject
from sansio_channels.encoding import Id, IdTag
from sansio_channels.errors import LocalProtocolError
from sansio_channels.fees import MIN_GAS_PRICE, FeePolicy, least_fee, minimum_fee, minimum_gas
from sansio_channels.transcript import EntryKind

from . import recordings
from .strategies import objects

AE = 10**18
PRICED = tuple(fees.BASE_GAS)
# What a node priced in the recordings at the minimum gas price: all but a force progress (its
# recording sets a gas price), a set delegates tx (no recording has one) and a meta tx (the
# client builds it).
NODE_PRICED = sorted(
    set(PRICED) - {"channel_force_progress_tx", "channel_set_delegates_tx", "ga_meta_tx"}
)


def _with_fee(tx: ChainObject, fee: int) -> ChainObject:
    fields = {name: getattr(tx, name) for name, _codec in tx.FIELDS}
    return type(tx)(**{**fields, "fee": fee})


def _priced_in(obj: ChainObject) -> Iterator[ChainObject]:
    """Every tx that pays a fee inside ``obj``: itself, the txs it wraps, its payloads."""
    if obj.TYPE in fees.BASE_GAS:
        yield obj
    for name, _codec in obj.FIELDS:
        value = getattr(obj, name)
        if isinstance(value, ChainObject):
            yield from _priced_in(value)


class Chosen(enum.Enum):
    """Who chose a recorded fee, as the formula explains it."""

    NODE = "the node, at the minimum gas price"
    NODE_AT_CLIENT_GAS_PRICE = "the node, at the gas price the client set"
    CLIENT_FEE = "the client, which set the fee"
    CLIENT_META = "the client, which built the ga_meta_tx"
    # Nodes before January 2020 priced a mutual close at a fixed 20000 gas, whatever its size.
    OLD_NODE_MUTUAL_CLOSE = "a node of early 2020, at a fixed gas for a mutual close"


OLD_MUTUAL_CLOSE_GAS = 20_000


@cache
def _client_settings(rel: str) -> tuple[frozenset[int], frozenset[int]]:
    """The fees and gas prices the recording's clients set: in a connect URL or a request."""
    found: dict[str, set[int]] = {"fee": set(), "gas_price": set()}
    for entry in recordings.entries(rel):
        if entry.kind is EntryKind.CONNECT:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(entry.text).query)
            for key, values in found.items():
                values.update(int(value) for value in query.get(key, ()))
        elif entry.kind is EntryKind.SENT:
            params = entry.frame.get("params")
            if isinstance(params, dict):
                for key, values in found.items():
                    if isinstance(params.get(key), int):
                        values.add(params[key])
    return frozenset(found["fee"]), frozenset(found["gas_price"])


@cache
def _recorded_fees() -> dict[tuple[str, bytes], tuple[ChainObject, Chosen | None]]:
    """Every distinct fee-paying tx of every recording, with who chose its fee (None: the
    formula explains it by nobody)."""
    found: dict[tuple[str, bytes], tuple[ChainObject, Chosen | None]] = {}
    for rel in recordings.recording_files():
        set_fees, set_gas_prices = _client_settings(rel)
        for entry, frame in recordings.frames(rel):
            for text in recordings.strings_with_prefix(frame, "tx_"):
                for tx in _priced_in(txs.decode_tx(text)):
                    key = (rel, tx.serialize())
                    if key not in found:
                        found[key] = (tx, _who_chose(tx, entry.kind, set_fees, set_gas_prices))
    return found


def _who_chose(
    tx: Any, kind: EntryKind, set_fees: frozenset[int], set_gas_prices: frozenset[int]
) -> Chosen | None:
    if isinstance(tx, (txs.GAMetaTx, txs.GAMetaTxV1)):
        # The client wraps its own tx; the node only accepts the meta tx if it pays enough.
        ok = kind is EntryKind.SENT and tx.fee >= minimum_fee(tx)
        return Chosen.CLIENT_META if ok else None
    if tx.fee == minimum_fee(tx) == least_fee(tx):
        return Chosen.NODE
    if isinstance(tx, txs.ChannelCloseMutualTx) and tx.fee == OLD_MUTUAL_CLOSE_GAS * MIN_GAS_PRICE:
        return Chosen.OLD_NODE_MUTUAL_CLOSE
    if tx.fee in set_fees:
        return Chosen.CLIENT_FEE
    for gas_price in set_gas_prices:
        if tx.fee == minimum_fee(tx, gas_price) == least_fee(tx, gas_price):
            return Chosen.NODE_AT_CLIENT_GAS_PRICE
    return None


def test_every_recorded_fee_is_the_formulas_minimum_or_set_by_the_client() -> None:
    found = _recorded_fees()
    unexplained = [
        f"{rel}: {tx.TYPE} fee {tx.fee}, minimum {minimum_fee(tx)}"  # type: ignore[attr-defined]
        for (rel, _), (tx, chosen) in found.items()
        if chosen is None
    ]
    assert unexplained == []
    by_type = Counter((tx.TYPE, chosen) for tx, chosen in found.values())
    # Every channel tx type a node priced in the recordings, at the minimum gas price.
    node_priced = {type_ for type_, chosen in by_type if chosen is Chosen.NODE}
    assert node_priced == set(NODE_PRICED)
    # The force progress base gas (30 x 15000) is confirmed at the client's gas price.
    assert by_type["channel_force_progress_tx", Chosen.NODE_AT_CLIENT_GAS_PRICE] == 4
    # Its call is priced at the fee's gas price at least.
    for tx, _chosen in found.values():
        if isinstance(tx, txs.ChannelForceProgressTx):
            assert tx.update.gas_price >= tx.fee // minimum_gas(tx)
    assert by_type["ga_meta_tx", Chosen.CLIENT_META] == 21
    assert sum(n for (_, chosen), n in by_type.items() if chosen is Chosen.NODE) == 202
    # The four older recordings that close without setting a fee; each fee is above the minimum.
    old = [
        (rel, tx)
        for (rel, _), (tx, chosen) in found.items()
        if chosen is Chosen.OLD_NODE_MUTUAL_CLOSE
    ]
    assert len(old) == 4
    for rel, tx in old:
        assert recordings.network_id(rel) == "local_lima_testnet"
        assert minimum_fee(tx) < tx.fee < FeePolicy().fee_bound(tx)  # type: ignore[attr-defined]


def test_no_fee_is_the_clients_where_the_client_set_nothing() -> None:
    for (rel, _), (tx, chosen) in _recorded_fees().items():
        if _client_settings(rel) == (frozenset(), frozenset()):
            assert chosen in (Chosen.NODE, Chosen.CLIENT_META), (rel, tx.TYPE)
        elif chosen is Chosen.OLD_NODE_MUTUAL_CLOSE:  # the client set a fee for another tx
            assert _client_settings(rel) == (frozenset({123456789876543}), frozenset())


def test_a_set_fee_above_the_minimum_is_the_clients() -> None:
    chosen = Counter(c for (rel, _), (_tx, c) in _recorded_fees().items() if "changeable" in rel)
    assert chosen[Chosen.CLIENT_FEE] > 0
    assert chosen[Chosen.NODE_AT_CLIENT_GAS_PRICE] > 0


def _recorded(type_: str) -> ChainObject:
    return next(
        tx for tx, chosen in _recorded_fees().values() if type_ == tx.TYPE and chosen is Chosen.NODE
    )


def test_the_node_pays_for_the_bare_tx_not_the_signed_one() -> None:
    deposit = _recorded("channel_deposit_tx")
    signed = txs.SignedTx(signatures=(bytes(64), bytes(64)), transaction=deposit)
    assert minimum_gas(signed) == minimum_gas(deposit)
    assert minimum_gas(deposit) == 15_000 + 20 * len(deposit.serialize())
    assert minimum_fee(deposit, 3) == 3 * minimum_gas(deposit)


def test_a_meta_tx_from_iris_on_does_not_pay_for_the_tx_it_wraps() -> None:
    inner = txs.SignedTx(signatures=(), transaction=_recorded("channel_create_tx"))
    fields: dict[str, Any] = {
        "ga_id": inner.transaction.initiator_id,  # type: ignore[attr-defined]
        "auth_data": b"\x01" * 10,
        "abi_version": 3,
        "fee": 10**14,
        "gas": 50_000,
        "gas_price": MIN_GAS_PRICE,
        "tx": inner,
    }
    meta = txs.GAMetaTx(**fields)
    old_meta = txs.GAMetaTxV1(**fields, ttl=0)
    inner_size = len(inner.transaction.serialize())
    assert minimum_gas(meta) == 5 * 15_000 + 20 * (len(meta.serialize()) - inner_size)
    assert minimum_gas(old_meta) == 5 * 15_000 + 20 * len(old_meta.serialize())


@pytest.mark.parametrize(
    "obj",
    [
        txs.ChannelOffChainTx(
            channel_id=Id(IdTag.CHANNEL, bytes(32)), round=1, state_hash=bytes(32)
        ),
        txs.OffChainMeta(data=b"x"),
        txs.SignedTx(signatures=(), transaction=txs.OffChainMeta(data=b"x")),
        "tx_",
        None,
    ],
)
def test_what_pays_no_fee_is_refused(obj: Any) -> None:
    with pytest.raises(LocalProtocolError, match=r"pays no fee|expected a chain object"):
        minimum_gas(obj)
    with pytest.raises(LocalProtocolError):
        least_fee(obj)


@pytest.mark.parametrize("gas_price", [0, -1, True, 1.5, "1", 2**256])
def test_a_bad_gas_price_is_refused(gas_price: Any) -> None:
    with pytest.raises(LocalProtocolError, match="gas_price"):
        minimum_fee(_recorded("channel_deposit_tx"), gas_price)


@given(objects(PRICED), st.integers(min_value=1, max_value=10 * MIN_GAS_PRICE), st.data())
def test_least_fee_is_the_least_fee_that_pays_for_itself(
    tx: ChainObject, gas_price: int, data: st.DataObject
) -> None:
    fee = least_fee(tx, gas_price)
    assert minimum_fee(_with_fee(tx, fee), gas_price) == fee
    lower = data.draw(st.integers(min_value=0, max_value=fee - 1))
    assert minimum_fee(_with_fee(tx, lower), gas_price) > lower


@given(objects(PRICED), st.integers(min_value=0, max_value=2**80), st.integers(0, 2**80))
def test_more_fee_never_needs_less_gas(tx: ChainObject, fee: int, more: int) -> None:
    assert minimum_gas(_with_fee(tx, fee)) <= minimum_gas(_with_fee(tx, fee + more))


# --- the policy ------------------------------------------------------------------------------


def test_the_defaults() -> None:
    policy = FeePolicy()
    assert (policy.max_fee, policy.fee_multiple) == (None, 2)
    assert (policy.min_gas_price, policy.max_gas_price) == (MIN_GAS_PRICE, 2 * MIN_GAS_PRICE)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("max_fee", -1, "max_fee"),
        ("max_fee", "1", "max_fee"),
        ("max_fee", True, "max_fee"),
        ("max_fee", 2**256, "max_fee"),
        ("max_gas_price", 0, "max_gas_price"),
        ("max_gas_price", 1.0, "max_gas_price"),
        ("fee_multiple", 0, "fee_multiple"),
        ("fee_multiple", None, "fee_multiple"),
        ("min_gas_price", 0, "min_gas_price"),
        ("min_gas_price", 3 * MIN_GAS_PRICE, "max_gas_price: must be >= min_gas_price"),
    ],
)
def test_a_bad_policy_is_refused(field: str, value: Any, named: str) -> None:
    with pytest.raises(LocalProtocolError, match=named):
        FeePolicy(**{field: value})


@pytest.mark.parametrize("type_", NODE_PRICED)
def test_a_fee_as_real_nodes_charge_is_within_the_default_bound(type_: str) -> None:
    tx = _recorded(type_)
    assert FeePolicy().fee_problems(tx, tx.fee) == []  # type: ignore[attr-defined]


def test_every_recorded_node_fee_is_within_the_default_bound() -> None:
    policy = FeePolicy()
    for tx, chosen in _recorded_fees().values():
        if chosen is Chosen.NODE:
            assert policy.fee_problems(tx, tx.fee) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "type_", ["channel_deposit_tx", "channel_withdraw_tx", "channel_close_solo_tx"]
)
def test_a_fee_of_five_ae_is_refused(type_: str) -> None:
    tampered = _with_fee(_recorded(type_), 5 * AE)
    (problem,) = FeePolicy().fee_problems(tampered, 5 * AE)
    assert problem.startswith(f"fee {5 * AE} is above ")
    assert "fee_multiple 2" in problem


def test_a_mutual_close_fee_of_the_whole_channel_is_refused() -> None:
    close: Any = _recorded("channel_close_mutual_tx")
    everything = close.initiator_amount_final + close.responder_amount_final + close.fee
    tampered = _with_fee(close, everything)
    assert FeePolicy().fee_problems(tampered, everything) != []


def test_the_bound_is_the_multiple_of_the_minimum_and_one_more_is_refused() -> None:
    tx = _recorded("channel_settle_tx")
    policy = FeePolicy(fee_multiple=3)
    bound = policy.fee_bound(tx)
    assert bound == 3 * minimum_fee(tx)
    assert policy.fee_problems(tx, bound) == []
    assert policy.fee_problems(tx, minimum_fee(tx)) == []
    (above,) = policy.fee_problems(tx, bound + 1)
    assert "fee_multiple 3" in above
    (below,) = policy.fee_problems(tx, minimum_fee(tx) - 1)
    assert "below" in below
    assert "channel_settle_tx" in below


def test_max_fee_is_an_absolute_cap() -> None:
    tx = _recorded("channel_create_tx")
    policy = FeePolicy(max_fee=10 * minimum_fee(tx))
    assert policy.fee_bound(tx) == 10 * minimum_fee(tx)
    assert policy.fee_problems(tx, 10 * minimum_fee(tx)) == []
    (problem,) = policy.fee_problems(tx, 10 * minimum_fee(tx) + 1)
    assert "(max_fee)" in problem
    both = FeePolicy(max_fee=0).fee_problems(tx, 1)
    assert len(both) == 2


def test_a_lower_network_minimum_prices_fees_lower() -> None:
    tx = _recorded("channel_create_tx")
    cheap = FeePolicy(min_gas_price=1, max_gas_price=1)
    assert cheap.fee_problems(tx, minimum_fee(tx, 1)) == []
    assert cheap.fee_problems(tx, tx.fee) != []  # type: ignore[attr-defined]


@pytest.mark.parametrize("fee", [-1, "1", None, 1.0])
def test_a_bad_fee_to_judge_is_refused(fee: Any) -> None:
    with pytest.raises(LocalProtocolError, match="fee"):
        FeePolicy().fee_problems(_recorded("channel_create_tx"), fee)


def test_gas_price_problems() -> None:
    policy = FeePolicy()
    assert policy.gas_price_problems(MIN_GAS_PRICE) == []
    assert policy.gas_price_problems(2 * MIN_GAS_PRICE) == []
    (above,) = policy.gas_price_problems(2 * MIN_GAS_PRICE + 1)
    assert "max_gas_price" in above
    (below,) = policy.gas_price_problems(MIN_GAS_PRICE - 1)
    assert "below" in below
    with pytest.raises(LocalProtocolError, match="gas_price"):
        policy.gas_price_problems(-1)


@given(objects(PRICED), st.integers(min_value=0, max_value=2**90), st.integers(1, 5))
def test_a_fee_is_within_bound_exactly_between_the_minimum_and_the_multiple(
    tx: ChainObject, fee: int, multiple: int
) -> None:
    policy = FeePolicy(fee_multiple=multiple)
    least = minimum_fee(tx)
    assert (policy.fee_problems(tx, fee) == []) == (least <= fee <= multiple * least)
