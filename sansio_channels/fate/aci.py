"""The compiler's ACI (the JSON interface of a contract): function names, argument names and
the types with their record fields and constructor names.

:func:`parse_aci` reads the ACI (the list the compiler writes, or one contract of it) into an
:class:`Aci`, whose types are FATE types carrying the ACI's names. Singleton tuples and
records are unboxed, as the compiler does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import LocalProtocolError
from .types import (
    ADDRESS,
    BITS,
    BOOLEAN,
    CHANNEL,
    CONTRACT,
    INTEGER,
    ORACLE,
    ORACLE_QUERY,
    STRING,
    BytesType,
    FateType,
    ListType,
    MapType,
    TupleType,
    VariantType,
)

__all__ = ["Aci", "AciFunction", "parse_aci"]

_NAMED: Mapping[str, FateType] = {
    "int": INTEGER,
    "char": INTEGER,
    "bool": BOOLEAN,
    "string": STRING,
    "bits": BITS,
    "address": ADDRESS,
    "contract_pubkey": CONTRACT,
    "channel": CHANNEL,
    "hash": BytesType(32),
    "signature": BytesType(64),
    "unit": TupleType(()),
    "Chain.ttl": VariantType(
        (TupleType((INTEGER,)), TupleType((INTEGER,))), ("RelativeTTL", "FixedTTL")
    ),
}


@attrs.frozen
class AciFunction:
    name: str
    argument_names: tuple[str, ...]
    arguments: tuple[FateType, ...]
    returns: FateType
    stateful: bool
    payable: bool


@attrs.frozen
class Aci:
    """One contract of an ACI."""

    name: str
    functions: Mapping[str, AciFunction]
    payable: bool = False
    event: VariantType | None = None  # the contract's events, when it logs any


def parse_aci(data: Any, contract: str | None = None) -> Aci:
    """The ACI of ``contract`` (the main, last contract when None) from the compiler's JSON."""
    entries = data if isinstance(data, list) else [data]
    typedefs: dict[str, Any] = {}
    contracts: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise LocalProtocolError("aci: each entry is {'contract': ...} or {'namespace': ...}")
        ((kind, body),) = entry.items()
        if not isinstance(body, dict) or "name" not in body:
            raise LocalProtocolError(f"aci: a {kind} without a name")
        for typedef in body.get("typedefs", []) or []:
            typedefs[f"{body['name']}.{typedef['name']}"] = typedef
        if kind in ("contract", "contract_interface", "contract_main"):
            contracts[body["name"]] = body
    if not contracts:
        raise LocalProtocolError("aci: no contract in it")
    name = contract if contract is not None else list(contracts)[-1]
    if name not in contracts:
        raise LocalProtocolError(f"aci: no contract {name!r} (there are {', '.join(contracts)})")
    body = contracts[name]
    resolver = _Resolver(typedefs, frozenset(contracts), name)
    functions = {}
    for fn in body.get("functions", []):
        arguments = fn.get("arguments", [])
        functions[fn["name"]] = AciFunction(
            name=fn["name"],
            argument_names=tuple(a.get("name", "") for a in arguments),
            arguments=tuple(resolver.resolve(a["type"]) for a in arguments),
            returns=resolver.resolve(fn["returns"]),
            stateful=bool(fn.get("stateful", False)),
            payable=bool(fn.get("payable", False)),
        )
    event = resolver.resolve(body["event"]) if "event" in body else None
    if event is not None and not isinstance(event, VariantType):
        raise LocalProtocolError(f"aci: the event type of {name} is no variant")
    return Aci(
        name=name,
        functions=functions,
        payable=bool(body.get("payable", False)),
        event=event,
    )


@attrs.define
class _Resolver:
    typedefs: Mapping[str, Any]
    contracts: frozenset[str]
    current: str

    def resolve(self, t: Any, bound: Mapping[str, FateType] | None = None) -> FateType:
        bound = bound or {}
        try:
            return self._resolve(t, bound)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise LocalProtocolError(f"aci: cannot read the type {t!r}: {exc}") from None

    def _resolve(self, t: Any, bound: Mapping[str, FateType]) -> FateType:
        if isinstance(t, str):
            return self._named(t, [], bound)
        if isinstance(t, list) and len(t) == 1:
            return self._resolve(t[0], bound)
        ((key, arguments),) = t.items()
        if key == "bytes":
            return BytesType(None if arguments == "any" else int(arguments))
        if key == "list":
            return ListType(self._resolve(arguments[0], bound))
        if key == "map":
            return MapType(self._resolve(arguments[0], bound), self._resolve(arguments[1], bound))
        if key == "tuple":
            return _unboxed(tuple(self._resolve(a, bound) for a in arguments), None)
        if key == "record":
            return _unboxed(
                tuple(self._resolve(f["type"], bound) for f in arguments),
                tuple(f["name"] for f in arguments),
            )
        if key == "variant":
            names, constructors = [], []
            for constructor in arguments:
                ((cname, cargs),) = constructor.items()
                names.append(cname)
                constructors.append(TupleType(tuple(self._resolve(a, bound) for a in cargs)))
            return VariantType(tuple(constructors), tuple(names))
        if key == "option":
            inner = self._resolve(arguments[0], bound)
            return VariantType((TupleType(()), TupleType((inner,))), ("None", "Some"))
        if key == "oracle":
            return ORACLE
        if key == "oracle_query":
            return ORACLE_QUERY
        return self._named(key, [self._resolve(a, bound) for a in arguments], bound)

    def _named(
        self, name: str, arguments: list[FateType], bound: Mapping[str, FateType]
    ) -> FateType:
        if name in bound:
            return bound[name]
        if name in _NAMED:
            return _NAMED[name]
        if name in self.contracts:
            return CONTRACT
        typedef = self.typedefs.get(name) or self.typedefs.get(f"{self.current}.{name}")
        if typedef is None:
            raise KeyError(f"unknown type {name}")
        variables = [v["name"] if isinstance(v, dict) else v for v in typedef.get("vars", [])]
        return self._resolve(typedef["typedef"], dict(zip(variables, arguments, strict=True)))


def _unboxed(elements: tuple[FateType, ...], fields: tuple[str, ...] | None) -> FateType:
    """One-element tuples and records are their element (the compiler unboxes them)."""
    if len(elements) == 1:
        return elements[0]
    return TupleType(elements, fields)
