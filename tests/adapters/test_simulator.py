"""The scenario suite: each adapter as the initiator against the project's simulator, served
by its WebSocket server on loopback.

Between them the tests below take a channel through open, transfers, messages, deposit,
withdraw, a connection killed on the node's side and on the client's, leave and reestablish,
mutual close, solo close and settle, and a reconnect the node refuses.
"""

from __future__ import annotations

from typing import Final

import attrs
import pytest

from sansio_channels import commands as cmd
from sansio_channels import encoding
from sansio_channels.adapters import (
    Backoff,
    ConnectionLost,
    NodeRefused,
    Reconnected,
    Settings,
)
from sansio_channels.channel import Channel
from sansio_channels.dispute import DisputePolicy
from sansio_channels.events import (
    CoSignedState,
    Event,
    FsmUp,
    MessageReceived,
    NodeError,
    OperationAccepted,
    SignRequest,
    StateChanged,
)
from sansio_channels.options import Role
from sansio_channels.rpc import ErrorDataCode
from sansio_channels.state import ChannelState

from .drivers import DRIVERS, Driver
from .peer import Link
from .simulated import AMOUNT, INITIATOR, RESPONDER, SimulatedNode, open_options
from .test_adapters import FAST, drain, outcome, until, until_open

SETTINGS: Final = Settings(open_timeout=2.0, close_timeout=1.0)
# Quick to come back, and patient enough for a loaded machine: 5 tries over about 3 s.
COME_BACK: Final = attrs.evolve(SETTINGS, reconnect=Backoff(initial=0.2, attempts=5))


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


def test_a_whole_life_with_a_kill_a_leave_and_a_solo_close(driver: Driver) -> None:
    """Open, transfers, a message, deposit, withdraw; the node's side of the socket is killed
    and the client comes back to the running FSM, with a transfer sent while it was away;
    leave, reestablish from the record, transfer; solo close and settle."""

    async def scenario() -> None:
        with SimulatedNode() as node:
            peer = RESPONDER.address
            channel = Channel(open_options(Role.INITIATOR), network_id=node.network_id)
            options = {"signer": INITIATOR, "settings": COME_BACK}
            async with driver.client(channel, node.base_url, **options) as client:
                await until_open(client)
                rounds = [(await client.call("transfer", peer, n)) for n in (1, 2, 3)]
                assert [r.round for r in rounds if isinstance(r, OperationAccepted)] == [2, 3, 4]
                assert isinstance(await client.call("message", peer, "paid 6"), OperationAccepted)
                assert isinstance(await client.call("deposit", 1_000), OperationAccepted)
                assert isinstance(await client.call("withdraw", 400), OperationAccepted)
                fsm_id = channel.fsm_id
                assert fsm_id is not None

                node.drop("initiator")  # the node's side of the socket, with no close frame
                seen: list[Event] = []
                lost = await until(client, ConnectionLost, seen)
                assert lost.reconnecting
                # Sent while the socket is down (or just back): it goes out once back.
                transfer = await client.start(
                    cmd.Transfer(from_id=INITIATOR.address, to_id=peer, amount=4)
                )
                back = await until(client, Reconnected, seen)
                assert back.attempt >= 1
                assert await until(client, FsmUp, seen) == FsmUp(fsm_id=fsm_id, reconnected=True)
                assert (await outcome(client, transfer)).round == 7

                left = await client.leave()
                assert isinstance(left, OperationAccepted)
                await drain(client, seen)  # the node closes the socket once the FSM stops
                assert [e.reconnecting for e in seen if isinstance(e, ConnectionLost)] == [
                    True,
                    False,
                ]
                record = client.record()
            assert channel.state is ChannelState.FSM_DOWN
            assert record.latest_round == 7

            # The application closes and settles by hand here: the channel only reports.
            manual = {**options, "dispute": DisputePolicy.off()}
            async with driver.resume(node.base_url, record, **manual) as client:
                up = await until(client, FsmUp)
                assert not up.reconnected  # reestablished: a new FSM, from the record
                assert up.fsm_id != fsm_id
                state = await until(client, CoSignedState)
                assert (state.accepted, state.round) == (True, 7)
                transfer = await client.start(
                    cmd.Transfer(from_id=INITIATOR.address, to_id=peer, amount=5)
                )
                assert (await outcome(client, transfer)).round == 8

                closed = await client.call("close_solo")
                assert isinstance(closed, OperationAccepted)
                seen = []
                solo = await until(client, StateChanged, seen)
                assert solo.state is ChannelState.SOLO_CLOSING
                settled = await client.call("settle")  # held until the lock period is over
                assert isinstance(settled, OperationAccepted)
                await drain(client, seen)
                assert [e.reconnecting for e in seen if isinstance(e, ConnectionLost)] == [False]
                assert client.channel.state is ChannelState.CLOSED
                balances = client.record().balances
        # Nothing lost: 15 paid, 1000 in, 400 out, and the peer agrees.
        assert balances is not None
        assert balances[INITIATOR.address] == AMOUNT - 15 + 1_000 - 400
        assert balances[RESPONDER.address] == AMOUNT + 15
        assert node.responder.record().balances == balances
        assert node.responder.state is ChannelState.CLOSED

    driver.run(scenario)


def test_a_reconnect_the_node_refuses_is_not_retried(driver: Driver) -> None:
    """A record whose fsm id the node does not know: it answers 1016 and closes the socket;
    the client says so (NodeRefused) instead of trying again until the backoff gives up."""

    async def scenario() -> None:
        with SimulatedNode() as node:
            channel = Channel(open_options(Role.INITIATOR), network_id=node.network_id)
            options = {"signer": INITIATOR, "settings": COME_BACK}
            async with driver.client(channel, node.base_url, **options) as client:
                await until_open(client)
                unknown = encoding.encode("ba", b"no such fsm id".ljust(32, b"."))
                doctored = attrs.evolve(client.record(), fsm_id=unknown)
                seen: list[Event] = []
                with pytest.raises(NodeRefused) as refused:
                    async with driver.resume(node.base_url, doctored, **options) as again:
                        await drain(again, seen)
                assert ErrorDataCode.INVALID_FSM_ID in refused.value.error.data_codes
                errors = [e for e in seen if isinstance(e, (NodeError, Reconnected))]
                assert errors == [refused.value.error]
                # The channel itself is fine; closing it lets the simulator stop at once.
                assert isinstance(await client.call("shutdown"), OperationAccepted)

    driver.run(scenario)
