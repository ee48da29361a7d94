"""Policies: the default one signs the routine, refuses what failed, asks about the rest."""

from __future__ import annotations

from typing import Any

import attrs

from sansio_channels import commands as cmd
from sansio_channels import crypto, txs
from sansio_channels.channel import Channel
from sansio_channels.events import Event, SignRequest
from sansio_channels.options import Role
from sansio_channels.policy import AskPolicy, Decision, DefaultPolicy, answer

from .scripted_node import NETWORK, ScriptedNode, ba, feed, open_options, opened, sign_requests


def peer_request(node: ScriptedNode, amount: int, *, to_us: bool) -> dict[str, Any]:
    tx, updates = node.transfer(amount, to_peer=not to_us)
    return node.sign_request("update_ack", node.peer_signed(tx), updates)


def the_request(events: list[Event]) -> SignRequest:
    (request,) = sign_requests(events)
    return request


def test_own_operation_and_payment_to_us_are_signed() -> None:
    channel, node = opened()
    policy = DefaultPolicy()
    account = node.ours.address
    request = the_request(feed(channel, peer_request(node, 4, to_us=True)))
    assert policy.decide(request, account) is Decision.SIGN
    assert answer(request, policy, node.ours)
    assert len(channel.frames_to_send()) == 1
    channel2, node2 = opened()
    channel2.submit(cmd.Transfer(from_id=node2.ours.address, to_id=node2.peer.address, amount=1))
    channel2.frames_to_send()
    tx, updates = node2.transfer(1, to_peer=True)
    own = the_request(
        feed(
            channel2,
            node2.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates),
        )
    )
    assert policy.decide(own, node2.ours.address) is Decision.SIGN


def test_paying_the_peer_is_asked_and_failed_checks_are_aborted() -> None:
    channel, node = opened()
    policy = DefaultPolicy()
    request = the_request(feed(channel, peer_request(node, 4, to_us=False)))
    assert policy.decide(request, node.ours.address) is Decision.ASK
    assert not answer(request, policy, node.ours)
    assert channel.frames_to_send() == []
    assert AskPolicy().decide(request, node.ours.address) is Decision.ASK
    # A forged peer signature fails the checks: the default policy refuses it.
    channel, node = opened()
    tx, updates = node.transfer(4, to_peer=False)
    forged = crypto.sign(
        txs.SignedTx(signatures=(), transaction=tx),
        crypto.KeyPair.from_secret(bytes([9]) * 32),
        NETWORK,
    )
    bad = the_request(feed(channel, node.sign_request("update_ack", forged, updates)))
    assert policy.decide(bad, node.ours.address) is Decision.ABORT
    assert answer(bad, policy, node.ours)
    (frame,) = channel.frames_to_send()
    assert frame["params"] == {"error": 1}


def test_a_check_that_could_not_be_made_is_asked_about() -> None:
    channel, node = opened()
    channel.connection_lost()
    channel.reconnect()
    feed(channel, node.info("fsm_up", fsm_id=channel.fsm_id))  # reattached: state may be stale
    request = the_request(feed(channel, peer_request(node, 4, to_us=True)))
    assert request.safe
    assert DefaultPolicy().decide(request, node.ours.address) is Decision.ASK
    lenient = attrs.evolve(DefaultPolicy(), require_all_checks=False)
    assert lenient.decide(request, node.ours.address) is Decision.SIGN


def test_the_create_tx_of_the_channel_we_open_is_signed() -> None:
    channel = Channel(open_options(Role.INITIATOR), network_id=NETWORK)
    node = ScriptedNode(role=Role.INITIATOR)
    create = node.build_create()
    events = feed(
        channel,
        node.info("fsm_up", fsm_id=ba(1)),
        node.sign_request("initiator_sign", txs.SignedTx(signatures=(), transaction=create)),
    )
    request = the_request(events)
    assert request.checks.not_checked == ()  # the create tx names the channel it opens
    assert DefaultPolicy().decide(request, node.ours.address) is Decision.SIGN
