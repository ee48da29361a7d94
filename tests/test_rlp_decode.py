"""The codec's own strict RLP decoder against the reference ``rlp`` package."""

from __future__ import annotations

from typing import Any

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels.codec import rlp_decode, rlp_encode
from sansio_channels.errors import DecodingError

items: st.SearchStrategy[Any] = st.recursive(
    st.binary(max_size=80), lambda inner: st.lists(inner, max_size=5), max_leaves=20
)


def _reference(data: bytes) -> object:
    try:
        return rlp.decode(data, strict=True)
    except rlp.DecodingError:
        return DecodingError


def _ours(data: bytes) -> object:
    try:
        return rlp_decode(data)
    except DecodingError:
        return DecodingError


@given(items)
def test_decodes_what_it_encodes(item: Any) -> None:
    assert rlp_decode(rlp_encode(item)) == item


@given(st.binary(max_size=120))
def test_accepts_and_refuses_what_rlp_does(data: bytes) -> None:
    assert _ours(data) == _reference(data)


@given(items, st.data())
def test_mutated_encodings_as_rlp_does(item: Any, data: st.DataObject) -> None:
    encoded = bytearray(rlp_encode(item))
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    for candidate in (bytes(encoded), bytes(encoded[:cut]), bytes(encoded) + b"\x00"):
        assert _ours(candidate) == _reference(candidate)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "missing"),
        (b"\x81\x05", "single byte"),
        (b"\xb8\x05hello", "shortest form"),
        (b"\xb9\x00\x38" + bytes(56), "shortest form"),
        (b"\x83ab", "truncated"),
        (b"\xc2\x83ab", "truncated"),
        (b"\x80\x80", "trailing"),
        (b"\xf8", "cut short"),
    ],
)
def test_non_canonical_or_broken_input_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(DecodingError, match=why):
        rlp_decode(data)
