"""The simulator behind its loopback WebSocket server, driven by two channels over sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect

from sansio_channels.channel import Channel
from sansio_channels.commands import Command, Shutdown, Transfer
from sansio_channels.crypto import KeyPair
from sansio_channels.events import Event, OperationAccepted, SignRequest
from sansio_channels.options import OpenOptions, Role
from sansio_channels.replay import replay_files
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import keypair, open_options
from sansio_channels.simulator.server import SimulatorServer
from sansio_channels.state import ChannelState

AMOUNT = 10**18


class _Client:
    """One participant over a real socket: frames out after every step, sign with its keys."""

    def __init__(self, options: OpenOptions, keys: KeyPair, network_id: str) -> None:
        self.channel = Channel(options, network_id=network_id, ping_interval=None)
        self.keys = keys
        self.events: list[Event] = []
        self.changed = asyncio.Event()
        self.socket: ClientConnection | None = None

    async def run(self, base: str) -> None:
        async with connect(self.channel.connect_url(base)) as socket:
            self.socket = socket
            async for text in socket:
                assert isinstance(text, str)
                self.channel.receive_text(text)
                for event in self.channel.events():
                    self.events.append(event)
                    if isinstance(event, SignRequest):
                        event.sign(self.keys)
                await self.flush()
                self.changed.set()
        self.channel.connection_lost()
        self.changed.set()

    async def flush(self) -> None:
        assert self.socket is not None
        for frame in self.channel.frames_to_send():
            await self.socket.send(json.dumps(frame))

    async def submit(self, command: Command) -> None:
        self.channel.submit(command)
        await self.flush()

    async def until(self, done: Callable[[], bool]) -> None:
        while not done():
            self.changed.clear()
            await self.changed.wait()


def _state_is(side: _Client, state: ChannelState) -> Callable[[], bool]:
    return lambda: side.channel.state is state


def _accepted(side: _Client) -> list[OperationAccepted]:
    return [event for event in side.events if isinstance(event, OperationAccepted)]


async def _session(tmp: str) -> tuple[_Client, _Client, Simulator]:
    sim = Simulator()
    i_keys, r_keys = keypair("server initiator"), keypair("server responder")

    def options(role: Role, host: str | None = None) -> OpenOptions:
        return open_options(role, i_keys, r_keys, amount=AMOUNT, host=host)

    initiator = _Client(options(Role.INITIATOR, "localhost"), i_keys, sim.network_id)
    responder = _Client(options(Role.RESPONDER), r_keys, sim.network_id)
    async with SimulatorServer(sim, port=0, transcript=tmp) as server:
        tasks = [asyncio.ensure_future(side.run(server.url())) for side in (initiator, responder)]
        for side in (initiator, responder):
            await side.until(_state_is(side, ChannelState.OPEN))
        await initiator.submit(Transfer(from_id=i_keys.address, to_id=r_keys.address, amount=42))
        await initiator.until(
            lambda: any(isinstance(e, OperationAccepted) for e in initiator.events)
        )
        await responder.submit(Shutdown())
        await asyncio.gather(*tasks)  # the node closes both sockets after died
    return initiator, responder, sim


def test_open_transfer_close_over_loopback(tmp_path: object) -> None:
    path = f"{tmp_path}/session.md"
    initiator, responder, sim = asyncio.run(asyncio.wait_for(_session(path), timeout=20))
    for side in (initiator, responder):
        assert side.channel.state is ChannelState.CLOSED
    assert _accepted(initiator)[0].round == 2
    report = replay_files([path], sim.network_id)
    assert (report.mismatched, report.matched) == (0, report.frames)
