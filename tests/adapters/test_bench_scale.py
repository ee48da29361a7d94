"""bench/scale.py runs, small, over WebSockets and in memory: the rows have their shape, and
every transfer went through (no timing is asserted)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.bench_modules import load

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
    "rss_bytes_per_channel",
    "open_seconds",
    "full_gc_ms",
    "transfers_per_s",
    "transfers",
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
        for name in (SHARED | OVER_WEBSOCKETS) - {"per_transfer_us_runs"}:
            assert row[name] > 0, name


def test_keepalives_and_a_quiet_hold_are_measured(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--channels", "2", "--transfers", "20", "--runs", "1", "--keepalive", "--idle", "0.5"]
    rows = _rows([*argv, "--json"], capsys)
    assert set(rows[0]) == SHARED | OVER_WEBSOCKETS | {"idle_process_cpu", "idle_server_cpu"}
    assert rows[0]["transfers"] == 22
    assert rows[0]["idle_process_cpu"] >= 0


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
