"""The three adapters against a scripted node on loopback: one suite, run over each adapter."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final, TypeVar

import attrs
import pytest
import trio

from sansio_channels import commands as cmd
from sansio_channels.adapters import (
    AnswerNeeded,
    Backoff,
    ClosedWithoutMessage,
    ConnectFailed,
    ConnectionLost,
    FellBehind,
    Reconnected,
    Settings,
)
from sansio_channels.adapters import asyncio as aio_adapter
from sansio_channels.adapters import trio as trio_adapter
from sansio_channels.channel import Channel
from sansio_channels.events import (
    CoSignedState,
    Event,
    FsmUp,
    MessageReceived,
    Operation,
    OperationAccepted,
    Pong,
    ProtocolViolation,
    SignRequest,
    StateChanged,
)
from sansio_channels.options import Role
from sansio_channels.policy import AskPolicy
from sansio_channels.state import ChannelState
from tests.scripted_node import INITIATOR, NETWORK, RESPONDER, open_options

from .drivers import DRIVERS, Client, Driver, SyncDriver
from .peer import (
    FLOOD,
    FLOOD_SIZE,
    FSM_ID,
    GARBAGE,
    KILL,
    NEW_FSM_ID,
    Link,
    Peer,
    client_tls,
    free_port,
)

FAST: Final = Settings(
    reconnect=Backoff(initial=0.05, attempts=3), open_timeout=2.0, close_timeout=1.0
)
PEER: Final = RESPONDER.address
E = TypeVar("E", bound=Event)


@pytest.fixture(params=DRIVERS, ids=lambda driver: driver.name)
def driver(request: pytest.FixtureRequest) -> Driver:
    chosen: Driver = request.param
    return chosen


def new_channel(**kwargs: Any) -> Channel:
    return Channel(open_options(Role.INITIATOR), network_id=NETWORK, **kwargs)


def client_options(**overrides: Any) -> dict[str, Any]:
    return {"signer": INITIATOR, "settings": FAST, **overrides}


async def until(client: Client, kind: type[E], seen: list[Event] | None = None) -> E:
    """Read events up to the first ``kind``; every event read goes to ``seen``."""
    seen = [] if seen is None else seen
    while True:
        event = await client.next_event()
        assert event is not None, f"the stream ended before a {kind.__name__}: {seen}"
        seen.append(event)
        if isinstance(event, kind):
            return event


async def until_open(client: Client, seen: list[Event] | None = None) -> None:
    """Read events until the channel is open with its first state co-signed.

    The default policy signs the create tx of the channel we open; a client with another
    policy (or none) is asked about it, and we answer it here.
    """
    seen = [] if seen is None else seen
    while True:
        event = await until(client, Event, seen)
        if isinstance(event, SignRequest):  # only when the policy asks about it
            assert event.tag.tag == "initiator_sign"
            await client.sign(event)
        if isinstance(event, StateChanged) and event.state is ChannelState.OPEN:
            break
    state = await until(client, CoSignedState, seen)
    assert state.accepted
    assert state.round == 1


async def drain(client: Client, into: list[Event]) -> None:
    """Read events until the stream ends."""
    while (event := await client.next_event()) is not None:
        into.append(event)


async def outcome(client: Client, operation: Operation) -> OperationAccepted:
    """Read events until ``operation`` is accepted, signing its requests on the way."""
    while True:
        event = await client.next_event()
        assert event is not None, "the stream ended"
        if isinstance(event, SignRequest):
            await client.sign(event)
        if isinstance(event, OperationAccepted) and event.operation == operation:
            return event


def test_open_transfer_message_and_clean_close(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer() as peer:
            seen: list[Event] = []
            async with driver.client(new_channel(), peer.base_url, **client_options()) as client:
                await until_open(client, seen)
                transfer = await client.transfer(PEER, 5)
                assert isinstance(transfer, OperationAccepted)
                assert transfer.round == 2
                message = await client.message(PEER, "hello")
                assert isinstance(message, OperationAccepted)
                echo = await until(client, MessageReceived, seen)
                assert echo.info == "hello"
                assert echo.from_id == PEER
                await client.close()
                await drain(client, seen)
            # The policy signed the create tx and the transfer: nothing was asked about.
            requests = [event for event in seen if isinstance(event, SignRequest)]
            assert requests == []
            assert client.channel.record().latest_round == 2
            assert "channels.initiator_sign" in peer.methods()
        assert peer.close_codes == [1000]

    driver.run(scenario)


class Stopped(Exception):
    """The application's own reason to stop a client."""


def test_a_client_stopped_with_an_error_hands_it_on_after_its_events(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer() as peer:
            seen: list[Event] = []
            async with driver.client(new_channel(), peer.base_url, **client_options()) as client:
                await until_open(client, seen)
                await client.stop(Stopped("the lease is gone"))
                with pytest.raises(Stopped, match="the lease is gone"):
                    await drain(client, seen)
                with pytest.raises(Stopped):  # and no command starts any more
                    await client.transfer(PEER, 5)
            assert client.channel.record().latest_round == 1
            assert "channels.update.new" not in peer.methods()
        assert peer.close_codes == [1000]

    driver.run(scenario)


def test_connection_refused_is_a_clear_error(driver: Driver) -> None:
    async def scenario() -> None:
        url = f"ws://127.0.0.1:{free_port()}/channel"
        with pytest.raises(ConnectFailed, match="cannot connect"):
            async with driver.client(new_channel(), url, **client_options()):
                pass

    driver.run(scenario)


def test_failed_handshake_is_a_clear_error(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer(reject=True) as peer:
            with pytest.raises(ConnectFailed):
                async with driver.client(new_channel(), peer.base_url, **client_options()):
                    pass
            assert len(peer.paths) == 1  # no retry: the first connection is not a reconnect

    driver.run(scenario)


def test_node_closing_without_a_message_is_a_clear_error(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer(mute=True) as peer:
            async with driver.client(new_channel(), peer.base_url, **client_options()) as client:
                with pytest.raises(ClosedWithoutMessage):
                    await client.next_event()
            assert len(peer.paths) == 1  # bad connect parameters: trying again cannot help

    driver.run(scenario)


def test_a_frame_that_is_not_json_is_a_violation_and_changes_nothing(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer() as peer:
            async with driver.client(new_channel(), peer.base_url, **client_options()) as client:
                await until_open(client)
                sent = await client.message(PEER, GARBAGE)
                assert isinstance(sent, OperationAccepted)
                seen: list[Event] = []
                violation = await until(client, ProtocolViolation, seen)
                assert violation.frame == "this is not JSON"
                assert client.channel.state is ChannelState.OPEN
                transfer = await client.transfer(PEER, 1)
                assert isinstance(transfer, OperationAccepted)

    driver.run(scenario)


def test_a_killed_connection_comes_back_and_loses_nothing(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer() as peer:
            async with driver.client(new_channel(), peer.base_url, **client_options()) as client:
                await until_open(client)
                await client.start(cmd.Message(to_id=PEER, info=KILL))
                lost = await until(client, ConnectionLost)
                assert lost.reconnecting
                # Submitted while the socket is down: it leaves on the next one.
                transfer = await client.start(
                    cmd.Transfer(from_id=INITIATOR.address, to_id=PEER, amount=7)
                )
                seen: list[Event] = []
                assert (await until(client, Reconnected, seen)).attempt == 1
                assert await until(client, FsmUp, seen) == FsmUp(fsm_id=FSM_ID, reconnected=True)
                accepted = await outcome(client, transfer)
                assert accepted.round == 2
                assert client.channel.state is ChannelState.OPEN
            assert len(peer.paths) == 2
            assert "existing_fsm_id=" in peer.paths[1]
            assert peer.node.round == 2

    driver.run(scenario)


def test_falling_behind_is_a_clear_error(driver: Driver) -> None:
    async def scenario() -> None:
        settings = Settings(max_queued_events=FLOOD_SIZE // 2, close_timeout=1.0)
        with Peer() as peer:
            channel = new_channel()
            async with driver.client(
                channel, peer.base_url, **client_options(settings=settings)
            ) as client:
                await until_open(client)
                kept: list[Event] = []

                async def flood_and_read() -> None:
                    await client.message(PEER, FLOOD)
                    await drain(client, kept)

                # The flood overflows the queue while the message waits for its outcome, or
                # (when the outcome came first) while the events are read: either way, clearly.
                with pytest.raises(FellBehind):
                    await flood_and_read()
                with pytest.raises(FellBehind):
                    await drain(client, kept)
                assert 0 < len(kept) <= FLOOD_SIZE // 2  # the events before the overflow are kept
                assert channel.record().latest_round == 1  # the record is intact

    driver.run(scenario)


def test_leave_ends_the_stream_and_the_record_reestablishes(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer() as peer:
            async with driver.client(new_channel(), peer.base_url, **client_options()) as client:
                await until_open(client)
                await client.transfer(PEER, 3)
                left = await client.leave()
                assert isinstance(left, OperationAccepted)
                lost = await until(client, ConnectionLost)
                assert not lost.reconnecting
                assert await client.next_event() is None
                record = client.record()
            assert record.state == ChannelState.FSM_DOWN.value
            async with driver.resume(peer.base_url, record, **client_options()) as again:
                up = await until(again, FsmUp)
                assert up == FsmUp(fsm_id=NEW_FSM_ID, reconnected=False)
                while (await until(again, StateChanged)).state is not ChannelState.OPEN:
                    pass
                transfer = await again.transfer(PEER, 4)
                assert isinstance(transfer, OperationAccepted)
                assert transfer.round == 3

    driver.run(scenario)


def test_sign_requests_the_policy_does_not_answer_reach_the_application(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer() as peer:
            options = client_options(policy=AskPolicy())
            async with driver.client(new_channel(), peer.base_url, **options) as client:
                await until_open(client)
                transfer = await client.start(
                    cmd.Transfer(from_id=INITIATOR.address, to_id=PEER, amount=2)
                )
                assert (await outcome(client, transfer)).round == 2

    driver.run(scenario)


def test_a_quiet_channel_pings_the_node(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer() as peer:
            channel = new_channel(ping_interval=0.2)
            async with driver.client(channel, peer.base_url, **client_options()) as client:
                await until_open(client)
                await client.sleep(0.5)
                await until(client, Pong)
            assert "channels.system" in peer.methods()

    driver.run(scenario)


def test_a_silent_link_is_given_up_after_a_missing_pong_and_comes_back(driver: Driver) -> None:
    async def scenario() -> None:
        settings = attrs.evolve(FAST, ping_interval=0.1, ping_timeout=0.3)
        with Peer() as peer, Link(peer.port) as link:
            url = f"ws://127.0.0.1:{link.port}/channel"
            options = client_options(settings=settings)
            async with driver.client(new_channel(), url, **options) as client:
                await until_open(client)
                link.freeze()
                lost = await until(client, ConnectionLost)
                assert lost.reconnecting
                assert await until(client, FsmUp) == FsmUp(fsm_id=FSM_ID, reconnected=True)
                message = await client.message(PEER, "still there?")
                assert isinstance(message, OperationAccepted)

    driver.run(scenario)


def test_wss_with_the_standard_ssl_module(driver: Driver) -> None:
    async def scenario() -> None:
        settings = attrs.evolve(FAST, ssl_context=client_tls())
        with Peer(tls=True) as peer:
            options = client_options(settings=settings)
            async with driver.client(new_channel(), peer.base_url, **options) as client:
                await until_open(client)
                transfer = await client.transfer(PEER, 5)
                assert isinstance(transfer, OperationAccepted)

    driver.run(scenario)


def test_wss_refuses_a_certificate_it_does_not_trust(driver: Driver) -> None:
    async def scenario() -> None:
        with Peer(tls=True) as peer, pytest.raises(ConnectFailed, match=r"(?i)certificate"):
            async with driver.client(new_channel(), peer.base_url, **client_options()):
                pass

    driver.run(scenario)


def test_the_blocking_client_says_when_an_operation_waits_for_the_application() -> None:
    driver = SyncDriver()

    async def scenario() -> None:
        with Peer() as peer:
            options = client_options(policy=AskPolicy())
            async with driver.client(new_channel(), peer.base_url, **options) as client:
                await until_open(client)
                with pytest.raises(AnswerNeeded) as raised:
                    await client.transfer(PEER, 2)  # nobody else could sign while it waits
                request = raised.value.request
                assert request.operation is not None
                await client.sign(request)
                seen: list[Event] = []
                accepted = await until(client, OperationAccepted, seen)
                assert accepted.operation == request.operation
                assert request in seen  # the request is in the stream as well

    driver.run(scenario)


def test_an_asyncio_client_cancelled_from_outside_leaves_nothing_running() -> None:
    async def scenario() -> None:
        with Peer() as peer:

            async def read_forever() -> None:
                async with aio_adapter.ChannelClient(
                    new_channel(), peer.base_url, **client_options()
                ) as client:
                    while True:
                        await client.next_event()

            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(read_forever(), 0.2)
            await asyncio.sleep(0)
            assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(scenario())


def test_a_trio_client_cancelled_from_outside_leaves_nothing_running() -> None:
    async def scenario() -> None:
        with Peer() as peer:
            with trio.move_on_after(0.2) as scope:
                async with trio_adapter.ChannelClient(
                    new_channel(), peer.base_url, **client_options()
                ) as client:
                    while True:
                        await client.next_event()
            assert scope.cancelled_caught

    trio.run(scenario)


def test_a_blocking_client_polled_with_no_time_left_keeps_its_connection() -> None:
    """A timeout already over made the socket non-blocking; an empty read then raised
    BlockingIOError, taken for a lost connection."""
    driver = SyncDriver()

    async def scenario() -> None:
        with Peer() as peer:
            async with driver.client(new_channel(), peer.base_url, **client_options()) as client:
                await until_open(client)
                inner = client.inner
                assert inner._socket is not None
                # The window is a few microseconds inside next_event(timeout): hit it directly.
                assert inner._socket.poll(time.monotonic() - 1.0) == []
                with pytest.raises(TimeoutError):
                    inner.next_event(timeout=0.001)
                transfer = await client.transfer(PEER, 3)
                assert isinstance(transfer, OperationAccepted)
                assert transfer.round == 2
                assert inner._socket is not None  # never dropped: no reconnect happened

    driver.run(scenario)
