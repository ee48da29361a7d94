"""The root hash of a Merkle Patricia trie, the way the node's ``aeu_mp_trees`` builds it.

The node keeps every state tree (accounts, contracts, calls, ...) in such a trie. It is the
Ethereum trie with the node's own conventions:

* a node's hash is ``blake2b_256(rlp(node))``;
* a node is referred to by its RLP *as a byte string* when that RLP is shorter than 32 bytes,
  else by its hash, except that an extension's child and the root are always hashes;
* a leaf is ``[hp(path, leaf), value]``, an extension ``[hp(path, extension), child_hash]``,
  a branch 16 child references and a value, ``b""`` where there is none;
* the empty trie has the root ``b""``.

The node's trie does not depend on the order its entries were put in, so the root here is
built directly from the sorted keys: one key is a leaf, keys with a common prefix hang under
an extension, other keys under a branch. Keys may have any length and one key may be a prefix
of another (contract store keys extend the contract's own key); the shorter one then sits in
a branch's value slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, NamedTuple, TypeAlias

from .codec import rlp_bytes, rlp_list
from .codec import rlp_encode as _rlp
from .crypto import blake2b_256

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "root_hash", "sorted_root_hash"]

EMPTY_ROOT: Final = b""  # the root of the empty trie (aeu_mtrees:root_hash says {error, empty})
HASH_SIZE: Final = 32

Node: TypeAlias = list[bytes]  # a leaf or an extension (2 items) or a branch (17 items)

# key.hex() as ASCII, translated to one byte per nibble (0..15).
_NIBBLES: Final = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))
_HEX_DIGITS: Final = bytes.maketrans(bytes(range(16)), b"0123456789abcdef")

# Hex-prefix flag nibbles (aeu_mp_trees :1276-1292); +1 marks an odd path length.
_EXTENSION_FLAG: Final = 0
_LEAF_FLAG: Final = 2


def root_hash(entries: Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]]) -> bytes:
    """The 32-byte root hash of the trie holding ``entries``, or ``b""`` if there are none.

    ``entries`` maps keys to values (a later pair wins over an earlier one with the same key,
    as a later put does). A value may not be empty: the trie uses ``b""`` for "no value".
    """
    pairs = entries.items() if isinstance(entries, Mapping) else entries
    table: dict[bytes, bytes] = {}
    for key, value in pairs:
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise TypeError("trie keys and values are bytes")
        if not value:
            raise ValueError(f"empty value for key {key.hex()}: the trie cannot hold one")
        table[key] = value
    keys = sorted(table)
    return sorted_root_hash(keys, [table[key] for key in keys])


def sorted_root_hash(keys: list[bytes], values: list[bytes]) -> bytes:
    """:func:`root_hash` of entries already checked: ``keys`` sorted and distinct, ``values``
    (not empty) in the same order."""
    # Byte order of the keys is also the order of their nibble paths, prefixes first.
    if not keys:
        return EMPTY_ROOT
    if len(keys) == 2 and len(keys[0]) == len(keys[1]) <= _MAX_FIXED_KEY:
        return _pair_root(keys[0], keys[1], values[0], values[1])
    if len({len(key) for key in keys}) == 1 and len(keys[0]) <= _MAX_FIXED_KEY:
        return blake2b_256(_fixed_node([key.hex() for key in keys], values, 0, len(keys), 0))
    return _hash(_build([_nibbles(key) for key in keys], values))


# Keys of one length (accounts: 32 bytes, calls: 64) are never a prefix of one another, so
# no branch holds a value and the recursion is at most two calls a nibble deep.
_MAX_FIXED_KEY: Final = 64


def _fixed_node(keys: list[str], values: list[bytes], lo: int, hi: int, depth: int) -> bytes:
    """The RLP of the node of ``keys[lo:hi]`` (hex strings of one length, sorted, distinct)
    that share their first ``depth`` nibbles: what :func:`_build` makes for such keys, with
    the paths kept as hex and each node encoded as it is made."""
    first = keys[lo]
    if hi - lo == 1:
        return _leaf(first[depth:], values[lo])
    last = keys[hi - 1]
    end = depth
    while first[end] == last[end]:  # distinct keys of one length part before their end
        end += 1
    if end > depth:
        path = rlp_bytes(_packed(first[depth:end], _EXTENSION_FLAG))
        return _extension(path, _fixed_node(keys, values, lo, hi, end))
    branch = [_EMPTY] * 17
    start = lo
    for index in range(lo + 1, hi + 1):  # each run of keys with the same nibble here
        if index == hi or keys[index][depth] != keys[start][depth]:
            child = _fixed_node(keys, values, start, index, depth + 1)
            branch[int(keys[start][depth], 16)] = _child_reference(child)
            start = index
    return rlp_list(branch)


def _pair_root(first: bytes, second: bytes, first_value: bytes, second_value: bytes) -> bytes:
    """:func:`sorted_root_hash` of two distinct keys of one length (a channel's two accounts):
    a branch where their paths part, over their two leaves, under an extension if they
    share a prefix. What :func:`_fixed_node` makes, the trie's shape worked out from the
    keys' bits."""
    first_slot, first_path, second_slot, second_path, extension_path = _pair_shape(first, second)
    branch = [_EMPTY] * 17
    branch[first_slot] = _child_reference(rlp_list([first_path, rlp_bytes(first_value)]))
    branch[second_slot] = _child_reference(rlp_list([second_path, rlp_bytes(second_value)]))
    node = rlp_list(branch)
    return blake2b_256(_extension(extension_path, node) if extension_path else node)


class _PairShape(NamedTuple):
    """The trie of two distinct keys of one length, but for their values."""

    first_slot: int  # the branch slot of the first key's leaf
    first_path: bytes  # the RLP of the leaf's packed path
    second_slot: int
    second_path: bytes
    extension_path: bytes  # the RLP of the packed path of the extension, b"" when none


# Worked out on every call, with integer arithmetic: a cache of shapes by key pair would make
# the cost of a state hash depend on how many channels the process holds (a miss once they
# outnumber it), and the work is a few integer operations.
def _pair_shape(first: bytes, second: bytes) -> _PairShape:
    """The shape of the trie of ``first`` and ``second``."""
    bits = len(first) * 8
    first_int = int.from_bytes(first, "big")
    # The nibble where the paths part holds the highest bit in which the keys differ.
    depth = (bits - (first_int ^ int.from_bytes(second, "big")).bit_length()) // 4
    extension = b""
    if depth:
        # The shared nibbles behind the extension's flag nibble (and a pad nibble if even).
        shared = first_int >> (bits - 4 * depth)
        head = (_EXTENSION_FLAG + 1) << (4 * depth) if depth % 2 else 0
        extension = rlp_bytes((head | shared).to_bytes(depth // 2 + 1, "big"))
    return _PairShape(*_leaf_under(first, depth), *_leaf_under(second, depth), extension)


def _leaf_under(key: bytes, depth: int) -> tuple[int, bytes]:
    """The slot of ``key``'s leaf in a branch at ``depth`` (its nibble there), and the RLP of
    the leaf's packed path (its nibbles after that)."""
    index, odd = divmod(depth, 2)
    byte = key[index]
    if odd:  # the path starts on a byte
        return byte & 15, rlp_bytes(_LEAF_EVEN + key[index + 1 :])
    # The path's first nibble goes in beside the flag.
    return byte >> 4, rlp_bytes(bytes((_LEAF_ODD | byte & 15,)) + key[index + 1 :])


# The head of a leaf's packed path: a byte of its own if the path is even, else beside the
# first nibble.
_LEAF_EVEN: Final = bytes((_LEAF_FLAG << 4,))
_LEAF_ODD: Final = (_LEAF_FLAG + 1) << 4


def _leaf(path: str, value: bytes) -> bytes:
    """The RLP of a leaf, its path given as hex digits."""
    return rlp_list([rlp_bytes(_packed(path, _LEAF_FLAG)), rlp_bytes(value)])


def _extension(path: bytes, child: bytes) -> bytes:
    """The RLP of an extension over the node whose RLP is ``child`` (always by its hash),
    ``path`` the RLP of its packed path."""
    return rlp_list([path, _HASH_HEAD + blake2b_256(child)])


def _child_reference(child: bytes) -> bytes:
    """A branch's item for the node whose RLP is ``child``: that RLP as a byte string if
    shorter than a hash, else the hash."""
    return rlp_bytes(child if len(child) < HASH_SIZE else blake2b_256(child))


_EMPTY: Final = rlp_bytes(b"")
_HASH_HEAD: Final = rlp_bytes(bytes(HASH_SIZE))[:1]  # what a 32-byte string's RLP starts with


def _packed(path: str, flag: int) -> bytes:
    """:func:`_hex_prefix` of a path given as hex digits."""
    head = f"{flag + 1:x}" if len(path) % 2 else f"{flag:x}0"
    return bytes.fromhex(head + path)


def _nibbles(key: bytes) -> bytes:
    """The key's path: one byte per nibble, high nibble first."""
    return key.hex().encode("ascii").translate(_NIBBLES)


def _hex_prefix(path: bytes, flag: int) -> bytes:
    """``path`` packed two nibbles a byte behind a flag nibble (and a pad nibble if even)."""
    head = bytes([flag + 1]) if len(path) % 2 else bytes([flag, 0])
    return bytes.fromhex((head + path).translate(_HEX_DIGITS).decode("ascii"))


def _hash(node: Node) -> bytes:
    # node_hash/1 and force_encoded_node_to_hash/1: always the 32-byte hash.
    return blake2b_256(_rlp(node))


def _reference(node: Node) -> bytes:
    # encode_node/2: a short node is embedded as its RLP bytes, a long one by its hash.
    encoded = _rlp(node)
    return encoded if len(encoded) < HASH_SIZE else blake2b_256(encoded)


def _common_length(first: bytes, last: bytes, depth: int) -> int:
    """How many nibbles from ``depth`` on ``first`` and ``last`` share."""
    end = min(len(first), len(last))
    i = depth
    while i < end and first[i] == last[i]:
        i += 1
    return i - depth


class _Visit(NamedTuple):
    """Build the node of ``paths[lo:hi]``, which share their first ``depth`` nibbles."""

    lo: int
    hi: int
    depth: int


class _Extension(NamedTuple):
    """Put an extension over the node last built."""

    path: bytes


class _Branch(NamedTuple):
    """Put a branch over the nodes last built, one per slot."""

    value: bytes
    slots: list[int]


def _build(paths: list[bytes], values: list[bytes]) -> Node:
    """The root node of the trie of sorted, distinct ``paths``.

    Written with an explicit stack rather than recursion: a chain of keys that each extend the
    one before nests a node per key, and hostile input must not run Python out of stack.
    """
    todo: list[_Visit | _Extension | _Branch] = [_Visit(0, len(paths), 0)]
    done: list[Node] = []
    while todo:
        item = todo.pop()
        if isinstance(item, _Extension):
            done.append([_hex_prefix(item.path, _EXTENSION_FLAG), _hash(done.pop())])
            continue
        if isinstance(item, _Branch):
            branch = [b""] * 17
            first_child = len(done) - len(item.slots)
            for slot, child in zip(item.slots, done[first_child:], strict=True):
                branch[slot] = _reference(child)
            del done[first_child:]
            branch[16] = item.value
            done.append(branch)
            continue
        lo, hi, depth = item
        first, last = paths[lo], paths[hi - 1]
        if hi - lo == 1:
            done.append([_hex_prefix(first[depth:], _LEAF_FLAG), values[lo]])
            continue
        common = _common_length(first, last, depth)
        if common:
            # All keys share more nibbles: an extension over the node where they part.
            todo.append(_Extension(first[depth : depth + common]))
            todo.append(_Visit(lo, hi, depth + common))
            continue
        value = b""
        if len(first) == depth:  # a key that ends here sorts first and is the branch value
            value = values[lo]
            lo += 1
        groups: list[_Visit] = []
        slots: list[int] = []
        start = lo
        for index in range(lo + 1, hi + 1):  # each run of keys with the same nibble here
            if index == hi or paths[index][depth] != paths[start][depth]:
                slots.append(paths[start][depth])
                groups.append(_Visit(start, index, depth + 1))
                start = index
        todo.append(_Branch(value, slots))
        # Pushed in reverse, so that the children are built, and left on ``done``, in order.
        todo.extend(reversed(groups))
    (root,) = done
    return root
