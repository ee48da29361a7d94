"""hypothesis strategies for API strings and every registered chain object."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from sansio_channels import txs as _txs  # noqa: F401  # registers the tx classes
from sansio_channels.codec import (
    BytesCodec,
    ChainObject,
    FieldCodec,
    IdCodec,
    IntCodec,
    ListCodec,
    ObjectCodec,
    registered,
)
from sansio_channels.encoding import Id

# Amounts exceed 2**53 and 2**64; the codec must keep them exact.
integers = st.integers(min_value=0, max_value=2**300)


def for_codec(codec: FieldCodec, depth: int) -> st.SearchStrategy[Any]:
    if isinstance(codec, IntCodec):
        return integers
    if isinstance(codec, BytesCodec):
        if codec.size is not None:
            return st.binary(min_size=codec.size, max_size=codec.size)
        return st.binary(max_size=80)
    if isinstance(codec, IdCodec):
        return st.builds(Id, st.sampled_from(codec.tags), st.binary(min_size=32, max_size=32))
    if isinstance(codec, ListCodec):
        item = for_codec(codec.item, depth)
        if item.is_empty:
            return st.just(())
        return st.lists(item, max_size=3).map(tuple)
    if isinstance(codec, ObjectCodec):
        # Out of depth, objects() is nothing: an optional object is then absent and a
        # list of objects empty.
        inner = objects(codec.types, depth - 1)
        return st.one_of(st.none(), inner) if codec.optional else inner
    raise AssertionError(f"no strategy for {codec!r}")


def object_of(cls: type[ChainObject], depth: int = 2) -> st.SearchStrategy[ChainObject]:
    fields = {name: for_codec(codec, depth) for name, codec in cls.FIELDS}
    return st.fixed_dictionaries(fields).map(lambda values: cls(**values))


def objects(types: tuple[str, ...] = (), depth: int = 2) -> st.SearchStrategy[ChainObject]:
    """Any registered object whose TYPE is in ``types`` (any at all if empty)."""
    classes = [
        cls
        for cls in registered().values()
        if (not types or cls.TYPE in types) and _min_depth(cls) <= depth
    ]
    if not classes:
        return st.nothing()
    return st.sampled_from(classes).flatmap(lambda cls: object_of(cls, depth))


def _min_depth(cls: type[ChainObject]) -> int:
    """How deep the least nested object of ``cls`` goes (a signed tx around a leaf: 1)."""
    return _min_depths()[cls]


def _min_depths() -> dict[type[ChainObject], int]:
    # Objects nest in cycles (a signed tx may hold a meta tx holding a signed tx), so
    # iterate to a fixed point instead of recursing.
    classes = list(registered().values())
    depth: dict[type[ChainObject], float] = dict.fromkeys(classes, math.inf)
    changed = True
    while changed:
        changed = False
        for cls in classes:
            required = [
                codec.types
                for _, codec in cls.FIELDS
                if isinstance(codec, ObjectCodec) and not codec.optional
            ]
            new = 1 + max(
                (min(depth[c] for c in classes if not t or c.TYPE in t) for t in required),
                default=-1,
            )
            if new < depth[cls]:
                depth[cls] = new
                changed = True
    return {cls: int(d) for cls, d in depth.items()}
