"""The sign-request flow as values: the peer a tx names, and the modules moved out of the
channel, which receive values and never reach back into it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sansio_channels
from sansio_channels import txs
from sansio_channels.encoding import Id
from sansio_channels.options import Role
from sansio_channels.sign_requests import learnt_peer

from .scripted_node import INITIATOR, RESPONDER, ScriptedNode, opened

# The modules that hold jobs moved out of the channel: none of them imports it.
MOVED_OUT = ("sign_requests.py", "record.py", "node_requests.py", "co_signed.py", "reattach.py")


def test_the_create_tx_names_the_peer_of_either_role() -> None:
    create = txs.SignedTx(signatures=(), transaction=ScriptedNode(Role.RESPONDER).build_create())
    assert learnt_peer(create, Role.RESPONDER) == Id.account(INITIATOR.address)
    assert learnt_peer(create, Role.INITIATOR) == Id.account(RESPONDER.address)


def test_no_other_tx_names_a_peer() -> None:
    _, node = opened()
    update, _ = node.transfer(1, to_peer=True)
    assert learnt_peer(txs.SignedTx(signatures=(), transaction=update), Role.RESPONDER) is None


@pytest.mark.parametrize("name", MOVED_OUT)
def test_moved_out_modules_do_not_reach_back_into_the_channel(name: str) -> None:
    path = Path(sansio_channels.__file__).parent / name
    imported = {
        node.module
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
    }
    assert "channel" not in imported
    assert imported, "the module imports nothing: the check would pass on any file"
