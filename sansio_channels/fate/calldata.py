"""Call data and call results against a contract's interface.

Call data is the FATE value ``(function id, (arguments...))``, the id a 4-byte string
(:func:`.code.function_id`). An :class:`Interface` takes its functions and their types from
the contract's own code, and the names of arguments, records and constructors from an ACI
when it is given one; it encodes call data from Python values (or their JSON form, see
:mod:`.jsonform`), checked against those types, and decodes call data and return values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from .. import encoding
from ..codec import JSON
from ..errors import DecodingError, LocalProtocolError
from .aci import Aci
from .code import INIT, Contract, FateCode, Function, function_id
from .jsonform import coerce, to_json
from .types import STRING, FateType
from .values import Value, decode_value, encode_value

__all__ = ["DecodedCall", "FunctionInfo", "Interface", "split_call_data"]

# The return types of a contract call result (channels.get.contract_call "return_type").
RETURN_OK = "ok"
RETURN_REVERT = "revert"
RETURN_ERROR = "error"


def split_call_data(data: bytes) -> tuple[bytes, tuple[Value, ...]]:
    """The function id and the argument values of call data, without any type."""
    value = decode_value(data)
    if not (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], tuple)
    ):
        raise DecodingError("call data: not a (function id, (arguments)) tuple")
    fid = value[0].encode("utf-8", "surrogateescape")
    if len(fid) != 4:
        raise DecodingError(f"call data: a function id of {len(fid)} bytes, not 4")
    return fid, value[1]


@attrs.frozen
class FunctionInfo:
    """What a caller needs of a function: its id, types, attributes and argument names."""

    name: str
    id: bytes
    arguments: tuple[FateType, ...]
    returns: FateType
    attributes: tuple[str, ...]
    argument_names: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, JSON]:
        names = self.argument_names or tuple(f"arg{i}" for i in range(len(self.arguments)))
        return {
            "name": self.name,
            "id": "0x" + self.id.hex(),
            "arguments": [
                {"name": n, "type": str(t)} for n, t in zip(names, self.arguments, strict=True)
            ],
            "returns": str(self.returns),
            "attributes": list(self.attributes),
        }


@attrs.frozen
class DecodedCall:
    """Call data decoded: the function (its name when known) and the argument values."""

    function: str | None
    function_id: bytes
    arguments: tuple[Value, ...]
    argument_types: tuple[FateType, ...] | None = attrs.field(default=None, eq=False)

    @property
    def name(self) -> str:
        """The function's name, or its id in hex when the code gives no name."""
        return self.function if self.function is not None else "0x" + self.function_id.hex()

    def arguments_json(self) -> list[JSON]:
        types: Sequence[FateType | None] = self.argument_types or (None,) * len(self.arguments)
        return [to_json(v, t) for v, t in zip(self.arguments, types, strict=True)]

    def to_json(self) -> dict[str, JSON]:
        return {"function": self.name, "arguments": self.arguments_json()}

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(_short_json, self.arguments_json()))})"


def _short_json(value: JSON) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Interface:
    """A contract's functions, from its code and (for names) its ACI."""

    def __init__(self, code: FateCode, aci: Aci | None = None) -> None:
        self.code = code
        self.aci = aci
        self._functions: dict[bytes, FunctionInfo] = {}
        for fn in code.functions:
            info = self._info(fn)
            self._functions[info.id] = info

    @classmethod
    def from_code(cls, code: str | bytes | Contract, aci: Aci | None = None) -> Interface:
        """From a contract's ``cb_`` text, its bytes, or a decoded :class:`.Contract`."""
        if isinstance(code, str):
            code = encoding.decode(code, "cb")
        contract = code if isinstance(code, Contract) else Contract.from_bytes(code)
        return cls(contract.fate, aci)

    def _info(self, fn: Function) -> FunctionInfo:
        name = fn.name if fn.name is not None else "0x" + fn.id.hex()
        attributes = list(fn.attributes)
        arguments, returns, names = fn.arguments, fn.returns, None
        described = self.aci.functions.get(name) if self.aci else None
        if described is not None:
            # The ACI gives init the state's type; the code's init returns unit.
            named_returns = returns if name == INIT else described.returns
            if described.arguments != arguments or named_returns != returns:
                raise LocalProtocolError(f"aci: the types of {name} differ from the code's")
            arguments, returns, names = (
                described.arguments,
                named_returns,
                described.argument_names,
            )
            if described.stateful:
                attributes.append("stateful")
        if name == INIT:
            attributes.append("init")
        return FunctionInfo(name, fn.id, arguments, returns, tuple(attributes), names)

    @property
    def functions(self) -> tuple[FunctionInfo, ...]:
        return tuple(self._functions.values())

    def function(self, name: str) -> FunctionInfo:
        found = self._functions.get(function_id(name))
        if found is None:
            raise LocalProtocolError(f"the contract has no function {name!r}")
        return found

    def encode_call(self, name: str, arguments: Sequence[Any]) -> bytes:
        """Call data for ``name(*arguments)``; each argument a Python value or its JSON form."""
        fn = self.function(name)
        if len(arguments) != len(fn.arguments):
            raise LocalProtocolError(
                f"{name} takes {len(fn.arguments)} arguments, got {len(arguments)}"
            )
        values = tuple(
            coerce(a, t, f"{name} argument {i}")
            for i, (a, t) in enumerate(zip(arguments, fn.arguments, strict=True))
        )
        return encode_value((fn.id.decode("utf-8", "surrogateescape"), values))

    def decode_call(self, data: bytes) -> DecodedCall:
        """The function and arguments of call data; :class:`DecodingError` if they do not fit."""
        fid, values = split_call_data(data)
        fn = self._functions.get(fid)
        if fn is None:
            raise DecodingError(f"call data: the contract has no function with id 0x{fid.hex()}")
        if len(values) != len(fn.arguments):
            raise DecodingError(
                f"call data: {fn.name} takes {len(fn.arguments)} arguments, got {len(values)}"
            )
        for index, (value, t) in enumerate(zip(values, fn.arguments, strict=True)):
            _check(value, t, f"call data: {fn.name} argument {index}")
        return DecodedCall(fn.name, fid, values, fn.arguments)

    def decode_result(self, name: str, data: bytes, return_type: str = RETURN_OK) -> Value:
        """A call's return value: of the function's type when ``ok``; the message when it
        reverted (a FATE string) or failed (``error``: the VM's text, not FATE)."""
        if return_type == RETURN_ERROR:
            return data.decode("utf-8", "replace")
        value = decode_value(data)
        expected = STRING if return_type == RETURN_REVERT else self.function(name).returns
        _check(value, expected, f"{name} result")
        return value

    def result_json(self, name: str, data: bytes, return_type: str = RETURN_OK) -> JSON:
        value = self.decode_result(name, data, return_type)
        return to_json(value, self.function(name).returns if return_type == RETURN_OK else None)


def _check(value: Value, t: FateType, where: str) -> None:
    try:
        coerce(value, t, where)
    except LocalProtocolError as exc:
        raise DecodingError(str(exc)) from None
