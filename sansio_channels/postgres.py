"""Channel records and leases in PostgreSQL, for hubs: many processes, many machines, one store.

``pip install 'sansio-channels[postgres]'`` (psycopg 3); this module is imported only when a
:class:`PostgresStore` is made. It keeps what :class:`~sansio_channels.store.SQLiteStore`
keeps, with the same guarantees: a save commits (``synchronous_commit`` on: the commit is
flushed to the server's WAL) before it returns, so before any signature it guards leaves; a
record moving from its opening key to its channel id is one transaction; the schema carries a
version that is checked and migrated, and a database holding tables of ours without our
marker, or a newer schema, is refused untouched. Leases are timed by the server's clock, so
the hosts' clocks need not agree.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any, Final

import attrs
import psycopg

from .record import ChannelRecord
from .state import ChannelState
from .store import (
    RELEASED_EXPIRY,
    SCHEMA_VERSION,
    Lease,
    LeaseLost,
    StoreError,
    check_lease_request,
    check_renewals,
    checked_save,
    read_record,
)

__all__ = ["PostgresStore"]

_APPLICATION: Final = "sansio-channels"
# What a process holds while it creates or migrates the schema: one does it, the others wait.
_SCHEMA_LOCK: Final = 0x53434831
_META: Final = "sansio_channels_store"
_NOW: Final = "extract(epoch from clock_timestamp())"

# schema version -> the statements that bring a store of the version before up to it
_MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: ("CREATE TABLE channels (key TEXT PRIMARY KEY, record TEXT NOT NULL)",),
    2: (
        "CREATE TABLE leases (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
        "token BIGINT NOT NULL, expires DOUBLE PRECISION NOT NULL)",
        # One counter for every key's tokens: a key's next owner always gets a larger one.
        "CREATE SEQUENCE lease_tokens",
    ),
    3: (
        # Whether a record is finished (closed or given up), so a hub's scan skips it
        # without reading it.
        "ALTER TABLE channels ADD COLUMN finished BOOLEAN NOT NULL DEFAULT false",
        "UPDATE channels SET finished = true "
        f"WHERE record::jsonb ->> 'state' = '{ChannelState.CLOSED.value}' "
        "OR record::jsonb ->> 'abandoned' IS NOT NULL",
        "CREATE INDEX channels_unfinished ON channels (key) WHERE NOT finished",
    ),
}
_OURS: Final = ("channels", "leases", "lease_tokens")


class PostgresStore:
    """Channel records and leases in a PostgreSQL database named by a libpq URL or DSN
    (``postgresql:///hub?host=/run/postgresql``). One connection, used by one thread."""

    def __init__(self, url: str) -> None:
        try:
            self._db = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the store: {exc}") from None
        try:
            # A commit returns once it is on the server's disk, whatever the server's default.
            self._db.execute("SET synchronous_commit TO on")
            self._check_and_migrate()
        except BaseException:
            self._db.close()
            raise

    # --- records --------------------------------------------------------------------------

    def save(
        self, record: ChannelRecord, *, replaces: str | None = None, lease: Lease | None = None
    ) -> None:
        key = checked_save(record, replaces, lease)
        text = json.dumps(record.to_json(), sort_keys=True)
        with self._db.transaction():
            if lease is not None:
                self._fence(lease, key)
            if replaces is not None and replaces != key:
                self._db.execute("DELETE FROM channels WHERE key = %s", (replaces,))
            self._db.execute(
                "INSERT INTO channels (key, record, finished) VALUES (%s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET record = excluded.record, "
                "finished = excluded.finished",
                (key, text, record.finished),
            )

    def load(self, key: str) -> ChannelRecord | None:
        row = self._db.execute("SELECT record FROM channels WHERE key = %s", (key,)).fetchone()
        return None if row is None else read_record(key, row[0])

    def records(self) -> list[ChannelRecord]:
        rows = self._db.execute("SELECT key, record FROM channels ORDER BY key").fetchall()
        return [read_record(key, text) for key, text in rows]

    def takeable(self) -> list[ChannelRecord]:
        rows = self._db.execute(
            "SELECT channels.key, record FROM channels LEFT JOIN leases USING (key) "
            f"WHERE NOT finished AND (leases.key IS NULL OR leases.expires <= {_NOW}) "
            "ORDER BY channels.key"
        ).fetchall()
        return [read_record(key, text) for key, text in rows]

    def delete(self, key: str) -> None:
        self._db.execute("DELETE FROM channels WHERE key = %s", (key,))

    # --- leases ---------------------------------------------------------------------------

    def acquire(self, key: str, owner: str, *, seconds: float) -> Lease | None:
        check_lease_request(key, owner, seconds)
        # A new owner draws a token; the owner it already is keeps its own.
        row = self._db.execute(
            "INSERT INTO leases AS held (key, owner, token, expires) "
            f"VALUES (%s, %s, nextval('lease_tokens'), {_NOW} + %s) "
            "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, "
            "token = CASE WHEN held.owner = excluded.owner THEN held.token "
            "ELSE excluded.token END, expires = excluded.expires "
            f"WHERE held.owner = excluded.owner OR held.expires <= {_NOW} "
            "RETURNING token, expires",
            (key, owner, float(seconds)),
        ).fetchone()
        return None if row is None else Lease(key=key, owner=owner, token=row[0], expires=row[1])

    def renew(self, lease: Lease, *, seconds: float) -> Lease:
        check_lease_request(lease.key, lease.owner, seconds)
        row = self._db.execute(
            f"UPDATE leases SET expires = {_NOW} + %s WHERE key = %s AND token = %s "
            f"AND expires > {RELEASED_EXPIRY} "
            "RETURNING expires",
            (float(seconds), lease.key, lease.token),
        ).fetchone()
        if row is None:
            raise LeaseLost(
                f"{lease.key}: lease {lease.token} of {lease.owner} was taken over or released"
            )
        return attrs.evolve(lease, expires=row[0])

    def renew_many(self, leases: Collection[Lease], *, seconds: float) -> list[Lease]:
        held = check_renewals(leases, seconds)
        if not held:
            return []
        keys, tokens = zip(*held, strict=True)
        rows = self._db.execute(
            f"UPDATE leases AS held SET expires = {_NOW} + %s "
            "FROM unnest(%s::text[], %s::bigint[]) AS given(key, token) "
            "WHERE held.key = given.key AND held.token = given.token "
            f"AND held.expires > {RELEASED_EXPIRY} "
            "RETURNING held.key, held.token, held.expires",
            (float(seconds), list(keys), list(tokens)),
        ).fetchall()
        return [attrs.evolve(held[key, token], expires=expires) for key, token, expires in rows]

    def release(self, lease: Lease) -> None:
        self._db.execute(
            f"UPDATE leases SET expires = {RELEASED_EXPIRY} WHERE key = %s AND token = %s",
            (lease.key, lease.token),
        )

    def lease(self, key: str) -> Lease | None:
        row = self._db.execute(
            "SELECT owner, token, expires FROM leases WHERE key = %s", (key,)
        ).fetchone()
        return None if row is None else Lease(key=key, owner=row[0], token=row[1], expires=row[2])

    def _fence(self, lease: Lease, key: str) -> None:
        """Within a save: refuse a lease that is not the current one (its row locked until
        the save commits, so no one takes it in between); move it to the record's new key."""
        row = self._db.execute(
            "SELECT token FROM leases WHERE key = %s FOR UPDATE", (lease.key,)
        ).fetchone()
        if row is None or row[0] != lease.token:
            raise LeaseLost(f"{lease.key}: lease {lease.token} of {lease.owner} was taken over")
        if lease.key == key:
            return
        held = self._db.execute(
            f"SELECT owner, expires > {_NOW} FROM leases WHERE key = %s FOR UPDATE", (key,)
        ).fetchone()
        if held is not None and held[0] != lease.owner and held[1]:
            raise LeaseLost(f"{key}: leased to {held[0]}")
        self._db.execute("DELETE FROM leases WHERE key = %s", (lease.key,))
        self._db.execute(
            "INSERT INTO leases (key, owner, token, expires) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
            "expires = excluded.expires",
            (key, lease.owner, lease.token, lease.expires),
        )

    # --- the schema -----------------------------------------------------------------------

    def _check_and_migrate(self) -> None:
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            version = self._version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store was written by a newer version (schema {version}, this one "
                    f"knows {SCHEMA_VERSION}); upgrade sansio-channels"
                )
            if version == 0:
                self._db.execute(f"CREATE TABLE {_META} (application TEXT, version INTEGER)")
                self._db.execute(f"INSERT INTO {_META} VALUES (%s, 0)", (_APPLICATION,))
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target]:
                    self._db.execute(statement)
            if version < SCHEMA_VERSION:
                self._db.execute(f"UPDATE {_META} SET version = %s", (SCHEMA_VERSION,))

    def _version(self) -> int:
        """The schema version of the database; 0 for one without a store. A database that
        holds tables by our names without our marker, or another application's marker, is
        refused (the transaction rolls back: nothing is touched)."""
        found: Any = self._db.execute(f"SELECT to_regclass('{_META}')").fetchone()
        if found[0] is None:
            taken = [
                name
                for name in _OURS
                if self._db.execute("SELECT to_regclass(%s)", (name,)).fetchone() != (None,)
            ]
            if taken:
                raise StoreError(f"not a channel store: it has {', '.join(taken)} of its own")
            return 0
        rows = self._db.execute(f"SELECT application, version FROM {_META}").fetchall()
        if len(rows) != 1 or rows[0][0] != _APPLICATION or not isinstance(rows[0][1], int):
            raise StoreError(f"not a channel store: {_META} holds {rows!r}")
        return int(rows[0][1])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
