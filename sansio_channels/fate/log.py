"""The events a contract call logs (``log`` of ``channels.get.contract_call``).

A logged event is a constructor of the contract's ``event`` variant (from its ACI): its first
topic is the BLAKE2b-256 hash of the constructor's name as an integer; each argument that fits
in 32 bytes (integers, booleans, ids, bytes of up to 32) is a further topic, in order; the one
argument that may not (a string, or longer bytes) is the entry's ``data``, raw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .. import encoding
from ..codec import JSON
from ..errors import DecodingError
from .jsonform import to_json
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
    TupleType,
    VariantType,
)
from .values import Bits, Identifier, ObjectKind, Value, Variant

__all__ = ["Event", "decode_event", "decode_log", "event_topic"]

WORD: int = 32
_KINDS = {
    ADDRESS: ObjectKind.ADDRESS,
    CONTRACT: ObjectKind.CONTRACT,
    ORACLE: ObjectKind.ORACLE,
    ORACLE_QUERY: ObjectKind.ORACLE_QUERY,
    CHANNEL: ObjectKind.CHANNEL,
}


def event_topic(name: str) -> int:
    """The first topic of the events of constructor ``name``."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=32).digest(), "big")


@attrs.frozen
class Event:
    """A decoded event: the contract that logged it, and its constructor with values."""

    contract: str
    name: str
    value: Variant
    type: VariantType = attrs.field(repr=False, eq=False)

    def to_json(self) -> dict[str, JSON]:
        return {"contract": self.contract, "event": to_json(self.value, self.type)}


def decode_event(entry: Mapping[str, Any], event_type: VariantType) -> Event:
    """One ``log`` entry (``address``, ``topics``, ``data``) as a constructor of ``event_type``,
    the contract's ``event`` type with its constructor names (from the ACI)."""
    topics, data_text, address = entry.get("topics"), entry.get("data"), entry.get("address")
    if not (isinstance(topics, list) and topics and all(isinstance(t, int) for t in topics)):
        raise DecodingError("event: topics are a non-empty list of integers")
    if not isinstance(data_text, str) or not isinstance(address, str):
        raise DecodingError("event: address and data are text")
    data = encoding.decode(data_text, "cb")
    names = event_type.names or ()
    tags = [i for i, name in enumerate(names) if event_topic(name) == topics[0]]
    if not tags:
        raise DecodingError("event: the first topic names no constructor of the event type")
    tag = tags[0]
    constructor = event_type.constructors[tag]
    values = _values(constructor, list(topics[1:]), data)
    return Event(address, names[tag], Variant(event_type.arities, tag, values), event_type)


def _values(constructor: TupleType, topics: list[int], data: bytes) -> tuple[Value, ...]:
    values: list[Value] = []
    for t in constructor.elements:
        if _is_data(t):
            values.append(data.decode("utf-8", "surrogateescape") if t == STRING else data)
            continue
        if not topics:
            raise DecodingError("event: fewer topics than the constructor's arguments")
        values.append(_from_topic(topics.pop(0), t))
    if topics:
        raise DecodingError("event: more topics than the constructor's arguments")
    return tuple(values)


def _is_data(t: FateType) -> bool:
    return t == STRING or (isinstance(t, BytesType) and (t.size is None or t.size > WORD))


def _from_topic(topic: int, t: FateType) -> Value:
    if not 0 <= topic < 1 << (8 * WORD):
        raise DecodingError(f"event: topic {topic} is no 32-byte word")
    if t == INTEGER:
        return topic
    if t == BOOLEAN:
        if topic not in (0, 1):
            raise DecodingError(f"event: a boolean topic of {topic}")
        return topic == 1
    if t == BITS:
        return Bits(topic)
    if t in _KINDS:
        return Identifier(_KINDS[t], topic.to_bytes(WORD, "big"))
    if isinstance(t, BytesType) and t.size is not None:
        if topic >> (8 * t.size):
            raise DecodingError(f"event: topic {topic} does not fit in bytes({t.size})")
        return topic.to_bytes(t.size, "big")
    raise DecodingError(f"event: an argument of type {t} cannot be logged")


def decode_log(log: Sequence[Mapping[str, Any]], event_type: VariantType) -> list[Event]:
    """Every entry of a call's ``log``."""
    return [decode_event(entry, event_type) for entry in log]
