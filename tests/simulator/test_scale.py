"""Many channels on one simulator: a block or a delivery concerns only the FSMs it touches,
and the benchmark's run checks itself (a small run keeps those checks honest)."""

from __future__ import annotations

import pytest

from sansio_channels import commands as cmd
from sansio_channels.events import FsmUp
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.fsm import Fsm
from sansio_channels.simulator.harness import Pair, keypair
from sansio_channels.state import ChannelState
from tests.bench_modules import load


def open_pairs(sim: Simulator, count: int) -> list[Pair]:
    pairs = [
        Pair.open(
            sim=sim,
            initiator_keys=keypair(f"scale initiator {n}"),
            responder_keys=keypair(f"scale responder {n}"),
        )
        for n in range(count)
    ]
    for pair in pairs:
        pair.run()
    return pairs


def test_a_block_reaches_only_the_fsms_it_concerns(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator()
    pairs = open_pairs(sim, 5)
    told: list[Fsm] = []
    on_block = Fsm.on_block

    def counting(fsm: Fsm) -> None:
        told.append(fsm)
        on_block(fsm)

    monkeypatch.setattr(Fsm, "on_block", counting)
    sim.mine(3)  # nothing waits for a block: no FSM is told
    assert told == []
    pair = pairs[2]
    pair.initiator.channel.submit(cmd.Deposit(amount=1))
    pair.run()
    assert told
    assert {fsm.channel_text for fsm in told} == {pair.initiator.channel.channel_id}
    assert all(p.initiator.channel.state is p.responder.channel.state for p in pairs)


def test_channels_pair_by_port_and_account_and_come_back_to_their_own_fsm() -> None:
    sim = Simulator()
    pairs = open_pairs(sim, 4)
    pair = pairs[1]
    pair.initiator.channel.submit(cmd.Leave())
    pair.run()
    for side in pair.participants:
        pair.reconnect(side)
    pair.run()
    # The initiator's FSM stopped: a new one reestablishes with the responder's, which kept
    # running (keep_running) and took its client back.
    assert not pair.initiator.events_of(FsmUp)[-1].reconnected
    assert pair.responder.events_of(FsmUp)[-1].reconnected
    assert pair.initiator.channel.state is ChannelState.OPEN
    ids = {p.initiator.channel.channel_id for p in pairs}
    assert len(ids) == 4
    for p in pairs:
        for side in p.participants:
            assert side.channel.connected
            assert side.channel.channel_id == p.initiator.channel.channel_id


def test_a_small_bench_run_passes_its_own_checks() -> None:
    result = load("simulator").run(channels=3, transfers=2)
    assert result["channels"] == 3
    assert result["blocks"] > 0
    assert set(result["cpu_seconds"]) == {"total", "open", "transfers", "close"}
