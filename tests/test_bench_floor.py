"""bench/floor.py, the floor under the transfer ratios, does the work it stands for: it takes
real transfers to the node's balances, and refuses a wrong round, state hash or signature."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import nacl.exceptions
import pytest

from sansio_channels import crypto, txs
from tests.bench_modules import load
from tests.scripted_node import NETWORK, ScriptedNode, opened


@pytest.fixture(scope="module")
def floor() -> ModuleType:
    return load("floor")


def _own(node: ScriptedNode, tx: txs.ChannelOffChainTx, updates: Any) -> dict[str, Any]:
    return node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates)


def test_own_and_peer_transfers_reach_the_node_balances(floor: ModuleType) -> None:
    _, node = opened()
    state = floor._Floor(node)
    for to_peer in (True, True, False, True, False):
        tx, updates = node.transfer(1, to_peer=to_peer)
        if to_peer:
            state.request(1)
            reply = state.sign_request(_own(node, tx, updates), own=True)
        else:
            request = node.sign_request("update_ack", node.peer_signed(tx), updates)
            reply = state.sign_request(request, own=False)
        signed = txs.decode_signed_tx(reply["params"]["signed_tx"])
        assert signed.transaction == tx
        assert len(signed.signatures) == (1 if to_peer else 2)
        ours = node.ours.public_key
        assert any(crypto.verify(s, tx.serialize(), NETWORK, ours) for s in signed.signatures)
        state.co_signed(node.update(node.co_signed(tx)), own=to_peer)
        node.took(tx)
    assert state.round == node.round
    assert state.balances == node.balances


def _balances_after(node: ScriptedNode, amount: int) -> dict[bytes, int]:
    balances = dict(node.balances)
    balances[node.ours.public_key] -= amount
    balances[node.peer.public_key] += amount
    return balances


def test_a_wrong_state_hash_or_round_is_refused(floor: ModuleType) -> None:
    _, node = opened()
    state = floor._Floor(node)
    _, updates = node.transfer(1, to_peer=True)
    wrong_hash = node.offchain(node.round + 1, _balances_after(node, 2))
    wrong_round = node.offchain(node.round + 2, _balances_after(node, 1))
    state.request(1)
    with pytest.raises(ValueError, match="not the state our balances give"):
        state.sign_request(_own(node, wrong_hash, updates), own=True)
    with pytest.raises(ValueError, match="not the next round"):
        state.sign_request(_own(node, wrong_round, updates), own=True)
    tx, updates = node.transfer(1, to_peer=True)
    state.request(2)
    with pytest.raises(ValueError, match="not our transfer"):
        state.sign_request(_own(node, tx, updates), own=True)


def test_a_signature_not_the_peers_is_refused(floor: ModuleType) -> None:
    _, node = opened()
    state = floor._Floor(node)
    tx, updates = node.transfer(1, to_peer=False)
    request = node.sign_request("update_ack", node.peer_signed(tx, network="other"), updates)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        state.sign_request(request, own=False)


def test_a_co_signed_state_other_than_the_one_signed_is_refused(floor: ModuleType) -> None:
    _, node = opened()
    state = floor._Floor(node)
    tx, updates = node.transfer(1, to_peer=True)
    state.request(1)
    reply = state.sign_request(_own(node, tx, updates), own=True)
    other = node.offchain(node.round + 1, _balances_after(node, 2))
    with pytest.raises(ValueError, match="not the state we signed"):
        state.co_signed(node.update(node.co_signed(other)), own=True)
    ours = txs.decode_signed_tx(reply["params"]["signed_tx"])
    with pytest.raises(ValueError, match="not the state we signed"):
        state.co_signed(node.update(ours), own=True)  # the peer's signature missing
    with pytest.raises(nacl.exceptions.BadSignatureError):
        state.co_signed(node.update(crypto.sign(ours, node.peer, "other")), own=True)
    state.co_signed(node.update(crypto.sign(ours, node.peer, NETWORK)), own=True)
    assert state.round == node.round + 1
