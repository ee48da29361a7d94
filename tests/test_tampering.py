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
import pytest

from sansio_channels import commands as cmd
from sansio_channels import txs
from sansio_channels.channel import Channel
from sansio_channels.checks import Outcome
from sansio_channels.encoding import Id, IdTag
from sansio_channels.events import CoSignedState, Event, ProtocolViolation, SignRequest
from sansio_channels.fees import FeePolicy, least_fee
from sansio_channels.offchain import OffChainState
from sansio_channels.operations import Rule, field_rules
from sansio_channels.options import Role
from sansio_channels.policy import Decision, DefaultPolicy

from . import scripted_node
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


# --- fees the node chose ---------------------------------------------------------------------

AE = 10**18


@pytest.fixture
def rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """A channel of 10 + 5 AE: fees as real nodes charge them are a small part of it."""
    monkeypatch.setitem(scripted_node.AMOUNTS, "initiator", 10 * AE)
    monkeypatch.setitem(scripted_node.AMOUNTS, "responder", 5 * AE)


def own(channel: Channel, command: cmd.Command) -> None:
    channel.submit(command)
    channel.frames_to_send()
    list(channel.events())


def unsigned(tx: Any) -> txs.SignedTx:
    return txs.SignedTx(signatures=(), transaction=tx)


def offered(channel: Channel, frame: dict[str, Any]) -> SignRequest:
    (request,) = sign_requests(feed(channel, frame))
    return request


def refused_for_its_fee(node: ScriptedNode, request: SignRequest) -> None:
    """Only the fee check failed, and the default policy does not sign."""
    assert {c.name for c in request.checks.failed} == {"fee"}, request.checks
    assert "the most the fee policy allows" in request.checks.failed[0].detail
    assert DefaultPolicy().decide(request, node.ours.address) is Decision.ABORT


def signed_by_default(node: ScriptedNode, request: SignRequest) -> None:
    assert request.checks.ok, request.checks.failed
    assert DefaultPolicy().decide(request, node.ours.address) is Decision.SIGN


def funding_tx(node: ScriptedNode, kind: str, fee: int) -> tuple[Any, tuple[Any, ...]]:
    """The next round's deposit or withdrawal of 1 AE by us, its state hash right."""
    assert node.channel_id is not None
    balances = dict(node.balances)
    ours = Id.account(node.ours.address)
    balances[node.ours.public_key] += AE if kind == "deposit" else -AE
    fields: dict[str, Any] = {
        "channel_id": Id.from_api(node.channel_id),
        "amount": AE,
        "ttl": 0,
        "fee": fee,
        "state_hash": node.offchain(2, balances).state_hash,
        "round": 2,
        "nonce": 3,
    }
    if kind == "deposit":
        return txs.ChannelDepositTx(from_id=ours, **fields), (
            txs.OffChainDeposit(from_id=ours, amount=AE),
        )
    return txs.ChannelWithdrawTx(to_id=ours, **fields), (
        txs.OffChainWithdrawal(to_id=ours, amount=AE),
    )


@pytest.mark.usefixtures("rich")
@pytest.mark.parametrize("kind", ["deposit", "withdraw"])
def test_a_deposit_or_withdrawal_whose_fee_is_5_ae(kind: str) -> None:
    channel, node = opened()
    command = cmd.Deposit(amount=AE) if kind == "deposit" else cmd.Withdraw(amount=AE)
    own(channel, command)
    tx, updates = funding_tx(node, kind, 5 * AE)
    refused_for_its_fee(
        node, offered(channel, node.sign_request(f"{kind}_tx", unsigned(tx), updates))
    )


@pytest.mark.usefixtures("rich")
@pytest.mark.parametrize("kind", ["deposit", "withdraw"])
def test_a_deposit_or_withdrawal_priced_as_nodes_price_it(kind: str) -> None:
    channel, node = opened()
    own(channel, cmd.Deposit(amount=AE) if kind == "deposit" else cmd.Withdraw(amount=AE))
    tx, updates = funding_tx(node, kind, 0)
    tx = attrs.evolve(tx, fee=least_fee(tx))
    signed_by_default(
        node, offered(channel, node.sign_request(f"{kind}_tx", unsigned(tx), updates))
    )


def close_solo(channel: Channel, node: ScriptedNode, fee: int) -> txs.ChannelCloseSoloTx:
    assert node.channel_id is not None
    latest = channel.ledger.latest
    assert latest is not None
    return txs.ChannelCloseSoloTx(
        channel_id=Id.from_api(node.channel_id),
        from_id=Id.account(node.ours.address),
        payload=latest.signed_tx,
        poi=b"\x01\x02",
        ttl=0,
        fee=fee,
        nonce=4,
    )


@pytest.mark.usefixtures("rich")
def test_a_solo_close_whose_fee_is_5_ae() -> None:
    channel, node = opened()
    own(channel, cmd.CloseSolo())
    tx = close_solo(channel, node, 5 * AE)
    refused_for_its_fee(node, offered(channel, node.sign_request("close_solo_sign", unsigned(tx))))
    # The same solo close at the fee a node writes is signed.
    channel, node = opened()
    own(channel, cmd.CloseSolo())
    tx = close_solo(channel, node, 0)
    tx = attrs.evolve(tx, fee=least_fee(tx))
    request = offered(channel, node.sign_request("close_solo_sign", unsigned(tx)))
    assert request.checks.failed == ()
    assert {c.name for c in request.checks.not_checked} == {"poi"}
    assert DefaultPolicy().decide(request, node.ours.address) is Decision.SIGN


def close_mutual(node: ScriptedNode, fee: int, *, by_us: bool) -> txs.ChannelCloseMutualTx:
    """A mutual close paying ``fee``, the final amounts split the node's way."""
    assert node.channel_id is not None
    initiator, responder = scripted_node.INITIATOR.public_key, scripted_node.RESPONDER.public_key
    state = OffChainState(initiator=initiator, responder=responder, balances=node.balances)
    (amounts, *_) = sorted(state.close_mutual_amounts(fee) or ())
    return txs.ChannelCloseMutualTx(
        channel_id=Id.from_api(node.channel_id),
        from_id=Id.account((node.ours if by_us else node.peer).address),
        initiator_amount_final=amounts[0],
        responder_amount_final=amounts[1],
        ttl=0,
        fee=fee,
        nonce=5,
    )


@pytest.mark.usefixtures("rich")
@pytest.mark.parametrize("share", [1, 0.9], ids=["the whole channel", "90 % of the channel"])
@pytest.mark.parametrize("by_us", [True, False], ids=["shutdown_sign", "shutdown_sign_ack"])
def test_a_mutual_close_whose_fee_takes_the_channel(share: float, by_us: bool) -> None:
    channel, node = opened()
    fee = int(15 * AE * share)
    tx = close_mutual(node, fee, by_us=by_us)
    if share == 1:
        assert (tx.initiator_amount_final, tx.responder_amount_final) == (0, 0)
    if by_us:
        own(channel, cmd.Shutdown())
        frame = node.sign_request("shutdown_sign", unsigned(tx))
    else:
        frame = node.sign_request("shutdown_sign_ack", node.peer_signed(tx))
    request = offered(channel, frame)
    # The amounts are our balances less the fee as the node splits it: only the fee is wrong.
    assert request.checks.get("final_amounts").outcome is Outcome.PASSED  # type: ignore[union-attr]
    refused_for_its_fee(node, request)


@pytest.mark.usefixtures("rich")
@pytest.mark.parametrize("by_us", [True, False], ids=["shutdown_sign", "shutdown_sign_ack"])
def test_a_mutual_close_priced_as_nodes_price_it(by_us: bool) -> None:
    channel, node = opened()
    fee = least_fee(close_mutual(node, 0, by_us=by_us))
    tx = close_mutual(node, fee, by_us=by_us)
    if by_us:
        own(channel, cmd.Shutdown())
        request = offered(channel, node.sign_request("shutdown_sign", unsigned(tx)))
        signed_by_default(node, request)
    else:
        request = offered(channel, node.sign_request("shutdown_sign_ack", node.peer_signed(tx)))
        assert request.checks.ok, request.checks.failed
        # The peer's close is the application's to agree to: asked, not signed.
        assert DefaultPolicy().decide(request, node.ours.address) is Decision.ASK


@pytest.mark.usefixtures("rich")
def test_a_fee_policy_of_the_applications_own() -> None:
    # A stricter policy refuses what the default accepts: a fee at twice the minimum.
    tight = FeePolicy(fee_multiple=1)
    channel, node = opened()
    channel.fee_policy = tight
    own(channel, cmd.Deposit(amount=AE))
    tx, updates = funding_tx(node, "deposit", 0)
    tx = attrs.evolve(tx, fee=2 * least_fee(tx))
    refused_for_its_fee(
        node, offered(channel, node.sign_request("deposit_tx", unsigned(tx), updates))
    )


@pytest.mark.usefixtures("rich")
def test_a_fee_we_asked_for_must_be_ours_whatever_the_policy() -> None:
    channel, node = opened()
    own(channel, cmd.Deposit(amount=AE, fee=7 * 10**13))
    tx, updates = funding_tx(node, "deposit", 7 * 10**13 + 1)
    request = offered(channel, node.sign_request("deposit_tx", unsigned(tx), updates))
    (failed,) = request.checks.failed
    assert failed.name == "fee"
    assert failed.detail == f"fee is {7 * 10**13 + 1}, expected {7 * 10**13} (fee={7 * 10**13})"


# --- one field of each rule kind, changed in an own deposit ----------------------------------


@pytest.mark.usefixtures("rich")
@pytest.mark.parametrize(
    ("rule", "field", "value", "failed"),
    [
        (Rule.ASKED, "amount", 2 * AE, {"own_operation", "updates"}),
        (
            Rule.ASKED,
            "from_id",
            Id.account(scripted_node.RESPONDER.address),
            {"own_operation", "updates"},
        ),
        (Rule.STATE, "round", 5, {"round"}),
        (Rule.STATE, "state_hash", bytes(32), {"state_hash"}),
        (Rule.FEE_POLICY, "fee", 5 * AE, {"fee"}),
        (Rule.SHOWN, "ttl", 10**6, set()),
        (Rule.UNKNOWABLE, "nonce", 99, set()),
    ],
)
def test_a_field_of_each_rule_kind(rule: Rule, field: str, value: Any, failed: set[str]) -> None:
    assert field_rules("deposit_tx")[txs.ChannelDepositTx][field].rule is rule
    channel, node = opened()
    own(channel, cmd.Deposit(amount=AE))
    tx, updates = funding_tx(node, "deposit", 0)
    tx = attrs.evolve(tx, fee=least_fee(tx))
    tampered = attrs.evolve(tx, **{field: value})
    request = offered(channel, node.sign_request("deposit_tx", unsigned(tampered), updates))
    assert {c.name for c in request.checks.failed} == failed, request.checks.failed
    if failed:
        assert DefaultPolicy().decide(request, node.ours.address) is Decision.ABORT
    else:
        # Free or unknowable: signed as the node sent it, and the request shows it.
        assert getattr(request.signed_tx.transaction, field) == value
        assert DefaultPolicy().decide(request, node.ours.address) is Decision.SIGN


@pytest.mark.usefixtures("rich")
def test_a_nonce_we_asked_for_is_ours() -> None:
    channel, node = opened()
    own(channel, cmd.Deposit(amount=AE, nonce=3))
    tx, updates = funding_tx(node, "deposit", 0)
    tx = attrs.evolve(tx, fee=least_fee(attrs.evolve(tx, nonce=4)), nonce=4)
    request = offered(channel, node.sign_request("deposit_tx", unsigned(tx), updates))
    (failed,) = request.checks.failed
    assert (failed.name, failed.detail) == ("own_operation", "tx.nonce is 4, expected 3")


def test_a_reattach_where_nothing_happened_keeps_the_balances() -> None:
    # The state hash of our balances with the peer's update is the tx's: they are confirmed.
    channel, node = opened()
    channel.connection_lost()
    channel.reconnect()
    feed(channel, node.info("fsm_up", fsm_id=channel.fsm_id))
    assert channel.ledger.stale
    tx, updates = node.transfer(3, to_peer=False)
    frame = node.sign_request("update_ack", node.peer_signed(tx), updates)
    (request,) = sign_requests(feed(channel, frame))
    request.sign(node.ours)
    channel.frames_to_send()
    events = feed(channel, node.update(node.co_signed(tx)))
    (state,) = [e for e in events if isinstance(e, CoSignedState)]
    assert state.balances == {
        scripted_node.INITIATOR.address: node.balances[scripted_node.INITIATOR.public_key] + 3,
        scripted_node.RESPONDER.address: node.balances[scripted_node.RESPONDER.public_key] - 3,
    }
    assert not channel.ledger.stale
