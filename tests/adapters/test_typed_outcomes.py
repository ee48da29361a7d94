"""The verbs give what a user reads: an update's outcome, or a query's answer."""

from __future__ import annotations

import threading

import pytest

from sansio_channels.adapters import sync
from sansio_channels.cli.demo import ServerThread, options
from sansio_channels.commands import GetBalances
from sansio_channels.errors import RemoteProtocolError
from sansio_channels.events import Operation, OperationAccepted, QueryResult
from sansio_channels.options import Role
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import keypair
from sansio_channels.state import ChannelState

AMOUNT = 10**18  # each side's funds in the demo's options


def test_update_verbs_give_done_and_queries_their_answer() -> None:
    alice, bob = keypair("alice"), keypair("bob")
    sim = Simulator()
    stop = threading.Event()
    with (
        ServerThread(sim, None) as server,
        sync.open_channel(
            server.url, options(Role.RESPONDER, alice, bob), network_id=sim.network_id, signer=bob
        ) as responder,
        sync.open_channel(
            server.url, options(Role.INITIATOR, alice, bob), network_id=sim.network_id, signer=alice
        ) as initiator,
    ):
        # A blocking client does its I/O only inside its calls: the responder gets a thread.
        def serve() -> None:
            while not stop.is_set():
                responder.poll(0.01)

        peer = threading.Thread(target=serve)
        peer.start()
        try:
            while initiator.channel.state is not ChannelState.OPEN:
                initiator.poll(0.01)
            done = initiator.transfer(bob.address, 7)
            assert isinstance(done, OperationAccepted)
            answer = initiator.get_balances()
            assert isinstance(answer, QueryResult)
            assert answer.balances == {alice.address: AMOUNT - 7, bob.address: AMOUNT + 7}
        finally:
            stop.set()
            peer.join()


@pytest.mark.parametrize(
    "result",
    [
        None,
        {"account": "ak_x", "balance": 1},
        [{"account": "ak_x"}],
        [{"balance": 1}],
        [{"account": "ak_x", "balance": "1"}],
        [{"account": "ak_x", "balance": True}],
        ["ak_x"],
    ],
)
def test_balances_refuses_what_is_not_a_balances_answer(result: object) -> None:
    operation = Operation(id=1, command=GetBalances(accounts=[keypair("x").address]))
    answer = QueryResult(operation=operation, result=result)  # type: ignore[arg-type]
    with pytest.raises(RemoteProtocolError, match="not a get_balances answer"):
        _ = answer.balances
