"""Signatures and hashes: every recorded signature verifies; channel ids; keys stay secret."""

from __future__ import annotations

import hashlib
import logging

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import crypto, encoding, txs
from sansio_channels.checks import derived_channel_id
from sansio_channels.codec import ChainObject
from sansio_channels.crypto import KeyPair, SignatureForm
from sansio_channels.encoding import Id, IdTag
from sansio_channels.errors import LocalProtocolError, SignatureError

from .recordings import entries, frames, network_id, preamble, recording_files, strings_with_prefix


def participants(rel: str) -> set[Id]:
    """The accounts named in the connect URLs of a file (and of its group's preamble)."""
    found: set[Id] = set()
    for source in filter(None, (preamble(rel), rel)):
        for entry in entries(source):
            for part in entry.text.split("&") if "channel?" in entry.text else ():
                key, _, value = part.partition("=")
                if key.endswith(("initiator_id", "responder_id")) and value.startswith("ak_"):
                    found.add(Id.account(value))
    return found


def signed_layers_in(rel: str) -> list[txs.SignedTx]:
    layers: list[txs.SignedTx] = []
    for _, frame in frames(rel):
        for text in strings_with_prefix(frame, "tx_"):
            obj = txs.decode_tx(text)
            layers += crypto.signed_layers(obj)
            # Solo txs carry a co-signed state as their payload.
            payload = getattr(crypto.inner_tx(obj), "payload", None)
            if isinstance(payload, ChainObject):
                layers += crypto.signed_layers(payload)
    return layers


SIGNED_FILES = [
    rel for rel in recording_files() if any(s.signatures for s in signed_layers_in(rel))
]


@pytest.mark.parametrize("rel", SIGNED_FILES)
def test_every_recorded_signature_verifies(rel: str) -> None:
    network = network_id(rel)
    assert network is not None, f"INDEX.md names no network id for {rel}"
    accounts = participants(rel)
    assert len(accounts) == 2
    signatures = 0
    for signed in signed_layers_in(rel):
        tx_bytes = signed.transaction.serialize()
        for signature in signed.signatures:
            signer = crypto.signer_of(signature, tx_bytes, network, accounts)
            assert signer is not None, f"{rel}: a signature verifies for no participant"
            assert crypto.verify(signature, tx_bytes, network, signer.key) is SignatureForm.RAW
            signatures += 1
    assert signatures > 0


def test_signatures_do_not_verify_under_another_network() -> None:
    rel = "sc_ws_basic_open_close.md"
    signed = next(s for s in signed_layers_in(rel) if s.signatures)
    tx_bytes = signed.transaction.serialize()
    for signature in signed.signatures:
        assert crypto.signer_of(signature, tx_bytes, "ae_mainnet", participants(rel)) is None


def reported_channel_ids(rel: str) -> set[str]:
    found: set[str] = set()
    for _, frame in frames(rel):
        for holder in (frame, frame.get("params", {})):
            if isinstance(holder, dict) and isinstance(holder.get("channel_id"), str):
                found.add(holder["channel_id"])
    return found


def create_txs(rel: str) -> list[txs.SignedTx]:
    """The signed create txs of a file, as they were sent (a generalized account's reply has
    its meta tx around the create tx)."""
    found = []
    for _, frame in frames(rel):
        for text in strings_with_prefix(frame, "tx_"):
            obj = txs.decode_tx(text)
            inner = crypto.inner_tx(obj)
            if isinstance(obj, txs.SignedTx) and isinstance(
                inner, (txs.ChannelCreateTxV1, txs.ChannelCreateTx)
            ):
                found.append(obj)
    return found


def initiators_meta(signed: txs.SignedTx) -> bool:
    create = crypto.inner_tx(signed)
    assert isinstance(create, (txs.ChannelCreateTxV1, txs.ChannelCreateTx))
    return any(
        isinstance(layer.transaction, (txs.GAMetaTx, txs.GAMetaTxV1))
        and layer.transaction.ga_id == create.initiator_id
        for layer in crypto.signed_layers(signed)
    )


# Files where a create tx was signed and the node went on to name the channel (in one the
# initiator only inspects the create tx and stops).
CREATE_FILES = [rel for rel in recording_files() if create_txs(rel) and reported_channel_ids(rel)]
GA_CREATE_FILES = [rel for rel in CREATE_FILES if any(map(initiators_meta, create_txs(rel)))]


@pytest.mark.parametrize("rel", CREATE_FILES)
def test_channel_id_from_create_tx_is_the_one_the_node_reported(rel: str) -> None:
    reported = reported_channel_ids(rel)
    derived = set()
    for signed in create_txs(rel):
        create = crypto.inner_tx(signed)
        assert isinstance(create, (txs.ChannelCreateTxV1, txs.ChannelCreateTx))
        if create.nonce == 0 and not initiators_meta(signed):
            # A generalized initiator's create tx before its meta tx: the id is not in it.
            with pytest.raises(LocalProtocolError, match="generalized initiator"):
                crypto.channel_id(signed)
            assert derived_channel_id(signed) is None
            continue
        found = crypto.channel_id(signed)
        assert derived_channel_id(signed) == found  # the checks derive it the same way
        derived.add(found.api)
    assert derived, f"{rel}: no create tx named its channel"
    assert derived <= reported, f"{rel}: derived {derived - reported} never reported"


def test_generalized_initiators_channel_ids_are_checked() -> None:
    """The auth-id formula is exercised: the node named each such channel as derived."""
    assert len(GA_CREATE_FILES) >= 2, GA_CREATE_FILES
    for rel in GA_CREATE_FILES:
        derived = {crypto.channel_id(s).api for s in create_txs(rel) if initiators_meta(s)}
        assert derived, rel
        assert derived <= reported_channel_ids(rel), rel


def test_channel_ids_checked_in_enough_files() -> None:
    assert len(CREATE_FILES) > 50


# --- keys and signing ------------------------------------------------------------------

SEED = bytes(range(32))


def test_key_pair_from_secret_and_address() -> None:
    pair = KeyPair.from_secret(SEED)
    assert pair.address.startswith("ak_")
    assert encoding.decode(pair.address, "ak") == pair.public_key
    assert KeyPair.from_secret(pair.secret_bytes()).address == pair.address
    with pytest.raises(LocalProtocolError, match="second half"):
        KeyPair.from_secret(SEED + bytes(32))
    with pytest.raises(LocalProtocolError, match="32 bytes"):
        KeyPair.from_secret(b"short")


def test_secret_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    pair = KeyPair.from_secret(SEED)
    secret_forms = [SEED.hex(), repr(SEED), encoding.encode("sk", pair.secret_bytes())]
    logging.getLogger("test").warning("pair: %s %r", pair, pair)
    shown = [repr(pair), str(pair), f"{pair}", caplog.text]
    try:
        KeyPair.from_secret(SEED + bytes(32))
    except LocalProtocolError as exc:
        shown.append(str(exc))
    for text in shown:
        assert pair.address in text or "second half" in text
        for secret in secret_forms:
            assert secret not in text


@given(st.binary(max_size=300), st.sampled_from(list(SignatureForm)))
def test_sign_and_verify(tx_bytes: bytes, form: SignatureForm) -> None:
    pair = KeyPair.from_secret(SEED, form=form)
    signature = pair.sign_tx(tx_bytes, "ae_uat")
    assert crypto.verify(signature, tx_bytes, "ae_uat", pair.public_key) is form
    assert crypto.verify(signature, tx_bytes, "ae_mainnet", pair.public_key) is None
    assert crypto.verify(signature, tx_bytes + b"x", "ae_uat", pair.public_key) is None
    assert crypto.verify(signature[:10], tx_bytes, "ae_uat", pair.public_key) is None


def test_sign_message_forms() -> None:
    assert crypto.sign_message(b"tx", "ae_uat", SignatureForm.RAW) == b"ae_uattx"
    digest = hashlib.blake2b(b"tx", digest_size=32).digest()
    assert crypto.sign_message(b"tx", "ae_uat", SignatureForm.HASH) == b"ae_uat" + digest


def test_add_signature_keeps_the_list_sorted_and_unique() -> None:
    transfer = txs.OffChainTransfer(
        from_id=Id(IdTag.ACCOUNT, bytes(32)), to_id=Id(IdTag.ACCOUNT, bytes(32)), amount=1
    )
    signed = txs.SignedTx(signatures=(), transaction=transfer)
    keys = [KeyPair.from_secret(bytes([i]) * 32) for i in range(1, 4)]
    for key in keys:
        signed = crypto.sign(signed, key, "ae_uat")
    assert len(signed.signatures) == 3
    assert list(signed.signatures) == sorted(signed.signatures)
    assert crypto.add_signature(signed, signed.signatures[0]) == signed
    with pytest.raises(SignatureError, match="64 bytes"):
        crypto.add_signature(signed, b"x")
    assert isinstance(keys[0], crypto.Signer)


def test_tx_hash_is_blake2b_of_the_signed_tx() -> None:
    text = next(
        t for _, f in frames("sc_ws_basic_open_close.md") for t in strings_with_prefix(f, "tx_")
    )
    signed = txs.decode_signed_tx(text)
    expected = hashlib.blake2b(encoding.decode(text, "tx"), digest_size=32).digest()
    assert crypto.tx_hash(signed) == encoding.encode("th", expected)


def test_channel_id_refuses_other_txs() -> None:
    with pytest.raises(LocalProtocolError, match="channel_create_tx is required"):
        crypto.channel_id(txs.OffChainMeta(data=b""))
    signed = create_txs("sc_ws_basic_open_close.md")[0]
    create = crypto.inner_tx(signed)
    assert isinstance(create, (txs.ChannelCreateTxV1, txs.ChannelCreateTx))
    assert crypto.channel_id(create) == crypto.channel_id(signed)
    with pytest.raises(LocalProtocolError, match="does not fit"):
        crypto.channel_id(attrs.evolve(create, nonce=1 << 256))
    with pytest.raises(LocalProtocolError, match="needs the meta tx"):
        crypto.channel_id(attrs.evolve(create, nonce=0))


def test_a_key_pair_refuses_to_be_pickled_or_copied() -> None:
    import copy
    import pickle

    key = KeyPair.from_secret(bytes(range(32)))
    for attempt in (
        lambda: pickle.dumps(key),
        lambda: copy.copy(key),
        lambda: copy.deepcopy(key),
    ):
        with pytest.raises(TypeError, match="a KeyPair is not pickled or copied") as info:
            attempt()
        assert key.secret_bytes().hex() not in str(info.value)


def test_a_secret_keys_text_is_never_cached() -> None:
    from sansio_channels import encoding

    secret = encoding.encode("sk", bytes(range(64)))
    encoding._decode_short.cache_clear()
    assert encoding.decode_prefixed(secret) == ("sk", bytes(range(64)))
    assert encoding._decode_short.cache_info().currsize == 0
    encoding._encode_short.cache_clear()
    encoding.encode("sk", bytes(range(64)))
    assert encoding._encode_short.cache_info().currsize == 0
