"""The calls a tx holds, shown by ``decode``: typed when the tx carries the contract's code."""

from __future__ import annotations

import json
import re

import attrs
import pytest

from sansio_channels import encoding
from sansio_channels.cli import main
from sansio_channels.codec import encode_int, rlp_encode
from sansio_channels.encoding import Id
from sansio_channels.fate.calldata import Interface
from sansio_channels.fate.describe import decoded_calls
from sansio_channels.trees import ContractsMtree, Mtree, MtreeValue
from sansio_channels.txs import (
    ChannelForceProgressTx,
    OffChainCallContract,
    OffChainNewContract,
    SignedTx,
    encode_tx,
)

from ..recordings import TRANSCRIPTS
from ..test_state_hash import accounts_only_trees
from .test_describe_cli import CODE, PEER

PUBKEY = bytes(range(32))
CONTRACT = encoding.encode("ct", PUBKEY)


def force_progress(call_data: bytes, abi_version: int = 3) -> SignedTx:
    contract_object = rlp_encode(
        [
            encode_int(40),
            encode_int(1),
            Id.account(PEER).serialize(),
            encode_int(7 << 16 | 3),
            encoding.decode(CODE, "cb"),
            b"",
            b"\x01",
            [],
            encode_int(10),
        ]
    )
    trees = attrs.evolve(
        accounts_only_trees({}),
        contracts_tree=ContractsMtree(
            mtree=Mtree(values=(MtreeValue(key=PUBKEY, val=contract_object),))
        ),
    )
    update = OffChainCallContract(
        caller_id=Id.account(PEER),
        contract_id=Id.from_api(CONTRACT),
        abi_version=abi_version,
        amount=5,
        gas=10**6,
        gas_price=10**9,
        call_data=call_data,
        call_stack=(),
    )
    tx = ChannelForceProgressTx(
        channel_id=Id.from_api(encoding.encode("ch", bytes(32))),
        from_id=Id.account(PEER),
        payload=None,
        round=3,
        update=update,
        state_hash=bytes(32),
        offchain_trees=trees.serialize(),
        ttl=0,
        fee=1,
        nonce=2,
    )
    return SignedTx(signatures=(), transaction=tx)


def test_a_force_progress_call_is_typed_by_the_code_in_its_trees() -> None:
    call_data = Interface.from_code(CODE).encode_call("main", [42])
    assert decoded_calls(force_progress(call_data)) == [
        {
            "update": "channel_offchain_update_call_contract",
            "function": "main",
            "arguments": [42],
            "amount": 5,
        }
    ]


def test_an_unknown_contract_shows_the_bare_call_and_bad_call_data_says_why() -> None:
    call_data = Interface.from_code(CODE).encode_call("main", [42])
    forced = force_progress(call_data).transaction
    assert isinstance(forced, ChannelForceProgressTx)
    unknown = attrs.evolve(forced, offchain_trees=accounts_only_trees({}).serialize())
    assert decoded_calls(unknown) == [
        {
            "update": "channel_offchain_update_call_contract",
            "function": "0xb8177eec",
            "arguments": [42],
        }
    ]
    (bad,) = decoded_calls(force_progress(b"\x2b\x11\x4b\x05\x0e\xa9\x3f"))
    assert "no function with id 0x4b050ea9" in str(bad["not_decoded"])
    (aevm,) = decoded_calls(force_progress(b"\x00", abi_version=1))
    assert aevm["not_decoded"] == "ABI version 1, not FATE"


def test_a_create_is_shown_with_its_init_call() -> None:
    create = OffChainNewContract(
        owner_id=Id.account(PEER),
        ct_version=7 << 16 | 3,
        code=encoding.decode(CODE, "cb"),
        deposit=10,
        call_data=b"\x2b\x11\x44\xd6\x44\x1f\x3f",
    )
    assert decoded_calls(create) == [
        {
            "update": "channel_offchain_update_create_contract",
            "function": "init",
            "arguments": [],
            "amount": 10,
        }
    ]


def test_decode_shows_the_calls(capsys: pytest.CaptureFixture[str]) -> None:
    call_data = Interface.from_code(CODE).encode_call("main", [42])
    assert main(["decode", encode_tx(force_progress(call_data))]) == 0
    assert json.loads(capsys.readouterr().out)["decoded_calls"][0]["function"] == "main"
    # The recorded force progress is an AEVM contract's.
    recording = (
        TRANSCRIPTS / "force_progress" / "sc_ws_force_progress_based_on_offchain_state.md"
    ).read_text()
    forced = [
        t
        for t in re.findall(r'"(tx_[A-Za-z0-9+/=]+)"', recording)
        if "decoded_calls" in _decoded(t)
    ]
    assert forced
    assert _decoded(forced[0])["decoded_calls"] == [
        {
            "update": "channel_offchain_update_call_contract",
            "not_decoded": "ABI version 1, not FATE",
        }
    ]


def _decoded(tx: str) -> dict[str, object]:
    from sansio_channels.txs import decode_tx

    view: dict[str, object] = decode_tx(tx).to_json()  # type: ignore[assignment]
    calls = decoded_calls(decode_tx(tx))
    if calls:
        view["decoded_calls"] = calls
    return view
