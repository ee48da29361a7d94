"""Where channel records are kept: a small store protocol, and a default on stdlib sqlite3.

The store holds each channel's :class:`~sansio_channels.record.ChannelRecord` (never a secret
key), keyed by :func:`record_key`. :class:`SQLiteStore` writes in WAL mode with a full sync on
every commit, so a record saved is a record kept across a crash; a file that is corrupt,
truncated, not a store at all, or written by a newer version of the library is refused with a
:class:`StoreError` and never written to.

A store also keeps **leases**: which process drives which channel (:class:`Lease`). A lease
has an owner, an expiry and a token; the token changes whenever the lease passes to a new
owner, and a save that carries a lease whose token is no longer the current one is refused
(:class:`LeaseLost`). Since nothing is signed before its save commits, a process that lost a
channel's lease cannot sign for it any more. :class:`SQLiteStore` keeps leases for the
processes of one machine; ``sansio_channels.postgres.PostgresStore`` for many machines.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

import attrs

from .errors import ChannelError, LocalProtocolError
from .record import ChannelRecord
from .state import ChannelState

if TYPE_CHECKING:
    from .postgres import PostgresStore

__all__ = [
    "SCHEMA_VERSION",
    "ChannelStore",
    "Lease",
    "LeaseLost",
    "LeasingStore",
    "SQLiteStore",
    "StoreError",
    "open_store",
    "record_key",
]

SCHEMA_VERSION: Final = 3
_APPLICATION_ID: Final = 0x53434831  # "SCH1": marks a file as a channel store


class StoreError(ChannelError):
    """The store cannot be used as it is; it was left untouched."""


class LeaseLost(StoreError):
    """The lease a save or a renewal carried is no longer the channel's current one: another
    owner took it over (or it was never taken). Nothing was written."""


@attrs.frozen(kw_only=True)
class Lease:
    """The right of ``owner`` to drive the channel under ``key`` until ``expires`` (seconds
    since the epoch, by the store's clock). ``token`` comes from one counter of the store, so
    a new owner always holds a larger one than every owner before it."""

    key: str
    owner: str
    token: int
    expires: float


def check_lease_request(key: str, owner: str, seconds: float) -> None:
    if not isinstance(key, str) or not key:
        raise LocalProtocolError(f"a lease key is a non-empty str, got {key!r}")
    if not isinstance(owner, str) or not owner:
        raise LocalProtocolError(f"a lease owner is a non-empty str, got {owner!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise LocalProtocolError(f"a lease lasts > 0 seconds, got {seconds!r}")


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


class LeasingStore(ChannelStore, Protocol):
    """A store that also keeps leases (see the module's docstring); what a hub needs.

    Its ``save`` takes a keyword ``lease``: the save is refused with :class:`LeaseLost`,
    changing nothing, unless that lease is the current one of the record's key (or, with
    ``replaces``, of the key it replaces; the lease then moves to the new key in the same
    transaction, keeping its token)."""

    def save(
        self, record: ChannelRecord, *, replaces: str | None = None, lease: Lease | None = None
    ) -> None: ...

    def acquire(self, key: str, owner: str, *, seconds: float) -> Lease | None:
        """Take the lease of ``key`` for ``seconds``: when nobody holds it, when its holder
        let it expire, or when ``owner`` holds it already (then the token stays). None when
        another owner holds it."""
        ...

    def renew(self, lease: Lease, *, seconds: float) -> Lease:
        """The same lease, valid ``seconds`` from now; :class:`LeaseLost` if it was taken
        over or released."""
        ...

    def renew_many(self, leases: Collection[Lease], *, seconds: float) -> list[Lease]:
        """Renew every one of ``leases`` that is still current, in one transaction: the
        renewed ones, each with its token and a new expiry ``seconds`` from now. A lease
        missing from the answer was taken over (or released): its owner lost it."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the lease up now (if it is still ours): another owner may take it at once."""
        ...

    def lease(self, key: str) -> Lease | None:
        """The current lease of ``key`` (expired or not), if one was ever taken."""
        ...

    def takeable(self) -> list[ChannelRecord]:
        """The records a hub could take, in one query: not finished (closed or given up),
        and leased by no one, or under a lease that expired or was released."""
        ...


# schema version -> the statements that bring a store of the version before up to it
_MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: ("CREATE TABLE channels (key TEXT PRIMARY KEY, record TEXT NOT NULL)",),
    2: (
        "CREATE TABLE leases (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
        "token INTEGER NOT NULL, expires REAL NOT NULL)",
        # One counter for every key's tokens: a key's next owner always gets a larger one.
        "CREATE TABLE lease_tokens (only INTEGER PRIMARY KEY CHECK (only = 1), "
        "last INTEGER NOT NULL)",
        "INSERT INTO lease_tokens VALUES (1, 0)",
    ),
    3: (
        # Whether a record is finished (closed or given up), so a hub's scan skips it
        # without reading it.
        "ALTER TABLE channels ADD COLUMN finished INTEGER NOT NULL DEFAULT 0",
        "UPDATE channels SET finished = 1 "
        f"WHERE json_extract(record, '$.state') = '{ChannelState.CLOSED.value}' "
        "OR json_extract(record, '$.abandoned') IS NOT NULL",
        "CREATE INDEX channels_unfinished ON channels (key) WHERE finished = 0",
    ),
}


# The expiry of a lease its owner gave up: free at once, and never renewed.
RELEASED_EXPIRY: Final = 0

# The time by sqlite's clock, in seconds since the epoch (to the millisecond).
_NOW: Final = "SELECT (julianday('now') - 2440587.5) * 86400.0"


def check_renewals(leases: Collection[Lease], seconds: float) -> dict[tuple[str, int], Lease]:
    """The leases of a batched renewal by key and token, once found sound."""
    held: dict[tuple[str, int], Lease] = {}
    for lease in leases:
        if not isinstance(lease, Lease):
            raise LocalProtocolError(f"a Lease is required, got {type(lease).__name__}")
        check_lease_request(lease.key, lease.owner, seconds)
        held[lease.key, lease.token] = lease
    return held


def checked_save(record: ChannelRecord, replaces: str | None, lease: Lease | None) -> str:
    """The key ``record`` is kept under, once the arguments of a save are found sound."""
    if not isinstance(record, ChannelRecord):
        raise LocalProtocolError(f"a ChannelRecord is required, got {type(record).__name__}")
    if replaces is not None and not isinstance(replaces, str):
        raise LocalProtocolError(f"replaces must be a key (str), got {type(replaces).__name__}")
    key = record_key(record)
    if lease is not None:
        if not isinstance(lease, Lease):
            raise LocalProtocolError(f"lease must be a Lease, got {type(lease).__name__}")
        if lease.key not in (key, replaces):
            raise LocalProtocolError(f"the lease of {lease.key!r} does not cover {key!r}")
    return key


class SQLiteStore:
    """Channel records and leases in one sqlite3 file (WAL, full sync on commit).

    Every process of one machine may open the same file; writes take the file's write lock
    for their whole transaction, so a lease check and the save it guards are one step.
    Leases are timed by sqlite's own clock (the machine's, in seconds since the epoch), or by
    ``clock`` when one is given."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] | None = None) -> None:
        self.path = Path(path)
        self._db = _open(self.path)
        self._clock = clock or self._now

    def _now(self) -> float:
        (now,) = self._db.execute(_NOW).fetchone()
        return float(now)

    def save(
        self, record: ChannelRecord, *, replaces: str | None = None, lease: Lease | None = None
    ) -> None:
        key = checked_save(record, replaces, lease)
        text = json.dumps(record.to_json(), sort_keys=True)
        with self._writing():
            if lease is not None:
                self._fence(lease, key)
            if replaces is not None and replaces != key:
                self._db.execute("DELETE FROM channels WHERE key = ?", (replaces,))
            self._db.execute(
                "INSERT INTO channels (key, record, finished) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET record = excluded.record, "
                "finished = excluded.finished",
                (key, text, record.finished),
            )

    def _fence(self, lease: Lease, key: str) -> None:
        """Refuse a save under a lease that is not the current one; move a current lease to
        the record's new key."""
        if self._current_token(lease.key) != lease.token:
            raise LeaseLost(f"{lease.key}: lease {lease.token} of {lease.owner} was taken over")
        if lease.key == key:
            return
        held = self._row(key)
        if held is not None and held.owner != lease.owner and held.expires > self._clock():
            raise LeaseLost(f"{key}: leased to {held.owner}")
        self._db.execute("DELETE FROM leases WHERE key = ?", (lease.key,))
        self._put_lease(attrs.evolve(lease, key=key))

    def acquire(self, key: str, owner: str, *, seconds: float) -> Lease | None:
        check_lease_request(key, owner, seconds)
        with self._writing():
            now = self._clock()
            held = self._row(key)
            if held is not None and held.owner != owner and held.expires > now:
                return None
            token = held.token if held is not None and held.owner == owner else self._next_token()
            lease = Lease(key=key, owner=owner, token=token, expires=now + seconds)
            self._put_lease(lease)
            return lease

    def renew(self, lease: Lease, *, seconds: float) -> Lease:
        check_lease_request(lease.key, lease.owner, seconds)
        with self._writing():
            held = self._row(lease.key)
            if held is None or held.token != lease.token or held.expires == RELEASED_EXPIRY:
                raise LeaseLost(
                    f"{lease.key}: lease {lease.token} of {lease.owner} was taken over or released"
                )
            renewed = attrs.evolve(lease, expires=self._clock() + seconds)
            self._put_lease(renewed)
            return renewed

    def renew_many(self, leases: Collection[Lease], *, seconds: float) -> list[Lease]:
        held = check_renewals(leases, seconds)
        if not held:
            return []
        given = json.dumps([[key, token] for key, token in held])
        with self._writing():
            expires = self._clock() + seconds
            rows = self._db.execute(
                f"UPDATE leases SET expires = ? WHERE expires > {RELEASED_EXPIRY} "
                "AND (key, token) IN "
                "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') "
                "FROM json_each(?)) RETURNING key, token",
                (expires, given),
            ).fetchall()
        return [attrs.evolve(held[key, token], expires=expires) for key, token in rows]

    def release(self, lease: Lease) -> None:
        with self._writing():
            self._db.execute(
                f"UPDATE leases SET expires = {RELEASED_EXPIRY} WHERE key = ? AND token = ?",
                (lease.key, lease.token),
            )

    def lease(self, key: str) -> Lease | None:
        return self._row(key)

    def _row(self, key: str) -> Lease | None:
        row = self._db.execute(
            "SELECT owner, token, expires FROM leases WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else Lease(key=key, owner=row[0], token=row[1], expires=row[2])

    def _current_token(self, key: str) -> int | None:
        held = self._row(key)
        return None if held is None else held.token

    def _next_token(self) -> int:
        (token,) = self._db.execute(
            "UPDATE lease_tokens SET last = last + 1 RETURNING last"
        ).fetchone()
        return int(token)

    def _put_lease(self, lease: Lease) -> None:
        self._db.execute(
            "INSERT INTO leases (key, owner, token, expires) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
            "expires = excluded.expires",
            (lease.key, lease.owner, lease.token, lease.expires),
        )

    def _writing(self) -> sqlite3.Connection:
        """A write transaction that holds the file's write lock from its first statement, so
        what it read (a lease) cannot change before it commits."""
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def load(self, key: str) -> ChannelRecord | None:
        row = self._db.execute("SELECT record FROM channels WHERE key = ?", (key,)).fetchone()
        return None if row is None else read_record(key, row[0])

    def records(self) -> list[ChannelRecord]:
        return [read_record(key, text) for key, text in self._rows()]

    def takeable(self) -> list[ChannelRecord]:
        rows = self._db.execute(
            "SELECT channels.key, record FROM channels LEFT JOIN leases USING (key) "
            "WHERE finished = 0 AND (leases.key IS NULL OR leases.expires <= ?) "
            "ORDER BY channels.key",
            (self._clock(),),
        )
        return [read_record(key, text) for key, text in rows]

    def _rows(self) -> Iterator[tuple[str, str]]:
        yield from self._db.execute("SELECT key, record FROM channels ORDER BY key")

    def delete(self, key: str) -> None:
        with self._writing():
            self._db.execute("DELETE FROM channels WHERE key = ?", (key,))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_record(key: str, text: str) -> ChannelRecord:
    try:
        return ChannelRecord.from_json(json.loads(text))
    except (ValueError, LocalProtocolError) as exc:
        raise StoreError(f"the record under {key!r} is unreadable: {exc}") from None


def _open(path: Path) -> sqlite3.Connection:
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        _refuse_foreign(path)
    try:
        # Other processes may hold the write lock for a moment: wait for it, not fail.
        db = sqlite3.connect(path, isolation_level="DEFERRED", timeout=60.0)
        db.execute("PRAGMA synchronous=FULL")  # fsync on every commit
        if new:
            # Made before WAL is on, so the header that marks the file as ours is in the file
            # itself, not only in a WAL a crash might leave unmerged.
            new = _create(db)
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


def _create(db: sqlite3.Connection) -> bool:
    """Make the store in a new file; False if another process made it first."""
    with db:
        # sqlite3 autocommits DDL and pragmas otherwise: all or nothing. IMMEDIATE: of two
        # processes creating one file, the second waits and then finds it made.
        db.execute("BEGIN IMMEDIATE")
        if db.execute("PRAGMA user_version").fetchone()[0]:
            return False
        db.execute(f"PRAGMA application_id={_APPLICATION_ID}")
        _migrate(db, 0)
    return True


def _check_and_migrate(db: sqlite3.Connection, path: Path) -> None:
    (status,) = db.execute("PRAGMA quick_check").fetchone()
    if status != "ok":
        raise StoreError(f"{path}: the store is corrupt ({status})")
    with db:
        # Read under the write lock: of two processes migrating one file, one does it.
        db.execute("BEGIN IMMEDIATE")
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path}: written by a newer version (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade sansio-channels"
            )
        if version < SCHEMA_VERSION:
            _migrate(db, version)


def _migrate(db: sqlite3.Connection, version: int) -> None:
    step: Callable[[str], object] = db.execute
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[target]:
            step(statement)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def open_store(url: str) -> SQLiteStore | PostgresStore:
    """The store a URL names: ``sqlite:PATH``, or a libpq URL (``postgresql://...`` or
    ``postgresql:///db?host=/run/postgresql``), which needs the ``postgres`` extra."""
    if url.startswith("sqlite:"):
        return SQLiteStore(url.removeprefix("sqlite:"))
    if url.startswith(("postgresql:", "postgres:")):
        from .postgres import PostgresStore

        return PostgresStore(url)
    raise LocalProtocolError(f"a store URL starts with sqlite: or postgresql:, got {url!r}")
