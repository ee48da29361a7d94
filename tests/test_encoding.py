"""API strings: round trips, and a clear DecodingError for every kind of bad input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import encoding
from sansio_channels.encoding import PREFIXES, Id, IdTag
from sansio_channels.errors import DecodingError

AK = "ak_mLjWgLbapr5CiVD2Q248aS2TQj9itXnoPv5tteXvZaJ8tdD2C"
FSM_ID = "ba_j5r5E5mdhQFag+ObX+RXEvr4qFyzkWcVSRlDy169qe3DD8TM"


@st.composite
def prefixed_payloads(draw: st.DrawFn) -> tuple[str, bytes]:
    prefix = draw(st.sampled_from(sorted(PREFIXES)))
    size = PREFIXES[prefix].size
    if size is None:
        payload = draw(st.binary(max_size=200))
    else:
        payload = draw(st.binary(min_size=size, max_size=size))
    return prefix, payload


@given(prefixed_payloads())
def test_every_prefix_round_trips(case: tuple[str, bytes]) -> None:
    prefix, payload = case
    text = encoding.encode(prefix, payload)
    assert text.startswith(prefix + "_")
    assert encoding.decode_prefixed(text) == (prefix, payload)
    assert encoding.decode(text, prefix) == payload


def test_recorded_strings_decode() -> None:
    assert len(encoding.decode(AK, "ak")) == 32
    assert len(encoding.decode(FSM_ID, "ba")) == 32
    # The node's placeholder for "no block hash" is 32 zero bytes.
    assert encoding.decode("kh_11111111111111111111111111111111273Yts", "kh") == bytes(32)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (AK[:-1] + ("D" if AK[-1] != "D" else "E"), "checksum mismatch"),
        ("zz_" + AK[3:], "unknown prefix"),
        ("ak" + AK[2:].replace("_", "", 1), "no prefix"),
        (AK[:10] + "l" + AK[11:], "character 'l' at position 10 is not base58"),
        (FSM_ID[:5] + "*" + FSM_ID[6:], "character '*' at position 5 is not base64"),
        ("ba_abc", "malformed base64"),
        ("ak_", "too short to hold a checksum"),
        (encoding.encode("ba", bytes(31)).replace("ba_", "st_"), "a state hash is 32 bytes"),
        ("ak_" + "1" * 600, "too long"),
    ],
)
def test_bad_strings_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(DecodingError, match=re.escape(says)):
        encoding.decode_prefixed(text)


def test_wrong_prefix_is_named() -> None:
    with pytest.raises(DecodingError, match="expected prefix ch_, got ak_"):
        encoding.decode(AK, "ch")


def test_encode_refuses_wrong_sizes_and_prefixes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encoding.encode("ak", bytes(31))
    with pytest.raises(ValueError, match="unknown API prefix"):
        encoding.encode("zz", b"")


@given(st.one_of(st.text(max_size=120), st.from_regex(r"\A[a-z]{2}_.{0,90}\Z")))
def test_arbitrary_text_raises_only_decoding_error(text: str) -> None:
    try:
        prefix, payload = encoding.decode_prefixed(text)
    except DecodingError:
        return
    # base64 tolerates unused trailing bits, so compare payloads, not strings.
    assert encoding.decode_prefixed(encoding.encode(prefix, payload)) == (prefix, payload)


@given(st.one_of(st.none(), st.integers(), st.binary()))
def test_non_strings_raise_decoding_error(value: object) -> None:
    with pytest.raises(DecodingError, match="API string expected"):
        encoding.decode_prefixed(value)  # type: ignore[arg-type]


@given(st.sampled_from(list(IdTag)), st.binary(min_size=32, max_size=32))
def test_ids_round_trip(tag: IdTag, key: bytes) -> None:
    value = Id(tag, key)
    assert Id.deserialize(value.serialize()) == value
    assert Id.from_api(value.api) == value
    assert str(value) == value.api


def test_id_kinds_are_checked() -> None:
    with pytest.raises(DecodingError, match=r"expected an id \(ch_\), got ak_"):
        Id.from_api(AK, IdTag.CHANNEL)
    with pytest.raises(DecodingError, match="expected an id"):
        Id.from_api(FSM_ID)
    with pytest.raises(DecodingError, match="unknown id tag 9"):
        Id.deserialize(b"\x09" + bytes(32))
    with pytest.raises(DecodingError, match="33 bytes"):
        Id.deserialize(bytes(32))
    with pytest.raises(ValueError, match="32 bytes"):
        Id(IdTag.ACCOUNT, bytes(5))


@given(st.binary(max_size=40))
def test_arbitrary_id_bytes_raise_only_decoding_error(data: bytes) -> None:
    try:
        value = Id.deserialize(data)
    except DecodingError:
        return
    assert value.serialize() == data


def test_the_caches_hold_a_few_operations_not_every_channel() -> None:
    # A hub holds thousands of channels: a cache holding each one's ids would make a transfer
    # cheaper with few channels than with many.
    from sansio_channels import encoding

    caches = (
        encoding._encode_short,
        encoding._decode_short,
        encoding._deserialized_id,
        encoding._id_of,
    )
    for n in range(2 * encoding._RECENT):
        key = n.to_bytes(32, "big")
        text = encoding.encode("ak", key)
        encoding.Id.from_api(text)
        encoding.Id.deserialize(bytes([encoding.IdTag.CHANNEL]) + key)
    for cache in caches:
        assert cache.cache_info().currsize <= encoding._RECENT, cache
    assert encoding.Id.account(encoding.encode("ak", bytes(32))).key == bytes(32)
