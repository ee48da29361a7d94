"""Open, transfer, deposit, withdraw and mutual close, in memory against the simulator."""

from __future__ import annotations

from sansio_channels.commands import Deposit, GetBalances, Shutdown, Transfer, Withdraw
from sansio_channels.events import OnChainTx, OperationAccepted, QueryResult, SignRequest
from sansio_channels.simulator.harness import Pair
from sansio_channels.state import ChannelState
from sansio_channels.txs import ChannelCloseMutualTx, ChannelCreateTx

from .conftest import balances, names

AMOUNT = 10**18


def test_open_reports_what_a_node_reports() -> None:
    pair = Pair.open(push_amount=7)
    pair.run()
    assert names(pair.initiator) == [
        "fsm_up",
        "channel_accept",
        "sign:initiator_sign",
        "funding_signed",
        "on_chain:funding_signed",
        "on_chain:channel_changed",
        "own_funding_locked",
        "funding_locked",
        "open",
        "update",
    ]
    assert names(pair.responder) == [
        "fsm_up",
        "channel_open",
        "funding_created",
        "sign:responder_sign",
        "on_chain:funding_created",
        "on_chain:channel_changed",
        "own_funding_locked",
        "funding_locked",
        "open",
        "update",
    ]
    for side in pair.participants:
        assert side.channel.state is ChannelState.OPEN
        assert balances(side) == {
            pair.initiator.address: AMOUNT - 7,
            pair.responder.address: AMOUNT + 7,
        }
    # The create tx is version 2, as today's chains need.
    (request,) = pair.initiator.events_of(SignRequest)
    assert isinstance(request.signed_tx.transaction, ChannelCreateTx)


def test_transfer_both_ways(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=10))
    pair.run()
    assert names(i) == ["sign:update", "update", "OperationAccepted"]
    assert names(r) == ["update", "sign:update_ack", "update"]
    r.channel.submit(Transfer(from_id=r.address, to_id=i.address, amount=3))
    pair.run()
    for side in pair.participants:
        assert balances(side) == {i.address: AMOUNT - 7, r.address: AMOUNT + 7}
    assert r.events_of(OperationAccepted)[-1].round == 3


def test_deposit_and_withdraw(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    total = pair.sim.chain.total()
    i.channel.submit(Deposit(amount=100))
    pair.run()
    assert names(i) == [
        "sign:deposit_tx",
        "on_chain:deposit_signed",
        "on_chain:channel_changed",
        "own_deposit_locked",
        "deposit_locked",
        "update",
        "OperationAccepted",
    ]
    assert names(r) == [
        "deposit_created",
        "sign:deposit_ack",
        "on_chain:deposit_created",
        "on_chain:channel_changed",
        "own_deposit_locked",
        "deposit_locked",
        "update",
    ]
    r.channel.submit(Withdraw(amount=40))
    pair.run()
    assert "withdraw_created" in names(i)
    for side in pair.participants:
        assert balances(side) == {i.address: AMOUNT + 100, r.address: AMOUNT - 40}
    assert pair.sim.chain.total() == total  # fees are burnt, nothing is made or lost


def test_queries(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    i.channel.submit(GetBalances(accounts=(i.address, r.address)))
    pair.run()
    (answer,) = i.events_of(QueryResult)
    assert answer.result == [
        {"account": i.address, "balance": AMOUNT},
        {"account": r.address, "balance": AMOUNT},
    ]


def test_mutual_close_pays_the_fee_from_both_sides(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    chain = pair.sim.chain
    before = {side.address: chain.balance(side.keys.public_key) for side in pair.participants}
    i.channel.submit(Shutdown())
    pair.run()
    assert names(i) == [
        "sign:shutdown_sign",
        "on_chain:close_mutual",
        "OperationAccepted",
        "closing",
        "on_chain:channel_closed",
        "closed_confirmed",
        "died",
    ]
    assert names(r) == [
        "shutdown",
        "sign:shutdown_sign_ack",
        "on_chain:close_mutual",
        "closing",
        "on_chain:channel_closed",
        "closed_confirmed",
        "died",
    ]
    close = i.events_of(OnChainTx)[0].signed_tx
    assert close is not None
    assert isinstance(close.transaction, ChannelCloseMutualTx)
    fee = close.transaction.fee
    paid = {
        side.address: before[side.address] + AMOUNT - chain.balance(side.keys.public_key)
        for side in pair.participants
    }
    assert paid == {i.address: (fee + 1) // 2, r.address: fee // 2}
    assert all(side.channel.state is ChannelState.CLOSED for side in pair.participants)
    assert all(side.connection is None for side in pair.participants)
