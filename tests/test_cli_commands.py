"""The ``simulate`` and ``diagram`` commands run as a user runs them, and ``python -m``.

``simulate`` runs in this process, in the main thread (its signal handlers need it), until a
helper thread has opened a channel connection to it and sent the process SIGTERM, as a user's
Ctrl-C or a service manager would stop it.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Final

import pytest
from websockets.sync.client import connect

from sansio_channels.cli import main
from sansio_channels.cli.diagram import render
from sansio_channels.options import Role
from sansio_channels.simulator.harness import keypair, open_options

BOUND: Final = 20.0  # seconds: a liveness bound, not a timing assertion


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Visitor(threading.Thread):
    """Waits for the server, opens a channel connection, hears the node, then stops it all."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.heard: list[dict[str, object]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._visit()
        except BaseException as exc:  # the test reports it
            self.error = exc
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    def _visit(self) -> None:
        deadline = time.monotonic() + BOUND
        alice, bob = keypair("alice"), keypair("bob")
        options = open_options(Role.RESPONDER, alice, bob)
        url = options.connect_url(f"ws://127.0.0.1:{self.port}/channel")
        while True:
            try:
                with connect(url, open_timeout=2) as websocket:
                    self.heard.append(json.loads(websocket.recv(timeout=5)))
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def test_simulate_serves_until_stopped_and_writes_its_transcript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({keypair("bob").address: 10**20}), encoding="utf-8")
    transcript = tmp_path / "session.md"
    visitor = Visitor(port)
    visitor.start()
    args = ["simulate", "--port", str(port), "--network-id", "ae_test", "--block-interval", "1"]
    args += ["--accounts", str(accounts), "--transcript", str(transcript)]
    assert main(args) == 0
    visitor.join(BOUND)
    assert visitor.error is None, visitor.error
    out, err = capsys.readouterr()
    assert out == f"simulator: listening on ws://127.0.0.1:{port}/channel (ae_test)\n"
    assert err == "simulator: stopped\n"
    # The responder connected first: the node tells it that it awaits the initiator.
    assert visitor.heard, "no frame from the simulator"
    assert transcript.read_text(encoding="utf-8").strip()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "--accounts: [Errno 2]"),
        ("not json", "--accounts: Expecting value"),
        ('["ak_x"]', '--accounts: expected a JSON object {"ak_...": balance}'),
        ('{"ak_x": "many"}', '--accounts: expected a JSON object {"ak_...": balance}'),
    ],
)
def test_simulate_refuses_bad_accounts_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    accounts = tmp_path / "accounts.json"
    if content is not None:
        accounts.write_text(content, encoding="utf-8")
    assert main(["simulate", "--port", "0", "--accounts", str(accounts)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: {message}")
    assert err.count("\n") == 1


def test_diagram_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "diagram.md"
    assert main(["diagram", "--output", str(page)]) == 0
    assert page.read_text(encoding="utf-8") == render()
    assert main(["diagram"]) == 0
    assert capsys.readouterr().out == render()


def test_python_dash_m_runs_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `python -m sansio_channels diagram` does, in this process (so it is measured).
    monkeypatch.setattr(sys, "argv", ["sansio_channels", "diagram"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("sansio_channels", run_name="__main__", alter_sys=True)
    assert exit_.value.code == 0
    assert capsys.readouterr().out == render()
