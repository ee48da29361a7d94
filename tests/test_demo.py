"""The demo: a whole channel life on loopback over each adapter, whose session replays like a
recorded one; a clear error when an adapter's transport is not installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sansio_channels.cli import main
from sansio_channels.cli.demo import ADAPTERS, AMOUNT, run_demo
from sansio_channels.replay import replay_files


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_the_demo_runs_and_its_session_replays(adapter: str, tmp_path: Path) -> None:
    path = tmp_path / "demo.md"
    lines: list[str] = []
    summary = run_demo(adapter, str(path), lines.append)
    balances = summary["final_balances"]
    # 20 transfers, a transfer after the reconnect, a deposit and a withdrawal, all counted.
    assert balances == {"Alice": AMOUNT - 10045 + 5045 - 7 - 20_000, "Bob": AMOUNT + 55_007}
    assert summary["rounds"] == 1 + 20 + 1 + 1 + 1
    assert f"both participants use the {adapter} adapter" in lines
    assert any("reattached" in line for line in lines)
    assert lines[-2].startswith("summary:")
    report = replay_files([str(path)], "ae_dev")
    assert report.mismatched == 0
    assert report.matched == report.frames > 250


@pytest.mark.parametrize(("adapter", "module"), [("trio", "trio_websocket"), ("sync", "wsproto")])
def test_a_missing_transport_names_the_extra_to_install(
    adapter: str, module: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, f"sansio_channels.adapters.{adapter}", raising=False)
    assert main(["demo", "--adapter", adapter]) == 2
    error = capsys.readouterr().err
    assert f"pip install 'sansio-channels[{adapter}]'" in error
    assert module in error
