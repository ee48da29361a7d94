"""The demo: a whole channel life on loopback, whose session replays like a recorded one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sansio_channels.cli.demo import AMOUNT, demo
from sansio_channels.replay import replay_files


def test_the_demo_runs_and_its_session_replays(tmp_path: Path) -> None:
    path = tmp_path / "demo.md"
    lines: list[str] = []
    summary = asyncio.run(demo(str(path), lines.append))
    balances = summary["final_balances"]
    assert isinstance(balances, dict)
    # 20 transfers, a transfer after the reconnect, a deposit and a withdrawal, all counted.
    assert balances == {"Alice": AMOUNT - 10045 + 5045 - 7 - 20_000, "Bob": AMOUNT + 55_007}
    assert summary["rounds"] == 1 + 20 + 1 + 1 + 1
    assert any("reattached" in line for line in lines)
    assert lines[-2].startswith("summary:")
    report = replay_files([str(path)], "ae_dev")
    assert report.mismatched == 0
    assert report.matched == report.frames > 250
