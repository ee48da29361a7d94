"""Hostile input: arbitrary JSON in any reachable state raises nothing and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import commands as cmd
from sansio_channels import txs
from sansio_channels.channel import Channel
from sansio_channels.events import ProtocolViolation
from sansio_channels.options import Role

from .scripted_node import NETWORK, ScriptedNode, ba, feed, open_options, opened

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["tx_", "ch_", "ak_", "ba_", "open", "fsm_up", "2.0"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)

METHODS = [
    "channels.info",
    "channels.update",
    "channels.leave",
    "channels.on_chain_tx",
    "channels.conflict",
    "channels.message",
    "channels.error",
    "channels.sign.update",
    "channels.sign.update_ack",
    "channels.sign.initiator_sign",
    "channels.sign.shutdown_sign",
    "channels.get.balances.reply",
    "channels.system.pong",
    "channels.nonsense",
]
DATA_KEYS = [
    "event",
    "fsm_id",
    "state",
    "signed_tx",
    "updates",
    "info",
    "tx",
    "type",
    "round",
    "error_code",
    "message",
]

frame_shaped = st.builds(
    lambda method, data, channel_id: {
        "jsonrpc": "2.0",
        "method": method,
        "params": {"channel_id": channel_id, "data": data},
        "version": 1,
    },
    st.sampled_from(METHODS),
    st.dictionaries(st.sampled_from(DATA_KEYS), json_values, max_size=4),
    st.none() | st.text(max_size=5),
)
replies = st.builds(
    lambda id_, body: {"jsonrpc": "2.0", "id": id_, **body},
    st.none() | st.integers(-3, 50) | st.text(max_size=3),
    st.dictionaries(st.sampled_from(["result", "error"]), json_values, min_size=1, max_size=2),
)
hostile = json_values | frame_shaped | replies


def fresh() -> Channel:
    return Channel(open_options(Role.INITIATOR), network_id=NETWORK)


def opening_with_sign_request() -> Channel:
    channel = fresh()
    node = ScriptedNode(role=Role.INITIATOR)
    create = node.build_create()
    feed(
        channel,
        node.info("fsm_up", fsm_id=ba(1)),
        node.sign_request("initiator_sign", txs.SignedTx(signatures=(), transaction=create)),
    )
    return channel


def open_channel() -> Channel:
    return opened()[0]


def open_with_own_operation() -> Channel:
    channel, node = opened()
    channel.submit(cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1))
    tx, updates = node.transfer(1, to_peer=True)
    feed(channel, node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates))
    channel.frames_to_send()
    return channel


def closed() -> Channel:
    channel, node = opened()
    feed(channel, node.info("closing"), node.info("closed_confirmed"), node.info("died"))
    return channel


STATES: dict[str, Callable[[], Channel]] = {
    "new": fresh,
    "opening, sign request pending": opening_with_sign_request,
    "open": open_channel,
    "open, own operation pending": open_with_own_operation,
    "closed": closed,
}


def snapshot(channel: Channel) -> tuple[Any, ...]:
    ledger = channel.ledger
    return (
        channel.state,
        channel.fsm_id,
        channel.channel_id,
        channel.peer,
        ledger.latest,
        dict(ledger.signed_rounds),
        ledger.stale,
        channel.pending_sign_request,
        channel.current_operation,
        channel.record(),
    )


@pytest.mark.parametrize("make", list(STATES.values()), ids=list(STATES))
@given(frames=st.lists(hostile, min_size=1, max_size=3))
def test_hostile_frames_raise_nothing_and_change_nothing(
    make: Callable[[], Channel], frames: list[Any]
) -> None:
    channel = make()
    for frame in frames:
        before = snapshot(channel)
        channel.receive_frame(frame)
        events = list(channel.events())  # must not raise
        if any(isinstance(event, ProtocolViolation) for event in events):
            assert snapshot(channel) == before
            assert all(isinstance(e, ProtocolViolation) or not _changes(e) for e in events)
        channel.frames_to_send()


def _changes(event: object) -> bool:
    # Events that would say something moved; after a violation none may come out.
    return type(event).__name__ in {"StateChanged", "OperationAccepted", "OperationFailed"}


@given(st.text(max_size=60))
def test_text_that_is_not_json_is_a_violation(text: str) -> None:
    channel = fresh()
    before = snapshot(channel)
    channel.receive_text(text)
    events = list(channel.events())
    assert snapshot(channel) == before
    if events:
        assert all(isinstance(e, ProtocolViolation) for e in events) or text.strip()
