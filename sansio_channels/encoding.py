"""API strings: ``prefix_`` + base58check or base64check, and 33-byte tagged ids.

An API string is ``<prefix>_<enc(payload ++ checksum)>`` where the checksum is the first
four bytes of ``sha256(sha256(payload))``. Which prefixes use base58 and which base64,
and which payload sizes are fixed, follows the node's own encoder.
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import re
from typing import Final

import attrs
import base58

from .errors import DecodingError

__all__ = [
    "PREFIXES",
    "Encoding",
    "Id",
    "IdTag",
    "decode",
    "decode_prefixed",
    "encode",
    "short",
]


class Encoding(enum.Enum):
    BASE58 = "base58"
    BASE64 = "base64"


@attrs.frozen
class PrefixSpec:
    """How one prefix is encoded, and its payload size when the node fixes one."""

    name: str
    encoding: Encoding
    size: int | None


def _specs() -> dict[str, PrefixSpec]:
    b58, b64 = Encoding.BASE58, Encoding.BASE64
    table: list[tuple[str, str, Encoding, int | None]] = [
        ("ak", "account public key", b58, 32),
        ("ch", "channel", b58, 32),
        ("ct", "contract public key", b58, 32),
        ("ok", "oracle public key", b58, 32),
        ("oq", "oracle query id", b58, 32),
        ("th", "tx hash", b58, 32),
        ("kh", "key block hash", b58, 32),
        ("mh", "micro block hash", b58, 32),
        ("bf", "proof of fraud hash", b58, 32),
        ("bx", "block tx hash", b58, 32),
        ("bs", "block state hash", b58, 32),
        ("sg", "signature", b58, 64),
        ("cm", "commitment", b58, 32),
        ("pp", "peer public key", b58, 32),
        # Names and secret keys are not size-checked by the node's encoder.
        ("nm", "name", b58, None),
        ("sk", "secret key", b58, None),
        ("tx", "transaction", b64, None),
        ("ba", "byte array", b64, None),
        ("cb", "contract byte array", b64, None),
        ("st", "state hash", b64, 32),
        ("pi", "proof of inclusion", b64, None),
        ("ss", "state trees", b64, None),
        ("cs", "call state tree", b64, None),
        ("ck", "contract store key", b64, None),
        ("cv", "contract store value", b64, None),
        ("or", "oracle response", b64, None),
        ("ov", "oracle query", b64, None),
    ]
    return {prefix: PrefixSpec(name, enc, size) for prefix, name, enc, size in table}


PREFIXES: Final[dict[str, PrefixSpec]] = _specs()

_BASE58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_BAD = re.compile(f"[^{_BASE58_ALPHABET}]")
_BASE64_BAD = re.compile(r"[^A-Za-z0-9+/=]")
_BASE58_MAX_CHARS: Final = 512


def short(text: str, limit: int = 24) -> str:
    """``text`` cut to ``limit`` characters, for error messages about hostile input."""
    return text if len(text) <= limit else text[:limit] + "..."


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def encode(prefix: str, payload: bytes) -> str:
    """The API string for ``payload`` under ``prefix`` (``encode("ak", key)``)."""
    # A secret key is never kept in the cache.
    if type(payload) is bytes and len(payload) <= _CACHED_BYTES and prefix != "sk":
        return _encode_short(prefix, payload)
    return _encode(prefix, payload)


# Ids, hashes and signatures are shown again and again (in check details, balances, the
# signer's address), and base58 is slow to encode: short payloads are encoded once.
_CACHED_BYTES: Final = 64

# The caches below serve the reuse within one operation (the same ids, hashes and signatures
# met several times while a transfer is checked, signed and co-signed): they hold the last
# few operations' worth and no more. A cache that held every channel's values would make a
# transfer cheaper in a process with few channels than in a hub with thousands, where it
# misses; sized this way it misses alike at any number of channels.
_RECENT: Final = 256


@functools.lru_cache(maxsize=_RECENT)
def _encode_short(prefix: str, payload: bytes) -> str:
    return _encode(prefix, payload)


def _encode(prefix: str, payload: bytes) -> str:
    spec = PREFIXES.get(prefix)
    if spec is None:
        raise ValueError(f"unknown API prefix {prefix!r}")
    if spec.size is not None and len(payload) != spec.size:
        raise ValueError(f"{prefix}_ payload must be {spec.size} bytes, got {len(payload)}")
    data = payload + _checksum(payload)
    if spec.encoding is Encoding.BASE58:
        body = base58.b58encode(data).decode("ascii")
    else:
        body = base64.b64encode(data).decode("ascii")
    return f"{prefix}_{body}"


def decode_prefixed(text: str) -> tuple[str, bytes]:
    """Split an API string into its prefix and its checked payload.

    Raises :class:`DecodingError` saying which check failed and where.
    """
    if not isinstance(text, str):
        raise DecodingError(f"API string expected, got {type(text).__name__}")
    # A secret key's text is never kept in the cache either.
    if len(text) <= _CACHED_CHARS and not text.startswith("sk_"):
        return _decode_short(text)
    return _decode_prefixed(text)


# Ids, hashes and signatures recur in every frame of a channel, and base58 is slow to decode:
# short strings are decoded once. Long ones (txs, trees) are not worth keeping.
_CACHED_CHARS: Final = 120


@functools.lru_cache(maxsize=_RECENT)
def _decode_short(text: str) -> tuple[str, bytes]:
    return _decode_prefixed(text)


def _decode_prefixed(text: str) -> tuple[str, bytes]:
    prefix, sep, body = text.partition("_")
    if not sep:
        raise DecodingError(f"{short(text)!r}: no prefix (expected e.g. 'ak_...')")
    spec = PREFIXES.get(prefix)
    if spec is None:
        raise DecodingError(f"{short(text)!r}: unknown prefix {short(prefix, 8)!r}")
    data = _decode_body(text, spec, body)
    if len(data) < 4:
        raise DecodingError(f"{short(text)!r}: too short to hold a checksum")
    payload, checksum = data[:-4], data[-4:]
    if _checksum(payload) != checksum:
        raise DecodingError(f"{short(text)!r}: checksum mismatch")
    if spec.size is not None and len(payload) != spec.size:
        raise DecodingError(
            f"{short(text)!r}: a {spec.name} is {spec.size} bytes, got {len(payload)}"
        )
    return prefix, payload


def _decode_body(text: str, spec: PrefixSpec, body: str) -> bytes:
    if spec.encoding is Encoding.BASE58:
        # base58 decoding is quadratic; no base58 payload the node sends comes near this.
        if len(body) > _BASE58_MAX_CHARS:
            raise DecodingError(f"{short(text)!r}: too long for a base58 string")
        bad = _BASE58_BAD.search(body)
        if bad:
            raise DecodingError(
                f"{short(text)!r}: character {bad.group()!r} at position "
                f"{bad.start() + 3} is not base58"
            )
        return base58.b58decode(body)
    try:
        return base64.b64decode(body, validate=True)
    except ValueError as exc:  # binascii.Error, or a str that is not ASCII
        # The decoder refuses what is not base64; where is worth saying, though not worth a
        # search of every tx that is fine.
        bad = _BASE64_BAD.search(body)
        if bad:
            raise DecodingError(
                f"{short(text)!r}: character {bad.group()!r} at position "
                f"{bad.start() + 3} is not base64"
            ) from None
        raise DecodingError(f"{short(text)!r}: malformed base64 ({exc})") from None


def decode(text: str, prefix: str) -> bytes:
    """The payload of an API string that must carry ``prefix``."""
    found, payload = decode_prefixed(text)
    if found != prefix:
        raise DecodingError(f"{short(text)!r}: expected prefix {prefix}_, got {found}_")
    return payload


class IdTag(enum.IntEnum):
    """The first byte of a serialized id: what kind of thing the 32 bytes name."""

    ACCOUNT = 1
    NAME = 2
    COMMITMENT = 3
    ORACLE = 4
    CONTRACT = 5
    CHANNEL = 6

    @property
    def prefix(self) -> str:
        return _ID_PREFIX[self]


_ID_PREFIX: Final = {
    IdTag.ACCOUNT: "ak",
    IdTag.NAME: "nm",
    IdTag.COMMITMENT: "cm",
    IdTag.ORACLE: "ok",
    IdTag.CONTRACT: "ct",
    IdTag.CHANNEL: "ch",
}
_PREFIX_ID: Final = {prefix: tag for tag, prefix in _ID_PREFIX.items()}


def _check_key(instance: object, attribute: attrs.Attribute[bytes], value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ValueError(f"an id holds 32 bytes, got {value!r}")


@attrs.frozen
class Id:
    """A tagged 32-byte id: an account, contract, channel, ... (``ak_...``, ``ct_...``)."""

    tag: IdTag = attrs.field(converter=IdTag)
    key: bytes = attrs.field(validator=_check_key)

    @classmethod
    def from_api(cls, text: str, *tags: IdTag) -> Id:
        """Parse ``ak_...``, ``ct_...``, ...; with ``tags``, only those kinds are accepted."""
        prefix, payload = decode_prefixed(text)
        tag = _PREFIX_ID.get(prefix)
        if tag is None or (tags and tag not in tags):
            wanted = ", ".join(t.prefix + "_" for t in (tags or tuple(IdTag)))
            raise DecodingError(f"{short(text)!r}: expected an id ({wanted}), got {prefix}_")
        return _id_of(tag, payload) if cls is Id else cls(tag, payload)

    @classmethod
    def account(cls, text: str) -> Id:
        return cls.from_api(text, IdTag.ACCOUNT)

    @classmethod
    def deserialize(cls, data: bytes) -> Id:
        """An id from its 33 serialized bytes (tag byte, then the key)."""
        if len(data) != 33:
            raise DecodingError(f"an id is 33 bytes, got {len(data)}")
        return _deserialized_id(bytes(data))

    def serialize(self) -> bytes:
        return bytes([self.tag]) + self.key

    @functools.cached_property
    def api(self) -> str:
        return encode(self.tag.prefix, self.key)

    def __str__(self) -> str:
        return self.api


# The same few ids (the participants, the channel) are in every tx and every update of an
# operation: each is built once while it recurs. Ids are immutable, so sharing them is safe.
@functools.lru_cache(maxsize=_RECENT)
def _deserialized_id(data: bytes) -> Id:
    try:
        tag = IdTag(data[0])
    except ValueError:
        raise DecodingError(f"unknown id tag {data[0]}") from None
    return _id_of(tag, data[1:])


@functools.lru_cache(maxsize=_RECENT)
def _id_of(tag: IdTag, key: bytes) -> Id:
    return Id(tag, key)
