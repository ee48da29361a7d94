"""Where channel records are kept: a small store protocol, and a default on stdlib sqlite3.

The store holds each channel's :class:`~sansio_channels.record.ChannelRecord` (never a secret
key), keyed by :func:`record_key`. :class:`SQLiteStore` writes in WAL mode with a full sync on
every commit, so a record saved is a record kept across a crash; a file that is corrupt,
truncated, not a store at all, or written by a newer version of the library is refused with a
:class:`StoreError` and never written to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, Protocol

from .errors import ChannelError, LocalProtocolError
from .record import ChannelRecord

__all__ = ["SCHEMA_VERSION", "ChannelStore", "SQLiteStore", "StoreError", "record_key"]

SCHEMA_VERSION: Final = 1
_APPLICATION_ID: Final = 0x53434831  # "SCH1": marks a file as a channel store


class StoreError(ChannelError):
    """The store cannot be used as it is; it was left untouched."""


def record_key(record: ChannelRecord) -> str:
    """The key a record is kept under: the channel id (known from the create tx we signed,
    before the node names it), or, earlier in the open, role, account and fsm id."""
    channel_id = record.known_channel_id()
    if channel_id is not None:
        return f"{channel_id}:{record.role}"
    return f"opening:{record.role}:{record.account}:{record.fsm_id}"


class ChannelStore(Protocol):
    """What the adapters need of a store; a hub may back it with PostgreSQL or Redis."""

    def save(self, record: ChannelRecord, *, replaces: str | None = None) -> None:
        """Keep ``record`` (replacing the one under the same key), durably, before returning.

        With ``replaces``, the record under that key (the one this record was kept under
        before its key changed: an opening record once the channel id is known) is removed
        in the same transaction, so a crash leaves one of the two, never both or neither.
        The adapters pass it only when it differs from the record's own key."""
        ...

    def load(self, key: str) -> ChannelRecord | None: ...

    def records(self) -> list[ChannelRecord]: ...

    def delete(self, key: str) -> None: ...


# schema version -> the statements that bring a store of the version before up to it
_MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: ("CREATE TABLE channels (key TEXT PRIMARY KEY, record TEXT NOT NULL)",),
}


class SQLiteStore:
    """Channel records in one sqlite3 file (WAL, full sync on commit)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = _open(self.path)

    def save(self, record: ChannelRecord, *, replaces: str | None = None) -> None:
        if not isinstance(record, ChannelRecord):
            raise LocalProtocolError(f"a ChannelRecord is required, got {type(record).__name__}")
        if replaces is not None and not isinstance(replaces, str):
            raise LocalProtocolError(f"replaces must be a key (str), got {type(replaces).__name__}")
        key = record_key(record)
        text = json.dumps(record.to_json(), sort_keys=True)
        with self._db:
            if replaces is not None and replaces != key:
                self._db.execute("DELETE FROM channels WHERE key = ?", (replaces,))
            self._db.execute(
                "INSERT INTO channels (key, record) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET record = excluded.record",
                (key, text),
            )

    def load(self, key: str) -> ChannelRecord | None:
        row = self._db.execute("SELECT record FROM channels WHERE key = ?", (key,)).fetchone()
        return None if row is None else _record(key, row[0])

    def records(self) -> list[ChannelRecord]:
        return [_record(key, text) for key, text in self._rows()]

    def _rows(self) -> Iterator[tuple[str, str]]:
        yield from self._db.execute("SELECT key, record FROM channels ORDER BY key")

    def delete(self, key: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM channels WHERE key = ?", (key,))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _record(key: str, text: str) -> ChannelRecord:
    try:
        return ChannelRecord.from_json(json.loads(text))
    except (ValueError, LocalProtocolError) as exc:
        raise StoreError(f"the record under {key!r} is unreadable: {exc}") from None


def _open(path: Path) -> sqlite3.Connection:
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        _refuse_foreign(path)
    try:
        db = sqlite3.connect(path, isolation_level="DEFERRED")
        db.execute("PRAGMA synchronous=FULL")  # fsync on every commit
        if new:
            # Made before WAL is on, so the header that marks the file as ours is in the file
            # itself, not only in a WAL a crash might leave unmerged.
            _create(db)
        db.execute("PRAGMA journal_mode=WAL")
        if not new:
            _check_and_migrate(db, path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable channel store ({exc})") from None
    return db


def _refuse_foreign(path: Path) -> None:
    """Read the header without sqlite: a file that is not ours is never opened for writing."""
    with path.open("rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise StoreError(f"{path}: not a channel store (not an SQLite file, or truncated)")
    if int.from_bytes(header[68:72], "big") != _APPLICATION_ID:
        raise StoreError(f"{path}: an SQLite file, but not a channel store")


def _create(db: sqlite3.Connection) -> None:
    with db:
        db.execute("BEGIN")  # sqlite3 autocommits DDL and pragmas otherwise: all or nothing
        db.execute(f"PRAGMA application_id={_APPLICATION_ID}")
        _migrate(db, 0)


def _check_and_migrate(db: sqlite3.Connection, path: Path) -> None:
    (status,) = db.execute("PRAGMA quick_check").fetchone()
    if status != "ok":
        raise StoreError(f"{path}: the store is corrupt ({status})")
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written by a newer version (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade sansio-channels"
        )
    if version < SCHEMA_VERSION:
        with db:
            db.execute("BEGIN")
            _migrate(db, version)


def _migrate(db: sqlite3.Connection, version: int) -> None:
    step: Callable[[str], object] = db.execute
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[target]:
            step(statement)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
