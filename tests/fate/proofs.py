"""The key-value pairs a proof of inclusion (``pi_``) shows of each tree, for the tests.

A proof is ``[60, 1, accounts, calls, channels, contracts, ns, oracles]``; each tree's proof
is empty or ``[[root hash, [[node hash, node], ...]]]``. The walk starts at the root and
follows the Merkle Patricia nodes the proof holds (children of under 32 bytes are inline).
"""

from __future__ import annotations

from typing import Any

from sansio_channels import encoding
from sansio_channels.codec import rlp_decode

TREES = ("accounts", "calls", "channels", "contracts", "ns", "oracles")


def proof_entries(pi: str) -> dict[str, dict[bytes, bytes]]:
    items: Any = rlp_decode(encoding.decode(pi, "pi"))
    found: dict[str, dict[bytes, bytes]] = {}
    for name, tree in zip(TREES, items[2:], strict=True):
        entries: dict[bytes, bytes] = {}
        if tree:
            ((root, nodes),) = tree
            by_hash = dict(nodes)
            _walk(by_hash.get(root), "", by_hash, entries)
        found[name] = entries
    return found


def _child(reference: bytes, by_hash: dict[bytes, Any]) -> Any:
    if len(reference) == 32:
        return by_hash.get(reference)  # a node the proof leaves out
    return rlp_decode(reference)


def _walk(node: Any, path: str, by_hash: dict[bytes, Any], out: dict[bytes, bytes]) -> None:
    if node is None:
        return
    if len(node) == 17:
        for index, reference in enumerate(node[:16]):
            if reference:
                _walk(_child(reference, by_hash), path + f"{index:x}", by_hash, out)
        if node[16]:
            out[bytes.fromhex(path)] = node[16]
        return
    packed, rest = node
    flag = packed[0] >> 4
    nibbles = packed.hex()[1 if flag & 1 else 2 :]
    if flag >= 2:  # a leaf
        out[bytes.fromhex(path + nibbles)] = rest
    else:
        _walk(_child(rest, by_hash), path + nibbles, by_hash, out)
