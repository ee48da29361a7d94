"""Generated docs stay equal to what generates them; the replay command's output and status."""

from __future__ import annotations

from pathlib import Path

import pytest

from sansio_channels.cli import main
from sansio_channels.cli.diagram import render
from sansio_channels.state import TRANSITIONS

from .recordings import TRANSCRIPTS

DOCS = Path(__file__).parent.parent / "docs"


def test_state_diagram_page_is_current() -> None:
    page = (DOCS / "state-diagram.md").read_text(encoding="utf-8")
    assert page == render()
    for (state, event), target in TRANSITIONS.items():
        assert f"{state.value} --> {target.value}" in page
        assert event.value in page


def test_replay_command_prints_counts_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    good = str(TRANSCRIPTS / "sc_ws_close_mutual.md")
    assert main(["replay", "--network-id", "local_iris_testnet", good]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "100 frames, 100 matched, 0 mismatched, 0 not checked"
    # Under another network id no recorded signature verifies: the replay must say so.
    assert main(["replay", "--network-id", "ae_mainnet", good]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert " 0 mismatched" not in last
