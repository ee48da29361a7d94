"""The JSON form of FATE values, and the checked conversion of Python or JSON input to values.

=====================  ===================================  ===========================
FATE type              JSON form                            also accepted as input
=====================  ===================================  ===========================
int                    number (exact)                       Python ``int``
bool                   ``true`` / ``false``
string                 string
bytes(n), bytes()      ``"0x"`` and the bytes in hex        Python ``bytes``
bits                   number (negative: infinitely many    :class:`.Bits`
                       ones)
address, contract,     ``"ak_..."``, ``"ct_..."``,          :class:`.Identifier`
oracle, oracle_query,  ``"ok_..."``, ``"oq_..."``,
channel                ``"ch_..."``
tuple                  array (a record of an ACI: object    Python ``tuple``
                       by field name)
list                   array
map                    array of ``[key, value]`` pairs      Python ``dict``; an object
                                                            when the keys are strings
variant                ``{"Name": [values]}``, the name     :class:`.Variant`
                       from an ACI, else the constructor's
                       index (``{"1": [5]}``)
store map reference    ``{"store_map": id}``
type representation    its text (``"list(int)"``)
contract byte array    ``"cb_..."``
=====================  ===================================  ===========================

:func:`to_json` needs no type (a type with ACI names gives records and constructor names);
:func:`coerce` needs the type, and refuses what does not fit it with a
:class:`LocalProtocolError` that says where.
"""

from __future__ import annotations

from typing import Any

from .. import encoding
from ..codec import JSON
from ..errors import DecodingError, LocalProtocolError
from .types import (
    ADDRESS,
    ANY,
    BITS,
    BOOLEAN,
    CHANNEL,
    CONTRACT,
    CONTRACT_BYTEARRAY,
    INTEGER,
    ORACLE,
    ORACLE_QUERY,
    STRING,
    BytesType,
    FateType,
    ListType,
    MapType,
    TupleType,
    TypeVar,
    VariantType,
)
from .values import (
    Bits,
    ContractBytearray,
    FrozenList,
    Identifier,
    ObjectKind,
    StoreMap,
    TypeRep,
    Value,
    Variant,
)

__all__ = ["coerce", "to_json"]

_KIND_OF_TYPE = {
    ADDRESS: ObjectKind.ADDRESS,
    CONTRACT: ObjectKind.CONTRACT,
    ORACLE: ObjectKind.ORACLE,
    ORACLE_QUERY: ObjectKind.ORACLE_QUERY,
    CHANNEL: ObjectKind.CHANNEL,
}


def to_json(value: Value, t: FateType | None = None) -> JSON:
    """The JSON form of ``value``; ``t`` (with ACI names) names records and constructors."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Bits):
        return value.value
    if isinstance(value, Identifier):
        return value.api
    if isinstance(value, tuple):
        elements = (
            t.elements if isinstance(t, TupleType) and len(t.elements) == len(value) else None
        )
        items = [to_json(v, elements[i] if elements else None) for i, v in enumerate(value)]
        if isinstance(t, TupleType) and t.fields and len(t.fields) == len(items):
            return dict(zip(t.fields, items, strict=True))
        return items
    if isinstance(value, list):
        element = t.element if isinstance(t, ListType) else None
        return [to_json(v, element) for v in value]
    if isinstance(value, dict):
        key_t, value_t = (t.key, t.value) if isinstance(t, MapType) else (None, None)
        return [[to_json(k, key_t), to_json(v, value_t)] for k, v in value.items()]
    if isinstance(value, Variant):
        name = str(value.tag)
        arguments: TupleType | None = None
        if isinstance(t, VariantType) and t.arities == value.arities:
            arguments = t.constructors[value.tag]
            if t.names:
                name = t.names[value.tag]
        types = arguments.elements if arguments else (None,) * len(value.values)
        return {name: [to_json(v, vt) for v, vt in zip(value.values, types, strict=True)]}
    if isinstance(value, StoreMap):
        return {"store_map": value.id}
    if isinstance(value, TypeRep):
        return str(value.type)
    if isinstance(value, ContractBytearray):
        return encoding.encode("cb", value.code)
    raise LocalProtocolError(f"not a FATE value: {value!r}")


def coerce(data: Any, t: FateType, where: str = "value") -> Value:
    """``data`` (a Python value or its JSON form) as a value of type ``t``, or an error."""

    def fail(expected: str) -> LocalProtocolError:
        return LocalProtocolError(f"{where}: expected {expected}, got {_short(data)}")

    if t == ANY or isinstance(t, TypeVar):
        return data  # type: ignore[no-any-return]  # checked when it is encoded
    if t == INTEGER:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        raise fail("an int")
    if t == BOOLEAN:
        if isinstance(data, bool):
            return data
        raise fail("true or false")
    if t == STRING:
        if isinstance(data, str):
            try:
                data.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raise fail("a string of Unicode text") from None
            return data
        raise fail("a string")
    if t == BITS:
        if isinstance(data, Bits):
            return data
        if isinstance(data, int) and not isinstance(data, bool):
            return Bits(data)
        raise fail("bits (an int)")
    if isinstance(t, BytesType):
        return _bytes(data, t, fail)
    if t in _KIND_OF_TYPE:
        return _identifier(data, _KIND_OF_TYPE[t], fail)
    if t == CONTRACT_BYTEARRAY:
        if isinstance(data, ContractBytearray):
            return data
        if isinstance(data, str):
            try:
                return ContractBytearray(encoding.decode(data, "cb"))
            except DecodingError as exc:
                raise fail(f"cb_ text ({exc})") from None
        raise fail("cb_ text")
    if isinstance(t, ListType):
        if not isinstance(data, list | tuple):
            raise fail("a list")
        return [coerce(v, t.element, f"{where}[{i}]") for i, v in enumerate(data)]
    if isinstance(t, TupleType):
        return _tuple(data, t, where, fail)
    if isinstance(t, MapType):
        return _map(data, t, where, fail)
    if isinstance(t, VariantType):
        return _variant(data, t, where, fail)
    raise LocalProtocolError(f"{where}: no value can be built for type {t}")


def _short(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 60 else text[:60] + "..."


def _bytes(data: Any, t: BytesType, fail: Any) -> Value:
    value = data
    if isinstance(data, str):
        if not data.startswith("0x"):
            raise fail("bytes as 0x and hex")
        try:
            value = bytes.fromhex(data[2:])
        except ValueError:
            raise fail("bytes as 0x and hex") from None
    if not isinstance(value, bytes):
        raise fail(str(t))
    if t.size is not None and len(value) != t.size:
        raise fail(f"{t.size} bytes")
    return value


def _identifier(data: Any, kind: ObjectKind, fail: Any) -> Value:
    if isinstance(data, Identifier):
        found = data
    elif isinstance(data, str):
        try:
            found = Identifier.from_api(data)
        except DecodingError:
            raise fail(f"{kind.prefix}_ text") from None
    else:
        raise fail(f"{kind.prefix}_ text")
    if found.kind is not kind:
        raise fail(f"{kind.prefix}_ text")
    return found


def _tuple(data: Any, t: TupleType, where: str, fail: Any) -> Value:
    if isinstance(data, dict) and t.fields:
        if set(data) != set(t.fields):
            raise fail(f"a record with the fields {', '.join(t.fields)}")
        data = [data[name] for name in t.fields]
    if not isinstance(data, list | tuple) or len(data) != len(t.elements):
        raise fail(f"{len(t.elements)} elements")
    labels = t.fields or tuple(str(i) for i in range(len(t.elements)))
    return tuple(
        coerce(v, et, f"{where}.{label}")
        for v, et, label in zip(data, t.elements, labels, strict=True)
    )


def _map(data: Any, t: MapType, where: str, fail: Any) -> Value:
    if isinstance(data, dict):
        pairs = list(data.items())
    elif isinstance(data, list) and all(isinstance(p, list | tuple) and len(p) == 2 for p in data):
        pairs = [(p[0], p[1]) for p in data]
    else:
        raise fail("a map (an object, or [key, value] pairs)")
    result: dict[Value, Value] = {}
    for index, (key, value) in enumerate(pairs):
        k = coerce(key, t.key, f"{where} key {index}")
        if isinstance(k, list):
            k = FrozenList(k)
        if k in result:
            raise LocalProtocolError(f"{where} key {index}: given twice")
        result[k] = coerce(value, t.value, f"{where}[{key!r}]")
    return result


def _variant(data: Any, t: VariantType, where: str, fail: Any) -> Value:
    if isinstance(data, Variant):
        if data.arities != t.arities:
            raise fail(f"a variant of arities {list(t.arities)}")
        tag, arguments = data.tag, list(data.values)
    elif isinstance(data, dict) and len(data) == 1:
        ((name, arguments),) = data.items()
        names = t.names or ()
        if name in names:
            tag = names.index(name)
        elif isinstance(name, str) and name.isdigit() and int(name) < len(t.constructors):
            tag = int(name)
        else:
            raise fail(f"one of the constructors {list(names) or list(range(len(t.arities)))}")
        if not isinstance(arguments, list | tuple):
            raise fail("the constructor's values as an array")
    else:
        raise fail('a variant ({"Constructor": [values]})')
    values = _tuple(list(arguments), t.constructors[tag], f"{where}.{tag}", fail)
    assert isinstance(values, tuple)
    return Variant(t.arities, tag, values)
