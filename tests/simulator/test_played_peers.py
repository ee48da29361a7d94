"""The server playing the responders itself: only the initiator's asyncio client connects."""

from __future__ import annotations

import asyncio

import pytest

from sansio_channels.adapters import Settings
from sansio_channels.adapters.asyncio import ChannelClient
from sansio_channels.channel import Channel
from sansio_channels.crypto import KeyPair
from sansio_channels.encoding import Id, IdTag
from sansio_channels.errors import LocalProtocolError
from sansio_channels.events import Event, OperationAccepted, QueryResult, StateChanged
from sansio_channels.options import Role
from sansio_channels.replay import replay_files
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import keypair, open_options
from sansio_channels.simulator.server import SimulatorServer
from sansio_channels.state import ChannelState

AMOUNT = 10**18
SETTINGS = Settings(open_timeout=5.0, close_timeout=2.0, ping_interval=None)
ALICE, BOB, CAROL = keypair("played alice"), keypair("played bob"), keypair("played carol")


async def _until_open(client: ChannelClient) -> list[Event]:
    seen = []
    while (event := await client.next_event()) is not None:
        seen.append(event)
        if isinstance(event, StateChanged) and event.state is ChannelState.OPEN:
            return seen
    raise AssertionError(f"the stream ended before the channel opened: {seen}")


async def _pay_and_close(server: SimulatorServer, responder_address: str) -> Channel:
    options = open_options(Role.INITIATOR, ALICE, _keys(responder_address), amount=AMOUNT)
    channel = Channel(options, network_id=server.sim.network_id, ping_interval=None)
    async with ChannelClient(channel, server.url(), signer=ALICE, settings=SETTINGS) as client:
        await _until_open(client)
        for amount in (42, 8):
            paid = await client.transfer(responder_address, amount)
            assert isinstance(paid, OperationAccepted), paid
        balances = await client.get_balances()
        assert isinstance(balances, QueryResult), balances
        closed = await client.shutdown()
        assert isinstance(closed, OperationAccepted), closed
        while await client.next_event() is not None:  # the node closes the socket
            pass
    return channel


def _keys(address: str) -> KeyPair:
    return {BOB.address: BOB, CAROL.address: CAROL}[address]


def test_an_asyncio_client_opens_pays_and_closes_with_a_played_responder(tmp_path: object) -> None:
    path = f"{tmp_path}/played.md"
    sim = Simulator()

    async def session() -> Channel:
        async with SimulatorServer(sim, port=0, transcript=path, peers={BOB.address: BOB}) as srv:
            channel = await _pay_and_close(srv, BOB.address)
            assert len(srv.peers) == 0  # the node closed the responder's socket: forgotten
            return channel

    channel = asyncio.run(asyncio.wait_for(session(), timeout=30))
    assert channel.state is ChannelState.CLOSED
    assert channel.record().balances == {ALICE.address: AMOUNT - 50, BOB.address: AMOUNT + 50}
    assert channel.channel_id is not None
    on_chain = sim.chain.channel(Id.from_api(channel.channel_id, IdTag.CHANNEL).key)
    assert on_chain is not None
    assert on_chain.status == "closed"
    # Both sides' frames are in the recording, and they replay against the channel.
    roles = {entry.role for entry in sim.entries}
    assert roles == {"initiator", "responder"}
    report = replay_files([path], sim.network_id)
    assert (report.mismatched, report.matched) == (0, report.frames)


def test_only_the_accounts_given_are_played() -> None:
    """An initiator naming an account the server has no signer for waits for a client."""

    async def session() -> tuple[int, ChannelState]:
        async with SimulatorServer(Simulator(), port=0, peers={BOB.address: BOB}) as server:
            options = open_options(Role.INITIATOR, ALICE, CAROL, amount=AMOUNT)
            channel = Channel(options, network_id=server.sim.network_id, ping_interval=None)
            async with ChannelClient(channel, server.url(), signer=ALICE, settings=SETTINGS):
                await asyncio.sleep(0.3)
                return len(server.peers), channel.state

    played, state = asyncio.run(asyncio.wait_for(session(), timeout=30))
    assert played == 0
    assert state is not ChannelState.OPEN


def test_a_simulator_that_does_not_record_refuses_a_transcript() -> None:
    sim = Simulator(record=False)
    with pytest.raises(LocalProtocolError, match="record=False"):
        sim.transcript()
    with pytest.raises(LocalProtocolError, match="record=False"):
        SimulatorServer(sim, transcript="never-written.md")


def test_closings_name_each_closed_connection_once() -> None:
    sim = Simulator()
    refused = sim.connect("ws://simulator:3014/channel?role=initiator")  # no protocol: refused
    assert sim.closings() == [refused]
    assert sim.closings() == []
    options = open_options(Role.RESPONDER, ALICE, BOB, amount=AMOUNT)
    listening = sim.connect(options.connect_url("ws://simulator:3014/channel"))
    assert sim.closings() == []
    sim.disconnect(listening)
    assert sim.closings() == [listening]
