"""Every FATE code, call data and return value of the recorded node sessions decodes, and
re-encodes to the same bytes; the call data decodes against the contract it calls.

AEVM contracts (ABI version 1) also appear in the recordings: their code and call data are no
FATE and are counted apart. The node's own bad call data (sc_ws_wrong_call_data.md) is
refused as the node refused it.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sansio_channels import encoding
from sansio_channels.codec import rlp_decode
from sansio_channels.errors import DecodingError
from sansio_channels.fate.calldata import Interface, split_call_data
from sansio_channels.fate.code import Contract
from sansio_channels.fate.store import PUBKEY_SIZE, STORE_PREFIX, decode_store
from sansio_channels.fate.values import decode_value, encode_value
from sansio_channels.transcript import EntryKind, parse_file

from ..recordings import TRANSCRIPTS, recording_files
from .proofs import proof_entries

FATE_ABI = 3


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@cache
def recorded() -> dict[str, Any]:
    """Per kind, the distinct recorded strings: FATE or AEVM by the ABI beside them."""
    found: dict[str, set[str]] = {k: set() for k in ("code", "call_data", "return_value")}
    aevm: dict[str, set[str]] = {k: set() for k in found}
    by_file: dict[str, list[tuple[str, str]]] = {}
    for rel in recording_files():
        abi_of_contract: dict[str, int] = {}
        frames = [
            entry.frame
            for entry in parse_file(str(TRANSCRIPTS / rel))
            if entry.kind in (EntryKind.SENT, EntryKind.RECEIVED)
        ]
        objects = [o for frame in frames for o in _walk(frame)]
        for o in objects:
            if "contract_id" in o and "abi_version" in o:
                abi_of_contract[o["contract_id"]] = int(o["abi_version"])
        for o in objects:
            abi = o.get("abi_version", abi_of_contract.get(o.get("contract_id", ""), FATE_ABI))
            for kind in found:
                text = o.get(kind)
                if isinstance(text, str) and text.startswith("cb_"):
                    if kind == "return_value" and o.get("return_type") == "error":
                        continue  # the VM's message in plain text, not a FATE value
                    (found if int(abi) == FATE_ABI else aevm)[kind].add(text)
                    by_file.setdefault(rel, []).append((kind, text))
    # A string recorded beside both ABIs (a dry run's echo) counts as FATE.
    aevm = {kind: texts - found[kind] for kind, texts in aevm.items()}
    return {"fate": found, "aevm": aevm, "by_file": by_file}


def test_every_recorded_code_round_trips() -> None:
    codes = recorded()["fate"]["code"]
    for text in codes:
        data = encoding.decode(text, "cb")
        assert Contract.from_bytes(data).serialize() == data
    assert len(codes) == 6


def test_every_recorded_value_round_trips() -> None:
    counts: Counter[str] = Counter()
    for kind in ("call_data", "return_value"):
        for text in recorded()["fate"][kind]:
            data = encoding.decode(text, "cb")
            assert encode_value(decode_value(data)) == data
            counts[kind] += 1
    assert counts == {"call_data": 44, "return_value": 27}


def test_aevm_code_and_call_data_are_no_fate() -> None:
    for kind, texts in recorded()["aevm"].items():
        for text in texts:
            data = encoding.decode(text, "cb")
            try:
                decode_value(data) if kind != "code" else Contract.from_bytes(data)
            except DecodingError:
                continue
            raise AssertionError(f"AEVM {kind} {text} decoded as FATE")


def test_recorded_call_data_decodes_against_the_contract_it_calls() -> None:
    decoded: Counter[str | None] = Counter()
    refused: list[tuple[str, str, str]] = []
    for rel, entries in recorded()["by_file"].items():
        interfaces = [
            Interface.from_code(text)
            for kind, text in entries
            if kind == "code" and text in recorded()["fate"]["code"]
        ]
        for kind, text in dict.fromkeys(entries):
            if kind != "call_data" or text not in recorded()["fate"]["call_data"]:
                continue
            data = encoding.decode(text, "cb")
            calls = []
            for interface in interfaces:
                with contextlib.suppress(DecodingError):
                    calls.append(interface.decode_call(data))
            if not calls:
                refused.append((rel, text, split_call_data(data)[0].hex()))
                continue
            call = calls[0]
            decoded[call.function] += 1
            arguments = call.to_json()["arguments"]
            assert isinstance(arguments, list)
            fitting = next(i for i in interfaces if _fits(i, data))
            again = fitting.encode_call(call.function or "", arguments)
            assert again == data
    # The node's "undefined function" of sc_ws_wrong_call_data.md: the id 4b050ea9.
    assert {(rel, fid) for rel, _, fid in refused} == {
        ("contracts/sc_ws_wrong_call_data.md", "4b050ea9")
    }
    assert sum(decoded.values()) == 47


def _fits(interface: Interface, data: bytes) -> bool:
    try:
        interface.decode_call(data)
    except DecodingError:
        return False
    return True


def recorded_stores() -> tuple[list[dict[bytes, bytes]], list[bytes], int]:
    """The FATE contract stores and codes the recorded proofs of inclusion show, and how many
    AEVM contracts they show (their stores are no FATE)."""
    stores: list[dict[bytes, bytes]] = []
    codes: list[bytes] = []
    aevm = 0
    texts: set[str] = set()
    for rel in recording_files():
        text = (TRANSCRIPTS / rel).read_text()
        texts |= set(re.findall(r"pi_[A-Za-z0-9+/=]+", text))
    for pi in sorted(texts):
        entries = proof_entries(pi)["contracts"]
        for key, value in entries.items():
            if len(key) != PUBKEY_SIZE:
                continue
            contract: Any = rlp_decode(value)  # [40, 1, owner, ct_version, code, ...]
            if int.from_bytes(contract[3], "big") & 0xFFFF != FATE_ABI:
                aevm += 1
                continue
            codes.append(contract[4])
            prefix = key + bytes((STORE_PREFIX,))
            stores.append(
                {
                    k[len(prefix) :]: v
                    for k, v in entries.items()
                    if k.startswith(prefix) and k != prefix
                }
            )
    return stores, codes, aevm


def test_every_recorded_store_round_trips() -> None:
    stores, codes, aevm = recorded_stores()
    states = []
    for entries in stores:
        store = decode_store(entries)
        assert store.entries() == entries
        assert store.registers[0] == {}  # no store maps in these contracts
        states.append(store.state)
    for code in codes:
        assert Contract.from_bytes(code).serialize() == code
    assert (len(stores), len(codes), aevm) == (6, 6, 2)
    assert sorted(map(repr, states)) == ["()", "()", "()", "()", "23", "23"]


@given(st.data())
@settings(max_examples=300)
def test_a_recorded_code_with_one_byte_changed_decodes_the_same_or_raises(
    data: st.DataObject,
) -> None:
    codes = sorted(recorded()["fate"]["code"])
    code = bytearray(encoding.decode(data.draw(st.sampled_from(codes)), "cb"))
    index = data.draw(st.integers(min_value=0, max_value=len(code) - 1))
    code[index] = data.draw(st.integers(min_value=0, max_value=255))
    try:
        contract = Contract.from_bytes(bytes(code))
    except DecodingError:
        return
    assert contract.serialize() == bytes(code)
    interface = Interface(contract.fate)
    for function in interface.functions:
        assert function.to_json()["id"] == "0x" + function.id.hex()


@given(st.dictionaries(st.binary(max_size=8), st.binary(max_size=8), max_size=6))
def test_arbitrary_store_entries_decode_the_same_or_raise(entries: dict[bytes, bytes]) -> None:
    try:
        store = decode_store(entries)
    except DecodingError:
        return
    assert store.entries() == entries
