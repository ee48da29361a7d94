"""``simulate``: run the channel simulator as a node on a loopback WebSocket.

Clients connect to ``ws://HOST:PORT/channel?...`` as to a node's channel endpoint. Every
account is funded unless ``--accounts FILE`` pins them (a JSON object ``{"ak_...": balance}``);
blocks are mined every ``--block-interval`` seconds, or at once when something waits for one.
``--play-responders NAME:COUNT`` plays the responders of COUNT test accounts itself, their keys
derived from NAME (test-only: anyone who knows NAME can sign for them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import sys

from ..crypto import KeyPair
from ..errors import LocalProtocolError
from ..simulator import Simulator
from ..simulator.harness import keypair
from ..simulator.simulator import DEFAULT_NETWORK_ID


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    # Read as text and checked in run(): a bad value is one "error:" line, as a busy port is.
    parser.add_argument("--port", default="3014", help="port to listen on (3014; 0: any free)")
    parser.add_argument(
        "--network-id",
        metavar="ID",
        default=DEFAULT_NETWORK_ID,
        help=f"network id txs are signed for (default: {DEFAULT_NETWORK_ID})",
    )
    parser.add_argument(
        "--block-interval",
        metavar="S",
        default=None,
        help="mine a block every S seconds (default: as soon as something waits for one)",
    )
    parser.add_argument(
        "--accounts", metavar="FILE", help='JSON {"ak_...": balance}: the only accounts'
    )
    parser.add_argument(
        "--transcript", metavar="FILE", help="write the recorded session here on exit"
    )
    parser.add_argument(
        "--play-responders",
        metavar="NAME:COUNT",
        help="play the responders of COUNT test accounts, keys derived from NAME (test only)",
    )


def play_responders(text: str | None) -> dict[str, KeyPair]:
    """The test accounts of ``--play-responders NAME:COUNT`` (address -> keys): ``NAME 0``
    to ``NAME COUNT-1`` through :func:`~sansio_channels.simulator.harness.keypair`."""
    if text is None:
        return {}
    name, _, count = text.rpartition(":")
    if not name or not count.isdigit() or int(count) < 1:
        raise LocalProtocolError(f"--play-responders: expected NAME:COUNT, got {text!r}")
    keys = (keypair(f"{name} {n}") for n in range(int(count)))
    return {pair.address: pair for pair in keys}


def _accounts(path: str | None) -> dict[str, int] | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            accounts = json.load(handle)
    except (OSError, ValueError) as exc:
        raise LocalProtocolError(f"--accounts: {exc}") from None
    if not isinstance(accounts, dict) or not all(
        isinstance(key, str) and isinstance(value, int) for key, value in accounts.items()
    ):
        raise LocalProtocolError('--accounts: expected a JSON object {"ak_...": balance}')
    return accounts


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise LocalProtocolError(f"--port: not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise LocalProtocolError(f"--port: must be 0 to 65535, got {port}")
    return port


def _block_interval(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise LocalProtocolError(f"--block-interval: not a number of seconds: {text!r}") from None
    # Zero or less would mine without end in one go, and the server could not stop.
    if not (math.isfinite(seconds) and seconds > 0):
        raise LocalProtocolError(f"--block-interval: must be more than 0 seconds, got {text}")
    return seconds


def run(args: argparse.Namespace) -> int:
    from ..simulator.server import SimulatorServer  # the only I/O in the package

    port = _port(args.port)
    block_interval = _block_interval(args.block_interval)
    if not args.network_id:
        raise LocalProtocolError("--network-id: must not be empty")
    peers = play_responders(args.play_responders)
    sim = Simulator(
        network_id=args.network_id,
        accounts=_accounts(args.accounts),
        auto_mine=block_interval is None,
        block_interval=block_interval,
        record=args.transcript is not None,  # a frame kept for nobody is memory lost
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(signum, stop.set)
        server = SimulatorServer(
            sim, host=args.host, port=port, transcript=args.transcript, peers=peers
        )
        try:
            await server.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise LocalProtocolError(f"cannot listen on {args.host}:{port}: {reason}") from None
        try:
            print(f"simulator: listening on {server.url()} ({args.network_id})", flush=True)
            await stop.wait()
        finally:
            await server.stop()  # closes the clients' sockets; writes the transcript

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    print("simulator: stopped", file=sys.stderr)
    return 0
