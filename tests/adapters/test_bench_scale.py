"""bench/scale.py runs, small, over WebSockets and in memory: the rows have their shape, and
every transfer went through (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sansio_channels.store import open_store
from tests.bench_modules import load
from tests.scripted_node import opened

SHARED = {
    "channels",
    "per_transfer_us",
    "per_transfer_us_runs",
    "baseline_us",
    "ratio",
    "bytes_per_channel",
}
OVER_WEBSOCKETS = {
    "process_cpu_per_transfer_us",
    "process_ratio",
    "server_cpu_per_transfer_us",
    "wall_per_transfer_us",
    "loop_lag_median_ms",
    "loop_lag_p99_ms",
    "loop_lag_max_ms",
    "rss_bytes_per_channel",
    "open_seconds",
    "full_gc_ms",
    "transfers_per_s",
    "transfers",
}
THROUGH_A_HUB = {
    "saves_per_transfer",
    "save_wall_per_transfer_us",
    "renews",
    "renew_ms",
    "renew_max_ms",
    "scans",
    "scan_ms",
    "scan_max_ms",
    "stop_seconds",
    "stop_release_seconds",
    "leases_released",
}
# A lag can be 0.0 on a quiet loop; the rest is a count or a duration that cannot be.
MAY_BE_ZERO = {
    "loop_lag_median_ms",
    "loop_lag_p99_ms",
    "loop_lag_max_ms",
    "stop_seconds",
    "stop_release_seconds",
}


def _rows(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert load("scale").main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    rows: list[dict[str, Any]] = json.loads(last)["rows"]
    return rows


def test_over_websockets_every_transfer_goes_through(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--channels", "3,5", "--transfers", "40", "--runs", "2", "--in-flight", "2", "--json"]
    rows = _rows(argv, capsys)
    assert [row["channels"] for row in rows] == [3, 5]
    for row in rows:
        assert set(row) == SHARED | OVER_WEBSOCKETS
        # Each run: 40 timed round the channels, then one each with every channel paying at
        # once; the bench has checked every outcome and every channel's final balances.
        assert row["transfers"] == 2 * (40 + row["channels"])
        assert len(row["per_transfer_us_runs"]) == 2
        for name in (SHARED | OVER_WEBSOCKETS) - {"per_transfer_us_runs"} - MAY_BE_ZERO:
            assert row[name] > 0, name


def test_keepalives_and_a_quiet_hold_are_measured(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--channels", "2", "--transfers", "20", "--runs", "1", "--keepalive", "--idle", "0.5"]
    rows = _rows([*argv, "--json"], capsys)
    assert set(rows[0]) == SHARED | OVER_WEBSOCKETS | {"idle_process_cpu", "idle_server_cpu"}
    assert rows[0]["transfers"] == 22
    assert rows[0]["idle_process_cpu"] >= 0


def test_through_a_hub_every_transfer_goes_through_and_every_lease_is_released(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:{tmp_path / 'hub.sqlite3'}"
    argv = ["--channels", "4", "--transfers", "40", "--runs", "1", "--in-flight", "2"]
    rows = _rows([*argv, "--hub", store, "--renew-every", "0.2", "--json"], capsys)
    row = rows[0]
    assert set(row) == SHARED | OVER_WEBSOCKETS | THROUGH_A_HUB
    # 40 timed round the channels and one each at once, every outcome and every final
    # balance checked by the bench; then the stop released all 4 leases, as the store says.
    assert row["transfers"] == 40 + 4
    assert row["leases_released"] == 4
    # The hub saves a state we signed before its signature leaves, then the co-signed one.
    assert row["saves_per_transfer"] == 2
    for name in ("renews", "scans", "renew_ms", "scan_ms", "save_wall_per_transfer_us"):
        assert row[name] > 0, name
    # The run took its records out again: the store is as it found it, and takes another.
    with open_store(store) as left:
        assert left.records() == []
    assert _rows([*argv, "--hub", store, "--renew-every", "0.2", "--json"], capsys)


def test_a_hub_refuses_a_store_with_records(tmp_path: Path) -> None:
    """The hub would take a record it finds, and the figures would not be the run's."""
    scale = load("scale")
    store_url = f"sqlite:{tmp_path / 'hub.sqlite3'}"
    channel, _ = opened()
    with open_store(store_url) as store:
        store.save(channel.record())
        with pytest.raises(scale.e2e.BenchFailed, match="must hold no records"):
            scale.HubRun(store, "ws://127.0.0.1:1", 1, scale.How(hub=store_url))


def test_in_memory_keeps_its_rows(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--channels", "4", "--transfers", "40", "--runs", "1", "--in-memory", "--json"]
    rows = _rows(argv, capsys)
    assert len(rows) == 1
    assert set(rows[0]) == SHARED
    assert rows[0]["channels"] == 4


def test_a_failed_transfer_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench does not count what did not go through: a refused transfer stops the run."""
    scale = load("scale")

    async def refused(self: object, peer: str, amount: int) -> str:
        return "refused"

    monkeypatch.setattr(scale.ChannelClient, "transfer", refused)
    with pytest.raises(scale.e2e.BenchFailed, match="did not go through"):
        scale.measure_websockets(2, scale.How(transfers=20, in_flight=2))
