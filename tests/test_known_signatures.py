"""Signatures known valid are not verified again, and nothing else is taken on trust.

The channel remembers, for each state it signs, our own signature and the peer's signatures
its request's checks verified; a co-signed state for that state then costs one verification
at most. These tests show that a signature not remembered is still verified, and that one
the checks refused is never remembered.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from sansio_channels import commands as cmd
from sansio_channels import txs
from sansio_channels.channel import Channel
from sansio_channels.crypto import KeyPair
from sansio_channels.encoding import Id
from sansio_channels.errors import LocalProtocolError
from sansio_channels.events import CoSignedState, SignRequest

from .scripted_node import NETWORK, ScriptedNode, feed, opened, sign_requests

STRANGER = KeyPair.from_secret(bytes([9]) * 32)
GARBAGE = bytes(range(64))


def _with(tx: Any, *signatures: bytes) -> txs.SignedTx:
    return txs.SignedTx(signatures=tuple(sorted(signatures)), transaction=tx)


def _signature(signer: KeyPair, tx: Any) -> bytes:
    return signer.sign_tx(tx.serialize(), NETWORK)


def _own_transfer_signed(channel: Channel, node: ScriptedNode) -> Any:
    channel.submit(cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=5))
    channel.frames_to_send()
    tx, updates = node.transfer(5, to_peer=True)
    unsigned = txs.SignedTx(signatures=(), transaction=tx)
    (request,) = sign_requests(feed(channel, node.sign_request("update", unsigned, updates)))
    request.sign(node.ours)
    channel.frames_to_send()
    return tx


def _ack_signed(channel: Channel, node: ScriptedNode, peer_signature: bytes) -> SignRequest:
    tx, updates = node.transfer(5, to_peer=False)
    frame = node.sign_request("update_ack", _with(tx, peer_signature), updates)
    (request,) = sign_requests(feed(channel, frame))
    return request


def _co_signed(channel: Channel, node: ScriptedNode, signed: txs.SignedTx) -> CoSignedState:
    (state,) = [e for e in feed(channel, node.update(signed)) if isinstance(e, CoSignedState)]
    return state


def test_own_transfer_remembers_our_signature_only() -> None:
    channel, node = opened()
    tx = _own_transfer_signed(channel, node)
    (signed_round,) = channel.ledger.signed_rounds.values()
    assert dict(signed_round.signers) == {_signature(node.ours, tx): channel.account}


@pytest.mark.parametrize("peer_signature", ["stranger", "garbage", "missing"])
def test_own_transfer_co_signed_without_a_valid_peer_signature(peer_signature: str) -> None:
    channel, node = opened()
    tx = _own_transfer_signed(channel, node)
    others = {
        "stranger": (_signature(STRANGER, tx),),
        "garbage": (GARBAGE,),
        "missing": (),
    }[peer_signature]
    state = _co_signed(channel, node, _with(tx, _signature(node.ours, tx), *others))
    assert not state.accepted
    assert state.checks.get("signatures") is not None
    assert not state.checks.ok


def test_own_transfer_co_signed_with_our_signature_replaced() -> None:
    channel, node = opened()
    tx = _own_transfer_signed(channel, node)
    state = _co_signed(channel, node, _with(tx, GARBAGE, _signature(node.peer, tx)))
    assert not state.accepted
    assert state.checks.failed


def test_own_transfer_co_signed_cleanly_is_taken() -> None:
    channel, node = opened()
    tx = _own_transfer_signed(channel, node)
    state = _co_signed(channel, node, node.co_signed(tx))
    assert state.accepted
    assert state.checks.signers == {
        _signature(node.ours, tx): channel.account,
        _signature(node.peer, tx): Id.account(node.peer.address),
    }


def test_ack_remembers_the_verified_peer_signature_and_ours() -> None:
    channel, node = opened()
    tx, _ = node.transfer(5, to_peer=False)
    peer = _signature(node.peer, tx)
    request = _ack_signed(channel, node, peer)
    assert request.checks.ok
    assert dict(request.checks.signers) == {peer: Id.account(node.peer.address)}
    request.sign(node.ours)
    (signed_round,) = channel.ledger.signed_rounds.values()
    assert dict(signed_round.signers) == {
        peer: Id.account(node.peer.address),
        _signature(node.ours, tx): channel.account,
    }
    assert _co_signed(channel, node, node.co_signed(tx)).accepted


def test_a_peer_signature_the_checks_refused_is_never_remembered() -> None:
    channel, node = opened()
    tx, _ = node.transfer(5, to_peer=False)
    request = _ack_signed(channel, node, _signature(STRANGER, tx))
    assert "signatures" in {c.name for c in request.checks.failed}
    assert dict(request.checks.signers) == {}
    request.sign(node.ours, accept_failed_checks=True)
    channel.frames_to_send()
    (signed_round,) = channel.ledger.signed_rounds.values()
    assert list(signed_round.signers.values()) == [channel.account]
    # The same stranger's signature on the co-signed state is verified again, and refused.
    state = _co_signed(
        channel, node, _with(tx, _signature(STRANGER, tx), _signature(node.ours, tx))
    )
    assert not state.accepted


@attrs.frozen
class _OtherSigner:
    """A signer that is not our KeyPair (a remote one, say): its signature is verified."""

    key: KeyPair
    signature: bytes | None = None

    @property
    def address(self) -> str:
        return self.key.address

    def sign_tx(self, tx_bytes: bytes, network_id: str) -> bytes:
        return self.signature or self.key.sign_tx(tx_bytes, network_id)


def test_another_signers_bad_signature_is_refused_and_nothing_is_sent() -> None:
    channel, node = opened()
    tx, _ = node.transfer(5, to_peer=False)
    request = _ack_signed(channel, node, _signature(node.peer, tx))
    with pytest.raises(LocalProtocolError, match="no valid signature"):
        request.sign(_OtherSigner(node.ours, GARBAGE))
    assert channel.frames_to_send() == []
    assert channel.ledger.signed_rounds == {}


def test_another_signers_good_signature_is_verified_then_remembered() -> None:
    channel, node = opened()
    tx, _ = node.transfer(5, to_peer=False)
    request = _ack_signed(channel, node, _signature(node.peer, tx))
    request.sign(_OtherSigner(node.ours))
    (signed_round,) = channel.ledger.signed_rounds.values()
    assert signed_round.signers[_signature(node.ours, tx)] == channel.account
    assert _co_signed(channel, node, node.co_signed(tx)).accepted


def test_a_context_refuses_known_signers_that_are_not_ids() -> None:
    channel, _ = opened()
    context = channel.signing_context()
    with pytest.raises(LocalProtocolError, match="known_signers"):
        attrs.evolve(context, known_signers={b"tx": {GARBAGE: "ak_not_an_id"}})  # type: ignore[dict-item]
