"""Typed input: what fits the type becomes a value, what does not is refused saying where."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_channels import encoding
from sansio_channels.errors import DecodingError, LocalProtocolError
from sansio_channels.fate import types as t
from sansio_channels.fate.jsonform import coerce, to_json
from sansio_channels.fate.values import (
    Bits,
    ContractBytearray,
    FrozenList,
    Identifier,
    ObjectKind,
    StoreMap,
    Variant,
    compare,
    decode_value,
    encode_value,
)

AK = encoding.encode("ak", bytes(32))
CT = encoding.encode("ct", bytes(32))
OPTION = t.VariantType((t.TupleType(()), t.TupleType((t.INTEGER,))), ("None", "Some"))
RECORD = t.TupleType((t.INTEGER, t.STRING), ("n", "s"))


@pytest.mark.parametrize(
    ("data", "ty", "value"),
    [
        (5, t.INTEGER, 5),
        (Bits(3), t.BITS, Bits(3)),
        (3, t.BITS, Bits(3)),
        (b"\x01", t.BytesType(None), b"\x01"),
        ("0xbeef", t.BytesType(2), b"\xbe\xef"),
        (AK, t.ADDRESS, Identifier(ObjectKind.ADDRESS, bytes(32))),
        (
            Identifier(ObjectKind.CONTRACT, bytes(32)),
            t.CONTRACT,
            Identifier(ObjectKind.CONTRACT, bytes(32)),
        ),
        ("cb_AZwSz9w=", t.CONTRACT_BYTEARRAY, ContractBytearray(b"\x01")),
        (ContractBytearray(b"\x02"), t.CONTRACT_BYTEARRAY, ContractBytearray(b"\x02")),
        ((1, 2), t.ListType(t.INTEGER), [1, 2]),
        ({"n": 1, "s": "x"}, RECORD, (1, "x")),
        ({"a": 1}, t.MapType(t.STRING, t.INTEGER), {"a": 1}),
        ([[[1], 2]], t.MapType(t.ListType(t.INTEGER), t.INTEGER), {FrozenList((1,)): 2}),
        ({"Some": [4]}, OPTION, Variant((0, 1), 1, (4,))),
        ({"1": [4]}, OPTION, Variant((0, 1), 1, (4,))),
        (Variant((0, 1), 0, ()), OPTION, Variant((0, 1), 0, ())),
        ("anything", t.ANY, "anything"),
    ],
)
def test_what_fits_the_type(data: Any, ty: t.FateType, value: Any) -> None:
    assert coerce(data, ty) == value


@pytest.mark.parametrize(
    ("data", "ty", "message"),
    [
        (True, t.INTEGER, "expected an int"),
        (1, t.BOOLEAN, "true or false"),
        (1, t.STRING, "a string"),
        ("\ud800", t.STRING, "Unicode text"),
        (True, t.BITS, "bits"),
        ("beef", t.BytesType(2), "0x and hex"),
        ("0xzz", t.BytesType(2), "0x and hex"),
        (5, t.BytesType(2), "bytes\\(2\\)"),
        ("0xbe", t.BytesType(2), "2 bytes"),
        ("ak_x", t.ADDRESS, "ak_ text"),
        (5, t.ADDRESS, "ak_ text"),
        (AK, t.CONTRACT, "ct_ text"),
        ("cb_x", t.CONTRACT_BYTEARRAY, "cb_ text"),
        (5, t.CONTRACT_BYTEARRAY, "cb_ text"),
        (5, t.ListType(t.INTEGER), "a list"),
        ({"n": 1}, RECORD, "a record with the fields n, s"),
        ([1], RECORD, "2 elements"),
        (5, t.MapType(t.STRING, t.INTEGER), "a map"),
        ([["a", 1], ["a", 2]], t.MapType(t.STRING, t.INTEGER), "given twice"),
        (Variant((0,), 0, ()), OPTION, "arities"),
        ({"Other": []}, OPTION, "one of the constructors"),
        ({"Some": 4}, OPTION, "as an array"),
        (4, OPTION, "a variant"),
        ({"Some": ["x"]}, OPTION, "value.1.0: expected an int"),
        (1, t.SimpleType("typerep", b""), "no value can be built"),
    ],
)
def test_what_does_not_fit_is_refused(data: Any, ty: t.FateType, message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        coerce(data, ty)


def test_to_json_of_values_without_types_and_of_no_values() -> None:
    assert to_json(StoreMap(2)) == {"store_map": 2}
    assert to_json({FrozenList((1,)): True}) == [[[1], True]]
    with pytest.raises(LocalProtocolError, match="not a FATE value"):
        to_json(1.5)  # type: ignore[arg-type]


def test_edges_of_values() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Identifier(ObjectKind.ADDRESS, b"")
    with pytest.raises(DecodingError, match="not an id"):
        Identifier.from_api(encoding.encode("th", bytes(32)))
    assert str(Identifier.from_api(CT)) == CT
    with pytest.raises(ValueError, match="1 or more bytes"):
        Variant((), 0, ())
    with pytest.raises(ValueError, match="out of range"):
        Variant((0,), 1, ())
    with pytest.raises(ValueError, match="negative"):
        encode_value(StoreMap(-1))
    with pytest.raises(ValueError, match="a map key cannot be a StoreMap"):
        encode_value({(1, StoreMap(1)): 1})
    with pytest.raises(ValueError, match="no order"):
        compare(StoreMap(1), StoreMap(2))
    assert compare(ContractBytearray(b"\x01"), ContractBytearray(b"\x00\x00")) < 0
    assert compare(Variant((0, 1), 0, ()), Variant((0,), 0, ())) > 0
    assert compare(Variant((0, 2), 1, (1, 1)), Variant((0, 1), 1, (1,))) > 0
    assert compare(Variant((0, 1), 0, ()), Variant((0, 1), 1, (1,))) < 0
    assert compare(Variant((0, 1), 1, (2,)), Variant((0, 1), 1, (1,))) > 0
    assert compare((1, 2), (1, 2)) == 0


@pytest.mark.parametrize(
    ("hex_bytes", "message"),
    [
        ("8f82", "contract byte array of size -1"),
        ("0182", "a negative size -1"),
        ("2f05", "5 map entries announced"),
        ("2f0202ff00ff", "out of order"),
        ("af82000101" + "2b0202", "has arity 1, got 2 values"),
    ],
)
def test_more_of_what_the_node_would_not_write(hex_bytes: str, message: str) -> None:
    with pytest.raises(DecodingError, match=message):
        decode_value(bytes.fromhex(hex_bytes))


def test_keys_equal_in_python_but_not_in_fate_are_refused() -> None:
    # 1 and True are one key to a dict; the node would not mix the types in one map.
    with pytest.raises(DecodingError, match="different types"):
        decode_value(bytes.fromhex("2f02" + "02" + "00" + "ff" + "00"))
