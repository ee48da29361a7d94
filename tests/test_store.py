"""The channel store: records kept across reopening; bad files refused and left untouched."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import attrs
import pytest

from sansio_channels import store as store_module
from sansio_channels.cli import main
from sansio_channels.errors import LocalProtocolError
from sansio_channels.record import ChannelRecord
from sansio_channels.store import SCHEMA_VERSION, SQLiteStore, StoreError, record_key

from .scripted_node import opened


def a_record() -> ChannelRecord:
    channel, _ = opened()
    return channel.record()


def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "channels.sqlite3"
    record = a_record()
    with SQLiteStore(path) as store:
        store.save(record)
        store.save(attrs.evolve(record, latest_round=7))  # replaces, same key
    with SQLiteStore(path) as store:
        assert store.records() == [attrs.evolve(record, latest_round=7)]
        assert store.load(record_key(record)) == attrs.evolve(record, latest_round=7)
        assert store.load("nothing") is None
        store.delete(record_key(record))
        assert store.records() == []
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_record_saved_under_a_new_key_replaces_the_old_one_in_one_transaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "channels.sqlite3"
    record = a_record()
    opening = attrs.evolve(record, channel_id=None, signed_ahead={})
    old_key = record_key(opening)
    assert old_key.startswith("opening:")
    with SQLiteStore(path) as store:
        store.save(opening)
        # The insert under the new key fails: the delete of the old one is rolled back.
        db = sqlite3.connect(path)
        with db:
            db.execute(
                "CREATE TRIGGER fail BEFORE INSERT ON channels "
                "BEGIN SELECT RAISE(ABORT, 'full'); END"
            )
        with pytest.raises(sqlite3.DatabaseError):
            store.save(record, replaces=old_key)
        assert store.records() == [opening]
        with db:
            db.execute("DROP TRIGGER fail")
        db.close()
        store.save(record, replaces=old_key)
        assert store.records() == [record]
        store.save(record, replaces=record_key(record))  # its own key: kept
        assert store.records() == [record]
        with pytest.raises(LocalProtocolError, match="replaces"):
            store.save(record, replaces=7)  # type: ignore[arg-type]
        assert store.records() == [record]


def test_a_store_whose_creation_broke_off_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating a store is one transaction: broken off after its first table (as by a kill,
    found by the crash test), it leaves nothing half made, and the next open makes it."""
    path = tmp_path / "channels.sqlite3"
    made = store_module._MIGRATIONS[1]
    monkeypatch.setitem(store_module._MIGRATIONS, 1, (*made, "CREATE TABLE broken ("))
    with pytest.raises(StoreError, match="not a usable channel store"):
        SQLiteStore(path)
    monkeypatch.setitem(store_module._MIGRATIONS, 1, made)
    record = a_record()
    with SQLiteStore(path) as store:
        store.save(record)
        assert store.records() == [record]


def test_a_store_whose_process_died_unclosed_opens(tmp_path: Path) -> None:
    """A process killed before the WAL was merged into the file: the store is still ours
    (its marking header was in the file from the start) and holds what was saved."""
    path = tmp_path / "channels.sqlite3"
    record = a_record()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies without closing anything
        try:
            SQLiteStore(path).save(record)
        finally:
            os._exit(0)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert (tmp_path / "channels.sqlite3-wal").stat().st_size > 0  # not merged
    with SQLiteStore(path) as store:
        assert store.records() == [record]


def test_no_secret_is_stored(tmp_path: Path) -> None:
    channel, node = opened()
    path = tmp_path / "s.sqlite3"
    with SQLiteStore(path) as store:
        store.save(channel.record())
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the file, and any WAL left
    assert node.ours.secret_bytes() not in raw
    assert node.ours.secret_bytes()[:32] not in raw


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"hello, not a database at all" * 10, "not an SQLite file"),
        (b"SQLite format 3\x00" + bytes(20), "truncated"),
    ],
)
def test_foreign_or_truncated_files_are_refused_untouched(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "x.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=says):
        SQLiteStore(path)
    assert path.read_bytes() == content


def test_another_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a channel store"):
        SQLiteStore(path)
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite3"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer version"):
        SQLiteStore(path)
    assert path.read_bytes() == before


def test_a_corrupt_store_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.sqlite3"
    with SQLiteStore(path) as store:
        for round_ in range(200):
            store.save(attrs.evolve(a_record(), channel_id=None, account=f"ak_{round_}"))
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    data[4096 + 100 : 4096 + 600] = bytes(500)  # wipe part of a page
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        SQLiteStore(path).records()
    assert path.read_bytes() == bytes(data)


def test_channels_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.sqlite3"
    record = a_record()
    with SQLiteStore(path) as store:
        store.save(record)
    assert main(["channels", "list", "--store", str(path)]) == 0
    listing = capsys.readouterr().out
    assert record_key(record) in listing
    assert main(["channels", "show", str(record.channel_id), "--store", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["fsm_id"] == record.fsm_id
    assert main(["channels", "export", str(record.channel_id), "--store", str(path)]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["latest_state"] == record.latest_state
    assert exported["latest_round"] == 1
    assert main(["channels", "show", "ch_nope", "--store", str(path)]) == 2
    assert "no channel" in capsys.readouterr().err
    missing = tmp_path / "missing.sqlite3"
    assert main(["channels", "list", "--store", str(missing)]) == 2
    assert "no channel store" in capsys.readouterr().err
    assert not missing.exists()
