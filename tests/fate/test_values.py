"""FATE values and types: round trips of every type, the node's exact bytes, strictness."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio_channels.errors import DecodingError
from sansio_channels.fate import types as t
from sansio_channels.fate.calldata import split_call_data
from sansio_channels.fate.code import Contract, FateCode
from sansio_channels.fate.jsonform import coerce, to_json
from sansio_channels.fate.types import decode_type, encode_type
from sansio_channels.fate.values import (
    Bits,
    ContractBytearray,
    StoreMap,
    TypeRep,
    Variant,
    compare,
    decode_value,
    encode_value,
)

from .strategies import fate_types, typed_values


@settings(max_examples=400)
@given(typed_values)
def test_every_type_round_trips(typed: tuple[t.FateType, Any]) -> None:
    ty, value = typed
    data = encode_value(value)
    decoded = decode_value(data)
    assert encode_value(decoded) == data
    assert decoded == value
    # The JSON form comes back to the same value through the type.
    assert encode_value(coerce(to_json(decoded, ty), ty)) == data


@given(fate_types)
def test_types_round_trip_as_types_and_as_typerep_values(ty: t.FateType) -> None:
    data = encode_type(ty)
    assert decode_type(data) == ty
    assert decode_value(data) == TypeRep(ty)
    assert encode_value(TypeRep(ty)) == data


@pytest.mark.parametrize(
    ("value", "hex_bytes"),
    [
        (0, "00"),
        (1, "02"),
        (-1, "82"),
        (63, "7e"),
        (-63, "fe"),
        (64, "6f00"),
        (-64, "ef00"),
        (2**64, "6f88ffffffffffffffc0"),
        (True, "ff"),
        (False, "7f"),
        ("", "5f"),
        ("a", "0561"),
        ("x" * 64, "0100" + "78" * 64),
        (b"", "9f015f"),
        (b"\x01", "9f010501"),
        ((), "3f"),
        ((1, 2), "2b0204"),
        ([], "03"),
        ([1], "1302"),
        (list(range(16)), "1f00" + "".join(f"{2 * i:02x}" for i in range(16))),
        ({}, "2f00"),
        ({2: True, 1: False}, "2f02027f04ff"),
        (Bits(0), "4f00"),
        (Bits(-1), "cf01"),
        (Bits(255), "4f81ff"),
        (StoreMap(3), "bf03"),
        (Variant((0, 1), 1, (5,)), "af820001011b0a"),
        (ContractBytearray(b"\x01\x02"), "8f040102"),
    ],
)
def test_the_nodes_bytes(value: Any, hex_bytes: str) -> None:
    assert encode_value(value).hex() == hex_bytes
    assert decode_value(bytes.fromhex(hex_bytes)) == value


@pytest.mark.parametrize(
    ("hex_bytes", "why"),
    [
        ("80", "minus zero"),
        ("6f8100", "leading zero"),
        ("6f", "truncated"),
        ("0202", "trailing"),
        ("2f0204ff02ff", "out of order"),
        ("2f0202ff02ff", "repeated"),
        ("cf00", "negative bits of magnitude 0"),
        ("9f00a1" + "00" * 33, "33-byte id"),
        ("9f0600", "unknown object"),
        ("af820001021b0a", "tag 2"),
        ("af8200010113", "tuple"),
        ("b7", "type tag"),
        ("9f0102", "bytes hold a string"),
        ("2f012f0000ff", "map key"),
        ("0b" + "81" + "00", "leading zero"),
        ("13" * 300 + "03", "deeper"),
    ],
)
def test_what_the_node_would_not_write_is_refused(hex_bytes: str, why: str) -> None:
    with pytest.raises(DecodingError):
        decode_value(bytes.fromhex(hex_bytes))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_decoding_error(data: bytes) -> None:
    for decoder in (
        decode_value,
        decode_type,
        split_call_data,
        FateCode.from_bytes,
        Contract.from_bytes,
    ):
        with contextlib.suppress(DecodingError):
            decoder(data)


@given(typed_values, st.data())
def test_mutated_values_decode_or_raise_decoding_error(
    typed: tuple[t.FateType, Any], data: st.DataObject
) -> None:
    encoded = bytearray(encode_value(typed[1]))
    index = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[index] = data.draw(st.integers(min_value=0, max_value=255))
    try:
        value = decode_value(bytes(encoded))
    except DecodingError:
        return
    assert encode_value(value) == bytes(encoded)  # whatever decodes re-encodes the same


def test_the_order_of_keys_is_the_nodes() -> None:
    assert compare(1, True) < 0  # integers before booleans
    assert compare("b", "aa") < 0  # shorter strings first
    assert compare(Bits(5), Bits(-1)) < 0  # negative bit fields last
    assert compare([1], [1, 0]) < 0
    assert compare((2,), (1, 1)) < 0  # smaller tuples first


def test_values_that_are_no_fate_values_are_refused() -> None:
    with pytest.raises(ValueError, match="not a FATE value"):
        encode_value(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a map key cannot be a StoreMap"):
        encode_value({StoreMap(1): 1})
    with pytest.raises(ValueError, match="has arity 1, got 0 values"):
        Variant((1,), 0, ())


def test_an_integer_written_as_no_bytes_is_refused() -> None:
    # The node writes a map's size 0 as one zero byte; an empty RLP string decodes to the same
    # number but would re-encode differently.
    assert decode_value(b"\x2f\x00") == {}
    with pytest.raises(DecodingError, match="as no bytes"):
        decode_value(b"\x2f\x80")
