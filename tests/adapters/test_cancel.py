"""A cancelled verb stops the wait, not the operation (docs/adapters.md, "Cancelling a verb").

The command has left by the time the verb awaits its outcome, so the node carries the update
out, the policy signs it, and its outcome comes as an event like any other.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import trio

from sansio_channels.adapters import Settings
from sansio_channels.adapters import asyncio as aio_adapter
from sansio_channels.adapters import trio as trio_adapter
from sansio_channels.commands import Transfer
from sansio_channels.events import OperationAccepted, StateChanged
from sansio_channels.options import Role
from sansio_channels.state import ChannelState

from .simulated import AMOUNT, INITIATOR, RESPONDER, SimulatedNode, open_options

SETTINGS: Final = Settings(open_timeout=2.0, close_timeout=1.0)
AMOUNT_PAID: Final = 7


def _check(accepted: OperationAccepted, client: Any) -> None:
    assert isinstance(accepted.operation.command, Transfer)
    assert accepted.operation.command.amount == AMOUNT_PAID
    assert accepted.round == 2
    balances = client.record().balances
    assert balances[RESPONDER.address] == AMOUNT + AMOUNT_PAID


async def _opened(client: Any) -> None:
    async for event in client:
        if isinstance(event, StateChanged) and event.state is ChannelState.OPEN:
            return


async def _accepted(client: Any) -> OperationAccepted:
    async for event in client:
        if isinstance(event, OperationAccepted):
            return event
    raise AssertionError("the stream ended before the transfer's outcome")


def test_a_cancelled_asyncio_transfer_still_goes_through() -> None:
    async def scenario(node: SimulatedNode) -> None:
        options = open_options(Role.INITIATOR)
        async with aio_adapter.open_channel(
            node.base_url, options, network_id=node.network_id, signer=INITIATOR, settings=SETTINGS
        ) as client:
            await asyncio.wait_for(_opened(client), 10)
            task = asyncio.create_task(client.transfer(RESPONDER.address, AMOUNT_PAID))
            await asyncio.sleep(0)  # the task sends the update, then waits for its outcome
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert task.cancelled()
            _check(await asyncio.wait_for(_accepted(client), 10), client)

    with SimulatedNode() as node:
        asyncio.run(scenario(node))


def test_a_cancelled_trio_transfer_still_goes_through() -> None:
    async def scenario(node: SimulatedNode) -> None:
        options = open_options(Role.INITIATOR)
        async with trio_adapter.open_channel(
            node.base_url, options, network_id=node.network_id, signer=INITIATOR, settings=SETTINGS
        ) as client:
            with trio.fail_after(10):
                await _opened(client)
            with trio.CancelScope() as scope:
                scope.cancel()  # cancelled at the verb's first wait, after the send
                await client.transfer(RESPONDER.address, AMOUNT_PAID)
            assert scope.cancelled_caught
            with trio.fail_after(10):
                _check(await _accepted(client), client)

    with SimulatedNode() as node:
        trio.run(scenario, node)
