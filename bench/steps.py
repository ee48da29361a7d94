"""Where a transfer's time goes: each step of an own and of an acknowledged transfer timed alone.

For ``--rounds`` transfers of each kind in a row, on the node frames ``bench/run.py`` uses,
the clock is read around each step (own: ``submit``, the sign request taken, ``sign()``, the
co-signed state taken; acknowledged: the last three), and the shortest time of each step is
printed in µs, next to a bare sign and a bare verify timed the same way. A step timed alone
meets the interpreter's caches cold from the step before, so the steps add up to about what
``bench/run.py`` reports per transfer, or more.

Run: ``python bench/steps.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import run  # bench/run.py, beside this file: the node frames

from sansio_channels import commands as cmd
from sansio_channels.channel import Channel
from sansio_channels.events import OperationAccepted, SignRequest
from tests.scripted_node import NETWORK, ScriptedNode, opened

Timings = dict[str, list[float]]


def _timed(steps: dict[str, Callable[[], object]], timings: Timings) -> None:
    clock = time.perf_counter
    for name, step in steps.items():
        start = clock()
        step()
        timings.setdefault(name, []).append(clock() - start)


def _take(channel: Channel, frame: dict[str, Any], into: list[object]) -> None:
    """A node frame received and processed: its events kept in ``into``."""
    channel.receive_frame(frame)
    into.extend(channel.events())


def _sign(channel: Channel, node: ScriptedNode, events: list[object]) -> None:
    (request,) = [event for event in events if isinstance(event, SignRequest)]
    request.sign(node.ours)
    channel.frames_to_send()


def own_steps(rounds: int) -> Timings:
    channel, node = opened()
    command = cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1)
    timings: Timings = {}
    for request, update in run.own_transfer_frames(node, rounds):
        asked: list[object] = []
        ended: list[object] = []

        def submit() -> None:
            channel.submit(command)
            channel.frames_to_send()
            list(channel.events())

        steps: dict[str, Callable[[], object]] = {
            "submit": submit,
            "sign request": functools.partial(_take, channel, request, asked),
            "sign": functools.partial(_sign, channel, node, asked),
            "co-signed state": functools.partial(_take, channel, update, ended),
        }
        _timed(steps, timings)
        if not any(isinstance(event, OperationAccepted) for event in ended):
            raise AssertionError("the transfer did not go through")
    return timings


def ack_steps(rounds: int) -> Timings:
    channel, node = opened()
    timings: Timings = {}
    for request, update in run.ack_transfer_frames(node, rounds):
        asked: list[object] = []
        ended: list[object] = []
        steps: dict[str, Callable[[], object]] = {
            "sign request": functools.partial(_take, channel, request, asked),
            "sign": functools.partial(_sign, channel, node, asked),
            "co-signed state": functools.partial(_take, channel, update, ended),
        }
        _timed(steps, timings)
        if not any(getattr(event, "accepted", False) for event in ended):
            raise AssertionError("the peer's transfer did not go through")
    return timings


def baseline_steps(rounds: int) -> Timings:
    _, node = opened()
    tx, _ = node.transfer(1, to_peer=True)
    message = NETWORK.encode() + tx.serialize()
    key = nacl.signing.SigningKey(bytes([5]) * 32)
    signature = key.sign(message).signature
    timings: Timings = {}
    for _ in range(rounds):
        steps: dict[str, Callable[[], object]] = {
            "bare sign": lambda: key.sign(message),
            "bare verify": lambda: key.verify_key.verify(message, signature),
        }
        _timed(steps, timings)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="transfers of each kind")
    args = parser.parse_args()
    print(f"µs, the shortest of {args.rounds}:")
    for kind, measure in (("own", own_steps), ("acknowledged", ack_steps), ("", baseline_steps)):
        timings = measure(args.rounds)
        shortest = {name: min(times) * 1e6 for name, times in timings.items()}
        shown = ", ".join(f"{name} {us:.1f}" for name, us in shortest.items())
        total = f"; total {sum(shortest.values()):.1f}" if kind else ""
        print(f"{kind or 'baseline'}: {shown}{total}")


if __name__ == "__main__":
    main()
