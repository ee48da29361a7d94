"""Chain objects: every recorded tx round-trips byte for byte; properties; strict decoding."""

from __future__ import annotations

import re

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import encoding, txs
from sansio_channels.codec import ChainObject, deserialize, encode_int, registered, rlp_encode
from sansio_channels.crypto import inner_tx
from sansio_channels.encoding import Id, IdTag
from sansio_channels.errors import DecodingError

from .recordings import frames, recording_files, strings_with_prefix
from .strategies import object_of, objects


def recorded_txs(rel: str) -> list[str]:
    return [tx for _, frame in frames(rel) for tx in strings_with_prefix(frame, "tx_")]


@pytest.mark.parametrize("rel", recording_files())
def test_every_recorded_tx_round_trips(rel: str) -> None:
    found = recorded_txs(rel)
    for text in found:
        obj = txs.decode_tx(text)
        assert txs.encode_tx(obj) == text
        assert deserialize(obj.serialize()) == obj


def test_recordings_cover_the_channel_txs() -> None:
    kinds: set[str] = set()
    count = 0
    for rel in recording_files():
        for text in recorded_txs(rel):
            kinds.add(inner_tx(txs.decode_tx(text)).TYPE)
            count += 1
    assert count > 4000
    assert kinds >= {
        "channel_create_tx",
        "channel_offchain_tx",
        "channel_deposit_tx",
        "channel_withdraw_tx",
        "channel_close_mutual_tx",
        "channel_close_solo_tx",
        "channel_slash_tx",
        "channel_settle_tx",
        "channel_snapshot_solo_tx",
        "channel_force_progress_tx",
    }


@pytest.mark.parametrize("cls", list(registered().values()), ids=lambda c: f"{c.TYPE}-v{c.VERSION}")
@given(data=st.data())
def test_every_class_round_trips(cls: type[ChainObject], data: st.DataObject) -> None:
    obj = data.draw(object_of(cls))
    raw = obj.serialize()
    assert deserialize(raw) == obj
    assert txs.decode_tx(txs.encode_tx(obj)) == obj
    assert obj.to_json()["type"] == cls.TYPE


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_decoding_error(data: bytes) -> None:
    try:
        obj = deserialize(data)
    except DecodingError:
        return
    assert obj.serialize() == data


@given(objects(), st.data())
def test_mutated_objects_raise_only_decoding_error(obj: ChainObject, data: st.DataObject) -> None:
    raw = bytearray(obj.serialize())
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut])):
        try:
            decoded = deserialize(candidate)
        except DecodingError:
            continue
        assert decoded.serialize() == candidate


@given(st.text(max_size=200))
def test_arbitrary_tx_strings_raise_only_decoding_error(text: str) -> None:
    for candidate in (text, "tx_" + text):
        try:
            obj = txs.decode_tx(candidate)
        except DecodingError:
            continue
        assert isinstance(obj, ChainObject)


# --- strictness: what the decoder refuses, and says ------------------------------------

TRANSFER = txs.OffChainTransfer(
    from_id=Id(IdTag.ACCOUNT, bytes(range(32))),
    to_id=Id(IdTag.ACCOUNT, bytes(range(1, 33))),
    amount=10**21,
)


def items_of(obj: ChainObject) -> list[object]:
    items: list[object] = rlp.decode(obj.serialize())
    return items


def refused(items: object, says: str) -> None:
    with pytest.raises(DecodingError, match=re.escape(says)):
        deserialize(rlp.encode(items))


def test_unknown_tag_or_version() -> None:
    refused([encode_int(999), encode_int(1)], "unknown object tag 999 version 1")
    refused([encode_int(57), encode_int(9), b"", b""], "unknown object tag 57 version 9")


def test_wrong_field_count() -> None:
    refused(items_of(TRANSFER)[:-1], "has 3 fields, got 2")
    refused([*items_of(TRANSFER), b"\x01"], "has 3 fields, got 4")


def test_non_canonical_integers() -> None:
    items = items_of(TRANSFER)
    refused([*items[:4], b"\x00" + items[4]], "amount: integer with a leading zero byte")  # type: ignore[operator]
    refused([*items[:4], b""], "amount: empty integer")
    refused([*items[:4], [b"\x01"]], "amount: an integer is a byte string")


def test_trailing_bytes_and_bad_rlp() -> None:
    with pytest.raises(DecodingError, match="malformed RLP"):
        deserialize(TRANSFER.serialize() + b"\x00")
    with pytest.raises(DecodingError, match="malformed RLP"):
        deserialize(TRANSFER.serialize()[:-1])
    with pytest.raises(DecodingError, match="a chain object is a list"):
        deserialize(b"\x05")


def test_ids_of_the_wrong_kind() -> None:
    items = items_of(TRANSFER)
    contract = Id(IdTag.CONTRACT, bytes(32)).serialize()
    refused([*items[:2], contract, *items[3:]], "from_id: expected a ak id, got ct_")
    refused([*items[:2], b"\x01" + bytes(31), *items[3:]], "from_id: an id is 33 bytes")


def test_nested_objects_are_checked() -> None:
    snapshot = txs.ChannelSnapshotSoloTx(
        channel_id=Id(IdTag.CHANNEL, bytes(32)),
        from_id=TRANSFER.from_id,
        payload=txs.SignedTx(signatures=(), transaction=TRANSFER),
        ttl=0,
        fee=1,
        nonce=2,
    )
    items = items_of(snapshot)
    refused([*items[:4], TRANSFER.serialize(), *items[5:]], "expected signed_tx, got")
    refused([*items[:4], b"", *items[5:]], "malformed RLP")  # a snapshot's payload is required


def test_constructors_validate() -> None:
    with pytest.raises(ValueError, match="amount: a non-negative int is required"):
        txs.OffChainTransfer(from_id=TRANSFER.from_id, to_id=TRANSFER.to_id, amount=-1)
    with pytest.raises(ValueError, match="amount: a non-negative int is required"):
        txs.OffChainTransfer(from_id=TRANSFER.from_id, to_id=TRANSFER.to_id, amount=True)
    with pytest.raises(ValueError, match="an id of kind ak is required"):
        txs.OffChainTransfer(from_id=Id(IdTag.CHANNEL, bytes(32)), to_id=TRANSFER.to_id, amount=1)
    with pytest.raises(ValueError, match="signatures: 64 bytes are required"):
        txs.SignedTx(signatures=(b"x",), transaction=TRANSFER)
    # Lists are taken and kept as tuples.
    signed = txs.SignedTx(signatures=[bytes(64)], transaction=TRANSFER)  # type: ignore[arg-type]
    assert signed.signatures == (bytes(64),)


def test_json_view_is_exact_and_in_api_form() -> None:
    view = txs.SignedTx(signatures=(bytes(64),), transaction=TRANSFER).to_json()
    assert view["signatures"] == [encoding.encode("sg", bytes(64))]
    inner = view["transaction"]
    assert isinstance(inner, dict)
    assert inner["amount"] == 10**21
    assert inner["from_id"] == TRANSFER.from_id.api
    assert inner["type"] == "channel_offchain_update_transfer"


def test_decode_signed_tx_wants_a_signed_tx() -> None:
    with pytest.raises(DecodingError, match="expected a signed_tx"):
        txs.decode_signed_tx(txs.encode_tx(TRANSFER))


rlp_items = st.recursive(
    st.binary(max_size=70), lambda children: st.lists(children, max_size=4), max_leaves=20
)


@given(rlp_items)
def test_rlp_encoder_agrees_with_the_rlp_package(item: object) -> None:
    assert rlp_encode(item) == rlp.encode(item)  # type: ignore[arg-type]
    assert rlp.decode(rlp_encode(item), strict=True) == item  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("position", "item", "says"),
    [
        (2, [b"\x01"], "from_id: an id is a byte string"),
        (4, [b"\x01"], "amount: an integer is a byte string"),
    ],
)
def test_lists_where_byte_strings_belong(position: int, item: object, says: str) -> None:
    items = items_of(TRANSFER)
    items[position] = item
    refused(items, says)


def test_each_field_kind_refuses_the_wrong_shape() -> None:
    signed = txs.SignedTx(signatures=(bytes(64),), transaction=TRANSFER)
    items = items_of(signed)
    refused([*items[:2], b"\x01", *items[3:]], "signatures: a list is required")
    refused([*items[:2], [b"\x01" * 63], *items[3:]], "signatures[0]: 64 bytes are required")
    refused([*items[:2], [[b"\x01"]], *items[3:]], "signatures[0]: a byte string is required")
    refused([*items[:3], [b"\x01"]], "transaction: a serialized object is a byte string")
    with pytest.raises(DecodingError, match="bytes expected, got str"):
        deserialize("not bytes")  # type: ignore[arg-type]


def test_constructors_refuse_the_wrong_python_types() -> None:
    with pytest.raises(ValueError, match="bytes are required"):
        txs.OffChainMeta(data="text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="an Id is required"):
        txs.OffChainDeposit(from_id="ak_x", amount=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a tuple is required"):
        txs.SignedTx(signatures=b"", transaction=TRANSFER)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a chain object is required"):
        txs.SignedTx(signatures=(), transaction=b"")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one of signed_tx is required"):
        txs.GAMetaTx(
            ga_id=TRANSFER.from_id,
            auth_data=b"",
            abi_version=1,
            fee=1,
            gas=1,
            gas_price=1,
            tx=TRANSFER,  # type: ignore[arg-type]
        )


def test_registration_is_checked() -> None:
    from sansio_channels.codec import register

    with pytest.raises(RuntimeError, match="registered twice"):
        register(txs.OffChainTransfer)
