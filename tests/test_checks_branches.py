"""Every way a check can end, each reached by a request built for it.

The recorded sessions and the tampering tests reach most outcomes; the rest are here: an own
operation with the wrong or an extra update, updates that disagree with the tx, a create tx
after the open or without open options, a close fee the channel cannot pay, a payload the
client cannot compare, signatures on a meta tx, and a check that crashes (the report fails
closed).
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from sansio_channels import checks
from sansio_channels.checks import (
    CheckReport,
    Outcome,
    PendingOperation,
    check_sign_request,
    derived_channel_id,
)
from sansio_channels.encoding import Id
from sansio_channels.fees import FeePolicy
from sansio_channels.operations import OperationKind
from sansio_channels.options import Role
from sansio_channels.signing_context import LatestState
from sansio_channels.txs import (
    ChannelCloseMutualTx,
    ChannelCloseSoloTx,
    GAMetaTx,
    OffChainDeposit,
    OffChainMeta,
    OffChainNewContract,
    SignedTx,
)

from .test_checks import (
    ALICE,
    BOB,
    CHANNEL,
    CO_SIGNED_2,
    CREATE,
    MALLORY,
    PAY_BOB,
    STATE_2,
    A,
    B,
    close_tx,
    context,
    deposit_tx,
    names,
    next_round,
    open_options_of,
    signed_by,
    transfer,
)

BOB_CTX = context(Role.RESPONDER)
ALICE_CTX = context(Role.INITIATOR)


def outcome(report: CheckReport, name: str) -> tuple[Outcome, str]:
    found = report.get(name)
    assert found is not None, report
    return found.outcome, found.detail


def own(kind: OperationKind, **values: Any) -> Any:
    return attrs.evolve(ALICE_CTX, pending=PendingOperation(kind=kind, **values))


def test_a_report_iterates_over_its_checks() -> None:
    report = check_sign_request(
        BOB_CTX, "update_ack", signed_by(next_round(PAY_BOB), ALICE), PAY_BOB
    )
    assert list(report) == list(report.checks)
    assert report.ok


def test_a_generalized_initiators_channel_id_waits_for_its_meta_tx() -> None:
    # A create tx with nonce 0 names its channel through the meta tx's auth data.
    assert derived_channel_id(signed_by(attrs.evolve(CREATE, nonce=0))) is None
    assert derived_channel_id(signed_by(next_round(PAY_BOB))) is None


def test_a_tx_for_a_channel_before_we_know_its_id() -> None:
    ctx = attrs.evolve(BOB_CTX, channel_id=None)
    report = check_sign_request(ctx, "update_ack", signed_by(next_round(PAY_BOB), ALICE), PAY_BOB)
    assert outcome(report, "channel_id") == (
        Outcome.NOT_CHECKED,
        f"the tx is for {CHANNEL}; our channel id is not known yet",
    )


def test_a_create_tx_without_open_options_to_compare() -> None:
    ctx = attrs.evolve(ALICE_CTX, options=None, latest=None, signed_rounds={}, channel_id=None)
    report = check_sign_request(ctx, "initiator_sign", signed_by(CREATE), ())
    assert outcome(report, "open_options")[0] is Outcome.NOT_CHECKED
    assert outcome(report, "state_hash") == (
        Outcome.NOT_CHECKED,
        "no open options to compute the first state from",
    )


def test_a_create_tx_after_the_open() -> None:
    report = check_sign_request(BOB_CTX, "responder_sign", signed_by(CREATE, ALICE), ())
    assert outcome(report, "round") == (
        Outcome.FAILED,
        "a create tx, but the channel already has a co-signed state",
    )


def test_a_create_tx_that_opens_a_channel_of_the_responder_with_itself() -> None:
    anyone = attrs.evolve(open_options_of(Role.RESPONDER), initiator_id="any")
    ctx = attrs.evolve(BOB_CTX, options=anyone, peer=None, latest=None, signed_rounds={})
    itself = attrs.evolve(CREATE, initiator_id=B)
    report = check_sign_request(ctx, "responder_sign", signed_by(itself, BOB), ())
    assert outcome(report, "state_hash") == (
        Outcome.FAILED,
        "the create tx opens a channel of the responder with itself",
    )


def test_an_own_operation_of_another_kind() -> None:
    ctx = own(OperationKind.TRANSFER, from_id=A, to_id=B, amount=5)
    report = check_sign_request(ctx, "deposit_tx", signed_by(deposit_tx(50, 300)), ())
    assert outcome(report, "own_operation") == (
        Outcome.FAILED,
        "we asked for a transfer, the node asks for deposit_tx",
    )


@pytest.mark.parametrize(
    "updates",
    [(), (*PAY_BOB, *PAY_BOB), (OffChainDeposit(from_id=A, amount=5),)],
    ids=["none", "two", "another kind"],
)
def test_an_own_update_with_a_wrong_or_an_extra_update(updates: tuple[Any, ...]) -> None:
    ctx = own(OperationKind.TRANSFER, from_id=A, to_id=B, amount=5)
    report = check_sign_request(ctx, "update", signed_by(next_round(PAY_BOB)), updates)
    result, detail = outcome(report, "own_operation")
    assert result is Outcome.FAILED
    assert detail.startswith("expected one OffChainTransfer update, got ")


def test_a_close_that_makes_an_update() -> None:
    balances = STATE_2.balances or {}
    tx = close_tx(ChannelCloseMutualTx, balances[A.key] - 501, balances[B.key] - 500, 1001)
    tx = attrs.evolve(tx, from_id=A)
    report = check_sign_request(
        own(OperationKind.SHUTDOWN), "shutdown_sign", signed_by(tx), PAY_BOB
    )
    assert outcome(report, "own_operation") == (
        Outcome.FAILED,
        "a shutdown makes no updates, got [OffChainTransfer]",
    )


def test_a_contract_create_whose_versions_we_left_to_the_node() -> None:
    # Versions we did not set are not compared; the code we set is.
    update = OffChainNewContract(
        owner_id=A, ct_version=0x70003, code=b"c", deposit=5, call_data=b"d"
    )
    ctx = own(OperationKind.NEW_CONTRACT, code=b"c", deposit=5, call_data=b"d")
    report = check_sign_request(ctx, "update", signed_by(next_round(PAY_BOB)), (update,))
    assert outcome(report, "own_operation")[0] is Outcome.PASSED
    ctx = own(OperationKind.NEW_CONTRACT, vm_version=7, abi_version=3, code=b"other")
    report = check_sign_request(ctx, "update", signed_by(next_round(PAY_BOB)), (update,))
    assert outcome(report, "own_operation") == (
        Outcome.FAILED,
        "update.code is 63, expected 6f74686572",
    )


def test_an_off_chain_tx_carrying_a_deposit() -> None:
    updates = (OffChainDeposit(from_id=A, amount=5),)
    report = check_sign_request(
        BOB_CTX, "update_ack", signed_by(next_round(PAY_BOB), ALICE), updates
    )
    assert outcome(report, "updates") == (
        Outcome.FAILED,
        "an off-chain tx cannot carry [OffChainDeposit]",
    )


def test_updates_that_do_not_match_the_deposit_tx() -> None:
    report = check_sign_request(
        ALICE_CTX, "deposit_ack", signed_by(deposit_tx(50, 300), BOB), PAY_BOB
    )
    assert outcome(report, "updates") == (
        Outcome.FAILED,
        "the updates [OffChainTransfer] do not match the channel_deposit_tx",
    )


def test_a_close_fee_the_channel_cannot_pay() -> None:
    total = sum((STATE_2.balances or {}).values())
    tx = attrs.evolve(close_tx(ChannelCloseMutualTx, 0, 0, total + 1), from_id=A)
    report = check_sign_request(own(OperationKind.SHUTDOWN), "shutdown_sign", signed_by(tx), ())
    result, detail = outcome(report, "final_amounts")
    assert result is Outcome.FAILED
    assert detail.endswith(f"cannot pay the fee {total + 1}")


def solo_close(payload: SignedTx | None) -> SignedTx:
    return signed_by(
        ChannelCloseSoloTx(
            channel_id=CHANNEL, from_id=A, payload=payload, poi=b"", ttl=0, fee=5, nonce=4
        )
    )


def test_a_payload_we_cannot_compare() -> None:
    unknown = LatestState(round=2, signed_tx=None, state=STATE_2)
    ctx = attrs.evolve(own(OperationKind.CLOSE_SOLO), latest=unknown)
    report = check_sign_request(ctx, "close_solo_sign", solo_close(CO_SIGNED_2), ())
    assert outcome(report, "payload") == (
        Outcome.NOT_CHECKED,
        "our latest co-signed state is not at hand",
    )


def test_an_empty_payload_after_an_off_chain_state() -> None:
    report = check_sign_request(
        own(OperationKind.CLOSE_SOLO), "close_solo_sign", solo_close(None), ()
    )
    result, detail = outcome(report, "payload")
    assert result is Outcome.NOT_CHECKED
    assert detail.startswith("empty: the node uses the latest state on chain; ours (round 2)")


def test_the_peers_signature_when_the_peer_is_not_known() -> None:
    ctx = attrs.evolve(BOB_CTX, peer=None, latest=None, signed_rounds={})
    report = check_sign_request(ctx, "update_ack", signed_by(next_round(PAY_BOB), MALLORY), PAY_BOB)
    assert outcome(report, "signatures")[0] is Outcome.FAILED
    report = check_sign_request(ctx, "update_ack", signed_by(next_round(PAY_BOB)), PAY_BOB)
    assert outcome(report, "signatures") == (
        Outcome.NOT_CHECKED,
        "the peer's account is not known",
    )


def meta(ga_id: Id, fee: int, *, gas: int = 10, gas_price: int = 10**9) -> GAMetaTx:
    inner = SignedTx(signatures=(), transaction=next_round(PAY_BOB))
    return GAMetaTx(
        ga_id=ga_id, auth_data=b"", abi_version=1, fee=fee, gas=gas, gas_price=gas_price, tx=inner
    )


def test_our_meta_tx_is_bounded_by_the_fee_policy() -> None:
    # Alice is a generalized account; the node offers her meta tx around the peer's update.
    fair = signed_by(meta(A, 10**14), BOB)
    report = check_sign_request(ALICE_CTX, "update_ack", fair, PAY_BOB)
    assert outcome(report, "fee")[0] is Outcome.PASSED
    dear = signed_by(meta(A, 10**18, gas=10**9, gas_price=10**12), BOB)
    report = check_sign_request(ALICE_CTX, "update_ack", dear, PAY_BOB)
    result, detail = outcome(report, "fee")
    assert result is Outcome.FAILED
    assert "the meta tx's fee is 1000000000000000000" in detail
    assert "the meta tx's gas price 1000000000000 is above 2000000000" in detail
    assert "the meta tx's gas is 1000000000000000000000" in detail
    # The peer's meta tx is the peer's own: its fee is shown, not bounded.
    theirs = signed_by(meta(B, 10**18))
    assert check_sign_request(ALICE_CTX, "update_ack", theirs, PAY_BOB).get("fee") is None


def test_an_absolute_max_fee() -> None:
    ctx = attrs.evolve(ALICE_CTX, fee_policy=FeePolicy(max_fee=10**13))
    report = check_sign_request(ctx, "update_ack", signed_by(meta(A, 2 * 10**13), BOB), PAY_BOB)
    result, detail = outcome(report, "fee")
    assert result is Outcome.FAILED
    assert detail.endswith("the most the fee policy allows (max_fee)")


def test_a_signature_on_the_meta_tx_layer_is_a_participants() -> None:
    # Bob signs the meta tx around the inner tx: a layer above the innermost.
    wrapped = signed_by(meta(B, 10**14), BOB)
    report = check_sign_request(ALICE_CTX, "update_ack", wrapped, PAY_BOB)
    assert "signatures" not in names(report, Outcome.FAILED)


def test_a_check_that_crashes_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(req: Any) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(checks, "_REQUEST_CHECKS", (*checks._REQUEST_CHECKS, broken))
    report = check_sign_request(
        BOB_CTX, "update_ack", signed_by(next_round(PAY_BOB), ALICE), PAY_BOB
    )
    assert not report.ok
    assert outcome(report, "internal") == (
        Outcome.FAILED,
        "a check could not run: KeyError: 'a bug'",
    )


def test_a_meta_update_rides_along_with_what_we_asked() -> None:
    ctx = own(OperationKind.TRANSFER, from_id=A, to_id=B, amount=5, meta=(b"hi",))
    updates = (*PAY_BOB, OffChainMeta(data=b"hi"))
    report = check_sign_request(ctx, "update", signed_by(next_round(PAY_BOB)), updates)
    assert outcome(report, "own_operation")[0] is Outcome.PASSED
    report = check_sign_request(ctx, "update", signed_by(next_round(PAY_BOB)), PAY_BOB)
    assert outcome(report, "own_operation")[0] is Outcome.FAILED
    assert transfer(A, B, 5) == PAY_BOB[0]
