"""Each adapter as the initiator against the simulator's server: the peer posts an old state
on chain, and with no call from the application the client slashes, then settles."""

from __future__ import annotations

import pytest

from sansio_channels.adapters import Settings
from sansio_channels.channel import Channel
from sansio_channels.dispute import DisputeAction, DisputeActionDue, DisputePolicy
from sansio_channels.events import CoSignedState, Event
from sansio_channels.options import Role
from sansio_channels.state import ChannelState
from sansio_channels.txs import ChannelCloseSoloTx, ChannelSettleTx, ChannelSlashTx

from .drivers import DRIVERS, Driver
from .simulated import AMOUNT, INITIATOR, SimulatedNode, open_options
from .test_adapters import drain, until, until_open

SETTINGS = Settings(open_timeout=2.0, close_timeout=1.0)
LOCK = 5  # the lock period of the simulated channel (open_options)


@pytest.fixture(params=DRIVERS, ids=lambda driver: driver.name)
def driver(request: pytest.FixtureRequest) -> Driver:
    chosen: Driver = request.param
    return chosen


def test_the_client_slashes_an_old_state_and_settles_by_itself(driver: Driver) -> None:
    async def scenario() -> None:
        with SimulatedNode() as node:
            chain = node.sim.chain
            channel = Channel(open_options(Role.INITIATOR), network_id=node.network_id)
            options = {"signer": INITIATOR, "settings": SETTINGS}
            seen: list[Event] = []
            async with driver.client(channel, node.base_url, **options) as client:
                await until_open(client)
                node.pay_initiator((10, 20))  # the default policy signs payments to us
                while (await until(client, CoSignedState)).round != 3:
                    pass
                before, height = chain.balance(INITIATOR.public_key), chain.height
                node.post_old_state(2)  # the peer cheats; the application does nothing
                await drain(client, seen)  # the node closes the socket once the FSM stops
            assert channel.state is ChannelState.CLOSED
            mined = [(e.signed_tx.transaction, e.height - height) for e in chain.events]
            mined = [(tx, at) for tx, at in mined if at > 0]
            assert [type(tx) for tx, _ in mined] == [
                ChannelCloseSoloTx,
                ChannelSlashTx,
                ChannelSettleTx,
            ]
            (_, closed_at), (slash, slashed_at), (settle, settled_at) = mined
            assert slashed_at < closed_at + LOCK
            assert settled_at >= slashed_at + LOCK
            due = [e for e in seen if isinstance(e, DisputeActionDue)]
            assert [(e.action, e.operation is not None) for e in due] == [
                (DisputeAction.SLASH, True),
                (DisputeAction.SETTLE, True),
            ]
            paid = slash.fee + settle.fee  # type: ignore[attr-defined]
            assert chain.balance(INITIATOR.public_key) - before == AMOUNT + 30 - paid

    driver.run(scenario)


def test_turned_off_the_client_reports_the_old_state_and_sends_nothing(driver: Driver) -> None:
    async def scenario() -> None:
        with SimulatedNode() as node:
            channel = Channel(
                open_options(Role.INITIATOR),
                network_id=node.network_id,
                dispute=DisputePolicy.off(),
            )
            options = {"signer": INITIATOR, "settings": SETTINGS}
            async with driver.client(channel, node.base_url, **options) as client:
                await until_open(client)
                node.pay_initiator((10, 20))
                while (await until(client, CoSignedState)).round != 3:
                    pass
                sent = node.sent_by("initiator")
                assert sent > 0  # the open's and the transfers' frames are counted
                node.post_old_state(2)
                due = await until(client, DisputeActionDue)
                assert (due.info, due.action, due.operation) == (
                    "can_slash",
                    DisputeAction.SLASH,
                    None,
                )
                await client.sleep(0.5)  # time for a slash to leave, were one sent
                assert node.sent_by("initiator") == sent
                assert channel.state is ChannelState.SOLO_CLOSING
            assert [type(e.signed_tx.transaction) for e in node.sim.chain.events][-1:] == [
                ChannelCloseSoloTx
            ]

    driver.run(scenario)
