"""bench/hub_loop.py measures what it says: every lease it renews comes back renewed, both
ways; the scan finds nothing to take while every open channel is leased, and the finished
ones are never among what a hub could take."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sansio_channels.store import SQLiteStore

from .bench_modules import load


def test_the_hub_loop_bench_runs_and_reports_both_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load("hub_loop")
    path = tmp_path / "hub.sqlite3"
    argv = ["--store", f"sqlite:{path}", "--channels", "30", "--closed", "5", "--repeats", "1"]
    assert bench.main([*argv, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (figures["store"], figures["channels"], figures["closed"]) == ("sqlite", 30, 5)
    for key in ("renew_each_ms", "renew_batched_ms", "scan_all_ms", "scan_takeable_ms"):
        assert figures[key] > 0
    with SQLiteStore(path) as store:
        records = store.records()
        assert len(records) == 35
        assert sum(r.finished for r in records) == 5
        assert store.takeable() == []  # every open one leased to the bench's owner
