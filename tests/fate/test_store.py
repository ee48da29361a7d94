"""A contract's store: registers, store maps, strict keys; the stores of state trees."""

from __future__ import annotations

import attrs
import pytest

from sansio_channels import encoding
from sansio_channels.errors import DecodingError
from sansio_channels.fate.store import (
    ContractStore,
    contract_stores,
    decode_contract_state,
    decode_store,
)
from sansio_channels.fate.values import StoreMap, encode_value
from sansio_channels.trees import ContractsMtree, Mtree, MtreeValue, StateTrees

from ..test_state_hash import accounts_only_trees

# A state (register 1) of (count, a store map), the map's metadata in register 0:
# map id 7 -> (raw id 9, one reference, two entries), and the map's two entries.
ENTRIES = {
    b"\x00\x00": encode_value({7: (9, 1, 2)}),
    b"\x00\x01": encode_value((5, StoreMap(7))),
    b"\x01\x00\x00\x00\x09": b"\x00",
    b"\x01\x00\x00\x00\x09" + encode_value("rock"): encode_value(1),
    b"\x01\x00\x00\x00\x09" + encode_value("paper"): encode_value(2),
}


def test_a_store_with_a_store_map() -> None:
    store = decode_store(ENTRIES)
    assert store.state == (5, StoreMap(7))
    assert store.store_map(StoreMap(7)) == {"rock": 1, "paper": 2}
    assert store.entries() == ENTRIES
    with pytest.raises(DecodingError, match="no metadata for store map 8"):
        store.store_map(StoreMap(8))
    assert ContractStore({}, {}).state is None


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({b"\x00\x00\x01": b"\x02"}, "leading zero"),
        ({b"\x02": b"\x02"}, "neither a register"),
        ({b"\x01\x00\x00\x00\x09": b"\x01"}, "root holds 00"),
        ({b"\x01\x00\x00\x00\x09\x02": b"\x02"}, "without its root"),
        ({b"\x00\x01": b"\x80"}, "minus zero"),
    ],
)
def test_what_the_node_would_not_store_is_refused(
    entries: dict[bytes, bytes], message: str
) -> None:
    with pytest.raises(DecodingError, match=message):
        decode_store(entries)


def test_the_stores_of_state_trees() -> None:
    pubkey = bytes(range(32))
    contract_entries = {pubkey: b"\x01", pubkey + b"\x10": b"\x00"}
    contract_entries |= {pubkey + b"\x10" + key: value for key, value in ENTRIES.items()}
    trees = attrs.evolve(
        accounts_only_trees({}),
        contracts_tree=ContractsMtree(
            mtree=Mtree(values=tuple(MtreeValue(key=k, val=v) for k, v in contract_entries.items()))
        ),
    )
    assert isinstance(trees, StateTrees)
    stores = contract_stores(trees)
    assert list(stores) == [encoding.encode("ct", pubkey)]
    assert stores[encoding.encode("ct", pubkey)].entries() == ENTRIES


def test_the_store_of_a_get_contract_result() -> None:
    result = {
        "contract": {"id": encoding.encode("ct", bytes(32))},
        "contract_state": {
            encoding.encode("ck", key): encoding.encode("cv", value)
            for key, value in ENTRIES.items()
        },
    }
    store = decode_contract_state(result)
    assert store.state == (5, StoreMap(7))
    assert store.entries() == ENTRIES
    with pytest.raises(DecodingError, match="no contract_state"):
        decode_contract_state({})
    with pytest.raises(DecodingError, match="ck_ keys to cv_ values"):
        decode_contract_state({"contract_state": {"ck_x": 1}})
