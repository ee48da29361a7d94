"""The generic chain-object codec: ``RLP([tag, version, field...])`` driven by field declarations.

A chain object is a frozen attrs class deriving from :class:`ChainObject` whose fields are
declared with the ``*_field`` helpers below. Each helper attaches a :class:`FieldCodec` that
knows how to check, decode, encode and show the field, so a class declaration is the whole
description of its wire format; :func:`register` makes the class known to :func:`deserialize`.

Decoding is strict, so that decoding and re-encoding gives back the same bytes: RLP with
canonical lengths and no trailing bytes, integers without leading zero bytes (0 is the single
byte ``0x00``, as the node's serializer writes it), ids of 33
bytes with a known tag, and exactly the fields the (tag, version) pair has. That is why a
decoded object keeps the bytes it came from as its serialization: the same tx is serialized
again and again (to check, sign, compare and store it), and it is immutable.

RLP is decoded here rather than with ``rlp``: its strict decoder is no stricter, several
times slower, and importing it (through eth_utils) took half the package's import time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Final, TypeAlias, TypeVar

import attrs

from . import encoding
from .encoding import Id, IdTag
from .errors import DecodingError

__all__ = [
    "JSON",
    "ChainObject",
    "bytes_field",
    "codec_field",
    "deserialize",
    "id_field",
    "ids_field",
    "int_field",
    "ints_field",
    "object_field",
    "objects_field",
    "register",
    "signatures_field",
]

JSON: TypeAlias = "bool | int | str | list[JSON] | dict[str, JSON] | None"
RLPItem: TypeAlias = "bytes | Sequence[RLPItem]"


class ChainObject:
    """Base of every serializable chain object (signed tx, channel txs, off-chain updates...).

    Subclasses are ``@attrs.frozen(kw_only=True)`` classes decorated with :func:`register`;
    they set ``TAG``, ``VERSION`` and ``TYPE`` (the node's name for the object).
    """

    # The serialization, once known (frozen objects, so it never goes stale; attrs equality
    # and hashing see only the fields).
    __slots__ = ("_serialized",)
    _serialized: bytes
    TAG: ClassVar[int]
    VERSION: ClassVar[int]
    TYPE: ClassVar[str]
    # (name, codec) of each field in wire order; filled in by register().
    FIELDS: ClassVar[tuple[tuple[str, FieldCodec], ...]]

    def rlp_items(self) -> list[RLPItem]:
        items: list[RLPItem] = [encode_int(self.TAG), encode_int(self.VERSION)]
        for name, codec in self.FIELDS:
            items.append(codec.encode(getattr(self, name)))
        return items

    def serialize(self) -> bytes:
        """The object's canonical serialization."""
        try:
            return self._serialized
        except AttributeError:
            # rlp_encode(self.rlp_items()), with the tag and version encoded once per class.
            fields = [
                rlp_encode(encode(getattr(self, name))) for name, encode in _ENCODERS[type(self)]
            ]
            data = rlp_list([_HEADS[type(self)], *fields])
            object.__setattr__(self, "_serialized", data)
            return data

    def ids(self) -> list[Id]:
        """Every id among the object's own fields (lists included, nested objects not)."""
        found: list[Id] = []
        for name, _codec in self.FIELDS:
            value = getattr(self, name)
            if isinstance(value, Id):
                found.append(value)
            elif isinstance(value, tuple):
                found += [item for item in value if isinstance(item, Id)]
        return found

    def to_json(self) -> dict[str, JSON]:
        """A JSON-able view: ids and binaries in API form, integers exact."""
        view: dict[str, JSON] = {"type": self.TYPE, "tag": self.TAG, "version": self.VERSION}
        for name, codec in self.FIELDS:
            view[name] = codec.to_json(getattr(self, name))
        return view


Obj = TypeVar("Obj", bound=type[ChainObject])
_REGISTRY: Final[dict[tuple[int, int], type[ChainObject]]] = {}
# The same, for decoding: by the RLP items of tag and version, and each field's (name, decoder,
# where its errors are said to be), worked out once rather than per object decoded.
_BY_ENCODED: Final[dict[tuple[bytes, bytes], type[ChainObject]]] = {}
_DECODERS: Final[
    dict[type[ChainObject], tuple[tuple[str, Callable[[Any, str], Any], str], ...]]
] = {}
# And for encoding: each field's encoder, and the RLP of the tag and version.
_ENCODERS: Final[dict[type[ChainObject], tuple[tuple[str, Callable[[Any], RLPItem]], ...]]] = {}
_HEADS: Final[dict[type[ChainObject], bytes]] = {}


def register(cls: Obj) -> Obj:
    """Make ``cls`` known to :func:`deserialize` under its (TAG, VERSION)."""
    key = (cls.TAG, cls.VERSION)
    if key in _REGISTRY:
        raise RuntimeError(f"tag {key[0]} version {key[1]} registered twice")
    fields = []
    for field in attrs.fields(cls):  # type: ignore[arg-type]  # cls is an attrs class
        if "codec" not in field.metadata:
            raise RuntimeError(f"{cls.__name__}.{field.name} has no codec")
        fields.append((field.name, field.metadata["codec"]))
    cls.FIELDS = tuple(fields)
    _REGISTRY[key] = cls
    _BY_ENCODED[encode_int(cls.TAG), encode_int(cls.VERSION)] = cls
    _DECODERS[cls] = tuple((name, codec.decode, f"{cls.TYPE}.{name}") for name, codec in fields)
    _ENCODERS[cls] = tuple((name, codec.encode) for name, codec in fields)
    _HEADS[cls] = rlp_bytes(encode_int(cls.TAG)) + rlp_bytes(encode_int(cls.VERSION))
    return cls


def registered() -> dict[tuple[int, int], type[ChainObject]]:
    """Every registered chain-object class, by (tag, version)."""
    return dict(_REGISTRY)


def deserialize(data: bytes, where: str = "") -> ChainObject:
    """Decode one serialized chain object of any registered kind."""
    if not isinstance(data, bytes):
        raise DecodingError(f"{where or 'object'}: bytes expected, got {type(data).__name__}")
    try:
        items = rlp_decode(data)
    except (DecodingError, RecursionError) as exc:
        raise DecodingError(f"{where or 'object'}: malformed RLP ({exc})") from None
    obj = from_rlp_items(items, where)
    object.__setattr__(obj, "_serialized", data)  # strict decoding: re-encoding gives ``data``
    return obj


@functools.lru_cache(maxsize=32)
def _nested(data: bytes) -> ChainObject:
    """An inner object by its exact bytes, decoded once for the last few seen.

    A state's inner tx comes twice (in its sign request and co-signed), and a decoded object
    is frozen and equals what its bytes decode to, so the same bytes may share it. Only
    successes are kept; a failure is decoded again by the caller with its place named.
    """
    return deserialize(data)


def from_rlp_items(items: Any, where: str = "") -> ChainObject:
    """Build a chain object from its decoded RLP list."""
    where = where or "object"
    if not isinstance(items, list) or len(items) < 2:
        raise DecodingError(f"{where}: a chain object is a list of tag, version and fields")
    try:  # the canonical encodings of a registered tag and version: nothing else to check
        cls = _BY_ENCODED[items[0], items[1]]
    except (KeyError, TypeError):  # not canonical, not registered, or a list: say which
        tag = decode_int(items[0], f"{where}.tag")
        version = decode_int(items[1], f"{where}.version")
        raise DecodingError(f"{where}: unknown object tag {tag} version {version}") from None
    decoders = _DECODERS[cls]
    if len(items) - 2 != len(decoders):
        raise DecodingError(
            f"{where}: {cls.TYPE} v{cls.VERSION} has {len(decoders)} fields, got {len(items) - 2}"
        )
    # Each value passed its codec's check while decoded, which is all the validation a chain
    # object has: it is not run a second time through attrs' __init__.
    obj = object.__new__(cls)
    position = 2
    for name, decode, field_where in decoders:
        _set(obj, name, decode(items[position], field_where))
        position += 1
    return obj


_set: Final = object.__setattr__


# --- RLP ------------------------------------------------------------------------------


def rlp_encode(item: RLPItem) -> bytes:
    """Plain RLP of byte strings and lists.

    Equal to ``rlp.encode`` on such items (a property test holds them together) and several
    times faster, because it infers no serializers. The byte strings of a list are encoded in
    line: a trie branch holds seventeen of them, and a state hash takes several branches.
    """
    if isinstance(item, bytes):
        return rlp_bytes(item)
    return rlp_list(
        [
            rlp_bytes(element) if isinstance(element, bytes) else rlp_encode(element)
            for element in item
        ]
    )


def rlp_list(parts: list[bytes]) -> bytes:
    """The RLP of a list whose items are given already encoded."""
    payload = b"".join(parts)
    length = len(payload)
    return (_SHORT_PREFIX[0xC0 + length] if length < 56 else _long_prefix(length, 0xC0)) + payload


def rlp_bytes(item: bytes) -> bytes:
    """The RLP of one byte string."""
    length = len(item)
    if length == 1 and item[0] < 0x80:
        return item
    return (_SHORT_PREFIX[0x80 + length] if length < 56 else _long_prefix(length, 0x80)) + item


_SHORT_PREFIX: Final = tuple(bytes((byte,)) for byte in range(256))


def rlp_decode(data: bytes) -> RLPItem:
    """The item ``data`` holds; only the canonical encoding of one item is accepted.

    One flat loop over the buffer, the lists under way on a stack: a signed tx has a score of
    items, and a Python call for each was most of its decoding.
    """
    top: list[RLPItem] = []
    items, end = top, len(data)  # the list being filled, and where it ends
    enclosing: list[tuple[list[RLPItem], int]] = []
    position = 0
    while True:
        if position >= end:
            raise DecodingError("truncated: an item is missing")
        first = data[position]
        if first < 0x80:
            items.append(data[position : position + 1])
            position += 1
        else:
            is_list = first >= 0xC0
            short = first - (0xC0 if is_list else 0x80)
            if short < 56:
                begin, length = position + 1, short
            else:
                begin = position + short - 54
                if begin > end:
                    raise DecodingError("truncated: a length is cut short")
                # One length byte (signatures, txs) is read as it is, without a slice.
                length = (
                    data[begin - 1]
                    if short == 56
                    else int.from_bytes(data[position + 1 : begin], "big")
                )
                if data[position + 1] == 0 or length < 56:
                    raise DecodingError("a length is not in its shortest form")
            stop = begin + length
            if stop > end:
                raise DecodingError(f"truncated: {length} bytes announced, {end - begin} left")
            if not is_list:
                if length == 1 and data[begin] < 0x80:
                    raise DecodingError("a single byte below 0x80 is its own encoding")
                items.append(data[begin:stop])
                position = stop
            elif length:
                inner: list[RLPItem] = []
                items.append(inner)
                enclosing.append((items, end))
                items, end, position = inner, stop, begin
                continue
            else:
                items.append([])
                position = stop
        while position == end and enclosing:  # the lists this item completes
            items, end = enclosing.pop()
        if not enclosing:
            break
    if position != len(data):
        raise DecodingError(f"{len(data) - position} trailing bytes")
    return top[0]


def _long_prefix(length: int, offset: int) -> bytes:
    if length < 256:  # signatures, txs: the common case, without working out the size
        return bytes((offset + 56, length))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(size),)) + size


# --- integers -------------------------------------------------------------------------


def encode_int(value: int) -> bytes:
    """An unsigned integer, big-endian with no leading zero bytes; 0 is ``b"\\x00"``."""
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def decode_int(item: Any, where: str) -> int:
    if not isinstance(item, bytes):
        raise DecodingError(f"{where}: an integer is a byte string, got a list")
    if not item:
        raise DecodingError(f"{where}: empty integer (0 is encoded as one zero byte)")
    if len(item) > 1 and item[0] == 0:
        raise DecodingError(f"{where}: integer with a leading zero byte")
    return int.from_bytes(item, "big")


# --- field codecs ---------------------------------------------------------------------


class FieldCodec:
    """How one field is checked, decoded from RLP, encoded to RLP and shown as JSON."""

    def check(self, value: Any) -> None:
        raise NotImplementedError

    def decode(self, item: Any, where: str) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> RLPItem:
        raise NotImplementedError

    def to_json(self, value: Any) -> JSON:
        raise NotImplementedError


class IntCodec(FieldCodec):
    def check(self, value: Any) -> None:
        if type(value) is not int or value < 0:
            raise ValueError(f"a non-negative int is required, got {value!r}")

    # The function itself rather than a method calling it: a call less per integer decoded.
    decode = staticmethod(decode_int)

    def encode(self, value: int) -> bytes:
        return encode_int(value)

    def to_json(self, value: int) -> JSON:
        return value


@attrs.frozen
class BytesCodec(FieldCodec):
    prefix: str  # the API prefix the JSON view shows the bytes under
    size: int | None = None

    def check(self, value: Any) -> None:
        if not isinstance(value, bytes):
            raise ValueError(f"bytes are required, got {type(value).__name__}")
        if self.size is not None and len(value) != self.size:
            raise ValueError(f"{self.size} bytes are required, got {len(value)}")

    def decode(self, item: Any, where: str) -> bytes:
        if not isinstance(item, bytes):
            raise DecodingError(f"{where}: a byte string is required, got a list")
        if self.size is not None and len(item) != self.size:
            raise DecodingError(f"{where}: {self.size} bytes are required, got {len(item)}")
        return item

    def encode(self, value: bytes) -> bytes:
        return value

    def to_json(self, value: bytes) -> JSON:
        return encoding.encode(self.prefix, value)


@attrs.frozen
class IdCodec(FieldCodec):
    tags: tuple[IdTag, ...]

    def check(self, value: Any) -> None:
        if not isinstance(value, Id):
            raise ValueError(f"an Id is required, got {type(value).__name__}")
        if value.tag not in self.tags:
            raise ValueError(f"an id of kind {self._kinds()} is required, got {value.api}")

    def _kinds(self) -> str:
        return "/".join(tag.prefix for tag in self.tags)

    def decode(self, item: Any, where: str) -> Id:
        if not isinstance(item, bytes):
            raise DecodingError(f"{where}: an id is a byte string, got a list")
        try:
            value = Id.deserialize(item)
        except DecodingError as exc:
            raise DecodingError(f"{where}: {exc}") from None
        if value.tag not in self.tags:
            raise DecodingError(f"{where}: expected a {self._kinds()} id, got {value.api}")
        return value

    def encode(self, value: Id) -> bytes:
        return value.serialize()

    def to_json(self, value: Id) -> JSON:
        return value.api


@attrs.frozen
class ListCodec(FieldCodec):
    item: FieldCodec

    def check(self, value: Any) -> None:
        if not isinstance(value, tuple):
            raise ValueError(f"a tuple is required, got {type(value).__name__}")
        for element in value:
            self.item.check(element)

    def decode(self, item: Any, where: str) -> tuple[Any, ...]:
        if not isinstance(item, list):
            raise DecodingError(f"{where}: a list is required, got a byte string")
        decode = self.item.decode
        try:
            return tuple([decode(element, where) for element in item])
        except DecodingError:  # decoded again, for the message that names the element
            return tuple(decode(element, f"{where}[{i}]") for i, element in enumerate(item))

    def encode(self, value: Sequence[Any]) -> RLPItem:
        return [self.item.encode(element) for element in value]

    def to_json(self, value: Sequence[Any]) -> JSON:
        return [self.item.to_json(element) for element in value]


@attrs.frozen
class ObjectCodec(FieldCodec):
    """A byte string that holds another serialized chain object (or nothing, if optional)."""

    types: tuple[str, ...]  # the TYPE names allowed; empty: any registered object
    optional: bool = False

    def check(self, value: Any) -> None:
        if value is None and self.optional:
            return
        if not isinstance(value, ChainObject):
            raise ValueError(f"a chain object is required, got {type(value).__name__}")
        if self.types and value.TYPE not in self.types:
            raise ValueError(f"one of {', '.join(self.types)} is required, got {value.TYPE}")

    def decode(self, item: Any, where: str) -> ChainObject | None:
        if not isinstance(item, bytes):
            raise DecodingError(f"{where}: a serialized object is a byte string, got a list")
        if not item and self.optional:
            return None
        try:
            value = _nested(item)
        except DecodingError:  # decoded again, for the message that names where it failed
            value = deserialize(item, where)
        if self.types and value.TYPE not in self.types:
            raise DecodingError(f"{where}: expected {' or '.join(self.types)}, got {value.TYPE}")
        return value

    def encode(self, value: ChainObject | None) -> bytes:
        return b"" if value is None else value.serialize()

    def to_json(self, value: ChainObject | None) -> JSON:
        return None if value is None else value.to_json()


def codec_field(codec: FieldCodec, converter: Callable[[Any], Any] | None = None) -> Any:
    """An attrs field checked, encoded, decoded and shown by ``codec``."""

    def validate(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        try:
            codec.check(value)
        except ValueError as exc:
            raise ValueError(f"{attribute.name}: {exc}") from None

    return attrs.field(metadata={"codec": codec}, validator=validate, converter=converter)


def _to_tuple(value: Any) -> Any:
    # Lists become tuples so that objects stay hashable and immutable; other types are
    # left for the validator to refuse.
    return tuple(value) if isinstance(value, list) else value


def int_field() -> Any:
    return codec_field(IntCodec())


def bytes_field(prefix: str, size: int | None = None) -> Any:
    return codec_field(BytesCodec(prefix, size))


def id_field(*tags: IdTag) -> Any:
    return codec_field(IdCodec(tags))


def ids_field(*tags: IdTag) -> Any:
    return codec_field(ListCodec(IdCodec(tags)), _to_tuple)


def ints_field() -> Any:
    return codec_field(ListCodec(IntCodec()), _to_tuple)


def signatures_field() -> Any:
    return codec_field(ListCodec(BytesCodec("sg", 64)), _to_tuple)


def object_field(*types: str, optional: bool = False) -> Any:
    return codec_field(ObjectCodec(types, optional))


def objects_field(*types: str) -> Any:
    return codec_field(ListCodec(ObjectCodec(types)), _to_tuple)
