"""The JavaScript SDK's ``Channel`` (npm ``@aeternity/aepp-sdk``, pinned in package-lock.json)
against the simulator's server, unmodified and driven as a JavaScript developer drives it.

- ``js_pair.mjs``: two JS channels: open, 200 transfers alternating direction, a generic
  message each way, deposit, withdrawal, balances, leave, the SDK's own reestablish, 20 more
  transfers, mutual close; both sides must agree on round and balances at each rest point.
- ``js_peer.mjs`` against our asyncio client, the JS side as initiator and as responder, the
  mutual close started by either side (four runs): open, 50 transfers each way, close; both
  sides must agree on round and balances.

They need ``node`` and the modules (``npm ci`` in this folder; ``.ci/run`` does it) and skip,
naming what is missing, without them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sansio_channels.events import OperationAccepted, SignRequest, StateChanged
from sansio_channels.options import OpenOptions, Role
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import keypair
from sansio_channels.state import ChannelState

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node")
SDK = HERE / "node_modules" / "@aeternity" / "aepp-sdk"
AMOUNT = 10**18  # what common.mjs puts in on each side
LIMIT = 240.0  # seconds a whole scenario may take on a busy machine

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node (Node.js 20) is not installed"),
    pytest.mark.skipif(
        not SDK.is_dir(),
        reason="tests/interop/node_modules is missing: run `npm ci` in tests/interop",
    ),
]


def test_two_js_channels_live_a_whole_channel_life() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "sansio_channels", "simulate", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "simulator: listening on ws://... (ae_dev)"
        assert "listening on" in line, line
        url = line.split("listening on ")[1].split()[0]
        assert NODE is not None
        run = subprocess.run(
            [NODE, "js_pair.mjs", url, "200", "20"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=LIMIT,
        )
    finally:
        server.terminate()
        server.wait(15)
        if server.stdout is not None:
            server.stdout.close()
    out = run.stdout.splitlines()
    report = "\n".join(out) + "\n" + run.stderr[-3000:]
    assert run.returncode == 0, report
    for expected in (
        "transfers: 200 accepted",
        "rest transfers: round 201, both agree",
        "messages: hello from alice / hello from bob",
        "deposit: accepted, round 202",
        "withdrawal: accepted, round 203",
        "reestablish: open, round 203",
        "rest more transfers: round 223, both agree",
        "ok",
    ):
        assert expected in out, report
    assert any(line.startswith("close: mutual, tx_") for line in out), report


class JsPeer:
    """``js_peer.mjs`` as a child process: a command a line in, a JSON answer a line out."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def read(self) -> Any:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            assert self.process.stderr is not None
            error = (await self.process.stderr.read()).decode()[-3000:]
            raise AssertionError(f"the JS side ended: {error}")
        return json.loads(line)

    async def ask(self, command: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        return await self.read()


async def answer_sign_requests(client: Any, is_open: asyncio.Event) -> None:
    """Our side's events: sign what the checks call safe (the create tx, the close ack)."""
    async for event in client:
        if isinstance(event, SignRequest):
            await (client.sign(event) if event.safe else client.abort(event))
        elif isinstance(event, StateChanged) and event.state is ChannelState.OPEN:
            is_open.set()


async def mixed_pair(js_role: Role, closer: str) -> None:
    from sansio_channels.adapters.asyncio import open_channel
    from sansio_channels.simulator.server import SimulatorServer

    ours = keypair(f"interop {js_role.value}")
    our_role = Role.RESPONDER if js_role is Role.INITIATOR else Role.INITIATOR
    port = 21_000 if js_role is Role.INITIATOR else 21_001
    async with SimulatorServer(Simulator(), port=0) as server:
        assert NODE is not None
        process = await asyncio.create_subprocess_exec(
            NODE,
            "js_peer.mjs",
            server.url(),
            js_role.value,
            str(port),
            cwd=HERE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        js = JsPeer(process)
        try:
            theirs = (await js.read())["address"]
            assert process.stdin is not None
            process.stdin.write(f"{ours.address}\n".encode())
            ids = (theirs, ours.address) if js_role is Role.INITIATOR else (ours.address, theirs)
            options = OpenOptions(
                role=our_role,
                host="127.0.0.1" if our_role is Role.INITIATOR else None,
                port=port,
                initiator_id=ids[0],
                responder_id=ids[1],
                lock_period=10,
                push_amount=0,
                initiator_amount=AMOUNT,
                responder_amount=AMOUNT,
                channel_reserve=0,
            )
            async with open_channel(
                server.url(), options, network_id=server.sim.network_id, signer=ours
            ) as client:
                is_open = asyncio.Event()
                reader = asyncio.create_task(answer_sign_requests(client, is_open))
                assert (await js.read())["open"] == 1
                await is_open.wait()

                paid = await js.ask("pay 50")  # 1, 2, 3, 1, ... : 99 in all
                assert paid == {"paid": 50, "round": 51}
                for i in range(50):
                    outcome = await client.transfer(theirs, 1 + i % 2)  # 75 in all
                    assert isinstance(outcome, OperationAccepted), outcome
                state = await js.ask("state")
                record = client.channel.record()
                assert state["round"] == record.latest_round == 101
                assert {k: int(v) for k, v in state["balances"].items()} == record.balances
                assert record.balances == {ours.address: AMOUNT + 99 - 75, theirs: AMOUNT - 24}

                if closer == "js":
                    assert await js.ask("close") == {"closed": "tx_"}
                else:
                    assert process.stdin is not None
                    process.stdin.write(b"await-close\n")
                    await process.stdin.drain()
                    outcome = await client.shutdown()
                    assert isinstance(outcome, OperationAccepted), outcome
                    assert await js.read() == {"closed": "by peer"}
                reader.cancel()
            assert process.stdin is not None
            process.stdin.write(b"bye\n")
            assert await asyncio.wait_for(process.wait(), 30) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


@pytest.mark.parametrize(
    ("js_role", "closer"),
    [
        (Role.INITIATOR, "js"),
        (Role.INITIATOR, "ours"),
        (Role.RESPONDER, "js"),
        (Role.RESPONDER, "ours"),
    ],
)
def test_a_js_channel_and_ours_pay_each_other_and_close(js_role: Role, closer: str) -> None:
    asyncio.run(asyncio.wait_for(mixed_pair(js_role, closer), LIMIT))
