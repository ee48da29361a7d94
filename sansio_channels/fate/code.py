"""Contract code: the serialized contract of a create update (``cb_``) and the FATE code in it.

A serialized contract is the chain object ``compiler_sophia`` (tag 70, versions 1 to 3):
``[source_hash, type_info, byte_code, compiler_version, payable]``. Its byte code, for FATE,
is three RLP byte strings: the functions, the symbol table (a map from 4-byte function ids
to names) and the annotations. Each function is ``FUNCTION id attributes signature`` then
its instructions; an instruction is an opcode, the modes of its arguments and the arguments.

Decoding is as strict as the node's (``aeb_fate_code:deserialize``, with its error names in
the messages) and a little stricter where the node would accept what its own serializer never
writes (functions out of id order, a function given twice), so decoded code re-encodes to
the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Final

import attrs

from .. import encoding
from ..codec import RLPItem, decode_int, encode_int, rlp_bytes, rlp_decode, rlp_encode
from ..errors import DecodingError
from .opcodes import FUNCTION, OPCODES
from .types import FateType, TupleType, encode_type, read_type
from .values import Value, decode_value, encode_value, read_value
from .wire import Reader, encode_fate_int

__all__ = [
    "SOPHIA_CONTRACT_TAG",
    "Contract",
    "FateCode",
    "Function",
    "Instruction",
    "function_id",
]

SOPHIA_CONTRACT_TAG: Final = 70
_FIELDS_OF_VERSION: Final = {1: 3, 2: 4, 3: 5}
ATTRIBUTES: Final = ("private", "payable")  # bit 0 and bit 1 of a function's attribute integer
INIT: Final = "init"


def function_id(name: str) -> bytes:
    """A function's id: the first 4 bytes of the BLAKE2b-256 hash of its name."""
    return hashlib.blake2b(name.encode("utf-8"), digest_size=32).digest()[:4]


@attrs.frozen
class Instruction:
    """One instruction: its opcode, the mode of each argument (0 stack, 1 arg, 2 var,
    3 immediate) and the values of the arguments that are not on the stack."""

    opcode: int
    modes: tuple[int, ...]
    arguments: tuple[Value, ...]

    @property
    def mnemonic(self) -> str:
        return OPCODES[self.opcode][0]

    def serialize(self) -> bytes:
        out = [bytes((self.opcode,))]
        if self.modes:
            padded = self.modes + (0,) * ((4 if len(self.modes) <= 4 else 8) - len(self.modes))
            bits = 0
            for index, mode in enumerate(padded):
                bits |= mode << (2 * index)
            out.append(bits.to_bytes(len(padded) // 4, "big"))
        out.extend(encode_value(argument) for argument in self.arguments)
        return b"".join(out)


@attrs.frozen
class Function:
    """A function of the code: id, name (from the symbol table), attributes and types."""

    id: bytes
    name: str | None
    attributes: tuple[str, ...]
    arguments: tuple[FateType, ...]
    returns: FateType
    blocks: tuple[tuple[Instruction, ...], ...] = attrs.field(repr=False)

    @property
    def private(self) -> bool:
        return "private" in self.attributes

    @property
    def payable(self) -> bool:
        return "payable" in self.attributes

    def serialize(self) -> bytes:
        flags = sum(1 << ATTRIBUTES.index(a) for a in self.attributes)
        head = bytes((FUNCTION,)) + self.id + encode_fate_int(flags)
        signature = encode_type(TupleType(self.arguments)) + encode_type(self.returns)
        body = b"".join(i.serialize() for block in self.blocks for i in block)
        return head + signature + body


@attrs.frozen
class FateCode:
    """The byte code of a FATE contract: its functions, symbols and annotations."""

    functions: tuple[Function, ...]
    symbols: Mapping[Value, Value] = attrs.field(repr=False)
    annotations: Mapping[Value, Value] = attrs.field(repr=False)

    def function(self, name: str) -> Function:
        """The function called ``name``; :class:`KeyError` if the code has none."""
        wanted = function_id(name)
        for fn in self.functions:
            if fn.id == wanted:
                return fn
        raise KeyError(f"the contract has no function {name!r}")

    def by_id(self, fid: bytes) -> Function | None:
        for fn in self.functions:
            if fn.id == fid:
                return fn
        return None

    def serialize(self) -> bytes:
        functions = b"".join(fn.serialize() for fn in self.functions)
        return (
            rlp_bytes(functions)
            + rlp_bytes(encode_value(dict(self.symbols)))
            + rlp_bytes(encode_value(dict(self.annotations)))
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> FateCode:
        reader = Reader(data)
        functions, symbols, annotations = reader.rlp_bytes(), reader.rlp_bytes(), reader.rlp_bytes()
        reader.done()
        symbol_table = _map(symbols, "symbol table")
        names: dict[bytes, str] = {}
        for key, value in symbol_table.items():
            if not (isinstance(key, str) and isinstance(value, str)):
                raise DecodingError("fate code: symbol table: a symbol maps an id to a name")
            names[key.encode("utf-8", "surrogateescape")] = value
        return cls(
            functions=_functions(functions, names),
            symbols=symbol_table,
            annotations=_map(annotations, "annotations"),
        )


def _map(data: bytes, what: str) -> dict[Value, Value]:
    value = decode_value(data)
    if not isinstance(value, dict):
        raise DecodingError(f"fate code: the {what} is not a map")
    return value


def _functions(data: bytes, names: Mapping[bytes, str]) -> tuple[Function, ...]:
    reader = Reader(data)
    found: list[Function] = []
    if reader.left and data[0] != FUNCTION:
        raise reader.error("code_without_function: an instruction before the first function")
    while reader.left:
        reader.byte()  # FUNCTION
        fid = reader.take(4)
        if found and fid <= found[-1].id:
            raise reader.error("functions out of id order, or a function id twice")
        attributes = _attributes(reader)
        arguments = read_type(reader)
        if not isinstance(arguments, TupleType):
            raise reader.error(f"a function's arguments are a tuple type, got {arguments}")
        returns = read_type(reader)
        found.append(
            Function(
                id=fid,
                name=names.get(fid),
                attributes=attributes,
                arguments=arguments.elements,
                returns=returns,
                blocks=_blocks(reader),
            )
        )
    return tuple(found)


def _attributes(reader: Reader) -> tuple[str, ...]:
    flags = reader.fate_int()
    if not 0 <= flags < 1 << len(ATTRIBUTES):
        raise reader.error(f"unknown function attributes {flags}")
    return tuple(name for bit, name in enumerate(ATTRIBUTES) if flags >> bit & 1)


def _blocks(reader: Reader) -> tuple[tuple[Instruction, ...], ...]:
    blocks: list[tuple[Instruction, ...]] = []
    block: list[Instruction] = []
    while reader.left and reader.data[reader.position] != FUNCTION:
        opcode = reader.byte()
        known = OPCODES.get(opcode)
        if known is None:
            raise reader.error(f"unknown opcode 0x{opcode:02x}")
        _, count, ends_block = known
        modes = _modes(reader, count)
        arguments = tuple(read_value(reader) for mode in modes if mode)
        block.append(Instruction(opcode, modes, arguments))
        if ends_block:
            blocks.append(tuple(block))
            block = []
    if block:
        raise reader.error(f"wrong_opcode_in_bb: the last block ends with {block[-1].mnemonic}")
    return tuple(blocks)


def _modes(reader: Reader, count: int) -> tuple[int, ...]:
    if count == 0:
        return ()
    width = 4 if count <= 4 else 8
    bits = int.from_bytes(reader.take(width // 4), "big")
    modes = tuple(bits >> (2 * index) & 3 for index in range(width))
    if any(modes[count:]):
        raise reader.error("argument_defined_outside_range")
    return modes[:count]


@attrs.frozen
class Contract:
    """A serialized contract (the ``code`` of a create update)."""

    version: int
    source_hash: bytes
    type_info: RLPItem = attrs.field(repr=False)
    byte_code: bytes = attrs.field(repr=False)
    compiler_version: bytes | None
    payable: bool
    fate: FateCode = attrs.field(repr=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Contract:
        """Decode a serialized contract; :class:`DecodingError` names what the node refuses."""
        try:
            items = rlp_decode(data)
        except DecodingError as exc:
            raise DecodingError(f"contract: {exc}") from None
        if not isinstance(items, list) or len(items) < 2:
            raise DecodingError("contract: illegal_code_object: not a tagged list")
        tag, version = decode_int(items[0], "contract.tag"), decode_int(items[1], "contract.vsn")
        if tag != SOPHIA_CONTRACT_TAG or version not in _FIELDS_OF_VERSION:
            raise DecodingError(f"contract: illegal_code_object: tag {tag}, version {version}")
        fields = items[2:]
        if len(fields) != _FIELDS_OF_VERSION[version]:
            raise DecodingError(
                f"contract: version {version} has {_FIELDS_OF_VERSION[version]} fields"
            )
        source_hash, type_info, byte_code = fields[0], fields[1], fields[2]
        if not isinstance(source_hash, bytes) or not isinstance(byte_code, bytes):
            raise DecodingError("contract: the source hash and the byte code are byte strings")
        if not isinstance(type_info, list):
            raise DecodingError("contract: the type info is a list")
        compiler = fields[3] if version >= 2 else None
        if compiler is not None and not isinstance(compiler, bytes):
            raise DecodingError("contract: the compiler version is a byte string")
        payable = True
        if version >= 3:
            if fields[4] not in (b"\x00", b"\x01"):
                raise DecodingError("contract: payable is a boolean (00 or 01)")
            payable = fields[4] == b"\x01"
        try:
            fate = FateCode.from_bytes(byte_code)
        except DecodingError as exc:
            raise DecodingError(f"contract: bad FATE code: {exc}") from None
        return cls(version, source_hash, type_info, byte_code, compiler, payable, fate)

    @classmethod
    def from_api(cls, text: str) -> Contract:
        """From the ``cb_...`` text of a create update."""
        return cls.from_bytes(encoding.decode(text, "cb"))

    def serialize(self) -> bytes:
        fields: list[RLPItem] = [
            encode_int(SOPHIA_CONTRACT_TAG),
            encode_int(self.version),
            self.source_hash,
            self.type_info,
            self.fate.serialize(),
        ]
        if self.version >= 2:
            fields.append(self.compiler_version or b"")
        if self.version >= 3:
            fields.append(b"\x01" if self.payable else b"\x00")
        return rlp_encode(fields)
