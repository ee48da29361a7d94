"""The byte-level pieces of FATE's serialization: a cursor over the input, RLP byte strings and
the integer forms the tags use.

Every reader is strict: it accepts only what the node's serializer writes, so that whatever
decodes also re-encodes to the same bytes. Errors are :class:`DecodingError` with the offset.
"""

from __future__ import annotations

from typing import Final

from ..codec import encode_int, rlp_bytes
from ..errors import DecodingError

__all__ = ["Reader", "encode_fate_int", "encode_rlp_int"]

SMALL_INT_LIMIT: Final = 64
POS_BIG_INT: Final = 0b0110_1111
NEG_BIG_INT: Final = 0b1110_1111
# Nesting deeper than this is refused: no compiled contract comes near it, and hostile input
# must not exhaust Python's stack.
MAX_DEPTH: Final = 200


def encode_rlp_int(value: int) -> bytes:
    """An unsigned integer as the RLP of its shortest big-endian bytes (0 is ``00``)."""
    return rlp_bytes(encode_int(value))


def encode_fate_int(value: int) -> bytes:
    """A FATE integer: a 6-bit magnitude with a sign bit in one byte, else a big-int tag."""
    magnitude = abs(value)
    if magnitude < SMALL_INT_LIMIT:
        return bytes(((0x80 if value < 0 else 0) | magnitude << 1,))
    tag = NEG_BIG_INT if value < 0 else POS_BIG_INT
    return bytes((tag,)) + encode_rlp_int(magnitude - SMALL_INT_LIMIT)


class Reader:
    """A position in a byte string, advanced by the read methods."""

    __slots__ = ("data", "depth", "position")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0
        self.depth = 0

    def error(self, message: str) -> DecodingError:
        return DecodingError(f"fate: at byte {self.position}: {message}")

    @property
    def left(self) -> int:
        return len(self.data) - self.position

    def byte(self) -> int:
        if self.position >= len(self.data):
            raise self.error("truncated")
        value = self.data[self.position]
        self.position += 1
        return value

    def take(self, count: int) -> bytes:
        if count > self.left:
            raise self.error(f"{count} bytes announced, {self.left} left")
        chunk = self.data[self.position : self.position + count]
        self.position += count
        return chunk

    def rlp_bytes(self) -> bytes:
        """One RLP byte string in its canonical form (a list is refused)."""
        first = self.byte()
        if first < 0x80:
            return bytes((first,))
        if first >= 0xC0:
            raise self.error("an RLP list where a byte string belongs")
        if first < 0xB8:
            value = self.take(first - 0x80)
            if len(value) == 1 and value[0] < 0x80:
                raise self.error("a single byte below 0x80 is its own RLP encoding")
            return value
        size_bytes = self.take(first - 0xB7)
        if size_bytes[0] == 0:
            raise self.error("an RLP length with a leading zero byte")
        length = int.from_bytes(size_bytes, "big")
        if length < 56:
            raise self.error("an RLP length not in its shortest form")
        return self.take(length)

    def rlp_int(self) -> int:
        """An unsigned integer written as the RLP of its shortest big-endian bytes."""
        raw = self.rlp_bytes()
        if not raw:
            raise self.error("an integer as no bytes (the node writes 0 as one zero byte)")
        if len(raw) > 1 and raw[0] == 0:
            raise self.error("an integer with a leading zero byte")
        return int.from_bytes(raw, "big")

    def fate_int(self) -> int:
        """A FATE integer (small or big); any other tag is an error."""
        tag = self.byte()
        if tag & 1 == 0:
            magnitude = tag >> 1 & 0x3F
            if tag & 0x80:
                if magnitude == 0:
                    raise self.error("a small integer minus zero")
                return -magnitude
            return magnitude
        if tag == POS_BIG_INT:
            return self.rlp_int() + SMALL_INT_LIMIT
        if tag == NEG_BIG_INT:
            return -self.rlp_int() - SMALL_INT_LIMIT
        raise self.error(f"an integer expected, found tag 0x{tag:02x}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels")

    def leave(self) -> None:
        self.depth -= 1

    def done(self) -> None:
        if self.left:
            raise self.error(f"{self.left} trailing bytes")
