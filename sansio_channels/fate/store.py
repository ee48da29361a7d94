"""A FATE contract's store: its registers (register 1 holds the contract's state, register 0
the metadata of its store maps) and the entries of its store maps.

The node keeps a contract's store in the contracts tree, under ``pubkey ++ <<16>> ++ key``:

=================================  =============================================
store key                          value
=================================  =============================================
``<<0>> ++ N`` (N big-endian,      register N, a serialized value
shortest bytes; 0 is ``<<0>>``)
``<<1>> ++ raw id (4 bytes)``      ``<<0>>``: the root of a store map's entries
``<<1>> ++ raw id ++ key``         the value of a serialized key in that map
=================================  =============================================

:func:`decode_store` reads those entries strictly (each key and value as the node writes
it), :meth:`ContractStore.entries` writes them back, and :func:`contract_stores` finds the
stores of the contracts in a channel's state trees (``channels.get.offchain_state``);
:func:`decode_contract_state` reads the ``contract_state`` of ``channels.get.contract``
(``ck_`` store keys to ``cv_`` values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from .. import encoding
from ..errors import DecodingError
from ..trees import StateTrees
from .values import StoreMap, Value, decode_value, encode_value

__all__ = ["ContractStore", "contract_stores", "decode_contract_state", "decode_store"]

REGISTER: Final = 0
STORE_MAP: Final = 1
META_REGISTER: Final = 0
STATE_REGISTER: Final = 1
RAW_ID_SIZE: Final = 4
MAP_ROOT: Final = b"\x00"
STORE_PREFIX: Final = 16  # after the contract's pubkey in the contracts tree
PUBKEY_SIZE: Final = 32


@attrs.frozen
class ContractStore:
    """The decoded store of one contract."""

    registers: Mapping[int, Value]
    maps: Mapping[int, Mapping[Value, Value]]  # by raw id

    @property
    def state(self) -> Value | None:
        """The contract's state (register 1), None when it has none."""
        return self.registers.get(STATE_REGISTER)

    def store_map(self, reference: StoreMap) -> Mapping[Value, Value]:
        """The entries of a store map the state refers to (through the metadata's raw id)."""
        meta = self.registers.get(META_REGISTER, {})
        entry = meta.get(reference.id) if isinstance(meta, dict) else None
        if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], int)):
            raise DecodingError(f"store: no metadata for store map {reference.id}")
        return self.maps.get(entry[0], {})

    def entries(self) -> dict[bytes, bytes]:
        """The store's entries (store key -> value) as the node writes them."""
        found: dict[bytes, bytes] = {}
        for number, value in self.registers.items():
            found[bytes((REGISTER,)) + _unsigned(number)] = encode_value(value)
        for raw_id, entries in self.maps.items():
            prefix = bytes((STORE_MAP,)) + raw_id.to_bytes(RAW_ID_SIZE, "big")
            found[prefix] = MAP_ROOT
            for key, value in entries.items():
                found[prefix + encode_value(key)] = encode_value(value)
        return found


def _unsigned(number: int) -> bytes:
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")


def decode_store(entries: Mapping[bytes, bytes]) -> ContractStore:
    """A contract's store from its entries (store key -> value)."""
    registers: dict[int, Value] = {}
    maps: dict[int, dict[Value, Value]] = {}
    for key, value in sorted(entries.items()):
        where = f"store key {key.hex()}"
        if key[:1] == bytes((REGISTER,)) and len(key) > 1:
            if len(key) > 2 and key[1] == 0:
                raise DecodingError(f"{where}: a register number with a leading zero byte")
            registers[int.from_bytes(key[1:], "big")] = _value(value, where)
        elif key[:1] == bytes((STORE_MAP,)) and len(key) >= 1 + RAW_ID_SIZE:
            raw_id = int.from_bytes(key[1 : 1 + RAW_ID_SIZE], "big")
            entry_key = key[1 + RAW_ID_SIZE :]
            if not entry_key:
                if value != MAP_ROOT:
                    raise DecodingError(f"{where}: a store map's root holds 00")
                maps.setdefault(raw_id, {})
                continue
            if raw_id not in maps:
                raise DecodingError(f"{where}: an entry of store map {raw_id} without its root")
            maps[raw_id][_value(entry_key, where)] = _value(value, where)
        else:
            raise DecodingError(f"{where}: neither a register nor a store map entry")
    return ContractStore(registers, maps)


def _value(data: bytes, where: str) -> Value:
    try:
        return decode_value(data)
    except DecodingError as exc:
        raise DecodingError(f"{where}: {exc}") from None


def contract_stores(trees: StateTrees) -> dict[str, ContractStore]:
    """The store of every contract in the state trees, by its ``ct_`` id."""
    grouped: dict[bytes, dict[bytes, bytes]] = {}
    for entry in trees.contracts_tree.mtree.values:
        key = entry.key
        if len(key) > PUBKEY_SIZE + 1 and key[PUBKEY_SIZE] == STORE_PREFIX:
            grouped.setdefault(key[:PUBKEY_SIZE], {})[key[PUBKEY_SIZE + 1 :]] = entry.val
    return {
        encoding.encode("ct", pubkey): decode_store(entries) for pubkey, entries in grouped.items()
    }


def decode_contract_state(result: Mapping[str, object]) -> ContractStore:
    """The store in a ``channels.get.contract`` result: its ``contract_state`` maps each
    ``ck_`` store key to a ``cv_`` value."""
    state = result.get("contract_state")
    if not isinstance(state, Mapping):
        raise DecodingError("contract: no contract_state")
    entries: dict[bytes, bytes] = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise DecodingError("contract_state: ck_ keys to cv_ values")
        entries[encoding.decode(key, "ck")] = encoding.decode(value, "cv")
    return decode_store(entries)
