"""What a sign request calls: the contract_call check, SignRequest.calls, and the contracts the
channel knows (the ledger takes them from co-signed creates; the record keeps them).

Contexts and txs are the checks tests' (Alice and Bob with round 2 co-signed); the contract is
a small FATE one with ``init()`` and ``main(int) : int``.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from sansio_channels import encoding
from sansio_channels.channel import Channel
from sansio_channels.checks import (
    CheckReport,
    Outcome,
    PendingOperation,
    check_co_signed_state,
    check_sign_request,
)
from sansio_channels.commands import (
    CallContract,
    DryRunCallContract,
    GetBalances,
    GetContract,
    GetContractCall,
)
from sansio_channels.crypto import sign
from sansio_channels.encoding import Id
from sansio_channels.errors import LocalProtocolError, RemoteProtocolError
from sansio_channels.events import CoSignedState, Operation, QueryResult, SignRequest
from sansio_channels.fate.calldata import Interface
from sansio_channels.fate.describe import created_contract_id
from sansio_channels.fees import FeePolicy
from sansio_channels.ledger import Latest, Ledger, Participants
from sansio_channels.offchain import updates_to_json
from sansio_channels.operations import OperationKind
from sansio_channels.options import Role
from sansio_channels.record import ChannelRecord
from sansio_channels.signing_context import SigningContext, decoded_calls
from sansio_channels.simulator.harness import Pair, Participant
from sansio_channels.txs import (
    ChannelCloseMutualTx,
    ChannelOffChainTx,
    OffChainCallContract,
    OffChainDeposit,
    OffChainNewContract,
    OffChainUpdate,
    SignedTx,
    encode_tx,
)

from .fate.test_describe_cli import CODE as RECORDED_CODE
from .fate.test_describe_cli import CONTRACT as RECORDED_CONTRACT
from .test_checks import (
    ALICE,
    BOB,
    CHANNEL,
    NETWORK,
    A,
    B,
    context,
    deposit_tx,
    next_round,
    signed_by,
)

MAIN = (
    "cb_+GZGA6AjCkIf8nA06kWznUewlO/mb+ZZlS2EaOxIL/ivjLd9tsC4OZ7+RNZEHwA3ADcAGg6CPwEDP/64F37sBDcB"
    "BwcBAQCWLwIRRNZEHxFpbml0EbgXfuwRbWFpboIvAIU0LjIuMADT5f3r"
)
CODE = encoding.decode(MAIN, "cb")
INTERFACE = Interface.from_code(MAIN)
CREATE = OffChainNewContract(
    owner_id=A,
    ct_version=8 << 16 | 3,
    code=CODE,
    deposit=10,
    call_data=INTERFACE.encode_call("init", []),
)
CONTRACT = created_contract_id(CREATE, 2)
KNOWN = {CONTRACT: CODE}


def call(
    argument: int, *, abi: int = 3, contract: str = CONTRACT, data: bytes | None = None
) -> Any:
    return OffChainCallContract(
        caller_id=A,
        contract_id=Id.from_api(contract),
        abi_version=abi,
        amount=5,
        gas=1_000_000,
        gas_price=1,
        call_data=INTERFACE.encode_call("main", [argument]) if data is None else data,
        call_stack=(),
    )


def asked_call(argument: int) -> PendingOperation:
    """Alice's own call of main(argument), in the typed form (as CallContract.from_call)."""
    command = CallContract.from_call(
        contract_id=CONTRACT, contract=INTERFACE, function="main", arguments=[argument], amount=5
    )
    return PendingOperation(
        kind=OperationKind.CALL_CONTRACT,
        contract_id=Id.from_api(CONTRACT),
        abi_version=3,
        amount=5,
        call_data=encoding.decode(command.call_data, "cb"),
        call=command.call,
    )


def request(ctx: SigningContext, tag: str, *updates: OffChainUpdate) -> CheckReport:
    signer = BOB if tag == "update" else ALICE  # an own request is not signed yet by us
    return check_sign_request(ctx, tag, signed_by(next_round(updates), signer), updates)


def outcome(report: CheckReport) -> tuple[Outcome, str]:
    found = report.get("contract_call")
    assert found is not None, report
    return found.outcome, found.detail


ALICE_KNOWS = context(Role.INITIATOR, contracts=KNOWN)
BOB_KNOWS = context(Role.RESPONDER, contracts=KNOWN)


def test_a_peer_call_says_what_it_does() -> None:
    report = request(BOB_KNOWS, "update_ack", call(42))
    assert outcome(report) == (Outcome.PASSED, f"main(42) with 5 aettos on {CONTRACT}")
    assert report.ok
    # A create carries its own code: it is described without any known contract.
    report = request(context(Role.RESPONDER), "update_ack", CREATE)
    assert outcome(report) == (Outcome.PASSED, "init() with 10 aettos")


def test_a_peer_call_that_cannot_be_shown_is_not_checked_with_the_reason() -> None:
    unknown = request(context(Role.RESPONDER), "update_ack", call(42))
    assert outcome(unknown) == (
        Outcome.NOT_CHECKED,
        f"a call to {CONTRACT}, whose code the channel does not know",
    )
    aevm = request(BOB_KNOWS, "update_ack", call(42, abi=1))
    assert outcome(aevm) == (Outcome.NOT_CHECKED, "a call of ABI version 1, which is not FATE")
    old_create = attrs.evolve(CREATE, ct_version=6 << 16 | 1)
    assert outcome(request(BOB_KNOWS, "update_ack", old_create)) == (
        Outcome.NOT_CHECKED,
        "a create of ABI version 1, which is not FATE",
    )
    # The node runs call data that is no call of the contract's (the call fails in the VM).
    wrong = request(BOB_KNOWS, "update_ack", call(42, data=b"\x2b\x11\x00\x00\x00\x00\x3f"))
    found, detail = outcome(wrong)
    assert found is Outcome.NOT_CHECKED
    assert detail.startswith("it does not decode: call data: the contract has no function")
    bad_code = attrs.evolve(CREATE, code=bytes(40))
    found, detail = outcome(request(BOB_KNOWS, "update_ack", bad_code))
    assert (found, detail) == (
        Outcome.NOT_CHECKED,
        "it does not decode: contract: 39 trailing bytes",
    )


def test_our_typed_call_is_compared_as_function_and_arguments() -> None:
    ctx = attrs.evolve(ALICE_KNOWS, pending=asked_call(42))
    passed = request(ctx, "update", call(42))
    assert outcome(passed) == (Outcome.PASSED, f"main(42) with 5 aettos on {CONTRACT}")
    assert passed.ok
    tampered = request(ctx, "update", call(43))
    assert outcome(tampered) == (
        Outcome.FAILED,
        "the update calls main(43), we asked for main(42)",
    )
    assert [check.name for check in tampered.failed] == ["contract_call"]


def test_without_the_typed_form_or_the_code_our_call_data_bytes_are_compared() -> None:
    raw = attrs.evolve(asked_call(42), call=None)
    for ctx in (
        attrs.evolve(ALICE_KNOWS, pending=raw),  # raw bytes asked
        context(Role.INITIATOR, pending=asked_call(42)),  # the contract's code unknown
    ):
        tampered = request(ctx, "update", call(43))
        found, detail = outcome(tampered)
        assert found is Outcome.FAILED
        assert detail.startswith("update.call_data is ")
        assert request(ctx, "update", call(42)).ok
    unknown = request(context(Role.INITIATOR, pending=asked_call(42)), "update", call(42))
    assert outcome(unknown) == (
        Outcome.PASSED,
        f"the call data we asked for (a call to {CONTRACT}, whose code the channel does not know)",
    )


def test_a_contract_update_where_none_was_asked_for() -> None:
    # An own request with no operation of ours pending: own_operation refuses it, and the call
    # is only shown.
    report = request(ALICE_KNOWS, "update", call(42))
    assert outcome(report) == (Outcome.PASSED, f"main(42) with 5 aettos on {CONTRACT}")
    assert report.get("own_operation").outcome is Outcome.FAILED  # type: ignore[union-attr]
    unknown = request(context(Role.INITIATOR), "update", call(42))
    assert outcome(unknown)[0] is Outcome.NOT_CHECKED
    # Beside a deposit of ours, whose rules name no call: not compared with the deposit.
    deposit = PendingOperation(kind=OperationKind.DEPOSIT, amount=3)
    ctx = attrs.evolve(ALICE_KNOWS, pending=deposit)
    updates = (OffChainDeposit(from_id=A, amount=3), call(42))
    tx = signed_by(deposit_tx(3, 20_000, from_id=A))
    report = check_sign_request(ctx, "deposit_tx", tx, updates)
    assert outcome(report) == (Outcome.PASSED, f"main(42) with 5 aettos on {CONTRACT}")
    assert report.get("updates").outcome is Outcome.FAILED  # type: ignore[union-attr]


def test_requests_without_contract_updates_have_no_contract_call_check() -> None:
    assert request(BOB_KNOWS, "update_ack").get("contract_call") is None


def test_the_calls_of_a_request_one_per_update() -> None:
    updates = (OffChainDeposit(from_id=A, amount=1), CREATE, call(42), call(42, abi=1))
    found = BOB_KNOWS.calls(updates)
    assert [None if c is None else str(c) for c in found] == [
        None,
        "init() with 10 aettos",
        f"main(42) with 5 aettos on {CONTRACT}",
        None,
    ]
    assert found[2] is not None
    assert (found[2].call.function, found[2].call.arguments, found[2].amount) == ("main", (42,), 5)
    # Code or call data that does not decode gives None, never an exception.
    assert decoded_calls((attrs.evolve(CREATE, code=b"\x00"), call(1, data=b"")), KNOWN) == (
        None,
        None,
    )
    assert context(Role.RESPONDER).calls((call(42),)) == (None,)


def test_a_context_refuses_malformed_contracts() -> None:
    bad: Any = {CONTRACT: MAIN}  # text, not the code's bytes
    with pytest.raises(LocalProtocolError, match="contracts"):
        SigningContext(network_id="n", role=Role.INITIATOR, account=A, contracts=bad)


# --- the ledger and the record ---------------------------------------------------------------

BOB_IS = Participants(network_id=NETWORK, role=Role.RESPONDER, account=B, peer=A)


def bob_ledger() -> Ledger:
    """Bob's ledger with round 2 co-signed."""
    latest = context(Role.RESPONDER).latest
    assert latest is not None
    ledger = Ledger.initial(None)
    ledger.latest = Latest(round=2, signed_tx=latest.signed_tx, tx=None, state=latest.state)
    return ledger


def bob_context(ledger: Ledger) -> SigningContext:
    return ledger.context(BOB_IS, channel_id=CHANNEL.api, operation=None, fee_policy=FeePolicy())


def offer(ledger: Ledger, round_: int, updates: tuple[OffChainUpdate, ...]) -> ChannelOffChainTx:
    """Alice's state of ``round_`` holding ``updates``, offered to Bob (the VM's hash: any)."""
    tx = ChannelOffChainTx(channel_id=CHANNEL, round=round_, state_hash=bytes(32))
    ledger.offered("update_ack", signed_by(tx, ALICE), updates, CheckReport(()))
    return tx


def co_sign(ledger: Ledger, round_: int, updates: tuple[OffChainUpdate, ...]) -> bool:
    """Bob signs the offered state, and it comes back co-signed: whether it was taken."""
    both = signed_by(offer(ledger, round_, updates), ALICE, BOB)
    ledger.signed("update_ack", both, f"tx_{round_}", {})
    checks = check_co_signed_state(bob_context(ledger), both)
    _round, accepted = ledger.take_co_signed(both, f"tx_{round_}", checks, known_peer=A)
    return accepted


def test_the_ledger_knows_a_contract_once_its_create_is_co_signed() -> None:
    ledger = bob_ledger()
    assert co_sign(ledger, 3, (CREATE,))
    contract = created_contract_id(CREATE, 3)
    assert dict(ledger.contracts) == {contract: CODE}
    assert ledger.contracts_api() == {contract: MAIN}
    assert bob_context(ledger).contracts == {contract: CODE}
    # A state without a create adds nothing; forgetting the states forgets the contracts.
    before = ledger.contracts
    assert co_sign(ledger, 4, (OffChainDeposit(from_id=A, amount=1),))
    assert ledger.contracts is before
    ledger.forget()
    assert dict(ledger.contracts) == {}


def test_an_offered_create_that_is_aborted_or_rolled_back_is_not_known() -> None:
    ledger = bob_ledger()
    offer(ledger, 3, (CREATE,))
    assert dict(ledger.offered_contracts) == {created_contract_id(CREATE, 3): CODE}
    ledger.aborted(own=False)
    assert dict(ledger.offered_contracts) == {}
    offer(ledger, 3, (CREATE,))
    ledger.roll_back(2)
    assert dict(ledger.offered_contracts) == {}
    assert dict(ledger.contracts) == {}
    # A tx without a round (a mutual close) creates nothing.
    close = ChannelCloseMutualTx(
        channel_id=CHANNEL,
        from_id=A,
        initiator_amount_final=1,
        responder_amount_final=1,
        ttl=0,
        fee=1,
        nonce=1,
    )
    ledger.offered("shutdown_sign_ack", signed_by(close, ALICE), (), CheckReport(()))
    assert dict(ledger.offered_contracts) == {}


def test_the_record_keeps_the_known_contracts_and_old_records_load() -> None:
    view = {
        "version": 1,
        "network_id": NETWORK,
        "role": "responder",
        "account": B.api,
        "peer": A.api,
        "channel_id": CHANNEL.api,
        "fsm_id": "ba_AAAA",
        "options": {},
        "state": "open",
        "latest_state": None,
        "latest_round": None,
        "balances": None,
    }
    old = ChannelRecord.from_json(view)  # made before contracts were kept
    assert old.contracts == {}
    assert old.signed_ahead_contracts == {}
    record = ChannelRecord.from_json({**view, "contracts": {CONTRACT: MAIN}})
    assert record.to_json()["contracts"] == {CONTRACT: MAIN}
    assert ChannelRecord.from_json(record.to_json()) == record
    restored = Ledger.initial(None)
    restored.restore(record)
    assert dict(restored.contracts) == {CONTRACT: CODE}
    with pytest.raises(LocalProtocolError, match="malformed"):
        ChannelRecord.from_json({**view, "contracts": [1]})
    with pytest.raises(LocalProtocolError, match="malformed"):
        ChannelRecord.from_json({**view, "signed_ahead_contracts": {"2": [1]}})


# --- queries -----------------------------------------------------------------------------------

CALLER = "ak_x2mdjJG7A7ocKf9T5qiDT1AGzE2RdKeKmH1wntYeDDY113eha"
# The recorded answers of the contracts session: main(42) returned 42 (a FATE int).
RECORDED_CALL = {
    "caller_id": CALLER,
    "caller_nonce": 4,
    "contract_id": RECORDED_CONTRACT,
    "gas_price": 1,
    "gas_used": 11,
    "height": 4,
    "log": [],
    "return_type": "ok",
    "return_value": "cb_VNLOFXc=",
}
RECORDED_KNOWN = {RECORDED_CONTRACT: encoding.decode(RECORDED_CODE, "cb")}


def answer(command: Any, result: Any) -> QueryResult:
    return QueryResult(operation=Operation(id=1, command=command), result=result)


def test_a_contract_call_answer_decodes_when_the_contract_is_known() -> None:
    query = GetContractCall(contract_id=RECORDED_CONTRACT, caller_id=CALLER, round=3)
    found = answer(query, RECORDED_CALL)
    assert found.contract_call_result(RECORDED_KNOWN, "main") == 42
    assert found.contract_call_result({}, "main") is None  # not known: not decoded
    reverted = {**RECORDED_CALL, "return_type": "revert", "return_value": "cb_VNLOFXc="}
    with pytest.raises(RemoteProtocolError, match=r"get\.contract_call answer"):
        answer(query, reverted).contract_call_result(RECORDED_KNOWN, "main")  # 42 is no string
    with pytest.raises(RemoteProtocolError, match="not an object"):
        answer(query, [1]).contract_call_result(RECORDED_KNOWN, "main")
    with pytest.raises(LocalProtocolError, match="name the function"):
        found.contract_call_result(RECORDED_KNOWN)
    with pytest.raises(LocalProtocolError, match="not a contract call query"):
        answer(GetBalances(accounts=[CALLER]), []).contract_call_result(RECORDED_KNOWN, "main")


def test_a_dry_run_answer_names_its_function_by_its_call_data() -> None:
    interface = Interface.from_code(RECORDED_CODE)
    call_data = encoding.encode("cb", interface.encode_call("main", [42]))
    dry_run = DryRunCallContract(
        contract_id=RECORDED_CONTRACT, abi_version=3, amount=0, call_data=call_data
    )
    assert answer(dry_run, RECORDED_CALL).contract_call_result(RECORDED_KNOWN) == 42
    not_a_call = attrs.evolve(dry_run, call_data=encoding.encode("cb", b"\x01"))
    with pytest.raises(LocalProtocolError, match="the dry run's call data"):
        answer(not_a_call, RECORDED_CALL).contract_call_result(RECORDED_KNOWN)


def test_a_get_contract_answer_gives_the_store() -> None:
    query = GetContract(pubkey=RECORDED_CONTRACT)
    state = {encoding.encode("ck", b"\x00\x01"): encoding.encode("cv", bytes.fromhex("2e"))}
    store = answer(query, {"contract": {"id": RECORDED_CONTRACT}, "contract_state": state})
    assert store.contract_store.state == 23
    with pytest.raises(RemoteProtocolError, match="no contract_state"):
        _ = answer(query, {}).contract_store
    with pytest.raises(RemoteProtocolError, match="not an object"):
        _ = answer(query, "x").contract_store
    with pytest.raises(LocalProtocolError, match=r"not a get\.contract query"):
        _ = answer(GetBalances(accounts=[CALLER]), []).contract_store


# --- over the in-memory pair -------------------------------------------------------------------


def sign_request(side: Participant, tag: str, signed: SignedTx, update: Any) -> SignRequest:
    """The sign request a node's ``channels.sign.<tag>`` for ``update`` gives ``side``."""
    data = {"signed_tx": encode_tx(signed), "updates": updates_to_json([update])}
    params = {"channel_id": side.channel.channel_id, "data": data}
    side.channel.receive_frame(
        {"jsonrpc": "2.0", "method": f"channels.sign.{tag}", "params": params}
    )
    (found,) = [e for e in side.channel.events() if isinstance(e, SignRequest)]
    return found


def alice_offers_a_create() -> tuple[Participant, Participant, Id, Any, SignRequest]:
    """An open pair in which Alice asks Bob to co-sign round 2 with a create of hers: Alice,
    Bob, the channel id, the create, and Bob's sign request for it."""
    pair = Pair.open()
    pair.run()
    alice, bob = pair.initiator, pair.responder
    bob.clear()
    create = attrs.evolve(CREATE, owner_id=Id.account(alice.address))
    assert bob.channel.channel_id is not None
    channel = Id.from_api(bob.channel.channel_id)
    state = ChannelOffChainTx(channel_id=channel, round=2, state_hash=bytes(32))  # the VM's
    offered = sign(SignedTx(signatures=(), transaction=state), alice.keys, "ae_dev")
    return alice, bob, channel, create, sign_request(bob, "update_ack", offered, create)


def test_a_peer_call_over_the_pair_shows_its_decoded_call_also_after_a_restore() -> None:
    alice, bob, channel, create, request = alice_offers_a_create()
    owner = create.owner_id
    assert [str(c) for c in request.calls if c is not None] == ["init() with 10 aettos"]
    request.sign(bob.keys)
    (reply,) = bob.channel.frames_to_send()
    co_signed = reply["params"]["signed_tx"]
    params = {"channel_id": bob.channel.channel_id, "data": {"state": co_signed}}
    bob.channel.receive_frame({"jsonrpc": "2.0", "method": "channels.update", "params": params})
    (state_event,) = [e for e in bob.channel.events() if isinstance(e, CoSignedState)]
    assert state_event.accepted
    contract = created_contract_id(create, 2)
    assert contract in bob.channel.signing_context().contracts

    peer_call = attrs.evolve(call(42), caller_id=owner, contract_id=Id.from_api(contract))
    state = ChannelOffChainTx(channel_id=channel, round=3, state_hash=bytes(32))
    offered = sign(SignedTx(signatures=(), transaction=state), alice.keys, "ae_dev")
    request = sign_request(bob, "update_ack", offered, peer_call)
    (shown,) = request.calls
    assert shown is not None
    assert (shown.call.function, shown.call.arguments, shown.amount) == ("main", (42,), 5)
    assert shown.contract == contract
    check = request.checks.get("contract_call")
    assert check is not None
    assert (check.outcome, check.detail) == (
        Outcome.PASSED,
        f"main(42) with 5 aettos on {contract}",
    )

    # The record keeps the contract: a channel resumed from it still decodes the call.
    record = ChannelRecord.from_json(json.loads(json.dumps(bob.channel.record().to_json())))
    restored = Channel.restore(record)
    assert restored.signing_context().contracts == {contract: CODE}
    assert [str(c) for c in restored.signing_context().calls((peer_call,))] == [str(shown)]


def test_a_create_signed_ahead_of_a_crash_is_known_once_co_signed_after_the_restore() -> None:
    """Bob signs a state with a create and crashes before it comes back co-signed: the channel
    resumed from his record learns the contract when that state arrives co-signed."""
    _, bob, _, create, request = alice_offers_a_create()
    owner = create.owner_id
    request.sign(bob.keys)
    (reply,) = bob.channel.frames_to_send()
    record = ChannelRecord.from_json(json.loads(json.dumps(bob.channel.record().to_json())))
    assert set(record.signed_ahead) == {2}
    contract = created_contract_id(create, 2)
    assert record.signed_ahead_contracts == {2: {contract: MAIN}}

    restored = Channel.restore(record)
    restored.reconnect()
    restored.frames_to_send()
    info = {"channel_id": record.channel_id, "data": {"event": "fsm_up"}, "fsm_id": record.fsm_id}
    restored.receive_frame({"jsonrpc": "2.0", "method": "channels.info", "params": info})
    params = {"channel_id": record.channel_id, "data": {"state": reply["params"]["signed_tx"]}}
    restored.receive_frame({"jsonrpc": "2.0", "method": "channels.update", "params": params})
    (state_event,) = [e for e in restored.events() if isinstance(e, CoSignedState)]
    assert state_event.accepted
    assert restored.signing_context().contracts == {contract: CODE}
    assert restored.record().signed_ahead_contracts == {}
    peer_call = attrs.evolve(call(42), caller_id=owner, contract_id=Id.from_api(contract))
    (shown,) = restored.signing_context().calls((peer_call,))
    assert shown is not None
    assert (shown.call.function, shown.call.arguments, shown.contract) == ("main", (42,), contract)
