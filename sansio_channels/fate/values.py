"""FATE values: their Python form, and the node's serialization of them.

=====================  =============================================================
FATE                   Python
=====================  =============================================================
integer                ``int`` (exact, any size)
boolean                ``bool``
string                 ``str`` (bytes that are not UTF-8 kept through ``surrogateescape``)
bytes                  ``bytes``
bits                   :class:`Bits`
address, contract,     :class:`Identifier` (``str()`` gives ``ak_``, ``ct_``, ``ok_``,
oracle, oracle query,  ``oq_``, ``ch_`` text)
channel
tuple                  ``tuple`` (unit is ``()``)
list                   ``list`` (:class:`FrozenList` inside a map key)
map                    ``dict``
store map reference    :class:`StoreMap`
variant                :class:`Variant`
type representation    :class:`TypeRep`
contract byte array    :class:`ContractBytearray`
=====================  =============================================================

:func:`encode_value` and :func:`decode_value` are the node's ``aeb_fate_encoding``;
decoding accepts only what the node writes (map keys sorted and unique, canonical lengths,
32-byte ids), so a decoded value re-encodes to the same bytes.
"""

from __future__ import annotations

import enum
import functools
from typing import Final, TypeAlias, Union

import attrs

from .. import encoding
from ..codec import rlp_bytes
from ..errors import DecodingError
from .types import TYPE_TAGS, FateType, encode_type, read_type
from .wire import NEG_BIG_INT, POS_BIG_INT, Reader, encode_fate_int, encode_rlp_int

__all__ = [
    "Bits",
    "ContractBytearray",
    "FrozenList",
    "Identifier",
    "ObjectKind",
    "StoreMap",
    "TypeRep",
    "Value",
    "Variant",
    "compare",
    "decode_value",
    "encode_value",
    "read_value",
]

Value: TypeAlias = Union[
    int,
    bool,
    str,
    bytes,
    "Bits",
    "Identifier",
    tuple["Value", ...],
    list["Value"],
    dict["Value", "Value"],
    "StoreMap",
    "Variant",
    "TypeRep",
    "ContractBytearray",
]

# The value tags of the node's serialization (those ending in 1111, and the prefixes).
LONG_STRING: Final = 0x01
LONG_TUPLE: Final = 0x0B
LONG_LIST: Final = 0x1F
MAP: Final = 0x2F
EMPTY_TUPLE: Final = 0x3F
POS_BITS: Final = 0x4F
EMPTY_STRING: Final = 0x5F
FALSE: Final = 0x7F
CONTRACT_BYTEARRAY: Final = 0x8F
OBJECT: Final = 0x9F
VARIANT: Final = 0xAF
MAP_ID: Final = 0xBF
NEG_BITS: Final = 0xCF
TRUE: Final = 0xFF
OTYPE_BYTES: Final = 1
SHORT_SIZE: Final = 16  # tuples and lists shorter than this carry their size in the tag
SHORT_STRING_SIZE: Final = 64
KEY_SIZE: Final = 32


class ObjectKind(enum.IntEnum):
    """The object types of ids, and their API prefixes."""

    ADDRESS = 0
    CONTRACT = 2
    ORACLE = 3
    ORACLE_QUERY = 4
    CHANNEL = 5

    @property
    def prefix(self) -> str:
        return _PREFIX[self]


_PREFIX: Final = {
    ObjectKind.ADDRESS: "ak",
    ObjectKind.CONTRACT: "ct",
    ObjectKind.ORACLE: "ok",
    ObjectKind.ORACLE_QUERY: "oq",
    ObjectKind.CHANNEL: "ch",
}
_KIND_OF_PREFIX: Final = {prefix: kind for kind, prefix in _PREFIX.items()}


@attrs.frozen
class Identifier:
    """An address, contract, oracle, oracle query or channel: a kind and a 32-byte key."""

    kind: ObjectKind
    key: bytes = attrs.field(repr=False)

    @key.validator
    def _check(self, attribute: object, value: bytes) -> None:
        if len(value) != KEY_SIZE:
            raise ValueError(f"an id key is {KEY_SIZE} bytes, got {len(value)}")

    @classmethod
    def from_api(cls, text: str) -> Identifier:
        """From ``ak_``/``ct_``/``ok_``/``oq_``/``ch_`` text; :class:`DecodingError` if not one."""
        prefix, key = encoding.decode_prefixed(text)
        kind = _KIND_OF_PREFIX.get(prefix)
        if kind is None:
            raise DecodingError(f"{encoding.short(text)}: not an id ({'/'.join(_PREFIX.values())})")
        return cls(kind, key)

    @property
    def api(self) -> str:
        return encoding.encode(self.kind.prefix, self.key)

    def __str__(self) -> str:
        return self.api


@attrs.frozen
class Bits:
    """A bit field; a negative value has infinitely many ones (``-1`` is all bits set)."""

    value: int


@attrs.frozen
class StoreMap:
    """A reference to a map kept in the contract's store, by its id."""

    id: int


@attrs.frozen
class Variant:
    """A variant value: the arity of every constructor, the tag of this one and its values."""

    arities: tuple[int, ...]
    tag: int
    values: tuple[Value, ...]

    def __attrs_post_init__(self) -> None:
        if not self.arities or any(not 0 <= a < 256 for a in self.arities):
            raise ValueError(f"variant arities must be 1 or more bytes, got {self.arities}")
        if not 0 <= self.tag < len(self.arities) or self.tag > 255:
            raise ValueError(f"variant tag {self.tag} out of range for {len(self.arities)}")
        if len(self.values) != self.arities[self.tag]:
            raise ValueError(
                f"variant tag {self.tag} has arity {self.arities[self.tag]}, "
                f"got {len(self.values)} values"
            )


@attrs.frozen
class TypeRep:
    """A type as a value."""

    type: FateType


@attrs.frozen
class ContractBytearray:
    """Serialized FATE code as a value (what ``Chain.create`` deploys)."""

    code: bytes


class FrozenList(tuple):  # type: ignore[type-arg]
    """A FATE list inside a map key, where a ``list`` could not be hashed."""

    __slots__ = ()


# --- encoding -------------------------------------------------------------------------


def encode_value(value: Value) -> bytes:
    """The node's serialization of ``value``; :class:`ValueError` if it is no FATE value."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Value, out: list[bytes]) -> None:
    if isinstance(value, bool):
        out.append(b"\xff" if value else b"\x7f")
    elif isinstance(value, int):
        out.append(encode_fate_int(value))
    elif isinstance(value, str):
        out.append(_string(value.encode("utf-8", "surrogateescape")))
    elif isinstance(value, bytes):
        out.append(bytes((OBJECT, OTYPE_BYTES)) + _string(value))
    elif isinstance(value, Identifier):
        out.append(bytes((OBJECT, value.kind)) + rlp_bytes(value.key))
    elif isinstance(value, FrozenList | list):
        _sequence(value, out, LONG_LIST, 0x03)
    elif isinstance(value, tuple):
        if not value:
            out.append(bytes((EMPTY_TUPLE,)))
        else:
            _sequence(value, out, LONG_TUPLE, 0x0B)
    elif isinstance(value, dict):
        keys = sorted(value, key=functools.cmp_to_key(compare))
        out.append(bytes((MAP,)) + encode_rlp_int(len(keys)))
        for key in keys:
            _check_key(key)
            _encode(key, out)
            _encode(value[key], out)
    elif isinstance(value, Bits):
        tag = NEG_BITS if value.value < 0 else POS_BITS
        out.append(bytes((tag,)) + encode_rlp_int(abs(value.value)))
    elif isinstance(value, StoreMap):
        if value.id < 0:
            raise ValueError(f"store map id {value.id} is negative")
        out.append(bytes((MAP_ID,)) + encode_rlp_int(value.id))
    elif isinstance(value, Variant):
        out.append(bytes((VARIANT,)) + rlp_bytes(bytes(value.arities)) + bytes((value.tag,)))
        _encode(value.values, out)
    elif isinstance(value, TypeRep):
        out.append(encode_type(value.type))
    elif isinstance(value, ContractBytearray):
        out.append(bytes((CONTRACT_BYTEARRAY,)) + encode_fate_int(len(value.code)) + value.code)
    else:
        raise ValueError(f"not a FATE value: {value!r}")


def _string(data: bytes) -> bytes:
    size = len(data)
    if size == 0:
        return bytes((EMPTY_STRING,))
    if size < SHORT_STRING_SIZE:
        return bytes((size << 2 | 0x01,)) + data
    return bytes((LONG_STRING,)) + encode_fate_int(size - SHORT_STRING_SIZE) + data


def _sequence(
    items: tuple[Value, ...] | list[Value], out: list[bytes], long: int, short: int
) -> None:
    size = len(items)
    if size < SHORT_SIZE:
        out.append(bytes((size << 4 | short,)))
    else:
        out.append(bytes((long,)) + encode_rlp_int(size - SHORT_SIZE))
    for item in items:
        _encode(item, out)


def _check_key(key: Value) -> None:
    """Maps, store maps and types are no map keys (the node refuses them)."""
    if isinstance(key, dict | StoreMap | TypeRep):
        raise ValueError(f"a map key cannot be a {type(key).__name__}")
    if isinstance(key, tuple | list):
        for item in key:
            _check_key(item)
    elif isinstance(key, Variant):
        _check_key(key.values)


# --- the node's order of values (map keys are serialized in it) -----------------------

_ORDINAL: Final[dict[type, int]] = {
    int: 0,
    bool: 1,
    bytes: 6,
    Bits: 7,
    str: 8,
    tuple: 9,
    dict: 10,
    list: 11,
    FrozenList: 11,
    Variant: 12,
    ContractBytearray: 14,
}
_ID_ORDINAL: Final = {
    ObjectKind.ADDRESS: 2,
    ObjectKind.CHANNEL: 3,
    ObjectKind.CONTRACT: 4,
    ObjectKind.ORACLE: 5,
    ObjectKind.ORACLE_QUERY: 13,
}


def _ordinal(value: Value) -> int:
    if isinstance(value, Identifier):
        return _ID_ORDINAL[value.kind]
    found = _ORDINAL.get(type(value))
    if found is None:
        raise ValueError(f"a {type(value).__name__} has no order (it cannot be a map key)")
    return found


def _sign(difference: int) -> int:
    return (difference > 0) - (difference < 0)


def _compare_bytes(a: bytes, b: bytes) -> int:
    """Shorter first, then byte by byte."""
    if len(a) != len(b):
        return _sign(len(a) - len(b))
    return (a > b) - (a < b)


def compare(a: Value, b: Value) -> int:
    """The node's total order of values (``aeb_fate_data:lt``): -1, 0 or 1."""
    first, second = _ordinal(a), _ordinal(b)
    if first != second:
        return _sign(first - second)
    if isinstance(a, bool | int) and isinstance(b, bool | int):
        return _sign(int(a) - int(b))
    if isinstance(a, str) and isinstance(b, str):
        return _compare_bytes(
            a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape")
        )
    if isinstance(a, bytes) and isinstance(b, bytes):
        return _compare_bytes(a, b)
    if isinstance(a, Identifier) and isinstance(b, Identifier):
        return (a.key > b.key) - (a.key < b.key)
    if isinstance(a, ContractBytearray) and isinstance(b, ContractBytearray):
        return _compare_bytes(a.code, b.code)
    if isinstance(a, Bits) and isinstance(b, Bits):
        # Negative bit fields (infinitely many ones) come after every positive one.
        if (a.value < 0) != (b.value < 0):
            return 1 if a.value < 0 else -1
        return _sign(a.value - b.value)
    if isinstance(a, tuple) and isinstance(b, tuple) and not isinstance(a, FrozenList):
        if len(a) != len(b):
            return _sign(len(a) - len(b))
        return _compare_items(a, b)
    if isinstance(a, list | FrozenList) and isinstance(b, list | FrozenList):
        result = _compare_items(a, b)
        return result if result else _sign(len(a) - len(b))
    if isinstance(a, Variant) and isinstance(b, Variant):
        if len(a.arities) != len(b.arities):
            return _sign(len(a.arities) - len(b.arities))
        if a.arities != b.arities:
            return -1 if a.arities < b.arities else 1
        if a.tag != b.tag:
            return _sign(a.tag - b.tag)
        return compare(a.values, b.values)
    raise ValueError(f"cannot order {type(a).__name__} and {type(b).__name__}")


def _compare_items(a: tuple[Value, ...] | list[Value], b: tuple[Value, ...] | list[Value]) -> int:
    for x, y in zip(a, b, strict=False):
        result = compare(x, y)
        if result:
            return result
    return 0


# --- decoding -------------------------------------------------------------------------


def decode_value(data: bytes) -> Value:
    """One whole serialized value; :class:`DecodingError` for anything the node would not write."""
    reader = Reader(data)
    value = read_value(reader)
    reader.done()
    return value


def read_value(reader: Reader) -> Value:
    """Read one value at the reader's position (the node's ``deserialize_one``)."""
    tag = reader.byte()
    if tag & 1 == 0:
        reader.position -= 1
        return reader.fate_int()
    low2, low4 = tag & 0x03, tag & 0x0F
    if tag == LONG_STRING:
        return _text(reader.take(_long_size(reader, SHORT_STRING_SIZE)))
    if low2 == 0x01:
        return _text(reader.take(tag >> 2))
    if low4 == 0x03:
        return _items(reader, tag >> 4, list)
    if low4 == 0x0B:
        if tag == LONG_TUPLE:
            return _items(reader, reader.rlp_int() + SHORT_SIZE, tuple)
        return _items(reader, tag >> 4, tuple)
    if low4 == 0x07:
        if tag not in TYPE_TAGS:
            raise reader.error(f"unknown type tag 0x{tag:02x}")
        reader.position -= 1
        return TypeRep(read_type(reader))
    return _read_special(reader, tag)


def _read_special(reader: Reader, tag: int) -> Value:
    if tag in (POS_BIG_INT, NEG_BIG_INT):
        reader.position -= 1
        return reader.fate_int()
    if tag == TRUE:
        return True
    if tag == FALSE:
        return False
    if tag == EMPTY_TUPLE:
        return ()
    if tag == EMPTY_STRING:
        return ""
    if tag == LONG_LIST:
        return _items(reader, reader.rlp_int() + SHORT_SIZE, list)
    if tag == POS_BITS:
        return Bits(reader.rlp_int())
    if tag == NEG_BITS:
        magnitude = reader.rlp_int()
        if magnitude == 0:
            raise reader.error("negative bits of magnitude 0")
        return Bits(-magnitude)
    if tag == MAP_ID:
        return StoreMap(reader.rlp_int())
    if tag == OBJECT:
        return _object(reader)
    if tag == MAP:
        return _map(reader)
    if tag == VARIANT:
        return _variant(reader)
    if tag == CONTRACT_BYTEARRAY:
        size = reader.fate_int()
        if size < 0:
            raise reader.error(f"contract byte array of size {size}")
        return ContractBytearray(reader.take(size))
    raise reader.error(f"unknown tag 0x{tag:02x}")


def _long_size(reader: Reader, offset: int) -> int:
    extra = reader.fate_int()
    if extra < 0:
        raise reader.error(f"a negative size {extra}")
    return extra + offset


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _items(reader: Reader, count: int, kind: type) -> Value:
    if count > reader.left:  # every value takes at least one byte
        raise reader.error(f"{count} items announced, {reader.left} bytes left")
    reader.enter()
    items = [read_value(reader) for _ in range(count)]
    reader.leave()
    return items if kind is list else tuple(items)


def _object(reader: Reader) -> Value:
    kind = reader.byte()
    if kind == OTYPE_BYTES:
        where = reader.position
        inner = read_value(reader)
        if not isinstance(inner, str):
            reader.position = where
            raise reader.error("bytes hold a string")
        return inner.encode("utf-8", "surrogateescape")
    try:
        object_kind = ObjectKind(kind)
    except ValueError:
        raise reader.error(f"unknown object type {kind}") from None
    key = reader.rlp_bytes()
    if len(key) != KEY_SIZE:
        raise reader.error(f"an id of {len(key)} bytes")
    return Identifier(object_kind, key)


def _map(reader: Reader) -> Value:
    size = reader.rlp_int()
    if 2 * size > reader.left:
        raise reader.error(f"{size} map entries announced, {reader.left} bytes left")
    reader.enter()
    result: dict[Value, Value] = {}
    previous: list[Value] = []
    for _ in range(size):
        key = read_value(reader)
        try:
            _check_key(key)
            if previous and compare(previous[0], key) >= 0:
                raise reader.error("map keys out of order or repeated")
        except ValueError as exc:
            raise reader.error(str(exc)) from None
        frozen = _freeze(key)
        if frozen in result:  # equal in Python (1 and True) though not in FATE
            raise reader.error("map keys of different types")
        result[frozen] = read_value(reader)
        previous[:] = [key]
    reader.leave()
    return result


def _freeze(value: Value) -> Value:
    """``value`` made hashable: its lists become :class:`FrozenList`."""
    if isinstance(value, list):
        return FrozenList(_freeze(item) for item in value)
    if isinstance(value, tuple) and not isinstance(value, FrozenList):
        return tuple(_freeze(item) for item in value)
    if isinstance(value, Variant):
        return Variant(value.arities, value.tag, tuple(_freeze(v) for v in value.values))
    return value


def _variant(reader: Reader) -> Value:
    arities = tuple(reader.rlp_bytes())
    tag = reader.byte()
    if tag >= len(arities):
        raise reader.error(f"variant tag {tag} of {len(arities)} constructors")
    values = read_value(reader)
    if not isinstance(values, tuple):
        raise reader.error("a variant's values are a tuple")
    if len(values) != arities[tag]:
        raise reader.error(f"variant tag {tag} has arity {arities[tag]}, got {len(values)} values")
    return Variant(arities, tag, values)
