"""README.md's two commands: the first one's decode runs, and CI runs the second verbatim."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sansio_channels.cli import main

ROOT = Path(__file__).parent.parent


def shell_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.*?)\n```", text, re.S)


def test_readme_has_the_two_commands() -> None:
    demo, tests = shell_blocks()[:2]
    assert demo.startswith("python3 -m venv .venv && .venv/bin/pip install '.[asyncio]'")
    assert demo.endswith("-m sansio_channels demo")
    assert "python -m pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    tests = shell_blocks()[1]
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci_lines


def test_the_readme_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    demo = shell_blocks()[0]
    command = shlex.split(demo.split("&&")[-1])
    assert command[:3] == [".venv/bin/python", "-m", "sansio_channels"]
    assert main(command[3:]) == 0
    out = capsys.readouterr().out
    assert "closed mutually" in out
    assert "summary:" in out
