"""Leases and fencing, on both stores; and the PostgreSQL store held to what the sqlite store
guarantees (records kept, one transaction for a key move, schema checked and migrated, foreign
or newer schemas refused untouched)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from sansio_channels.errors import LocalProtocolError
from sansio_channels.record import ChannelRecord
from sansio_channels.state import ChannelState
from sansio_channels.store import (
    SCHEMA_VERSION,
    Lease,
    LeaseLost,
    LeasingStore,
    SQLiteStore,
    StoreError,
    open_store,
    record_key,
)

from .scripted_node import opened


class Clock:
    """The time the sqlite store's leases are measured in, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


Wait = Callable[[float], None]


@pytest.fixture(params=["sqlite", "postgres"])
def leasing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LeasingStore, Wait]]:
    """A store, and how to let time pass for its leases."""
    if request.param == "sqlite":
        clock = Clock()

        def advance(seconds: float) -> None:
            clock.now += seconds

        with SQLiteStore(tmp_path / "s.sqlite3", clock=clock) as sqlite_store:
            yield sqlite_store, advance
        return
    from sansio_channels.postgres import PostgresStore

    with PostgresStore(request.getfixturevalue("postgres_url")) as store:
        yield store, time.sleep  # the server's clock


def a_record() -> ChannelRecord:
    channel, _ = opened()
    return channel.record()


def test_a_lease_is_held_by_one_owner_until_it_expires(
    leasing: tuple[LeasingStore, Wait],
) -> None:
    store, wait = leasing
    first = store.acquire("k", "a", seconds=0.5)
    assert first is not None
    assert (first.key, first.owner) == ("k", "a")
    assert store.acquire("k", "b", seconds=0.5) is None  # held
    again = store.acquire("k", "a", seconds=0.5)  # its owner takes it again: same token
    assert again is not None
    assert again.token == first.token
    assert again.expires >= first.expires
    assert store.lease("k") == again
    assert store.lease("other") is None
    wait(0.6)
    taken = store.acquire("k", "b", seconds=5)
    assert taken is not None
    assert taken.token > first.token  # a new owner: a larger token
    with pytest.raises(LeaseLost):
        store.renew(first, seconds=5)
    assert store.lease("k") == taken


def test_a_released_lease_can_be_taken_at_once(leasing: tuple[LeasingStore, Wait]) -> None:
    store, _ = leasing
    first = store.acquire("k", "a", seconds=60)
    assert first is not None
    store.release(first)
    taken = store.acquire("k", "b", seconds=60)
    assert taken is not None
    assert taken.token > first.token
    store.release(first)  # no longer its to release: nothing happens
    assert store.lease("k") == taken
    renewed = store.renew(taken, seconds=120)
    assert renewed.token == taken.token
    assert renewed.expires > taken.expires


def test_leases_are_renewed_in_one_call_and_the_lost_ones_left_out(
    leasing: tuple[LeasingStore, Wait],
) -> None:
    store, wait = leasing
    held = [store.acquire(f"k{n}", "a", seconds=0.2) for n in range(5)]
    assert all(lease is not None for lease in held)
    k0, k1, k2, k3, k4 = (lease for lease in held if lease is not None)
    store.release(k1)  # released: not renewed, and not taken again by the renewal
    wait(0.3)
    thief = store.acquire("k2", "b", seconds=60)  # taken over once it expired
    assert thief is not None
    # k3 expired too, but nobody took it: its token still fences, so it is renewed.
    renewed = store.renew_many([k0, k1, k2, k3], seconds=60)
    assert sorted(lease.key for lease in renewed) == ["k0", "k3"]
    for lease in renewed:
        before = k0 if lease.key == "k0" else k3
        assert (lease.owner, lease.token) == (before.owner, before.token)
        assert lease.expires > before.expires
        assert store.lease(lease.key) == lease
    with pytest.raises(LeaseLost, match="released"):
        store.renew(k1, seconds=60)
    assert store.acquire("k1", "b", seconds=60) is not None  # still free after the renewals
    assert store.lease("k2") == thief
    lease4 = store.lease("k4")
    assert lease4 == k4  # not asked for: left alone
    assert store.renew_many([], seconds=60) == []
    with pytest.raises(LocalProtocolError):
        store.renew_many([k0], seconds=0)
    with pytest.raises(LocalProtocolError, match="a Lease is required"):
        store.renew_many(["k0"], seconds=1)  # type: ignore[list-item]


def test_the_records_a_hub_could_take_come_in_one_query(
    leasing: tuple[LeasingStore, Wait],
) -> None:
    store, wait = leasing
    record = a_record()
    kinds = {
        "free": record,  # saved without a lease
        "expired": record,
        "released": record,
        "held": record,
        "closed": attrs.evolve(record, state=ChannelState.CLOSED.value),
        "abandoned": attrs.evolve(record, abandoned="the open stopped"),
    }
    keyed = {kind: attrs.evolve(r, channel_id=f"ch_{kind}") for kind, r in kinds.items()}
    for kind, each in keyed.items():
        if kind == "free":  # never leased: a record as a plain store keeps it
            store.save(each)
            continue
        lease = store.acquire(record_key(each), "a", seconds=60 if kind == "held" else 0.2)
        assert lease is not None
        store.save(each, lease=lease)
        if kind == "released":
            store.release(lease)
    assert [r.channel_id for r in store.takeable()] == ["ch_free", "ch_released"]
    wait(0.3)
    assert [r.channel_id for r in store.takeable()] == ["ch_expired", "ch_free", "ch_released"]
    # A record that finishes leaves the answer; one that did not yet stays in it.
    store.save(attrs.evolve(keyed["free"], state=ChannelState.CLOSED.value))
    assert [r.channel_id for r in store.takeable()] == ["ch_expired", "ch_released"]


def test_a_save_under_a_lease_taken_over_is_refused_and_changes_nothing(
    leasing: tuple[LeasingStore, Wait],
) -> None:
    store, wait = leasing
    record = a_record()
    key = record_key(record)
    old = store.acquire(key, "a", seconds=0.2)
    assert old is not None
    store.save(record, lease=old)
    wait(0.3)
    new = store.acquire(key, "b", seconds=60)
    assert new is not None
    with pytest.raises(LeaseLost, match="taken over"):
        store.save(attrs.evolve(record, latest_round=9), lease=old)
    assert store.records() == [record]
    store.save(attrs.evolve(record, latest_round=9), lease=new)
    assert store.load(key) == attrs.evolve(record, latest_round=9)
    # A lease never taken does not cover a save either.
    with pytest.raises(LeaseLost):
        store.save(record, lease=Lease(key=key, owner="b", token=new.token + 1, expires=0))


def test_a_lease_expired_but_not_taken_still_covers_its_owner(
    leasing: tuple[LeasingStore, Wait],
) -> None:
    """Fencing is by token: nobody else drove the channel, so nothing is at risk."""
    store, wait = leasing
    record = a_record()
    lease = store.acquire(record_key(record), "a", seconds=0.1)
    assert lease is not None
    wait(0.2)
    store.save(record, lease=lease)
    assert store.records() == [record]


def test_a_lease_moves_with_its_record_to_the_channel_id(
    leasing: tuple[LeasingStore, Wait],
) -> None:
    store, _ = leasing
    record = a_record()
    opening = attrs.evolve(record, channel_id=None, signed_ahead={})
    old_key, new_key = record_key(opening), record_key(record)
    lease = store.acquire(old_key, "a", seconds=60)
    assert lease is not None
    store.save(opening, lease=lease)
    store.save(record, replaces=old_key, lease=lease)
    assert store.records() == [record]
    assert store.lease(old_key) is None
    assert store.lease(new_key) == attrs.evolve(lease, key=new_key)
    moved = attrs.evolve(lease, key=new_key)
    store.save(attrs.evolve(record, latest_round=3), lease=moved)
    assert store.acquire(new_key, "b", seconds=60) is None


def test_a_move_onto_a_key_another_owner_holds_is_refused(
    leasing: tuple[LeasingStore, Wait],
) -> None:
    store, _ = leasing
    record = a_record()
    opening = attrs.evolve(record, channel_id=None, signed_ahead={})
    old_key = record_key(opening)
    lease = store.acquire(old_key, "a", seconds=60)
    assert lease is not None
    store.save(opening, lease=lease)
    assert store.acquire(record_key(record), "thief", seconds=60) is not None
    with pytest.raises(LeaseLost, match="leased to thief"):
        store.save(record, replaces=old_key, lease=lease)
    assert store.records() == [opening]
    assert store.lease(old_key) == lease


def test_lease_arguments_are_checked(leasing: tuple[LeasingStore, Wait]) -> None:
    store, _ = leasing
    record = a_record()
    for key, owner, seconds in [("", "a", 1), ("k", "", 1), ("k", "a", 0), ("k", "a", True)]:
        with pytest.raises(LocalProtocolError):
            store.acquire(key, owner, seconds=seconds)
    lease = store.acquire("elsewhere", "a", seconds=60)
    assert lease is not None
    with pytest.raises(LocalProtocolError, match="does not cover"):
        store.save(record, lease=lease)
    with pytest.raises(LocalProtocolError, match="must be a Lease"):
        store.save(record, lease="token 1")  # type: ignore[arg-type]
    assert store.records() == []


# --- the PostgreSQL store held to the sqlite store's guarantees ------------------------------


def test_postgres_records_survive_reopening(postgres_url: str) -> None:
    from sansio_channels.postgres import PostgresStore

    record = a_record()
    with PostgresStore(postgres_url) as store:
        store.save(record)
        store.save(attrs.evolve(record, latest_round=7))
    with open_store(postgres_url) as store:
        assert store.records() == [attrs.evolve(record, latest_round=7)]
        assert store.load(record_key(record)) == attrs.evolve(record, latest_round=7)
        assert store.load("nothing") is None
        store.delete(record_key(record))
        assert store.records() == []


def test_postgres_moves_a_record_to_its_new_key_in_one_transaction(postgres_url: str) -> None:
    import psycopg

    from sansio_channels.postgres import PostgresStore

    record = a_record()
    opening = attrs.evolve(record, channel_id=None, signed_ahead={})
    old_key = record_key(opening)
    with PostgresStore(postgres_url) as store, psycopg.connect(postgres_url) as db:
        store.save(opening)
        # The insert under the new key fails: the delete of the old one is rolled back.
        db.execute(
            "CREATE FUNCTION full_() RETURNS trigger AS "
            "$$ BEGIN RAISE EXCEPTION 'full'; END $$ LANGUAGE plpgsql"
        )
        db.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON channels FOR EACH ROW EXECUTE FUNCTION full_()"
        )
        db.commit()
        with pytest.raises(psycopg.Error, match="full"):
            store.save(record, replaces=old_key)
        assert store.records() == [opening]
        db.execute("DROP TRIGGER fail ON channels")
        db.commit()
        store.save(record, replaces=old_key)
        assert store.records() == [record]


def _tables(url: str) -> list[tuple[str, str]]:
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute(
            "SELECT relname, relkind::text FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE nspname = 'public' ORDER BY relname"
        ).fetchall()


def test_postgres_refuses_a_foreign_database_untouched(postgres_url: str) -> None:
    import psycopg

    from sansio_channels.postgres import PostgresStore

    with psycopg.connect(postgres_url) as db:
        db.execute("CREATE TABLE channels (id int)")
    before = _tables(postgres_url)
    with pytest.raises(StoreError, match="not a channel store: it has channels"):
        PostgresStore(postgres_url)
    assert _tables(postgres_url) == before


def test_postgres_refuses_a_newer_schema_untouched(postgres_url: str) -> None:
    import psycopg

    from sansio_channels.postgres import PostgresStore

    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url) as db:
        db.execute("UPDATE sansio_channels_store SET version = %s", (SCHEMA_VERSION + 1,))
    before = _tables(postgres_url)
    with pytest.raises(StoreError, match="newer version"):
        PostgresStore(postgres_url)
    assert _tables(postgres_url) == before


def test_postgres_migrates_a_store_of_schema_1(postgres_url: str) -> None:
    import psycopg

    from sansio_channels.postgres import PostgresStore

    record = a_record()
    with psycopg.connect(postgres_url) as db:  # what the first schema was
        db.execute("CREATE TABLE sansio_channels_store (application TEXT, version INTEGER)")
        db.execute("INSERT INTO sansio_channels_store VALUES ('sansio-channels', 1)")
        db.execute("CREATE TABLE channels (key TEXT PRIMARY KEY, record TEXT NOT NULL)")
    with PostgresStore(postgres_url) as store:
        store.save(record)
        assert store.acquire("k", "a", seconds=1) is not None
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT version FROM sansio_channels_store").fetchone() == (
            SCHEMA_VERSION,
        )


def test_postgres_commits_synchronously_and_keeps_no_secret(postgres_url: str) -> None:
    import psycopg

    from sansio_channels.postgres import PostgresStore

    channel, node = opened()
    with PostgresStore(postgres_url) as store:
        assert store._db.execute("SHOW synchronous_commit").fetchone() == ("on",)
        store.save(channel.record())
    with psycopg.connect(postgres_url) as db:
        (text,) = db.execute("SELECT string_agg(record, '') FROM channels").fetchone() or ("",)
    assert text
    assert node.ours.secret_bytes().hex() not in text
    assert node.ours.secret_bytes()[:32].hex() not in text


def test_a_store_of_schema_1_gets_leases(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    record = a_record()
    db = sqlite3.connect(path)  # what the first schema was
    db.execute("PRAGMA application_id=1396918321")
    db.execute("CREATE TABLE channels (key TEXT PRIMARY KEY, record TEXT NOT NULL)")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    with SQLiteStore(path) as store:
        store.save(record)
        assert store.acquire("k", "a", seconds=1) is not None
        assert store.records() == [record]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_store_urls(tmp_path: Path) -> None:
    with open_store(f"sqlite:{tmp_path / 'u.sqlite3'}") as store:
        assert isinstance(store, SQLiteStore)
    with pytest.raises(LocalProtocolError, match="store URL"):
        open_store("redis://x")
    with pytest.raises(StoreError, match="cannot connect"):
        open_store(f"postgresql:///nothing?host={tmp_path}")


def test_a_leased_store_takes_the_lease_with_the_first_save_and_carries_it(
    leasing: tuple[LeasingStore, Wait],
) -> None:
    from sansio_channels.lease import LeasedStore

    store, _ = leasing
    record = a_record()
    opening = attrs.evolve(record, channel_id=None, signed_ahead={})
    leased = LeasedStore(store, "a", seconds=60)
    assert leased.renew() is None  # nothing held before the first save
    leased.save(opening)
    assert leased.lease is not None
    assert leased.lease.key == record_key(opening)
    leased.save(record, replaces=record_key(opening))  # the lease moves with the record
    assert leased.lease.key == record_key(record)
    assert leased.load(record_key(record)) == record
    assert leased.records() == [record]
    renewed = leased.renew()
    assert renewed is not None
    assert renewed.token == leased.lease.token
    (batched,) = store.renew_many([renewed], seconds=90)
    leased.renewed(batched)  # a renewal made for many channels at once
    assert leased.lease == batched
    with pytest.raises(LocalProtocolError, match="not the one held"):
        leased.renewed(attrs.evolve(batched, token=batched.token + 1))
    leased.release()
    other = LeasedStore(store, "b", seconds=60)
    other.save(record)  # free after the release: the next owner takes it
    with pytest.raises(LeaseLost):
        leased.save(record)
    with pytest.raises(LeaseLost):
        LeasedStore(store, "c", seconds=60).save(record)  # held by b
    leased.delete(record_key(record))
    assert store.records() == []


def _schema_2_rows() -> dict[str, ChannelRecord]:
    """A record of each kind a store of schema 2 held, by key: open, closed, given up."""
    record = a_record()
    kinds = [
        attrs.evolve(record, channel_id="ch_open"),
        attrs.evolve(record, channel_id="ch_closed", state=ChannelState.CLOSED.value),
        attrs.evolve(record, channel_id="ch_abandoned", abandoned="the open stopped"),
    ]
    return {record_key(each): each for each in kinds}


def test_a_store_of_schema_2_learns_which_records_are_finished(tmp_path: Path) -> None:
    import json

    path = tmp_path / "v2.sqlite3"
    rows = _schema_2_rows()
    db = sqlite3.connect(path)  # what the second schema was
    db.execute("PRAGMA application_id=1396918321")
    db.execute("CREATE TABLE channels (key TEXT PRIMARY KEY, record TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE leases (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
        "token INTEGER NOT NULL, expires REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE lease_tokens (only INTEGER PRIMARY KEY CHECK (only = 1), "
        "last INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO lease_tokens VALUES (1, 0)")
    for key, record in rows.items():
        db.execute("INSERT INTO channels VALUES (?, ?)", (key, json.dumps(record.to_json())))
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    with SQLiteStore(path) as store:
        assert [r.channel_id for r in store.takeable()] == ["ch_open"]
        assert sorted(store.records(), key=record_key) == sorted(rows.values(), key=record_key)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_postgres_migrates_a_store_of_schema_2(postgres_url: str) -> None:
    import json

    import psycopg

    from sansio_channels.postgres import PostgresStore

    rows = _schema_2_rows()
    with psycopg.connect(postgres_url) as db:  # what the second schema was
        db.execute("CREATE TABLE sansio_channels_store (application TEXT, version INTEGER)")
        db.execute("INSERT INTO sansio_channels_store VALUES ('sansio-channels', 2)")
        db.execute("CREATE TABLE channels (key TEXT PRIMARY KEY, record TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE leases (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
            "token BIGINT NOT NULL, expires DOUBLE PRECISION NOT NULL)"
        )
        db.execute("CREATE SEQUENCE lease_tokens")
        for key, record in rows.items():
            db.execute("INSERT INTO channels VALUES (%s, %s)", (key, json.dumps(record.to_json())))
    with PostgresStore(postgres_url) as store:
        assert [r.channel_id for r in store.takeable()] == ["ch_open"]
        assert len(store.records()) == 3
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT version FROM sansio_channels_store").fetchone() == (
            SCHEMA_VERSION,
        )
