"""What the ledger does with states it cannot take: fetched states that are older, broken,
wrongly hashed or short of a signature; a co-signed state it never signed; a record whose
states' balances were not known."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from sansio_channels import commands as cmd
from sansio_channels import txs
from sansio_channels.channel import Channel
from sansio_channels.encoding import Id
from sansio_channels.errors import LocalProtocolError
from sansio_channels.events import CoSignedState, OffChainStateFetched
from sansio_channels.ledger import Participants
from sansio_channels.options import Role
from sansio_channels.record import ChannelRecord
from sansio_channels.signing_context import SigningContext
from sansio_channels.simulator.trees import state_trees_text
from sansio_channels.trees import accounts_state_hash

from .scripted_node import (
    INITIATOR,
    NETWORK,
    RESPONDER,
    feed,
    open_options,
    opened,
    sign_requests,
    transfer_through,
)

STRANGER = bytes([7]) * 32


def fetch(channel: Channel, result: dict[str, Any]) -> OffChainStateFetched:
    channel.submit(cmd.GetOffchainState())
    (query,) = channel.frames_to_send()
    events = feed(channel, {"jsonrpc": "2.0", "id": query["id"], "result": result})
    (fetched,) = [e for e in events if isinstance(e, OffChainStateFetched)]
    return fetched


def answer(signed: txs.SignedTx, balances: dict[bytes, int], **more: str) -> dict[str, Any]:
    return {"signed_tx": txs.encode_tx(signed), "trees": state_trees_text(balances), **more}


def test_a_fetched_state_older_than_our_latest_is_not_taken() -> None:
    channel, node = opened()
    first = dict(node.balances)
    assert node.create is not None
    transfer_through(channel, node, to_peer=True)
    fetched = fetch(channel, answer(node.co_signed(node.create), first))
    assert fetched.verified
    assert fetched.round == 1
    assert channel.ledger.latest is not None
    assert channel.ledger.latest.round == 2


def test_fetched_trees_that_do_not_decode() -> None:
    channel, node = opened()
    assert node.create is not None
    result = answer(node.co_signed(node.create), node.balances)
    result["trees"] = "ss_" + result["trees"][3:-8] + "AAAAAAAA"
    fetched = fetch(channel, result)
    assert not fetched.verified
    assert fetched.signed_tx is None


def test_fetched_trees_of_other_balances() -> None:
    channel, node = opened()
    assert node.create is not None
    other = {key: value + 1 for key, value in node.balances.items()}
    fetched = fetch(channel, answer(node.co_signed(node.create), other))
    assert (fetched.verified, fetched.detail) == (
        False,
        "the trees do not hash to the signed state's state hash",
    )


def test_a_fetched_state_the_peer_alone_signed() -> None:
    channel, node = opened()
    assert node.create is not None
    fetched = fetch(channel, answer(node.peer_signed(node.create), node.balances))
    assert (fetched.verified, fetched.detail) == (
        False,
        "the signed state lacks a valid signature of a participant",
    )


def test_a_verified_state_without_our_accounts_has_no_balances_for_us() -> None:
    channel, node = opened()
    strangers = {STRANGER: 5, bytes([8]) * 32: 6}
    tx = node.offchain(5, strangers)
    fetched = fetch(channel, answer(node.co_signed(tx), strangers))
    assert fetched.verified
    latest = channel.ledger.latest
    assert latest is not None
    assert (latest.round, latest.state) == (5, None)


def test_a_half_signed_tx_that_does_not_decode_is_not_ours_in_flight() -> None:
    channel, node = opened()
    channel.submit(cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1))
    channel.frames_to_send()
    tx, updates = node.transfer(1, to_peer=True)
    (request,) = sign_requests(
        feed(
            channel,
            node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates),
        )
    )
    request.sign(node.ours)
    channel.frames_to_send()
    assert channel.ledger.own_state_in_flight({"half_signed_tx": "tx_broken"}) is False
    assert channel.ledger.own_state_in_flight(
        {"half_signed_tx": txs.encode_tx(node.peer_signed(tx))}
    )


def test_a_co_signed_state_with_our_latest_round_and_hash_but_another_tx() -> None:
    # The checks know the round and state hash; the ledger takes only a tx it signed or holds.
    channel, node = opened()
    assert node.create is not None
    same = node.offchain(1, node.balances)
    assert same.state_hash == node.create.state_hash
    (state,) = [
        e for e in feed(channel, node.update(node.co_signed(same))) if isinstance(e, CoSignedState)
    ]
    assert state.checks.ok
    assert not state.accepted
    latest = channel.ledger.latest
    assert latest is not None
    assert latest.signed_tx == node.co_signed(node.create)


def test_a_record_whose_signed_ahead_balances_are_unknown() -> None:
    # Signed while stale, on a state signed elsewhere: kept, its balances not known.
    channel, node = opened()
    channel.connection_lost()
    channel.reconnect()
    feed(channel, node.info("fsm_up", fsm_id=channel.fsm_id))
    elsewhere, _ = node.transfer(7, to_peer=True)
    node.took(elsewhere)
    tx, updates = node.transfer(3, to_peer=False)
    (request,) = sign_requests(
        feed(channel, node.sign_request("update_ack", node.peer_signed(tx), updates))
    )
    request.sign(node.ours)
    record = channel.record()
    assert set(record.signed_ahead) == {3}
    assert record.signed_ahead_balances == {}
    restored = Channel.restore(ChannelRecord.from_json(record.to_json()))
    assert restored.ledger.signed_rounds[3].state is None
    assert restored.ledger.signed_rounds[3].inner == tx.serialize()


def test_a_signing_context_refuses_malformed_maps() -> None:
    ours = Id.account(INITIATOR.address)
    with pytest.raises(LocalProtocolError, match="signed_rounds"):
        SigningContext(network_id="n", role=Role.INITIATOR, account=ours, signed_rounds=[1])  # type: ignore[arg-type]
    bad: Any = {b"": {b"": 1}}
    with pytest.raises(LocalProtocolError, match="known_signers"):
        SigningContext(network_id="n", role=Role.INITIATOR, account=ours, known_signers=bad)


def test_a_context_of_the_ledger_names_its_participants_itself() -> None:
    channel, _node = opened()
    context = channel.signing_context()
    again = SigningContext.of_ledger(
        network_id=context.network_id,
        role=context.role,
        account=context.account,
        peer=context.peer,
        channel_id=context.channel_id,
        options=context.options,
        latest=context.latest,
        signed_rounds=dict(context.signed_rounds),
        pending=context.pending,
        known_signers=dict(context.known_signers),
        fee_policy=context.fee_policy,
        contracts=context.contracts,
    )
    assert again == context
    assert again.participants() == context.participants()
    assert {who.key for who in again.participants()} == {INITIATOR.public_key, RESPONDER.public_key}
    assert accounts_state_hash({STRANGER: 1}) != accounts_state_hash({STRANGER: 2})
    assert attrs.evolve(again, peer=None).participants()[0] == context.account


def test_participants_of_open_and_reestablish_options() -> None:
    options = open_options(Role.RESPONDER)
    responder = Participants.of(options, network_id=NETWORK, account=None)
    assert (responder.account, responder.peer) == (
        Id.account(RESPONDER.address),
        Id.account(INITIATOR.address),
    )
    anyone = Participants.of(
        attrs.evolve(options, initiator_id="any"), network_id=NETWORK, account=None
    )
    assert (anyone.account, anyone.peer) == (Id.account(RESPONDER.address), None)
    channel, _ = opened()
    assert channel.channel_id is not None
    assert channel.fsm_id is not None
    back = channel.options.reestablish(
        existing_channel_id=channel.channel_id, existing_fsm_id=channel.fsm_id
    )
    with pytest.raises(LocalProtocolError, match="account: required"):
        Channel(back, network_id=NETWORK)
    came_back = Participants.of(back, network_id=NETWORK, account=INITIATOR.address)
    assert (came_back.role, came_back.account, came_back.peer) == (
        Role.INITIATOR,
        Id.account(INITIATOR.address),
        None,
    )
