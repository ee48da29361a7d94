"""A node that tampers with what it asks us to sign, one thing at a time.

Each request is built as a real node would build it, with one thing changed (and the state
hash recomputed where balances move, so that only a check of what we asked for, or of the
envelope, can tell). Each is refused at that frame: a FAILED check the default policy does not
sign, or a protocol violation that offers nothing for signing.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from sansio_channels.channel import Channel
from sansio_channels.encoding import Id, IdTag
from sansio_channels.events import CoSignedState, Event, ProtocolViolation
from sansio_channels.options import Role
from sansio_channels.policy import Decision, DefaultPolicy

from .scripted_node import ScriptedNode, feed, opened, sign_requests

OTHER_CHANNEL = Id(IdTag.CHANNEL, bytes(range(32))).api


def violations(events: list[Event]) -> list[ProtocolViolation]:
    return [event for event in events if isinstance(event, ProtocolViolation)]


def nothing_offered(channel: Channel, events: list[Event], says: str) -> None:
    """The frame was a protocol violation: no sign request, nothing pending, nothing sent."""
    assert sign_requests(events) == []
    (violation,) = violations(events)
    assert says in violation.reason, violation.reason
    assert channel.pending_sign_request is None
    assert channel.frames_to_send() == []


def peer_transfer(node: ScriptedNode, amount: int = 3) -> dict[str, Any]:
    tx, updates = node.transfer(amount, to_peer=False)
    return node.sign_request("update_ack", node.peer_signed(tx), updates)


# --- the envelope ----------------------------------------------------------------------------


def test_a_clean_request_is_offered() -> None:
    channel, node = opened()
    (request,) = sign_requests(feed(channel, peer_transfer(node)))
    assert request.checks.ok
    assert DefaultPolicy().decide(request, node.ours.address) is Decision.SIGN


def test_a_sign_request_whose_envelope_names_another_channel() -> None:
    # The tx inside is ours; only params.channel_id names another channel.
    channel, node = opened()
    frame = peer_transfer(node)
    frame["params"]["channel_id"] = OTHER_CHANNEL
    nothing_offered(channel, feed(channel, frame), f"names channel {OTHER_CHANNEL}, not ours")


def test_any_notification_naming_another_channel() -> None:
    channel, node = opened()
    frame = node.info("closing")
    frame["params"]["channel_id"] = OTHER_CHANNEL
    events = feed(channel, frame)
    (violation,) = violations(events)
    assert "not ours" in violation.reason
    assert channel.state.value == "open"  # nothing moved


def test_a_create_tx_for_another_channel_than_its_envelope() -> None:
    # The responder knows the channel id from the envelope of the funding; a create tx that
    # opens another channel (another nonce) disagrees with it.
    channel, node = opened(Role.RESPONDER)
    assert node.create is not None
    other = attrs.evolve(node.create, nonce=node.create.nonce + 1)
    frame = node.sign_request("responder_sign", node.peer_signed(other))
    nothing_offered(channel, feed(channel, frame), "its tx is for ch_")


def text_with_a_second(key: str, frame: dict[str, Any], value: Any) -> str:
    """The frame's JSON text with ``key`` (at the top, or in params) given twice."""
    text = json.dumps(frame)
    if key in frame:
        return text[:-1] + f", {json.dumps(key)}: {json.dumps(value)}}}"
    params = json.dumps(frame["params"])
    doubled = params[:-1] + f", {json.dumps(key)}: {json.dumps(value)}}}"
    return text.replace(params, doubled)


def test_a_duplicated_method_key() -> None:
    # A parser that keeps the last key would read a channels.info; the first says sign.
    channel, node = opened()
    text = text_with_a_second("method", peer_transfer(node), "channels.info")
    channel.receive_text(text)
    nothing_offered(channel, list(channel.events()), "the key 'method' appears twice")


def test_a_duplicated_data_key() -> None:
    channel, node = opened()
    frame = peer_transfer(node)
    other = dict(frame["params"]["data"], updates=[])
    channel.receive_text(text_with_a_second("data", frame, other))
    nothing_offered(channel, list(channel.events()), "the key 'data' appears twice")


def test_a_changed_version() -> None:
    channel, node = opened()
    frame = peer_transfer(node)
    frame["version"] = 2
    nothing_offered(channel, feed(channel, frame), "version: expected 1")


# --- the stale ledger after a reattach -------------------------------------------------------


def test_a_state_signed_elsewhere_while_we_were_away_leaves_our_balances_unknown() -> None:
    channel, node = opened()
    channel.connection_lost()
    channel.reconnect()
    feed(channel, node.info("fsm_up", fsm_id=channel.fsm_id))  # the same FSM: reattached
    assert channel.ledger.stale
    # Another client holding our key pays the peer 700 while we are away: round 2.
    elsewhere, _ = node.transfer(700, to_peer=True)
    node.took(elsewhere)
    # The peer's next update (round 3) pays us 3, on the balances of round 2.
    tx, updates = node.transfer(3, to_peer=False)
    (request,) = sign_requests(
        feed(channel, node.sign_request("update_ack", node.peer_signed(tx), updates))
    )
    assert request.checks.ok
    assert {c.name for c in request.checks.not_checked} >= {"round", "state_hash"}
    request.sign(node.ours)
    channel.frames_to_send()
    (state,) = [
        e for e in feed(channel, node.update(node.co_signed(tx))) if isinstance(e, CoSignedState)
    ]
    node.took(tx)
    assert state.accepted
    # The balances of round 3 follow from round 2's, which we never saw: they are not known,
    # and the record says so rather than report our stale balances moved by 3.
    assert state.balances is None
    assert channel.record().balances is None
    # The next honest request is not refused: what cannot be known is NOT_CHECKED.
    (honest,) = sign_requests(feed(channel, peer_transfer(node, 2)))
    assert honest.checks.ok, honest.checks.failed
    assert honest.checks.get("round") is not None
    assert honest.checks.get("round").outcome.value == "passed"  # type: ignore[union-attr]
    assert honest.checks.get("state_hash").outcome.value == "not checked"  # type: ignore[union-attr]
    assert DefaultPolicy().decide(honest, node.ours.address) is Decision.ASK
