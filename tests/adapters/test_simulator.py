"""Each adapter as the initiator against the project's simulator over loopback."""

from __future__ import annotations

from typing import Final

import pytest

from sansio_channels import commands as cmd
from sansio_channels.adapters import ConnectionLost, Settings
from sansio_channels.channel import Channel
from sansio_channels.events import Event, FsmUp, MessageReceived, OperationAccepted, SignRequest
from sansio_channels.options import Role
from sansio_channels.state import ChannelState

from .drivers import DRIVERS, Driver
from .peer import Link
from .simulated import INITIATOR, RESPONDER, SimulatedNode, open_options
from .test_adapters import FAST, drain, outcome, until, until_open

SETTINGS: Final = Settings(open_timeout=2.0, close_timeout=1.0)


@pytest.fixture(params=DRIVERS, ids=lambda driver: driver.name)
def driver(request: pytest.FixtureRequest) -> Driver:
    chosen: Driver = request.param
    return chosen


def test_open_transfer_message_and_close_against_the_simulator(driver: Driver) -> None:
    async def scenario() -> None:
        with SimulatedNode() as node:
            channel = Channel(open_options(Role.INITIATOR), network_id=node.network_id)
            options = {"signer": INITIATOR, "settings": SETTINGS}
            async with driver.client(channel, node.base_url, **options) as client:
                await until_open(client)
                transfer = await client.transfer(RESPONDER.address, 42)
                assert isinstance(transfer, OperationAccepted)
                assert transfer.round == 2
                message = await client.message(RESPONDER.address, "paid 42")
                assert isinstance(message, OperationAccepted)
                seen: list[Event] = []
                shutdown = await client.submit(cmd.Shutdown())
                assert isinstance(shutdown, OperationAccepted), shutdown
                await drain(client, seen)  # the node closes the socket after the FSM stops
                lost = [event for event in seen if isinstance(event, ConnectionLost)]
                assert [event.reconnecting for event in lost] == [False]
                assert not [event for event in seen if isinstance(event, SignRequest)]
            assert channel.state is ChannelState.CLOSED
        assert node.responder.state is ChannelState.CLOSED
        heard = [e for e in node.responder_events if isinstance(e, MessageReceived)]
        assert [(e.from_id, e.info) for e in heard] == [(INITIATOR.address, "paid 42")]

    driver.run(scenario)


def test_a_cut_connection_reattaches_to_the_running_fsm(driver: Driver) -> None:
    async def scenario() -> None:
        with SimulatedNode() as node, Link(node.port) as link:
            channel = Channel(open_options(Role.INITIATOR), network_id=node.network_id)
            options = {"signer": INITIATOR, "settings": FAST}
            url = f"ws://127.0.0.1:{link.port}/channel"
            async with driver.client(channel, url, **options) as client:
                await until_open(client)
                fsm_id = channel.fsm_id
                assert fsm_id is not None
                link.cut()
                lost = await until(client, ConnectionLost)
                assert lost.reconnecting
                up = await until(client, FsmUp)
                assert up == FsmUp(fsm_id=fsm_id, reconnected=True)
                transfer = await client.start(
                    cmd.Transfer(from_id=INITIATOR.address, to_id=RESPONDER.address, amount=9)
                )
                # Reattached, the channel cannot know whether the FSM moved on while it was
                # away: the default policy asks until the next co-signed state.
                assert (await outcome(client, transfer)).round == 2
                # Closed, the simulator has no timer left running (it then stops at once).
                shutdown = await client.start(cmd.Shutdown())
                await outcome(client, shutdown)
                await drain(client, [])
            assert channel.state is ChannelState.CLOSED

    driver.run(scenario)
