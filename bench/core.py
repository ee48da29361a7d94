"""Benchmarks of the channel core against the signature work it cannot avoid, in one run.

- own transfer: from ``submit(Transfer)`` to ``OperationAccepted`` (the sign request checked
  and signed, the co-signed state checked), the node's frames built beforehand;
- acknowledged transfer: the peer's update checked and signed, its co-signed state taken;
- baseline for both: one bare pynacl signature plus one bare verification of the same bytes;
- inbound frames per second through ``receive_frame`` + ``next_event`` (a mix of reports,
  messages and query results);
- memory per open channel (tracemalloc, 10,000 channels held).

Run: ``python bench/core.py [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sansio_channels import commands as cmd
from sansio_channels import txs
from sansio_channels.channel import Channel
from sansio_channels.events import OperationAccepted, SignRequest
from tests.scripted_node import NETWORK, notification, opened

ROUNDS = 300


def per_call(func: Callable[[], object], rounds: int) -> float:
    """Seconds per call: the best of three runs."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            func()
        best = min(best, (time.perf_counter() - start) / rounds)
    return best


def own_transfers(rounds: int) -> float:
    """Seconds per own transfer, the node's frames prepared outside the timing."""
    channel, node = opened()
    prepared: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for _ in range(rounds):
        tx, updates = node.transfer(1, to_peer=True)
        request = node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates)
        prepared.append((request, node.update(node.co_signed(tx))))
        node.took(tx)
        node.balances[node.ours.public_key] -= 1
        node.balances[node.peer.public_key] += 1
    command = cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1)
    signer = node.ours
    start = time.perf_counter()
    for request_frame, update_frame in prepared:
        channel.submit(command)
        channel.frames_to_send()
        channel.receive_frame(request_frame)
        for event in channel.events():
            if isinstance(event, SignRequest):
                event.sign(signer)
        channel.frames_to_send()
        channel.receive_frame(update_frame)
        if not any(isinstance(e, OperationAccepted) for e in channel.events()):
            raise AssertionError("the transfer did not go through")
    return (time.perf_counter() - start) / rounds


def ack_transfers(rounds: int) -> float:
    channel, node = opened()
    prepared: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for _ in range(rounds):
        tx, updates = node.transfer(1, to_peer=False)
        request = node.sign_request("update_ack", node.peer_signed(tx), updates)
        prepared.append((request, node.update(node.co_signed(tx))))
        node.took(tx)
        node.balances[node.ours.public_key] += 1
        node.balances[node.peer.public_key] -= 1
    signer = node.ours
    start = time.perf_counter()
    for request_frame, update_frame in prepared:
        channel.receive_frame(request_frame)
        for event in channel.events():
            if isinstance(event, SignRequest):
                event.sign(signer)
        channel.frames_to_send()
        channel.receive_frame(update_frame)
        list(channel.events())
    return (time.perf_counter() - start) / rounds


def baseline(rounds: int) -> float:
    """One bare pynacl signature plus one bare verification of an off-chain tx's bytes."""
    _, node = opened()
    tx, _ = node.transfer(1, to_peer=True)
    message = NETWORK.encode() + tx.serialize()
    key = nacl.signing.SigningKey(bytes([5]) * 32)
    signature = key.sign(message).signature

    def work() -> None:
        key.sign(message)
        key.verify_key.verify(message, signature)

    return per_call(work, rounds)


def inbound_frames_per_s(count: int) -> float:
    channel, node = opened()
    mix = [
        node.info("own_funding_locked"),
        notification(
            "channels.message",
            {
                "message": {
                    "channel_id": node.channel_id,
                    "from": node.peer.address,
                    "to": node.ours.address,
                    "info": "hello",
                }
            },
            node.channel_id,
        ),
        notification("channels.system.pong", {"action": "system", "tag": "pong"}),
        node.info("peer_disconnected"),
    ]
    frames = [mix[i % len(mix)] for i in range(count)]
    start = time.perf_counter()
    for frame in frames:
        channel.receive_frame(frame)
        while channel.next_event() is not None:
            pass
    return count / (time.perf_counter() - start)


def bytes_per_channel(count: int) -> float:
    template, _ = opened()
    record = template.record()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = [Channel.restore(record) for _ in range(count)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(held) == count
    return size / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    base = baseline(args.rounds)
    own = own_transfers(args.rounds)
    ack = ack_transfers(args.rounds)
    figures = {
        "baseline_sign_verify_us": base * 1e6,
        "own_transfer_us": own * 1e6,
        "ack_transfer_us": ack * 1e6,
        "own_transfer_ratio": own / base,
        "ack_transfer_ratio": ack / base,
        "inbound_frames_per_s": inbound_frames_per_s(20_000),
        "bytes_per_channel": bytes_per_channel(2_000),
    }
    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in figures.items()}))
        return
    for name, value in figures.items():
        print(f"{name:28} {value:14.2f}")


if __name__ == "__main__":
    main()
