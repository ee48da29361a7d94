"""``python -m sansio_channels simulate``: bad arguments and a busy port are one ``error:``
line and exit status 2; SIGTERM and SIGINT stop it cleanly, clients connected or not."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys

import pytest
from websockets.asyncio.client import connect

from sansio_channels.cli import main
from sansio_channels.options import Role
from sansio_channels.simulator.harness import keypair, open_options


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--block-interval", "-1"], "--block-interval: must be more than 0 seconds, got -1"),
        (["--block-interval", "0"], "--block-interval: must be more than 0 seconds, got 0"),
        (["--block-interval", "nan"], "--block-interval: must be more than 0 seconds, got nan"),
        (["--block-interval", "soon"], "--block-interval: not a number of seconds: 'soon'"),
        (["--port", "70000"], "--port: must be 0 to 65535, got 70000"),
        (["--port", "-1"], "--port: must be 0 to 65535, got -1"),
        (["--port", "http"], "--port: not a port number: 'http'"),
        (["--network-id", ""], "--network-id: must not be empty"),
        (["--play-responders", "bob"], "--play-responders: expected NAME:COUNT, got 'bob'"),
        (["--play-responders", "bob:0"], "--play-responders: expected NAME:COUNT, got 'bob:0'"),
        (["--play-responders", ":3"], "--play-responders: expected NAME:COUNT, got ':3'"),
    ],
)
def test_a_bad_argument_is_one_error_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"error: {says}\n"


def test_a_busy_port_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["simulate", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert err.count("\n") == 1


def start(*argv: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "sansio_channels", "simulate", "--port", "0", *argv]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on" in line, line
    return process, line.split("listening on ")[1].split()[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_with_a_client_connected(signum: signal.Signals) -> None:
    """A block every 50 ms keeps its clock busy; a responder waits for its initiator."""
    process, base = start("--block-interval", "0.05")
    url = open_options(Role.RESPONDER, keypair("i"), keypair("r"), port=4700).connect_url(base)

    async def client() -> tuple[int | None, str]:
        async with connect(url) as websocket:
            first = await websocket.recv()
            process.send_signal(signum)
            async for _ in websocket:  # until the simulator closes it
                pass
            return websocket.close_code, str(first)

    try:
        code, first = asyncio.run(asyncio.wait_for(client(), 20))
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert "fsm_up" in first
    assert code == 1001  # going away
    assert process.stderr is not None
    assert process.stderr.read().strip().endswith("simulator: stopped")
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
