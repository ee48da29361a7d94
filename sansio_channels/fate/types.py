"""FATE types: the type representations of the VM (function signatures, ``typerep`` values).

Each type is a small frozen class; :func:`encode_type` and :func:`read_type` are the node's
type serialization, and ``str(t)`` a readable text (``list(int)``, ``map(string, address)``).
A tuple type may carry record field names and a variant type constructor names, from an ACI;
the names do not take part in equality, so a named type equals the code's unnamed one.
"""

from __future__ import annotations

from typing import Final

import attrs

from .wire import Reader, encode_fate_int

__all__ = [
    "ADDRESS",
    "ANY",
    "BITS",
    "BOOLEAN",
    "CHANNEL",
    "CONTRACT",
    "CONTRACT_BYTEARRAY",
    "INTEGER",
    "ORACLE",
    "ORACLE_QUERY",
    "STRING",
    "BytesType",
    "FateType",
    "ListType",
    "MapType",
    "SimpleType",
    "TupleType",
    "TypeVar",
    "VariantType",
    "decode_type",
    "encode_type",
    "read_type",
]

# The type tags (xxxx0111) and the object kinds that follow TYPE_OBJECT.
TYPE_INTEGER: Final = 0x07
TYPE_BOOLEAN: Final = 0x17
TYPE_LIST: Final = 0x27
TYPE_TUPLE: Final = 0x37
TYPE_OBJECT: Final = 0x47
TYPE_BITS: Final = 0x57
TYPE_MAP: Final = 0x67
TYPE_STRING: Final = 0x77
TYPE_VARIANT: Final = 0x87
TYPE_BYTES: Final = 0x97
TYPE_CONTRACT_BYTEARRAY: Final = 0xA7
TYPE_VAR: Final = 0xE7
TYPE_ANY: Final = 0xF7
TYPE_TAGS: Final = frozenset(
    {
        TYPE_INTEGER,
        TYPE_BOOLEAN,
        TYPE_LIST,
        TYPE_TUPLE,
        TYPE_OBJECT,
        TYPE_BITS,
        TYPE_MAP,
        TYPE_STRING,
        TYPE_VARIANT,
        TYPE_BYTES,
        TYPE_CONTRACT_BYTEARRAY,
        TYPE_VAR,
        TYPE_ANY,
    }
)


class FateType:
    """Base of every FATE type."""

    __slots__ = ()


@attrs.frozen
class SimpleType(FateType):
    """A type without parameters: ``int``, ``bool``, ``string``, ``bits``, ``any``, the ids."""

    name: str
    tag: bytes = attrs.field(repr=False)

    def __str__(self) -> str:
        return self.name


INTEGER: Final = SimpleType("int", bytes((TYPE_INTEGER,)))
BOOLEAN: Final = SimpleType("bool", bytes((TYPE_BOOLEAN,)))
STRING: Final = SimpleType("string", bytes((TYPE_STRING,)))
BITS: Final = SimpleType("bits", bytes((TYPE_BITS,)))
ANY: Final = SimpleType("any", bytes((TYPE_ANY,)))
CONTRACT_BYTEARRAY: Final = SimpleType("contract_bytearray", bytes((TYPE_CONTRACT_BYTEARRAY,)))
ADDRESS: Final = SimpleType("address", bytes((TYPE_OBJECT, 0)))
CONTRACT: Final = SimpleType("contract", bytes((TYPE_OBJECT, 2)))
ORACLE: Final = SimpleType("oracle", bytes((TYPE_OBJECT, 3)))
ORACLE_QUERY: Final = SimpleType("oracle_query", bytes((TYPE_OBJECT, 4)))
CHANNEL: Final = SimpleType("channel", bytes((TYPE_OBJECT, 5)))

_SIMPLE: Final = {t.tag: t for t in (INTEGER, BOOLEAN, STRING, BITS, ANY, CONTRACT_BYTEARRAY)}
_OBJECTS: Final = {t.tag[1]: t for t in (ADDRESS, CONTRACT, ORACLE, ORACLE_QUERY, CHANNEL)}


@attrs.frozen
class BytesType(FateType):
    """``bytes(n)``; ``size`` is None for bytes of any size (``bytes()``)."""

    size: int | None

    def __str__(self) -> str:
        return f"bytes({'' if self.size is None else self.size})"


@attrs.frozen
class TypeVar(FateType):
    """A type variable of a polymorphic signature."""

    index: int

    def __str__(self) -> str:
        return f"tvar({self.index})"


@attrs.frozen
class ListType(FateType):
    element: FateType

    def __str__(self) -> str:
        return f"list({self.element})"


@attrs.frozen
class TupleType(FateType):
    """A tuple; ``fields`` names the elements when the tuple is a record of the ACI."""

    elements: tuple[FateType, ...]
    fields: tuple[str, ...] | None = attrs.field(default=None, eq=False)

    def __str__(self) -> str:
        return f"tuple({', '.join(map(str, self.elements))})"


@attrs.frozen
class MapType(FateType):
    key: FateType
    value: FateType

    def __str__(self) -> str:
        return f"map({self.key}, {self.value})"


@attrs.frozen
class VariantType(FateType):
    """A variant: one tuple type of arguments per constructor, and their names when known."""

    constructors: tuple[TupleType, ...]
    names: tuple[str, ...] | None = attrs.field(default=None, eq=False)

    @property
    def arities(self) -> tuple[int, ...]:
        return tuple(len(c.elements) for c in self.constructors)

    def __str__(self) -> str:
        return f"variant({', '.join(map(str, self.constructors))})"


def encode_type(t: FateType) -> bytes:
    """The node's serialization of a type."""
    if isinstance(t, SimpleType):
        return t.tag
    if isinstance(t, BytesType):
        return bytes((TYPE_BYTES,)) + encode_fate_int(-1 if t.size is None else t.size)
    if isinstance(t, TypeVar):
        return bytes((TYPE_VAR, t.index))
    if isinstance(t, ListType):
        return bytes((TYPE_LIST,)) + encode_type(t.element)
    if isinstance(t, TupleType):
        return bytes((TYPE_TUPLE, len(t.elements))) + b"".join(map(encode_type, t.elements))
    if isinstance(t, MapType):
        return bytes((TYPE_MAP,)) + encode_type(t.key) + encode_type(t.value)
    if isinstance(t, VariantType):
        parts = b"".join(map(encode_type, t.constructors))
        return bytes((TYPE_VARIANT, len(t.constructors))) + parts
    raise TypeError(f"not a FATE type: {t!r}")


def read_type(reader: Reader) -> FateType:
    """Read one type at the reader's position (the node's ``deserialize_type``)."""
    tag = reader.byte()
    simple = _SIMPLE.get(bytes((tag,)))
    if simple is not None:
        return simple
    reader.enter()
    try:
        return _read_compound(reader, tag)
    finally:
        reader.leave()


def _read_compound(reader: Reader, tag: int) -> FateType:
    if tag == TYPE_OBJECT:
        kind = reader.byte()
        found = _OBJECTS.get(kind)
        if found is None:
            raise reader.error(f"unknown object type {kind} in a type")
        return found
    if tag == TYPE_BYTES:
        size = reader.fate_int()
        if size < -1:
            raise reader.error(f"bytes type of size {size}")
        return BytesType(None if size == -1 else size)
    if tag == TYPE_VAR:
        return TypeVar(reader.byte())
    if tag == TYPE_LIST:
        return ListType(read_type(reader))
    if tag == TYPE_TUPLE:
        count = reader.byte()
        return TupleType(tuple(read_type(reader) for _ in range(count)))
    if tag == TYPE_MAP:
        key = read_type(reader)
        return MapType(key, read_type(reader))
    if tag == TYPE_VARIANT:
        count = reader.byte()
        constructors = []
        for _ in range(count):
            constructor = read_type(reader)
            if not isinstance(constructor, TupleType):
                raise reader.error(f"a variant constructor of type {constructor}, not a tuple")
            constructors.append(constructor)
        return VariantType(tuple(constructors))
    raise reader.error(f"unknown type tag 0x{tag:02x}")


def decode_type(data: bytes) -> FateType:
    """A whole byte string as one type; trailing bytes are an error."""
    reader = Reader(data)
    t = read_type(reader)
    reader.done()
    return t
