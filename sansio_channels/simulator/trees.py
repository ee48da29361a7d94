"""The off-chain state of an accounts-only channel as the node hands it out.

``channels.get.offchain_state`` returns the state trees (``ss_``) and the calls tree (``cs_``);
close, slash and ``channels.get.poi`` carry a proof of inclusion (POI, tag 60) of the
participants' accounts. All of it follows from the balances alone, as the state hash does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypeAlias

from .. import encoding
from ..codec import RLPItem, encode_int, rlp_encode
from ..crypto import blake2b_256
from ..trees import (
    Account,
    AccountsMtree,
    CallsMtree,
    ChannelsMtree,
    ContractsMtree,
    Mtree,
    MtreeValue,
    NameServiceMtree,
    OraclesMtree,
    StateTrees,
)

__all__ = ["Balances", "calls_text", "poi_bytes", "state_trees_text"]

Balances: TypeAlias = Mapping[bytes, int]  # 32-byte pubkey -> balance

_POI_TAG: Final = 60
_POI_VERSION: Final = 1
_HASH_SIZE: Final = 32
_EMPTY: Final = Mtree(values=())


def _account_value(balance: int) -> bytes:
    # Channel accounts are plain accounts whose nonce never moves.
    return Account(nonce=0, balance=balance).serialize()


def state_trees_text(balances: Balances) -> str:
    """The ``ss_`` string of a channel state holding only these accounts."""
    accounts = Mtree(
        values=tuple(
            MtreeValue(key=key, val=_account_value(balance))
            for key, balance in sorted(balances.items())
        )
    )
    trees = StateTrees(
        contracts_tree=ContractsMtree(mtree=_EMPTY),
        calls_tree=CallsMtree(mtree=_EMPTY),
        channels_tree=ChannelsMtree(mtree=_EMPTY),
        ns_tree=NameServiceMtree(mtree=_EMPTY),
        oracles_tree=OraclesMtree(mtree=_EMPTY),
        accounts_tree=AccountsMtree(mtree=accounts),
    )
    return encoding.encode("ss", trees.serialize())


def calls_text() -> str:
    """The ``cs_`` string of the empty calls tree: no contract was ever called."""
    return encoding.encode("cs", CallsMtree(mtree=_EMPTY).serialize())


# --- proof of inclusion ------------------------------------------------------------------

_Node: TypeAlias = list[RLPItem]


def _hex_prefix(path: list[int], leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    nibbles = [flag + 1, *path] if len(path) % 2 else [flag, 0, *path]
    return bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _nibbles(key: bytes) -> list[int]:
    return [n for byte in key for n in (byte >> 4, byte & 15)]


class _Proof:
    """Every node of a trie that is referred to by its hash (the root always is)."""

    def __init__(self) -> None:
        self.nodes: dict[bytes, _Node] = {}

    def hashed(self, node: _Node) -> bytes:
        digest = blake2b_256(rlp_encode(node))
        self.nodes[digest] = node
        return digest

    def reference(self, node: _Node) -> bytes:
        # A node shorter than a hash is embedded as its RLP (aeu_mp_trees:encode_node/2).
        encoded = rlp_encode(node)
        return encoded if len(encoded) < _HASH_SIZE else self.hashed(node)

    def build(self, entries: list[tuple[list[int], bytes]], depth: int) -> _Node:
        if len(entries) == 1:
            path, value = entries[0]
            return [_hex_prefix(path[depth:], leaf=True), value]
        first, last = entries[0][0], entries[-1][0]
        common = 0
        while first[depth + common] == last[depth + common]:
            common += 1
        if common:
            child = self.build(entries, depth + common)
            return [_hex_prefix(first[depth : depth + common], leaf=False), self.hashed(child)]
        branch: _Node = [b""] * 17
        for nibble in sorted({path[depth] for path, _ in entries}):
            group = [entry for entry in entries if entry[0][depth] == nibble]
            branch[nibble] = self.reference(self.build(group, depth + 1))
        return branch


def poi_bytes(balances: Balances) -> bytes:
    """The serialized POI (tag 60) of these accounts: their whole trie, the other five trees
    absent (a channel without contracts)."""
    proof = _Proof()
    entries = [(_nibbles(key), _account_value(value)) for key, value in sorted(balances.items())]
    root = proof.hashed(proof.build(entries, 0))
    nodes: list[RLPItem] = [[digest, proof.nodes[digest]] for digest in sorted(proof.nodes)]
    accounts: list[RLPItem] = [[root, nodes]]
    empty: list[RLPItem] = []
    return rlp_encode(
        [
            encode_int(_POI_TAG),
            encode_int(_POI_VERSION),
            accounts,
            empty,
            empty,
            empty,
            empty,
            empty,
        ]
    )
