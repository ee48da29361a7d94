"""Doctored sign requests and co-signed states: refused by the checks, never signed or taken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest

from sansio_channels import commands as cmd
from sansio_channels import crypto, txs
from sansio_channels.channel import Channel
from sansio_channels.crypto import KeyPair
from sansio_channels.encoding import Id, IdTag
from sansio_channels.errors import LocalProtocolError
from sansio_channels.events import CoSignedState, ProtocolViolation, SignRequest
from sansio_channels.options import Role

from .scripted_node import NETWORK, ScriptedNode, ba, feed, open_options, opened, sign_requests

STRANGER = KeyPair.from_secret(bytes([9]) * 32)


def refused(channel: Channel, request: SignRequest, *names: str) -> None:
    """The request failed exactly the named checks (among others) and cannot be signed."""
    failed = {check.name for check in request.checks.failed}
    assert set(names) <= failed, request.checks
    assert not request.safe
    with pytest.raises(LocalProtocolError, match="refusing to sign"):
        request.sign(crypto.KeyPair.from_secret(bytes([1]) * 32))
    assert channel.frames_to_send() == []


def peer_update(
    node: ScriptedNode,
    tx: Any,
    updates: tuple[Any, ...],
    signer: KeyPair | None = None,
    network: str = NETWORK,
) -> dict[str, Any]:
    signer = signer or node.peer
    signed = crypto.sign(txs.SignedTx(signatures=(), transaction=tx), signer, network)
    return node.sign_request("update_ack", signed, updates)


def own_request(channel: Channel, node: ScriptedNode, command: cmd.Command) -> None:
    channel.submit(command)
    channel.frames_to_send()
    list(channel.events())


def test_a_clean_peer_update_passes() -> None:
    channel, node = opened()
    tx, updates = node.transfer(3, to_peer=False)
    (request,) = sign_requests(feed(channel, peer_update(node, tx, updates)))
    assert request.safe, request.checks


def test_another_channel_id() -> None:
    # The envelope names our channel, the tx another: they disagree, nothing is offered.
    channel, node = opened()
    tx, updates = node.transfer(3, to_peer=False)
    tx = attrs.evolve(tx, channel_id=Id(IdTag.CHANNEL, bytes(32)))
    events = feed(channel, peer_update(node, tx, updates))
    assert sign_requests(events) == []
    (violation,) = [e for e in events if isinstance(e, ProtocolViolation)]
    assert "its tx is for ch_" in violation.reason
    assert channel.pending_sign_request is None
    assert channel.frames_to_send() == []


@pytest.mark.parametrize(
    ("field", "value", "check"),
    [("amount", 6, "own_operation"), ("to_id", STRANGER.address, "own_operation")],
)
def test_own_transfer_with_another_amount_or_recipient(field: str, value: Any, check: str) -> None:
    channel, node = opened()
    own_request(
        channel, node, cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=5)
    )
    tx, updates = node.transfer(5, to_peer=True)
    (update,) = updates
    changes: dict[str, Any] = {field: Id.account(value) if field == "to_id" else value}
    doctored = attrs.evolve(update, **changes)
    events = feed(
        channel,
        node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), (doctored,)),
    )
    (request,) = sign_requests(events)
    refused(channel, request, check)


def test_own_deposit_with_another_fee() -> None:
    channel, node = opened()
    own_request(channel, node, cmd.Deposit(amount=50, fee=30_000))
    balances = dict(node.balances)
    balances[node.ours.public_key] += 50
    assert node.channel_id is not None
    tx = txs.ChannelDepositTx(
        channel_id=Id.from_api(node.channel_id),
        from_id=Id.account(node.ours.address),
        amount=50,
        ttl=0,
        fee=99_999,
        state_hash=node.offchain(2, balances).state_hash,
        round=2,
        nonce=3,
    )
    update = txs.OffChainDeposit(from_id=Id.account(node.ours.address), amount=50)
    (request,) = sign_requests(
        feed(
            channel,
            node.sign_request("deposit_tx", txs.SignedTx(signatures=(), transaction=tx), (update,)),
        )
    )
    refused(channel, request, "fee")


def test_a_round_going_back() -> None:
    channel, node = opened()
    tx, updates = node.transfer(3, to_peer=False)
    tx = attrs.evolve(tx, round=1)
    (request,) = sign_requests(feed(channel, peer_update(node, tx, updates)))
    refused(channel, request, "round")


def test_a_second_different_state_for_a_signed_round() -> None:
    channel, node = opened()
    own_request(
        channel, node, cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=5)
    )
    tx, updates = node.transfer(5, to_peer=True)
    (request,) = sign_requests(
        feed(
            channel,
            node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates),
        )
    )
    request.sign(node.ours)
    channel.frames_to_send()
    # Before round 2 is co-signed, the node offers another round-2 state.
    other, other_updates = node.transfer(4, to_peer=False)
    (second,) = sign_requests(feed(channel, peer_update(node, other, other_updates)))
    refused(channel, second, "one_state_per_round")


@pytest.mark.parametrize(
    ("signer", "network"),
    [(STRANGER, NETWORK), (None, "ae_mainnet")],
    ids=["forged peer signature", "another network id"],
)
def test_bad_peer_signatures(signer: KeyPair | None, network: str) -> None:
    channel, node = opened()
    tx, updates = node.transfer(3, to_peer=False)
    (request,) = sign_requests(feed(channel, peer_update(node, tx, updates, signer, network)))
    refused(channel, request, "signatures")


def test_a_doctored_peer_update_amount_against_the_state_hash() -> None:
    channel, node = opened()
    tx, (update,) = node.transfer(3, to_peer=False)
    # The updates now say 1, but the signed state moves 3: we would sign more than we see.
    events = feed(channel, peer_update(node, tx, (attrs.evolve(update, amount=1),)))
    (request,) = sign_requests(events)
    refused(channel, request, "state_hash")


def test_a_doctored_create_tx_amount() -> None:
    channel = Channel(open_options(Role.RESPONDER), network_id=NETWORK)
    node = ScriptedNode(role=Role.RESPONDER)
    create = node.build_create(initiator_amount=2_000_000)
    node.channel_id = crypto.channel_id(create).api
    events = feed(
        channel,
        node.info("fsm_up", fsm_id=ba(3)),
        node.info("channel_open"),
        node.sign_request("responder_sign", node.peer_signed(create)),
    )
    (request,) = sign_requests(events)
    # Its state hash agrees with its own amounts, not with the balances we open with.
    refused(channel, request, "open_options", "state_hash")


def co_signed_after_signing(
    doctor: Callable[[ScriptedNode, Any], Any],
) -> tuple[Channel, list[CoSignedState], int]:
    channel, node = opened()
    own_request(
        channel, node, cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=5)
    )
    tx, updates = node.transfer(5, to_peer=True)
    (request,) = sign_requests(
        feed(
            channel,
            node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates),
        )
    )
    request.sign(node.ours)
    channel.frames_to_send()
    before = channel.ledger.latest
    assert before is not None
    events = feed(channel, node.update(doctor(node, tx)))
    return channel, [e for e in events if isinstance(e, CoSignedState)], before.round


def test_a_co_signed_state_we_did_not_sign_is_not_taken() -> None:
    def another_state(node: ScriptedNode, tx: Any) -> Any:
        other, _ = node.transfer(50, to_peer=True)
        return node.co_signed(other)  # both signatures valid, but not what we signed

    channel, (state,), round_before = co_signed_after_signing(another_state)
    assert not state.accepted
    assert channel.ledger.latest is not None
    assert channel.ledger.latest.round == round_before


def test_a_co_signed_state_with_a_bad_peer_signature_is_not_taken() -> None:
    def forged(node: ScriptedNode, tx: Any) -> Any:
        signed = crypto.sign(txs.SignedTx(signatures=(), transaction=tx), node.ours, NETWORK)
        return crypto.sign(signed, STRANGER, NETWORK)

    channel, (state,), round_before = co_signed_after_signing(forged)
    assert not state.accepted
    assert state.checks.failed
    assert channel.ledger.latest is not None
    assert channel.ledger.latest.round == round_before
