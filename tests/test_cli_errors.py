"""Every subcommand given bad input ends in one ``error:`` line and status 2, never a traceback.

Each case runs ``python -m sansio_channels`` as a user would. (``simulate`` has cases of its
own, with the simulator's tests.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import sansio_channels

MISSING = "/nonexistent-dir/x"


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sansio_channels", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad")
    text = root / "notes.txt"
    text.write_text("just a note\n", encoding="utf-8")
    binary = root / "blob.bin"
    binary.write_bytes(bytes(range(256)))
    return {"text": str(text), "binary": str(binary), "dir": str(root)}


CASES: dict[str, list[str]] = {
    "no command": [],
    "unknown command": ["bogus"],
    "bad log level": ["--log-level", "loud", "decode", "tx_"],
    "channels: no action": ["channels"],
    "channels: unknown action": ["channels", "drop"],
    "channels: no store": ["channels", "list", "--store", MISSING],
    "channels: store is text": ["channels", "list", "--store", "{text}"],
    "channels: store is a directory": ["channels", "list", "--store", "{dir}"],
    "decode: no tx": ["decode"],
    "decode: not a tx": ["decode", "nonsense"],
    "demo: unknown adapter": ["demo", "--adapter", "bogus"],
    "demo: transcript in a missing directory": ["demo", "--transcript", MISSING],
    "diagram: output in a missing directory": ["diagram", "--output", MISSING],
    "diagram: output is a directory": ["diagram", "--output", "{dir}"],
    "replay: no file": ["replay"],
    "replay: missing file": ["replay", MISSING],
    "replay: not a transcript": ["replay", "{text}"],
    "replay: binary file": ["replay", "{binary}"],
    "replay: a directory": ["replay", "{dir}"],
    "state: no state": ["state"],
    "state: not a state": ["state", "garbage"],
    "state: bad expected hash": ["state", "ss_abc", "--expect-hash", "x"],
}


@pytest.mark.parametrize("argv", CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_error_line_and_status_2(argv: list[str], files: dict[str, str]) -> None:
    done = cli(*(arg.format(**files) for arg in argv))
    assert "Traceback" not in done.stderr
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")


def test_a_file_that_is_no_transcript_does_not_pass(files: dict[str, str]) -> None:
    done = cli("replay", files["text"])
    assert done.returncode == 2
    assert "no recorded session" in done.stderr
    assert "0 frames" not in done.stdout


def test_version_is_the_package_version() -> None:
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.split() == ["python", "-m", "sansio_channels", sansio_channels.__version__]


def test_help_shows_defaults() -> None:
    def help_text(*argv: str) -> str:
        return " ".join(cli(*argv, "--help").stdout.split())  # as one line, however wrapped

    replay, channels, top = help_text("replay"), help_text("channels"), help_text()
    # The default network id is the simulator's, and the help says so.
    assert "(default: ae_dev, the simulator's and the demo's;" in replay
    assert "(default: channels.sqlite3)" in channels
    assert "(default: warning)" in top
    for text in (replay, channels, top):
        assert "(default: None)" not in text


def test_replay_and_the_simulator_share_the_default_network_id() -> None:
    from sansio_channels.cli import build_parser
    from sansio_channels.simulator import Simulator

    args = build_parser().parse_args(["replay", "x.md"])
    assert args.network_id == Simulator().network_id
