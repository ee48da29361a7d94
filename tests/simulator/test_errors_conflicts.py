"""The node's refusals, aborts and conflicts (docs/protocol-notes.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sansio_channels import crypto, rpc
from sansio_channels.commands import Deposit, Transfer, Withdraw
from sansio_channels.events import (
    ChannelErrorReported,
    Conflict,
    FailureReason,
    NodeError,
    OperationFailed,
    SignRequest,
)
from sansio_channels.simulator.harness import Pair, Participant, keypair
from sansio_channels.transcript import EntryKind
from sansio_channels.txs import encode_tx

from .conftest import balances, names

AMOUNT = 10**18


def request(method: str, params: dict[str, Any], id_: int | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if id_ is not None:
        frame["id"] = id_
    return frame


def node_error(pair: Pair, side: Participant, frame: dict[str, Any]) -> tuple[int, ...]:
    side.clear()
    pair.send_raw(side, frame)
    pair.run()
    (error,) = side.events_of(NodeError)
    return (int(error.code), *(int(code) for code in error.data_codes))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"amount": 10**30}, (3, 1001)),  # more than the balance
        ({"amount": AMOUNT}, (3, 1001)),  # all of it: the reserve must stay
        ({"amount": -1}, (3, 1002)),
        ({"amount": "1"}, (3, 1008)),
        ({"amount": 1, "from": "ABCDEF"}, (3, 1005)),
        ({"amount": 1, "meta": 17}, (3, 1014)),
        ({"amount": 1, "to": keypair("nobody").address}, (3, 1003)),
        ({"from": None}, (-32601,)),  # a required param missing
    ],
)
def test_refused_transfers(pair: Pair, params: dict[str, Any], expected: tuple[int, ...]) -> None:
    i, r = pair.initiator, pair.responder
    full = {"from": i.address, "to": r.address, "amount": 1, **params}
    full = {key: value for key, value in full.items() if value is not None}
    assert node_error(pair, i, request("channels.update.new", full)) == expected
    assert balances(i) == {i.address: AMOUNT, r.address: AMOUNT}


def test_other_refusals(pair: Pair) -> None:
    i = pair.initiator
    # Aborting with no sign request pending: 1018, for both roles (can_not_abort_while_open).
    for side in pair.participants:
        assert node_error(pair, side, request("channels.update", {"error": 42})) == (3, 1018)
    assert node_error(pair, i, request("channels.no_such_method", {})) == (-32601,)
    assert node_error(pair, i, request("channels.deposit", {"amount": 0})) == (-32603,)
    assert node_error(pair, i, request("channels.update.new_contract", {})) == (-32603,)
    assert node_error(pair, i, request("channels.slash", {})) == (-32603,)  # not closing
    # A frame that is not JSON-RPC 2.0 is dropped without a word.
    i.clear()
    pair.send_raw(i, {"method": "channels.update.new", "params": {}})
    pair.run()
    assert i.events == []


def test_the_client_aborts_its_own_update(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    i.intercept = lambda req: req.abort(rpc.AbortCode.ABORT)
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=1))
    pair.run()
    assert names(i) == ["sign:update", "OperationFailed", "aborted_update"]
    assert i.events_of(OperationFailed)[0].reason is FailureReason.ABORTED
    assert names(r) == []


@pytest.mark.parametrize(
    ("command", "tag"),
    [
        (lambda i, r: Transfer(from_id=i, to_id=r, amount=1), "update_ack"),
        (lambda i, r: Deposit(amount=2), "deposit_ack"),
        (lambda i, r: Withdraw(amount=2), "withdraw_ack"),
    ],
)
def test_the_peer_aborts_its_ack(pair: Pair, command: Any, tag: str) -> None:
    i, r = pair.initiator, pair.responder
    r.intercept = lambda req: req.abort(147)
    i.channel.submit(command(i.address, r.address))
    pair.run()
    assert names(r)[-2:] == [f"sign:{tag}", "aborted_update"]
    (conflict,) = i.events_of(Conflict)
    assert (conflict.round, conflict.error_code, conflict.error_msg) == (1, 147, "user-defined")
    assert i.events_of(OperationFailed)[0].reason is FailureReason.CONFLICT
    assert balances(i) == {i.address: AMOUNT, r.address: AMOUNT}


def test_abort_after_signing_is_not_allowed(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=1))
    held: list[SignRequest] = []
    r.intercept = held.append
    pair.run()
    # The initiator signed; its update waits for the peer. Aborting now is too late.
    assert node_error(pair, i, request("channels.update", {"error": 42})) == (3, 1018)
    held[0].sign(r.keys)
    pair.run()
    assert balances(i) == {i.address: AMOUNT - 1, r.address: AMOUNT + 1}


@pytest.mark.parametrize("second", ["transfer", "deposit", "withdraw"])
def test_simultaneous_updates_conflict(pair: Pair, second: str) -> None:
    i, r = pair.initiator, pair.responder
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=1))
    r.channel.submit(
        {
            "transfer": Transfer(from_id=i.address, to_id=r.address, amount=2),
            "deposit": Deposit(amount=1),
            "withdraw": Withdraw(amount=1),
        }[second]
    )
    pair.run()
    for side in pair.participants:
        (conflict,) = side.events_of(Conflict)
        assert (conflict.round, conflict.error_code, conflict.error_msg) == (1, 2, "conflict")
        assert side.events_of(OperationFailed)[0].reason is FailureReason.CONFLICT
        assert balances(side) == {i.address: AMOUNT, r.address: AMOUNT}
    # The channel goes on afterwards.
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=5))
    pair.run()
    assert balances(r) == {i.address: AMOUNT - 5, r.address: AMOUNT + 5}


def test_one_side_signs_the_other_holds(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    held: list[SignRequest] = []
    r.intercept = held.append
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=1))
    r.channel.submit(Transfer(from_id=r.address, to_id=i.address, amount=2))
    pair.run()
    assert [len(side.events_of(Conflict)) for side in pair.participants] == [1, 1]


def test_a_new_request_while_an_ack_is_pending(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    r.intercept = lambda req: None  # holds the withdraw_ack
    i.channel.submit(Withdraw(amount=1))
    pair.run()
    r.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=2))
    pair.run()
    for side in pair.participants:
        assert [c.round for c in side.events_of(Conflict)] == [1]


def test_a_bad_signature_is_refused(pair: Pair) -> None:
    i, r = pair.initiator, pair.responder
    held: list[SignRequest] = []
    i.intercept = held.append
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=1))
    pair.run()
    forged = crypto.sign(held[0].signed_tx, keypair("mallory"), pair.sim.network_id)
    pair.send_raw(i, request("channels.update", {"signed_tx": encode_tx(forged)}))
    pair.run()
    assert [e.message for e in i.events_of(ChannelErrorReported)] == ["bad_signature"]
    (conflict,) = i.events_of(Conflict)
    assert (conflict.round, conflict.error_code) == (1, 1)
    assert names(r) == []


def test_a_request_postponed_past_its_connection_is_served_but_its_reply_is_not_sent_on() -> None:
    """The node answers the socket handler that made the call: a request
    postponed while its connection went away is still served (its sign request reaches the
    FSM's client now), but its "ok" goes to no later connection."""
    pair = Pair.open(timeouts={"sign": 20_000})
    pair.run()
    i, r = pair.initiator, pair.responder
    r.intercept = lambda sign_request: None  # the transfer's sign request is never answered
    r.channel.submit(Transfer(from_id=r.address, to_id=i.address, amount=1))
    pair.run()
    params = {"from": r.address, "to": i.address, "amount": 2}
    pair.send_raw(r, request("channels.update.new", params, id_=777))  # postponed
    pair.drop(r)
    pair.reconnect(r)
    pair.run()
    r.clear()
    before = len(pair.sim.entries)
    pair.advance(30)  # the sign timer rolls the transfer back; the node serves the request
    received = [
        json.loads(e.text)
        for e in pair.sim.entries[before:]
        if e.role == "responder" and e.kind is EntryKind.RECEIVED
    ]
    assert any(f.get("method") == "channels.sign.update" for f in received), received
    assert not any(f.get("id") == 777 for f in received), received
