"""Contract code: functions, attributes, instructions; the node's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_channels import encoding
from sansio_channels.codec import encode_int, rlp_bytes, rlp_encode
from sansio_channels.errors import DecodingError
from sansio_channels.fate import types as t
from sansio_channels.fate.code import Contract, FateCode, Function, Instruction, function_id
from sansio_channels.fate.opcodes import OPCODES
from sansio_channels.fate.values import encode_value

from .test_describe_cli import CODE

RETURNR, ADD, CALL_PGR = 0x01, 0x14, 0xA2


def function(
    name: str, *blocks: tuple[Instruction, ...], attributes: tuple[str, ...] = ()
) -> Function:
    return Function(
        id=function_id(name),
        name=name,
        attributes=attributes,
        arguments=(t.INTEGER,),
        returns=t.INTEGER,
        blocks=blocks,
    )


RETURN_ARG = Instruction(RETURNR, (1,), (0,))
ADD_ARGS = Instruction(ADD, (2, 1, 3), (0, 0, 5))


def test_code_built_here_decodes_to_itself() -> None:
    fns = sorted(
        [
            function("main", (ADD_ARGS, RETURN_ARG), attributes=("payable",)),
            function("helper", (RETURN_ARG,), attributes=("private",)),
            # CALL_PGR has 7 arguments: two bytes of modes.
            function(
                "remote", (Instruction(CALL_PGR, (3, 3, 0, 3, 3, 3, 3), ("x", "y", 1, 2, 3, True)),)
            ),
        ],
        key=lambda f: f.id,
    )
    code = FateCode(
        functions=tuple(fns),
        symbols={f.id.decode("utf-8", "surrogateescape"): f.name for f in fns if f.name},
        annotations={},
    )
    data = code.serialize()
    decoded = FateCode.from_bytes(data)
    assert decoded == code
    assert decoded.serialize() == data
    main = decoded.function("main")
    assert main.payable
    assert not main.private
    assert decoded.function("helper").private
    assert main.blocks[0][0].mnemonic == "ADD"
    assert decoded.by_id(function_id("nope")) is None
    with pytest.raises(KeyError, match="no function 'nope'"):
        decoded.function("nope")


def _functions_blob(*parts: bytes) -> bytes:
    return rlp_bytes(b"".join(parts)) + rlp_bytes(encode_value({})) + rlp_bytes(encode_value({}))


HEAD = (
    bytes((0xFE,))
    + function_id("f")
    + b"\x00"
    + t.encode_type(t.TupleType(()))
    + t.encode_type(t.INTEGER)
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_functions_blob(bytes((RETURNR, 0b11, 0))), "code_without_function"),
        (_functions_blob(HEAD + b"\x01\x03\x00" + HEAD), "out of id order"),
        (
            _functions_blob(
                HEAD.replace(
                    b"\x00" + t.encode_type(t.TupleType(())),
                    b"\x08" + t.encode_type(t.TupleType(())),
                )
            ),
            "unknown function attributes 4",
        ),
        (
            _functions_blob(bytes((0xFE,)) + function_id("f") + b"\x00\x07\x07"),
            "arguments are a tuple type",
        ),
        (_functions_blob(HEAD + b"\xee"), "unknown opcode 0xee"),
        (
            _functions_blob(HEAD + bytes((ADD, 0b11_11_11_11, 0, 0, 0))),
            "argument_defined_outside_range",
        ),
        (_functions_blob(HEAD + bytes((ADD, 0b00_11_11_11, 0, 0, 0))), "wrong_opcode_in_bb"),
        (
            rlp_bytes(b"") + rlp_bytes(encode_value(1)) + rlp_bytes(encode_value({})),
            "symbol table is not a map",
        ),
        (
            rlp_bytes(b"") + rlp_bytes(encode_value({1: 2})) + rlp_bytes(encode_value({})),
            "a symbol maps an id",
        ),
    ],
)
def test_code_the_node_refuses(data: bytes, message: str) -> None:
    with pytest.raises(DecodingError, match=message):
        FateCode.from_bytes(data)


def _contract(*fields: Any, tag: int = 70, version: int = 3) -> bytes:
    return rlp_encode([encode_int(tag), encode_int(version), *fields])


FATE = Contract.from_api(CODE)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xc1", "contract: "),
        (rlp_encode([encode_int(70)]), "not a tagged list"),
        (_contract(tag=71), "illegal_code_object: tag 71"),
        (_contract(version=4), "version 4"),
        (_contract(b"", [], FATE.byte_code), "version 3 has 5 fields"),
        (_contract([], [], FATE.byte_code, b"", b"\x01"), "are byte strings"),
        (_contract(b"", b"", FATE.byte_code, b"", b"\x01"), "type info is a list"),
        (_contract(b"", [], FATE.byte_code, [], b"\x01"), "compiler version"),
        (_contract(b"", [], FATE.byte_code, b"", b"\x02"), "payable is a boolean"),
        (_contract(b"", [], b"\x01", b"", b"\x01"), "bad FATE code"),
    ],
)
def test_contracts_the_node_refuses(data: bytes, message: str) -> None:
    with pytest.raises(DecodingError, match=message):
        Contract.from_bytes(data)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_every_version_of_the_serialized_contract(version: int) -> None:
    fields: list[Any] = [FATE.source_hash, [], FATE.byte_code, b"4.2.0", b"\x00"][: 2 + version]
    data = _contract(*fields, version=version)
    contract = Contract.from_bytes(data)
    assert contract.serialize() == data
    assert contract.payable is (version < 3)
    assert encoding.encode("cb", contract.serialize()).startswith("cb_")


def test_every_opcode_has_a_mnemonic_and_at_most_eight_arguments() -> None:
    assert len(OPCODES) == 191
    assert all(0 <= count <= 8 for _, count, _ in OPCODES.values())
