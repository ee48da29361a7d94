"""hypothesis strategies for FATE types and for values of a given type."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from sansio_channels.fate import types as t
from sansio_channels.fate.values import Bits, FrozenList, Identifier, ObjectKind, Variant

_IDS = {
    t.ADDRESS: ObjectKind.ADDRESS,
    t.CONTRACT: ObjectKind.CONTRACT,
    t.ORACLE: ObjectKind.ORACLE,
    t.ORACLE_QUERY: ObjectKind.ORACLE_QUERY,
    t.CHANNEL: ObjectKind.CHANNEL,
}
# Map keys: the node orders them, and no map, store map or type can be one.
key_types = st.sampled_from(
    [
        t.INTEGER,
        t.BOOLEAN,
        t.STRING,
        t.BITS,
        t.BytesType(4),
        t.ADDRESS,
        t.CONTRACT,
        t.ORACLE_QUERY,
        t.CONTRACT_BYTEARRAY,
        t.TupleType((t.INTEGER, t.STRING)),
        t.ListType(t.BITS),
        t.VariantType((t.TupleType(()), t.TupleType((t.INTEGER, t.INTEGER))), ("A", "B")),
    ]
)


def _frozen(value: Any) -> Any:
    """A key as a decoded map holds it: its lists frozen."""
    if isinstance(value, list):
        return FrozenList(_frozen(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Variant):
        return Variant(value.arities, value.tag, tuple(_frozen(v) for v in value.values))
    return value


leaf_types = st.sampled_from(
    [
        t.INTEGER,
        t.BOOLEAN,
        t.STRING,
        t.BITS,
        t.BytesType(None),
        t.BytesType(32),
        *_IDS,
        t.CONTRACT_BYTEARRAY,
    ]
)


def _compound(inner: st.SearchStrategy[t.FateType]) -> st.SearchStrategy[t.FateType]:
    tuples = st.lists(inner, min_size=2, max_size=4).map(lambda e: t.TupleType(tuple(e)))
    constructors = st.lists(inner, max_size=3).map(lambda e: t.TupleType(tuple(e)))
    return st.one_of(
        inner.map(t.ListType),
        tuples,
        st.builds(t.MapType, key_types, inner),
        st.lists(constructors, min_size=1, max_size=4).map(
            lambda cs: t.VariantType(tuple(cs), tuple(f"C{i}" for i in range(len(cs))))
        ),
    )


fate_types = st.recursive(leaf_types, _compound, max_leaves=8)


def values_of(ty: t.FateType) -> st.SearchStrategy[Any]:
    """Python values of type ``ty``."""
    if ty == t.INTEGER:
        return st.integers(min_value=-(2**300), max_value=2**300)
    if ty == t.BOOLEAN:
        return st.booleans()
    if ty == t.STRING:
        return st.text(max_size=80)
    if ty == t.BITS:
        return st.integers(min_value=-(2**70), max_value=2**70).map(Bits)
    if isinstance(ty, t.BytesType):
        if ty.size is None:
            return st.binary(max_size=80)
        return st.binary(min_size=ty.size, max_size=ty.size)
    if ty in _IDS:
        return st.binary(min_size=32, max_size=32).map(lambda key: Identifier(_IDS[ty], key))
    if ty == t.CONTRACT_BYTEARRAY:
        from sansio_channels.fate.values import ContractBytearray

        return st.binary(max_size=80).map(ContractBytearray)
    if isinstance(ty, t.ListType):
        return st.lists(values_of(ty.element), max_size=18)
    if isinstance(ty, t.TupleType):
        return st.tuples(*map(values_of, ty.elements))
    if isinstance(ty, t.MapType):
        return st.dictionaries(values_of(ty.key).map(_frozen), values_of(ty.value), max_size=5)
    if isinstance(ty, t.VariantType):
        arities = ty.arities
        return st.integers(min_value=0, max_value=len(arities) - 1).flatmap(
            lambda tag: values_of(ty.constructors[tag]).map(
                lambda vs: Variant(arities, tag, tuple(vs))
            )
        )
    raise AssertionError(ty)


typed_values = fate_types.flatmap(lambda ty: st.tuples(st.just(ty), values_of(ty)))
