"""The dispute survives a SIGKILL: a client process dies right after the peer's old state was
reported (before its slash left), or between its slash and its settle; resumed from its store
in another process, the client completes the dispute with no call from the application."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sansio_channels.adapters import Settings
from sansio_channels.adapters import sync as sync_adapter
from sansio_channels.dispute import DisputeAction, DisputeActionDue
from sansio_channels.events import CoSignedState, Event
from sansio_channels.state import ChannelState
from sansio_channels.store import SQLiteStore
from sansio_channels.txs import ChannelCloseSoloTx, ChannelSettleTx, ChannelSlashTx
from tests.adapters.simulated import AMOUNT, INITIATOR, SimulatedNode

ROOT = Path(__file__).parent.parent.parent
# Liveness bounds, not timing assertions: generous, so a loaded machine only runs slower.
BOUND = 30.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    until = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < until, f"no {what} in time"
        time.sleep(0.02)


def responder_round(node: SimulatedNode) -> int:
    rounds = [e.round for e in node.responder_events if isinstance(e, CoSignedState) and e.accepted]
    return max((r for r in rounds if r is not None), default=0)


@pytest.mark.parametrize(
    ("kill_at", "resumed_with"),
    [
        ("slash", [DisputeAction.SLASH, DisputeAction.SETTLE]),  # before its slash left
        ("settle", [DisputeAction.SETTLE]),  # after the slash, before its settle left
    ],
)
def test_a_client_killed_in_a_dispute_completes_it_on_resume(
    tmp_path: Path, kill_at: str, resumed_with: list[DisputeAction]
) -> None:
    path = tmp_path / "channels.sqlite"
    with SimulatedNode(lifetime=3 * BOUND) as node:
        chain = node.sim.chain
        arguments = [node.base_url, node.network_id, str(path), kill_at]
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.durability.dispute_child", *arguments], cwd=ROOT
        )
        try:
            wait_for(lambda: responder_round(node) >= 1, "open channel")
            node.pay_initiator((10, 20))
            wait_for(lambda: responder_round(node) >= 3, "round 3")
            before, height = chain.balance(INITIATOR.public_key), chain.height
            node.post_old_state(2)  # the peer cheats
            assert child.wait(BOUND) == -9  # SIGKILL: the kill point was reached
        finally:
            child.kill()
            child.wait()
        (record,) = SQLiteStore(path).records()
        assert (record.dispute, record.state, record.latest_round) == (kill_at, "solo_closing", 3)

        seen: list[Event] = []
        settings = Settings(open_timeout=5.0, close_timeout=1.0)
        (client,) = sync_adapter.ChannelClient.resume_all(
            node.base_url, SQLiteStore(path), signer=INITIATOR, settings=settings
        )
        with client:
            seen.extend(client)  # no call from the application: the events until the end
        assert client.channel.state is ChannelState.CLOSED
        due = [e for e in seen if isinstance(e, DisputeActionDue)]
        assert [e.action for e in due] == resumed_with
        assert all(e.operation is not None for e in due)
        mined = [(e.signed_tx.transaction, e.height) for e in chain.events if e.height > height]
        assert [type(tx) for tx, _ in mined] == [
            ChannelCloseSoloTx,
            ChannelSlashTx,
            ChannelSettleTx,
        ]
        paid = sum(tx.fee for tx, _ in mined[1:])  # type: ignore[attr-defined]
        assert chain.balance(INITIATOR.public_key) - before == AMOUNT + 30 - paid
