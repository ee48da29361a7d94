"""The hub runner against the simulator on loopback: a channel opened by one hub is taken by
the next once the first lets go; a hub whose lease was taken stops driving the channel; an
open that can never finish is marked and reported once; one whose create tx we signed is
never given up on a refusal, only tried again (in doubt) until the node takes it back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sansio_channels.adapters._common import Settings
from sansio_channels.adapters.asyncio import ChannelClient
from sansio_channels.adapters.hub import ChannelStopped, Hub, OpenAbandoned, OpenInDoubt
from sansio_channels.channel import Channel
from sansio_channels.events import (
    Event,
    FsmUp,
    OffChainStateFetched,
    OperationAccepted,
    SignRequest,
)
from sansio_channels.options import Role
from sansio_channels.record import ChannelRecord
from sansio_channels.simulator import Simulator, harness
from sansio_channels.simulator.harness import Pair, keypair
from sansio_channels.simulator.server import SimulatorServer
from sansio_channels.state import ChannelState
from sansio_channels.store import RELEASED_EXPIRY, LeasingStore, SQLiteStore, record_key

from ..scripted_node import INITIATOR as SCRIPTED_INITIATOR
from ..scripted_node import NETWORK, ScriptedNode, ba, feed
from ..scripted_node import open_options as scripted_options
from .simulated import INITIATOR, RESPONDER, open_options

SETTINGS = Settings(ping_interval=None)
BOUND = 20.0  # a liveness bound, not a timing assertion


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), BOUND)


async def respond(base_url: str, channel: Channel) -> None:
    """The responder: signs every request, until the node closes its socket."""
    async with connect(channel.connect_url(base_url)) as socket:
        try:
            async for text in socket:
                assert isinstance(text, str)
                channel.receive_text(text)
                for event in channel.events():
                    if isinstance(event, SignRequest):
                        event.sign(RESPONDER, accept_failed_checks=True)
                for frame in channel.frames_to_send():
                    await socket.send(json.dumps(frame))
        except ConnectionClosed:
            pass


class Seen:
    """The events a hub handed to the application."""

    def __init__(self) -> None:
        self.events: list[tuple[ChannelClient | None, Event]] = []

    async def __call__(self, client: ChannelClient | None, event: Event) -> None:
        self.events.append((client, event))

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for _, event in self.events if isinstance(event, kind)]


async def hub_life(store: LeasingStore) -> None:
    sim = Simulator()
    async with SimulatorServer(sim, port=0) as server:
        url = server.url()
        responder = Channel(open_options(Role.RESPONDER), network_id=sim.network_id)
        peer = asyncio.ensure_future(respond(url, responder))
        first_seen = Seen()
        first = Hub(
            url,
            store,
            signer=INITIATOR,
            handler=first_seen,
            settings=SETTINGS,
            owner="first",
            lease_seconds=2.0,
            renew_every=0.1,
        )
        async with first:
            client = first.open(open_options(Role.INITIATOR), network_id=sim.network_id)
            await until(lambda: client.channel.state is ChannelState.OPEN)
            outcome = await asyncio.wait_for(client.transfer(RESPONDER.address, 10), BOUND)
            assert isinstance(outcome, OperationAccepted)
            key = record_key(client.record())
            held = store.lease(key)
            assert held is not None
            assert held.owner == "first"
            assert store.acquire(key, "thief", seconds=5) is None  # held and renewed
            # The hub renews its leases in one call: the expiry moves on, the token stays.
            await until(lambda: (store.lease(key) or held).expires > held.expires)
            assert (store.lease(key) or held).token == held.token
        # The first hub stopped: the lease is free at once, and the next hub takes the channel.
        second_seen = Seen()
        second = Hub(
            url,
            store,
            signer=INITIATOR,
            handler=second_seen,
            settings=SETTINGS,
            owner="second",
            lease_seconds=2.0,
            renew_every=0.1,
        )
        async with second:
            await until(lambda: bool(second.clients()))
            (resumed,) = second.clients()
            # Back on the node, with its latest state fetched and checked.
            await until(lambda: bool(second_seen.of(OffChainStateFetched)))
            outcome = await asyncio.wait_for(resumed.transfer(RESPONDER.address, 5), BOUND)
            assert isinstance(outcome, OperationAccepted)
            taken = store.lease(key)
            assert taken is not None
            assert taken.owner == "second"
            assert taken.token > held.token
            # The lease is taken from under the second hub (as after an expiry during a
            # partition): it stops driving the channel, saying so.
            store.release(taken)
            thief = store.acquire(key, "thief", seconds=60)
            assert thief is not None
            await until(lambda: bool(second_seen.of(ChannelStopped)))
            (stopped,) = second_seen.of(ChannelStopped)
            assert stopped.lease_lost
            assert stopped.key == key
            assert second.clients() == []
            record = store.load(key)
            assert record is not None
            assert record.latest_round == 3  # both transfers, and nothing after the theft
        peer.cancel()
        await asyncio.gather(peer, return_exceptions=True)


def test_hubs_hand_a_channel_over_and_one_that_lost_its_lease_stops(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "hub.sqlite3") as store:
        asyncio.run(hub_life(store))


def test_hubs_on_postgres(postgres_url: str) -> None:
    from sansio_channels.postgres import PostgresStore

    with PostgresStore(postgres_url) as store:
        asyncio.run(hub_life(store))


def idle_hub(store: LeasingStore, seen: Seen) -> Hub:
    """A hub with no node behind it: it only scans the store for channels it can lease."""
    return Hub(
        "ws://127.0.0.1:9/channel",
        store,
        signer=SCRIPTED_INITIATOR,
        handler=seen,
        settings=SETTINGS,
        lease_seconds=1.0,
    )


async def abandon(store: LeasingStore) -> list[OpenAbandoned]:
    seen = Seen()
    hub = idle_hub(store, seen)
    async with hub:
        await until(lambda: bool(seen.of(OpenAbandoned)))
        await asyncio.sleep(0.05)  # a second scan reports nothing more
        hub.scan()
    return seen.of(OpenAbandoned)


def test_an_open_that_cannot_finish_is_marked_and_reported_once(tmp_path: Path) -> None:
    # An opener that died after fsm_up, before any create tx was signed: its lease is free.
    channel = Channel(scripted_options(Role.INITIATOR), network_id=NETWORK)
    feed(channel, ScriptedNode(role=Role.INITIATOR).info("fsm_up", fsm_id=ba(7)))
    record = channel.record()
    assert not record.resumable
    with SQLiteStore(tmp_path / "hub.sqlite3") as store:
        store.save(record)
        (abandoned,) = asyncio.run(abandon(store))
        assert abandoned.key == record_key(record)
        assert abandoned.reason.startswith("the open stopped")
        kept = store.load(record_key(record))
        assert kept is not None
        assert kept.abandoned == abandoned.reason
        assert not kept.resumable
        # An opener that is alive holds the lease: its record is left alone.
        other = attrs.evolve(record, fsm_id=ba(8))
        store.save(other)
        assert store.acquire(record_key(other), "opener", seconds=60) is not None
        assert asyncio.run(abandon_nothing(store)) == []
        assert store.load(record_key(other)) == other


async def abandon_nothing(store: LeasingStore) -> list[OpenAbandoned]:
    seen = Seen()
    async with idle_hub(store, seen):
        await asyncio.sleep(0.1)
    return seen.of(OpenAbandoned)


@pytest.mark.parametrize("seconds", [0, -1])
def test_a_hub_needs_a_lease_time(tmp_path: Path, seconds: float) -> None:
    with (
        SQLiteStore(tmp_path / "hub.sqlite3") as store,
        pytest.raises(ValueError, match="lease_seconds"),
    ):
        Hub("ws://127.0.0.1:9/channel", store, signer=INITIATOR, lease_seconds=seconds)


class Unreachable:
    """A store whose renewals fail while ``cut`` (a partition from it); the rest passes on."""

    def __init__(self, store: LeasingStore) -> None:
        self.store = store
        self.cut = False

    def renew_many(self, leases: Any, *, seconds: float) -> Any:
        if self.cut:
            raise OSError("the store is unreachable")
        return self.store.renew_many(leases, seconds=seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def cut_off(store: LeasingStore) -> None:
    sim = Simulator()
    async with SimulatorServer(sim, port=0) as server:
        url = server.url()
        responder = Channel(open_options(Role.RESPONDER), network_id=sim.network_id)
        peer = asyncio.ensure_future(respond(url, responder))
        seen = Seen()
        partitioned = Unreachable(store)
        hub = Hub(
            url,
            partitioned,
            signer=INITIATOR,
            handler=seen,
            settings=SETTINGS,
            owner="cut off",
            lease_seconds=0.5,
            renew_every=0.05,
        )
        async with hub:
            client = hub.open(open_options(Role.INITIATOR), network_id=sim.network_id)
            await until(lambda: client.channel.state is ChannelState.OPEN)
            await asyncio.sleep(0.2)
            assert hub.clients() == [client]  # renewed all along
            partitioned.cut = True
            await until(lambda: bool(seen.of(ChannelStopped)))
            (stopped,) = seen.of(ChannelStopped)
            assert stopped.lease_lost  # another hub may hold it by now
            assert stopped.reason.startswith("lease not renewed for 0.5 s")
            assert "unreachable" in stopped.reason
            assert hub.clients() == []
        peer.cancel()
        await asyncio.gather(peer, return_exceptions=True)


def test_a_hub_cut_off_from_its_store_stops_its_channels_once_a_lease_could_have_run_out(
    tmp_path: Path,
) -> None:
    with SQLiteStore(tmp_path / "hub.sqlite3") as store:
        asyncio.run(cut_off(store))


def signed_the_create_tx_and_died(now: float) -> tuple[Pair, list[SignRequest], ChannelRecord]:
    """Our client signed the create tx, its record was saved, and it died; the responder's
    client has not signed yet (its sign request is held). The node's FSM runs on in the
    open, but knows the channel by its id only from funding_signed on."""
    sim = Simulator(now=now)  # a server runs the simulator on the loop's clock
    pair = Pair.open(sim=sim)
    pair.now = now
    held: list[SignRequest] = []
    pair.responder.intercept = held.append
    pair.run()
    record = pair.initiator.channel.record()
    assert record.signed_create_tx() is not None
    assert record.channel_id is None
    pair.drop(pair.initiator)
    return pair, held, record


async def in_doubt(store: LeasingStore) -> None:
    loop = asyncio.get_running_loop()
    pair, held, record = signed_the_create_tx_and_died(loop.time())
    store.save(record)
    key = record_key(record)
    seen = Seen()
    async with SimulatorServer(pair.sim, port=0) as server:
        hub = Hub(
            server.url(),
            store,
            signer=pair.initiator.keys,
            handler=seen,
            settings=SETTINGS,
            lease_seconds=1.0,
            scan_every=0.02,
        )
        async with hub:
            await until(lambda: len(seen.of(ChannelStopped)) >= 3)  # refused, tried again
            (doubt,) = seen.of(OpenInDoubt)  # reported once
            assert doubt.key == key
            assert doubt.create_tx == record.signed_create_tx()
            assert doubt.channel_id == record.known_channel_id()
            assert "refused" in doubt.reason
            kept = store.load(key)
            assert kept is not None
            assert kept.abandoned is None
            assert kept.resumable
            # The responder signs: funding_signed reaches the FSM, the channel goes on chain,
            # and the hub's next try comes back to the FSM that ran on.
            pair.now = loop.time()
            held[0].sign(pair.responder.keys)
            pair.run()
            await until(lambda: bool(seen.of(FsmUp)))
            (up,) = seen.of(FsmUp)
            assert (up.fsm_id, up.reconnected) == (record.fsm_id, True)
            assert len(seen.of(OpenInDoubt)) == 1
            assert seen.of(OpenAbandoned) == []
            # A channel driven here is not given up, even on the application's word.
            assert not hub.give_up(key, "its create tx can no longer be included")


def test_an_open_refused_after_its_create_tx_was_signed_is_in_doubt_never_given_up(
    tmp_path: Path,
) -> None:
    with SQLiteStore(tmp_path / "hub.sqlite3") as store:
        asyncio.run(in_doubt(store))


async def give_up(store: LeasingStore) -> None:
    _, _, record = signed_the_create_tx_and_died(0.0)
    store.save(record)
    key = record_key(record)
    seen = Seen()
    hub = idle_hub(store, seen)  # not started: it only answers give_up
    held = store.acquire(key, "another hub", seconds=60)
    assert held is not None
    assert not hub.give_up(key, "its nonce was used by another tx")  # leased elsewhere
    store.release(held)
    with pytest.raises(ValueError, match="reason"):
        hub.give_up(key, " ")
    assert store.load(key) == record  # nothing changed
    assert hub.give_up(key, "its nonce was used by another tx")
    await until(lambda: bool(seen.of(OpenAbandoned)))
    (given_up,) = seen.of(OpenAbandoned)
    assert (given_up.key, given_up.reason) == (key, "its nonce was used by another tx")
    kept = store.load(key)
    assert kept is not None
    assert kept.abandoned == "its nonce was used by another tx"
    assert not kept.resumable
    assert not hub.give_up(key, "again")  # given up already


def test_the_application_gives_up_an_open_in_doubt_on_its_proof(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "hub.sqlite3") as store:
        asyncio.run(give_up(store))


def test_a_hub_closes_its_channels_all_at_once_and_releases_every_lease(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each close waits for the node's answer: a hub that closed its channels one after
    another would take that wait once a channel (seconds, with thousands). Here no close may
    finish before every one has begun, so a stop that closed them one by one never ends."""
    count = 4
    initiators = [keypair(f"hub stop initiator {n}") for n in range(count)]
    responders = [keypair(f"hub stop responder {n}") for n in range(count)]
    begun: set[ChannelClient] = set()
    everyone = asyncio.Event()
    close = ChannelClient.close

    async def close_together(client: ChannelClient) -> None:
        begun.add(client)
        if len(begun) == count:
            everyone.set()
        await everyone.wait()
        await close(client)

    async def life(store: LeasingStore) -> list[str]:
        sim = Simulator()
        played = {keys.address: keys for keys in responders}
        async with SimulatorServer(sim, port=0, peers=played) as server:
            hub = Hub(
                server.url(),
                store,
                signer={keys.address: keys for keys in initiators},
                settings=SETTINGS,
            )
            await hub.__aenter__()
            try:
                clients = [
                    hub.open(
                        harness.open_options(Role.INITIATOR, mine, theirs, amount=10**18),
                        network_id=sim.network_id,
                    )
                    for mine, theirs in zip(initiators, responders, strict=True)
                ]
                await until(lambda: all(c.channel.state is ChannelState.OPEN for c in clients))
                keys = [record_key(client.record()) for client in clients]
                monkeypatch.setattr(ChannelClient, "close", close_together)
                await asyncio.wait_for(hub.stop(), BOUND)
            finally:
                everyone.set()  # after a stop that failed the test too: let it end
                await hub.stop()
            assert hub.clients() == []
            return keys

    with SQLiteStore(tmp_path / "hub.sqlite3") as store:
        keys = asyncio.run(life(store))
        assert len(begun) == count
        for key in keys:  # the stop released every lease
            lease = store.lease(key)
            assert lease is not None
            assert lease.expires == RELEASED_EXPIRY
