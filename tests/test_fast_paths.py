"""The core's fast paths against the slow, plain ways they stand for: the codec's own strict
RLP decoder against the ``rlp`` package, a channel account's bytes against its object, a
decoded object against one built through its validators, a remembered state against a fresh one,
the trie of keys of one length and the accounts-only state hash against the general ones.
"""

from __future__ import annotations

import re
from typing import Any, Final

import attrs
import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import crypto, encoding, mpt, rpc, txs
from sansio_channels.channel import Channel
from sansio_channels.codec import (
    ChainObject,
    deserialize,
    from_rlp_items,
    registered,
    rlp_decode,
    rlp_encode,
    rlp_list,
)
from sansio_channels.encoding import Id, IdTag
from sansio_channels.errors import DecodingError, RemoteProtocolError
from sansio_channels.events import CoSignedState, Event, SignRequest
from sansio_channels.offchain import OffChainState, UpdateRefused, updates_from_json
from sansio_channels.options import Role
from sansio_channels.signing_context import SigningContext
from sansio_channels.trees import (
    HASH_ORDER,
    Account,
    accounts_state_hash,
    channel_account,
    state_hash_of_roots,
)

from .scripted_node import ScriptedNode, opened, transfer_through
from .strategies import object_of

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


@given(st.integers(0, 2**256 - 1))
def test_a_channel_account_is_its_account_object(balance: int) -> None:
    assert channel_account(balance) == Account(nonce=0, balance=balance).serialize()


def test_a_decoded_object_equals_one_built_through_its_validators() -> None:
    _, node = opened()
    tx, _ = node.transfer(3, to_peer=True)
    signed = node.co_signed(tx)
    decoded = deserialize(signed.serialize())
    assert isinstance(decoded, txs.SignedTx)
    assert decoded == signed
    assert attrs.evolve(decoded) == decoded  # its fields pass the validators
    inner = decoded.transaction
    assert isinstance(inner, txs.ChannelOffChainTx)
    assert attrs.evolve(inner).serialize() == tx.serialize()


def test_a_remembered_state_is_the_one_worked_out_afresh() -> None:
    channel, node = opened()
    latest = channel.ledger.latest
    assert latest is not None
    assert latest.state is not None
    _, updates = node.transfer(3, to_peer=True)
    first = latest.state.apply(updates)
    assert latest.state.apply(updates) is first
    fresh = attrs.evolve(latest.state).apply(list(updates))
    assert fresh == first
    assert fresh.state_hash() == first.state_hash()
    _, other = node.transfer(4, to_peer=True)
    assert latest.state.apply(other) != first


def _general_root(entries: dict[bytes, bytes]) -> bytes:
    """The trie root the general way (nibble paths, explicit stack), whatever the keys."""
    if not entries:
        return mpt.EMPTY_ROOT
    keys = sorted(entries)
    return mpt._hash(mpt._build([mpt._nibbles(key) for key in keys], [entries[k] for k in keys]))


# Keys drawn from few distinct bytes share long prefixes: extensions, nested branches, and short
# leaves near the end of the key that are embedded rather than hashed.
def _keys(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size) | st.lists(
        st.sampled_from([0x00, 0x01, 0x10, 0xFF]), min_size=size, max_size=size
    ).map(bytes)


@given(
    st.integers(1, 66).flatmap(
        lambda size: st.dictionaries(_keys(size), st.binary(min_size=1, max_size=40), max_size=8)
    )
)
def test_the_trie_of_keys_of_one_length_is_the_general_one(entries: dict[bytes, bytes]) -> None:
    assert mpt.root_hash(entries) == _general_root(entries)


def test_the_trie_of_two_keys_is_the_general_one_wherever_they_part() -> None:
    """The pair's shape is worked out from the keys' bits: every nibble they may part at,
    each of the four bits in it, and both parities of the shared path."""
    key = bytes(range(7, 7 + 32))
    for bit in range(256):
        other = (int.from_bytes(key, "big") ^ (1 << bit)).to_bytes(32, "big")
        entries = {key: b"v" * (1 + bit % 40), other: b"w"}
        assert mpt.root_hash(entries) == _general_root(entries), bit


@given(st.dictionaries(_keys(32), st.integers(0, 2**80), max_size=6))
def test_the_accounts_state_hash_is_the_general_one(balances: dict[bytes, int]) -> None:
    roots = dict.fromkeys(HASH_ORDER, mpt.EMPTY_ROOT)
    roots["accounts"] = _general_root(
        {key: Account(nonce=0, balance=balance).serialize() for key, balance in balances.items()}
    )
    assert accounts_state_hash(balances) == state_hash_of_roots(roots)


@pytest.mark.parametrize(
    ("tag", "version", "says"),
    [
        (b"\x00\x0b", b"\x01", "object.tag: integer with a leading zero byte"),
        (b"\x0b", b"\x00\x01", "object.version: integer with a leading zero byte"),
        (b"", b"\x01", "object.tag: empty integer"),
        ([b"\x0b"], b"\x01", "object.tag: an integer is a byte string"),
    ],
)
def test_a_registered_tag_is_known_only_in_its_canonical_form(
    tag: Any, version: bytes, says: str
) -> None:
    # Objects are found by the encoded tag and version; any other encoding of a registered
    # (signed tx, 11 v1) one is refused as decode_int refuses it.
    signatures, transaction = [bytes(64)], b""
    with pytest.raises(DecodingError, match=re.escape(says)):
        deserialize(rlp_encode([tag, version, signatures, transaction]))


@pytest.mark.parametrize("cls", list(registered().values()), ids=lambda c: f"{c.TYPE}-v{c.VERSION}")
@given(data=st.data())
def test_an_object_serializes_as_its_rlp_items_do(
    cls: type[ChainObject], data: st.DataObject
) -> None:
    obj = data.draw(object_of(cls))  # built through attrs: no serialization remembered yet
    items = obj.rlp_items()
    assert obj.serialize() == rlp.encode(items)


# --- the checks' context, built by the ledger without validators ----------------------------


def _plain(context: SigningContext) -> SigningContext:
    """The same values through the validating constructor."""
    return SigningContext(
        **{field.name: getattr(context, field.name) for field in attrs.fields(SigningContext)}
    )


@pytest.mark.parametrize("role", [Role.INITIATOR, Role.RESPONDER])
def test_ledger_context_equals_the_validated_one(
    role: Role, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every context the ledger builds through an open, an own and a peer's transfer and the
    # co-signed states that follow: field for field what the plain constructor gives.
    built: list[SigningContext] = []
    of_ledger = SigningContext.of_ledger

    def recording(**values: Any) -> SigningContext:
        context = of_ledger(**values)
        built.append(context)
        return context

    monkeypatch.setattr(SigningContext, "of_ledger", recording)
    channel, node = opened(role)
    round_ = 1
    for to_peer in (True, False):
        after = transfer_through(channel, node, to_peer=to_peer)
        # The co-signed state taken: the round moved on.
        assert channel.ledger.latest is not None, after
        assert channel.ledger.latest.round == round_ + 1, after
        round_ += 1
    assert len(built) >= 6
    assert any(c.pending is not None for c in built)
    assert any(c.signed_rounds for c in built)
    for context in built:
        plain = _plain(context)
        assert context == plain
        assert dict(context.signed_rounds) == dict(plain.signed_rounds)
        assert dict(context.known_signers) == dict(plain.known_signers)
        assert context.participants() == plain.participants()
        assert context.peer_of() == plain.peer_of()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            context.role = Role.INITIATOR  # type: ignore[misc]


# --- inner objects decoded once by their bytes -----------------------------------------------


def test_inner_object_shared_by_its_bytes_equals_a_fresh_decode() -> None:
    _, node = opened()
    tx, _updates = node.transfer(1, to_peer=True)
    request = txs.SignedTx(signatures=(), transaction=tx).serialize()
    co_signed = node.co_signed(tx).serialize()
    first, second = deserialize(request), deserialize(co_signed)
    assert isinstance(first, txs.SignedTx)
    assert isinstance(second, txs.SignedTx)
    assert second.transaction is first.transaction  # the inner tx decoded once
    fresh = from_rlp_items(rlp_decode(tx.serialize()))  # the plain way, no cache on the path
    assert second.transaction == fresh
    assert second.transaction.serialize() == tx.serialize()


def test_inner_object_failures_are_not_kept_and_name_their_place() -> None:
    # A bad inner object is refused with its place named, every time; a good object of a
    # kind not allowed there is refused even after it was decoded (and kept) elsewhere.
    _, node = opened()
    tx, _updates = node.transfer(1, to_peer=True)
    items = rlp_decode(txs.SignedTx(signatures=(), transaction=tx).serialize())
    bad = rlp_encode([*items[:3], b"\x01"])  # a signed tx whose inner tx is the byte 0x01
    for _ in range(2):
        with pytest.raises(DecodingError, match=r"signed_tx\.transaction"):
            deserialize(bad)
    signed = txs.SignedTx(signatures=(), transaction=tx)
    meta = txs.GAMetaTx(
        ga_id=Id(IdTag.ACCOUNT, node.ours.public_key),
        auth_data=b"",
        abi_version=1,
        fee=1,
        gas=1,
        gas_price=1,
        tx=signed,
    )
    assert deserialize(meta.serialize()) == meta
    deserialize(signed.serialize())  # the off-chain tx's bytes decoded (and kept) here
    items = rlp_decode(meta.serialize())
    wrong = rlp_encode([*items[:-1], tx.serialize()])  # a meta tx around a bare off-chain tx
    for _ in range(2):
        with pytest.raises(DecodingError, match=r"ga_meta_tx\.tx: expected signed_tx"):
            deserialize(wrong)


# --- the wire: flat RLP, own texts taken back, objects built without their validators --------
# (self-contained: the plain ways these stand for are spelled out here)


def _recursive_rlp_item(data: bytes, start: int, limit: int) -> tuple[Any, int]:
    """The codec's earlier decoder, one call per item: the flat loop must agree with it."""
    if start >= limit:
        raise DecodingError("truncated: an item is missing")
    first = data[start]
    if first < 0x80:
        return data[start : start + 1], start + 1
    is_list = first >= 0xC0
    short = first - (0xC0 if is_list else 0x80)
    if short < 56:
        begin, length = start + 1, short
    else:
        begin = start + 1 + short - 55
        if begin > limit:
            raise DecodingError("truncated: a length is cut short")
        length = int.from_bytes(data[start + 1 : begin], "big")
        if data[start + 1] == 0 or length < 56:
            raise DecodingError("a length is not in its shortest form")
    end = begin + length
    if end > limit:
        raise DecodingError(f"truncated: {length} bytes announced, {limit - begin} left")
    if not is_list:
        if length == 1 and data[begin] < 0x80:
            raise DecodingError("a single byte below 0x80 is its own encoding")
        return data[begin:end], end
    found: list[Any] = []
    position = begin
    while position < end:
        item, position = _recursive_rlp_item(data, position, end)
        found.append(item)
    return found, end


def _recursive_rlp(data: bytes) -> object:
    try:
        item, end = _recursive_rlp_item(data, 0, len(data))
        if end != len(data):
            raise DecodingError(f"{len(data) - end} trailing bytes")
    except DecodingError as exc:
        return str(exc)
    return item


def _flat_rlp(data: bytes) -> object:
    try:
        return rlp_decode(data)
    except DecodingError as exc:
        return str(exc)


@given(items, st.data())
def test_the_flat_rlp_loop_is_the_recursive_decoder(item: Any, data: st.DataObject) -> None:
    encoded = rlp_encode(item)
    assert _flat_rlp(encoded) == _recursive_rlp(encoded) == item
    mutated = bytearray(encoded)
    position = data.draw(st.integers(0, len(mutated) - 1))
    mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    for candidate in (bytes(mutated), bytes(mutated[:cut]), encoded + b"\x00", encoded[1:]):
        assert _flat_rlp(candidate) == _recursive_rlp(candidate)  # same item, or same error


def test_the_flat_rlp_loop_takes_deep_nesting_without_recursion() -> None:
    encoded = b"\xc0"
    for _ in range(5000):  # deeper than Python's recursion limit
        encoded = rlp_list([encoded])
    item, depth = rlp_decode(encoded), 0
    while item:
        assert isinstance(item, list)
        assert len(item) == 1
        item, depth = item[0], depth + 1
    assert depth == 5000
    with pytest.raises(DecodingError):  # no chain object, and no crash
        deserialize(encoded)
    signed_tx_head = rlp_encode([b"\x0b", b"\x01"])[1:]
    with pytest.raises(DecodingError, match="signatures"):
        deserialize(rlp_list([signed_tx_head, encoded, b"\x80"]))


def _ack_transfer(channel: Channel, node: ScriptedNode, forget_reply: bool) -> list[Event]:
    """A transfer of the peer's, with the channel's memory of its reply kept or dropped."""
    tx, updates = node.transfer(1, to_peer=False)
    channel.receive_frame(node.sign_request("update_ack", node.peer_signed(tx), updates))
    for event in list(channel.events()):
        if isinstance(event, SignRequest):
            event.sign(node.ours)
    (reply,) = channel.frames_to_send()
    co_signed = node.update(node.co_signed(tx))
    assert reply["params"]["signed_tx"] == co_signed["params"]["data"]["state"]
    if forget_reply:  # the plain way: the co-signed state decoded from its text
        rounds = channel.ledger.signed_rounds
        rounds.update({r: attrs.evolve(s, sent=None) for r, s in rounds.items()})
    channel.receive_frame(co_signed)
    node.took(tx)
    return list(channel.events())


def test_our_reply_coming_back_co_signed_is_taken_as_its_text_decodes() -> None:
    (kept, node), (plain, twin) = opened(), opened()
    for _ in range(3):
        taken = _ack_transfer(kept, node, forget_reply=False)
        decoded = _ack_transfer(plain, twin, forget_reply=True)
        assert taken == decoded
        (state,) = [e for e in taken if isinstance(e, CoSignedState)]
        assert state.accepted
        assert state.signed_tx == deserialize(encoding.decode(state.tx, "tx"))
    assert kept.record() == plain.record()


def test_a_request_frame_is_remembered_as_add_would() -> None:
    made: rpc.RequestTable[str] = rpc.RequestTable()
    added: rpc.RequestTable[str] = rpc.RequestTable()
    params = {"from": "ak_x", "amount": 1}
    frame = made.request("channels.update.new", params, context="op")
    added.add(rpc.build_request("channels.update.new", params, id=frame["id"]), context="op")
    assert made.pending == added.pending
    assert made.pending[0].params is not frame["params"]  # a copy: the frame sent may change
    assert made.request("channels.system", None, context="x")["params"] == {}


@given(st.binary(min_size=32, max_size=32))
def test_an_id_from_its_text_is_the_one_built_through_its_validators(key: bytes) -> None:
    for tag in IdTag:
        text = encoding.encode(tag.prefix, key)
        assert Id.from_api(text) == Id(tag, key)
        assert Id.from_api(text, tag).api == text
        assert Id.from_api(text) is Id.deserialize(bytes([tag]) + key)  # one object per id


_SIGNATURES: Final = st.binary(min_size=64, max_size=64)


@given(st.lists(_SIGNATURES, max_size=3), _SIGNATURES)
def test_a_signature_added_is_the_signed_tx_built_through_its_validators(
    signatures: list[bytes], signature: bytes
) -> None:
    _, node = opened()
    tx, _updates = node.transfer(1, to_peer=True)
    signed = txs.SignedTx(signatures=tuple(sorted(set(signatures))), transaction=tx)
    added = crypto.add_signature(signed, signature)
    built = txs.SignedTx(signatures=tuple(sorted({*signatures, signature})), transaction=tx)
    assert added == built
    assert added.serialize() == built.serialize()
    assert deserialize(added.serialize()) == built


@given(st.integers(0, 2**70), st.integers(0, 2**70), st.integers(0, 2**70), st.booleans())
def test_the_state_after_a_transfer_is_the_one_with_its_amount_moved(
    ours: int, theirs: int, amount: int, to_peer: bool
) -> None:
    _, node = opened()
    a, b = node.ours.public_key, node.peer.public_key
    state = OffChainState(initiator=a, responder=b, balances={a: ours, b: theirs})
    source, target = (a, b) if to_peer else (b, a)
    update = txs.OffChainTransfer(
        from_id=Id(IdTag.ACCOUNT, source), to_id=Id(IdTag.ACCOUNT, target), amount=amount
    )
    try:
        after = state.apply((update,))
    except UpdateRefused:
        assert amount > state.balances[source]  # type: ignore[index]
        return
    assert state.balances is not None
    moved = {**state.balances, source: state.balances[source] - amount}
    moved[target] += amount
    built = OffChainState(initiator=a, responder=b, balances=moved)
    assert after == built
    assert after.state_hash() == built.state_hash()
    assert dict(after.balances or {}) == dict(built.balances or {})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        after.contracts = True  # type: ignore[misc]


def test_updates_name_an_unknown_field_or_a_missing_one_as_before() -> None:
    _, node = opened()
    good = {"op": "OffChainTransfer", "from": node.ours.address, "to": node.peer.address}
    with pytest.raises(RemoteProtocolError, match=r"updates\[0\]\.amount: missing"):
        updates_from_json([good])
    with pytest.raises(RemoteProtocolError, match=r"updates\[1\]: unknown field\(s\) .*'zz'"):
        updates_from_json([{**good, "amount": 1}, {**good, "amount": 1, "zz": 0, 3: 1}])
    parsed = updates_from_json([{**good, "amount": 5}])
    assert parsed == (
        txs.OffChainTransfer(
            from_id=Id.account(node.ours.address), to_id=Id.account(node.peer.address), amount=5
        ),
    )


# --- two accounts' trie root built directly; a signed tx read by position --------------------


@given(
    st.integers(1, 66).flatmap(lambda size: st.tuples(_keys(size), st.integers(0, 8 * size - 1)))
)
def test_the_root_of_two_keys_is_the_general_one(key_and_bit: tuple[bytes, int]) -> None:
    # The second key differs from the first in one bit: the paths part at every depth.
    first, bit = key_and_bit
    second = (int.from_bytes(first, "big") ^ (1 << bit)).to_bytes(len(first), "big")
    for values in ((b"\x01", b"\x02"), (b"v" * 40, b"w" * 3)):  # leaves embedded or hashed
        entries = dict(zip((first, second), values, strict=True))
        assert mpt.root_hash(entries) == _general_root(entries)


def _signed_offchain_tx(signatures: list[bytes], round_: int) -> txs.SignedTx:
    _, node = opened()
    tx, _updates = node.transfer(1, to_peer=True)
    tx = attrs.evolve(tx, round=round_)
    return txs.SignedTx(signatures=tuple(sorted(set(signatures))), transaction=tx)


def _general_signed_tx(payload: bytes) -> ChainObject | None:
    try:
        return deserialize(payload, "tx")
    except DecodingError:
        return None


@given(st.lists(_SIGNATURES, max_size=5), st.integers(0, 2**64), st.data())
def test_a_signed_tx_read_by_position_is_the_general_decoders(
    signatures: list[bytes], round_: int, data: st.DataObject
) -> None:
    payload = _signed_offchain_tx(signatures, round_).serialize()
    read = txs._read_signed_tx(payload)
    assert read is not None  # the usual shape is read by position
    assert read == _general_signed_tx(payload)
    assert read.serialize() == payload
    # Whatever it is given, it reads what the general decoder does, or leaves it to it.
    at = data.draw(st.integers(0, len(payload) - 1))
    for changed in (
        payload[:at] + bytes([data.draw(st.integers(0, 255))]) + payload[at + 1 :],
        payload[:at],
        payload[:at] + data.draw(st.binary(min_size=1, max_size=3)) + payload[at:],
    ):
        read = txs._read_signed_tx(changed)
        assert read is None or (read == _general_signed_tx(changed) and read.serialize() == changed)


@given(object_of(txs.SignedTx))
def test_any_signed_tx_read_by_position_is_the_general_decoders(signed: ChainObject) -> None:
    payload = signed.serialize()
    read = txs._read_signed_tx(payload)
    assert read is None or read == _general_signed_tx(payload) == signed
    assert txs.decode_signed_tx(encoding.encode("tx", payload)) == signed


@given(st.lists(_SIGNATURES, max_size=5), st.integers(0, 2**64))
def test_a_signed_tx_serialized_as_built_is_the_generic_encoding(
    signatures: list[bytes], round_: int
) -> None:
    built = _signed_offchain_tx(signatures, round_)  # validated, serialized field by field
    made = txs.signed_tx_of(built.signatures, built.transaction)
    assert made == built
    assert made.serialize() == built.serialize()
