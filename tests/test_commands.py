"""The typed commands against every recorded request, each class directly, and hostile frames."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sansio_channels import commands, encoding, rpc
from sansio_channels.commands import (
    HISTORY_TAGS,
    HISTORY_TYPES,
    MAX_MESSAGE_BYTES,
    AssumeMinimumDepth,
    CallContract,
    CleanContractCalls,
    CloseSolo,
    Command,
    CommandKind,
    Deposit,
    DryRunCallContract,
    FetchHistory,
    ForceProgress,
    GetBalances,
    GetContract,
    GetContractCall,
    GetOffchainState,
    GetPoi,
    Leave,
    Message,
    NewContract,
    Ping,
    Settle,
    Shutdown,
    Slash,
    SnapshotSolo,
    StopFsm,
    Transfer,
    Withdraw,
    command_from_frame,
)
from sansio_channels.errors import LocalProtocolError
from sansio_channels.transcript import Entry, EntryKind

from .recordings import frames, recording_files


def api(prefix: str, fill: int) -> str:
    return encoding.encode(prefix, bytes([fill]) * 32)


ALICE = api("ak", 1)
BOB = api("ak", 2)
CONTRACT = api("ct", 3)
KEY_BLOCK = api("kh", 4)
MICRO_BLOCK = api("mh", 5)
TX_HASH = api("th", 6)
CODE = encoding.encode("cb", b"\xf8\x66\x46\x03")
CALL_DATA = encoding.encode("cb", b"\x2b\x11")
BROKEN_CHECKSUM = ALICE[:-1] + ("1" if ALICE[-1] != "1" else "2")

ALL_COMMANDS: list[type[Command]] = [
    obj
    for name in commands.__all__
    if isinstance(obj := getattr(commands, name), type)
    and issubclass(obj, Command)
    and obj is not Command
]


def frame_of(method: str, params: Any, **extra: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params, **extra}


# -- every recorded request ---------------------------------------------------------------------


def node_refused(later: Iterable[tuple[Entry, Any]], role: str, frame: dict[str, Any]) -> bool:
    """Whether the node answered ``frame`` with an error reply (matched by request or id)."""
    for entry, reply in later:
        if entry.role != role or entry.kind is not EntryKind.RECEIVED:
            continue
        if not isinstance(reply, dict) or not isinstance(reply.get("error"), dict):
            continue
        if reply["error"].get("request") == frame or (
            "id" in frame and reply.get("id") == frame["id"]
        ):
            return True
    return False


def test_every_recorded_request_is_reproduced_or_refused_like_the_node() -> None:
    reproduced = refused = 0
    problems: list[str] = []
    for rel in recording_files():
        recorded = list(frames(rel))
        for i, (entry, frame) in enumerate(recorded):
            if entry.kind is not EntryKind.SENT:
                continue
            assert isinstance(frame, dict), f"{rel}:{entry.line}: batches are not recorded"
            if rpc.sign_tag_for_reply(frame["method"]) is not None:
                continue  # sign replies are built by the sign requests
            where = f"{rel}:{entry.line}"
            try:
                command = command_from_frame(frame)
            except LocalProtocolError as exc:
                if node_refused(recorded[i + 1 :], entry.role, frame):
                    refused += 1
                else:
                    problems.append(f"{where}: refused ({exc}), but the node took it")
                continue
            if command.request(frame.get("id")) != frame:
                problems.append(f"{where}: {command!r} does not reproduce {frame}")
            else:
                reproduced += 1
    assert problems == []
    # Refused: string numbers, "ABCDEF" ids, meta 17, a short ak_, a negative amount; the node
    # answered each with an error reply.
    assert (reproduced, refused) == (2252, 3540)


# -- each class ---------------------------------------------------------------------------------

# (command, constructor arguments, the params the node gets)
VALID: list[tuple[type[Command], dict[str, Any], dict[str, Any]]] = [
    (
        Transfer,
        {"from_id": ALICE, "to_id": BOB, "amount": 0},
        {"from": ALICE, "to": BOB, "amount": 0},
    ),
    (
        Transfer,
        {
            "from_id": ALICE,
            "to_id": BOB,
            "amount": 2**200,
            "block_hash": MICRO_BLOCK,
            "meta": ["m"],
        },
        {"from": ALICE, "to": BOB, "amount": 2**200, "block_hash": MICRO_BLOCK, "meta": ["m"]},
    ),
    (
        NewContract,
        {"vm_version": 7, "abi_version": 3, "deposit": 10, "code": CODE, "call_data": CALL_DATA},
        {"vm_version": 7, "abi_version": 3, "deposit": 10, "code": CODE, "call_data": CALL_DATA},
    ),
    (
        CallContract,
        {"contract_id": CONTRACT, "abi_version": 3, "amount": 1, "call_data": CALL_DATA},
        {"contract_id": CONTRACT, "abi_version": 3, "amount": 1, "call_data": CALL_DATA},
    ),
    (
        DryRunCallContract,
        {
            "contract_id": CONTRACT,
            "abi_version": 3,
            "amount": 0,
            "call_data": CALL_DATA,
            "block_hash": KEY_BLOCK,
            "meta": (),
        },
        {
            "contract_id": CONTRACT,
            "abi_version": 3,
            "amount": 0,
            "call_data": CALL_DATA,
            "block_hash": KEY_BLOCK,
            "meta": [],
        },
    ),
    (Deposit, {"amount": 5}, {"amount": 5}),
    (
        Withdraw,
        {"amount": 5, "fee": 30000, "gas_price": 1000000000, "nonce": 3, "meta": ["a", "b"]},
        {"amount": 5, "fee": 30000, "gas_price": 1000000000, "nonce": 3, "meta": ["a", "b"]},
    ),
    (Shutdown, {}, {}),
    (CloseSolo, {"fee": 1}, {"fee": 1}),
    (Slash, {"gas_price": 2}, {"gas_price": 2}),
    (Settle, {"nonce": 9}, {"nonce": 9}),
    (SnapshotSolo, {}, {}),
    (
        ForceProgress,
        {
            "contract_id": CONTRACT,
            "abi_version": 3,
            "amount": 0,
            "call_data": CALL_DATA,
            "gas_price": 10**9,
            "gas": 10**6,
        },
        {
            "contract_id": CONTRACT,
            "abi_version": 3,
            "amount": 0,
            "call_data": CALL_DATA,
            "gas_price": 10**9,
            "gas": 10**6,
        },
    ),
    (Leave, {}, {}),
    (Message, {"to_id": BOB, "info": "Hello"}, {"to": BOB, "info": "Hello"}),
    (Message, {"to_id": BOB, "info": "", "from_id": ALICE}, {"to": BOB, "info": "", "from": ALICE}),
    (GetBalances, {"accounts": [ALICE, BOB]}, {"accounts": [ALICE, BOB]}),
    (GetOffchainState, {}, {}),
    (GetContract, {"pubkey": CONTRACT}, {"pubkey": CONTRACT}),
    (
        GetContractCall,
        {"contract_id": CONTRACT, "caller_id": ALICE, "round": 3},
        {"contract_id": CONTRACT, "caller_id": ALICE, "round": 3},
    ),
    (GetPoi, {}, {}),
    (GetPoi, {"accounts": [ALICE], "contracts": []}, {"accounts": [ALICE], "contracts": []}),
    (CleanContractCalls, {}, {}),
    (FetchHistory, {}, {}),
    (
        FetchHistory,
        {"n": 5, "types": ["rpt", "snd"], "tags": ["info", "conflict"]},
        {"n": 5, "type": ["rpt", "snd"], "tag": ["info", "conflict"]},
    ),
    (AssumeMinimumDepth, {"tx_hash": TX_HASH}, {"tx_hash": TX_HASH}),
    (Ping, {}, {"action": "ping"}),
    (StopFsm, {}, {"action": "stop"}),
]
FIRST_VALID = {cls: kwargs for cls, kwargs, _ in reversed(VALID)}


@pytest.mark.parametrize(
    ("cls", "kwargs", "params"), VALID, ids=lambda v: getattr(v, "__name__", "")
)
def test_valid_command(cls: type[Command], kwargs: dict[str, Any], params: dict[str, Any]) -> None:
    command = cls(**kwargs)
    assert command.params() == params
    assert command.request() == {"jsonrpc": "2.0", "method": cls.METHOD, "params": params}
    request = command.request(id=7)
    assert request == {"jsonrpc": "2.0", "method": cls.METHOD, "params": params, "id": 7}
    assert command_from_frame(request) == command
    assert hash(command_from_frame(request)) == hash(command)


def test_every_command_is_tested_and_has_its_kind() -> None:
    assert {cls for cls, _, _ in VALID} == set(ALL_COMMANDS)
    operations = {Transfer, NewContract, CallContract, Deposit, Withdraw, Shutdown, CloseSolo}
    operations |= {Slash, Settle, SnapshotSolo, ForceProgress}
    queries = {GetBalances, GetOffchainState, GetContract, GetContractCall, GetPoi}
    queries |= {DryRunCallContract, CleanContractCalls, FetchHistory}
    notices = {Leave, Message, AssumeMinimumDepth, Ping, StopFsm}
    for cls in ALL_COMMANDS:
        expected = (
            CommandKind.OPERATION
            if cls in operations
            else CommandKind.QUERY
            if cls in queries
            else CommandKind.NOTICE
        )
        assert cls.KIND is expected, cls
        assert cls in operations | queries | notices
        assert cls.METHOD.startswith("channels.")
        assert rpc.sign_tag_for_reply(cls.METHOD) is None
    assert len({cls.METHOD for cls in ALL_COMMANDS}) == len(ALL_COMMANDS) - 1  # system twice


def test_commands_are_frozen_slotted_and_keyword_only() -> None:
    command = Transfer(from_id=ALICE, to_id=BOB, amount=1)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        command.amount = 2  # type: ignore[misc]
    assert not hasattr(command, "__dict__")
    with pytest.raises(TypeError):
        Deposit(5)  # type: ignore[call-arg]


def test_lists_become_tuples() -> None:
    command = GetBalances(accounts=[ALICE])
    assert command.accounts == (ALICE,)
    assert Transfer(from_id=ALICE, to_id=BOB, amount=1, meta=["x"]).meta == ("x",)
    assert GetBalances(accounts=(ALICE,)) == command


# Bad values by the kind of field; None is bad only for required fields (tested below).
INT_BAD: list[Any] = ["1", 1.0, True, -1, 2**256, [1]]
BAD_BY_KIND: dict[str, list[Any]] = {
    "int": INT_BAD,
    "ak": [1, "ABCDEF", "ak_3NTNtGF", CONTRACT, BROKEN_CHECKSUM, ALICE + "x", [ALICE]],
    "ct": [1, "ABCDEFG", "ct_3NTNtGF", ALICE],
    "cb": [1, "ABCDEFG", "cb_!!", CONTRACT],
    "kh": [1, "kh_", TX_HASH, "kh_3NTNtGF"],
    "th": [1, "th_3NTNtGF", KEY_BLOCK],
    "text": [1, ["Hello"], "x" * (MAX_MESSAGE_BYTES + 1), "\ud800"],
    "text list": [17, "meta", ["ok", 3], [None], {"a": "b"}],
    "ak list": [ALICE, [ALICE, 1], ["ak_3NTNtGF"], [CONTRACT], {ALICE: 1}],
    "ct list": [CONTRACT, [ALICE], [CONTRACT, None]],
    "type list": ["rpt", ["rpt", "info"], [1]],
    "tag list": ["info", ["rpt"], [None]],
}
FIELD_KIND: dict[str, str] = {
    "from_id": "ak",
    "to_id": "ak",
    "caller_id": "ak",
    "amount": "int",
    "vm_version": "int",
    "abi_version": "int",
    "deposit": "int",
    "fee": "int",
    "gas_price": "int",
    "gas": "int",
    "nonce": "int",
    "round": "int",
    "n": "int",
    "contract_id": "ct",
    "pubkey": "ct",
    "code": "cb",
    "call_data": "cb",
    "block_hash": "kh",
    "tx_hash": "th",
    "info": "text",
    "meta": "text list",
    "accounts": "ak list",
    "contracts": "ct list",
    "types": "type list",
    "tags": "tag list",
}


def param_name(field: attrs.Attribute[Any]) -> str:
    name: str = field.metadata.get("param", field.name)
    return name


def sent_fields(cls: type[Command]) -> list[attrs.Attribute[Any]]:
    """A command's fields that are params (not the typed form it keeps for the checks)."""
    return [field for field in attrs.fields(cls) if not field.metadata.get("local")]


BAD_CASES = [
    pytest.param(cls, field, value, id=f"{cls.__name__}.{field.name}={value!r:.20}")
    for cls in ALL_COMMANDS
    for field in sent_fields(cls)
    for value in BAD_BY_KIND[FIELD_KIND[field.name]]
]


@pytest.mark.parametrize(("cls", "field", "value"), BAD_CASES)
def test_bad_value_is_refused_naming_the_param(
    cls: type[Command], field: attrs.Attribute[Any], value: Any
) -> None:
    with pytest.raises(LocalProtocolError, match=field.name) as built:
        cls(**{**FIRST_VALID[cls], field.name: value})
    params = cls(**FIRST_VALID[cls]).params()
    params[param_name(field)] = value
    with pytest.raises(LocalProtocolError) as read:
        command_from_frame(frame_of(cls.METHOD, params))
    assert param_name(field) in str(read.value)
    assert str(read.value) == str(built.value)


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        pytest.param(cls, field, id=f"{cls.__name__}.{field.name}")
        for cls in ALL_COMMANDS
        for field in sent_fields(cls)
    ],
)
def test_required_params_and_nulls(cls: type[Command], field: attrs.Attribute[Any]) -> None:
    params = cls(**FIRST_VALID[cls]).params()
    params.pop(param_name(field), None)
    if field.default is attrs.NOTHING:
        with pytest.raises(LocalProtocolError, match="missing") as missing:
            command_from_frame(frame_of(cls.METHOD, params))
        assert param_name(field) in str(missing.value)
        with pytest.raises(LocalProtocolError, match=field.name):
            cls(**{**FIRST_VALID[cls], field.name: None})
    else:
        assert command_from_frame(frame_of(cls.METHOD, params)) is not None
    # null is never sent: an optional param is left out instead.
    with pytest.raises(LocalProtocolError, match="null"):
        command_from_frame(frame_of(cls.METHOD, {**params, param_name(field): None}))


def test_every_field_has_a_kind() -> None:
    assert {field.name for cls in ALL_COMMANDS for field in sent_fields(cls)} == set(FIELD_KIND)


def test_rules_beyond_types() -> None:
    with pytest.raises(LocalProtocolError, match='to_id \\(param "to"\\): must differ'):
        Transfer(from_id=ALICE, to_id=ALICE, amount=1)
    for cls in (Deposit, Withdraw):  # 0 fails the FSM guard
        with pytest.raises(LocalProtocolError, match="amount: must be >= 1"):
            cls(amount=0)
    assert Message(to_id=BOB, info="x" * MAX_MESSAGE_BYTES).info
    with pytest.raises(LocalProtocolError, match="info: at most 65000 bytes"):
        Message(to_id=BOB, info="é" * (MAX_MESSAGE_BYTES // 2 + 1))
    assert FetchHistory(types=HISTORY_TYPES, tags=HISTORY_TAGS).params()["tag"] == list(
        HISTORY_TAGS
    )
    with pytest.raises(LocalProtocolError, match="id"):
        Leave().request(id=True)


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        # Params the node does not take or that do not exist.
        (frame_of("channels.shutdown", {"block_hash": KEY_BLOCK}), "not a param"),
        (
            frame_of(
                "channels.force_progress",
                {**ForceProgress(**FIRST_VALID[ForceProgress]).params(), "fee": 1},
            ),
            "not a param of channels.force_progress",
        ),
        (frame_of("channels.update.new", {"from_id": ALICE, "to": BOB, "amount": 1}), "from_id"),
        (frame_of("channels.leave", {"extra": 1}), "'extra': not a param"),
        (frame_of("channels.get.offchain_state", None), "params: expected an object"),
        ({"jsonrpc": "2.0", "method": "channels.get.offchain_state"}, "params: missing"),
        (frame_of("channels.get.balances", ["ak_"]), "params: expected an object"),
        ({"method": "channels.leave", "params": {}}, "jsonrpc"),
        (frame_of("channels.leave", {}) | {"jsonrpc": "1.0"}, "jsonrpc"),
        (frame_of(17, {}), "method: expected a string"),  # type: ignore[arg-type]
        (frame_of("channels.nope", {}), "unknown method"),
        (frame_of("channels.update", {"signed_tx": "tx_"}), "sign reply"),
        (frame_of("channels.shutdown_sign", {"error": 4}), "sign reply"),
        (frame_of("channels.system", {"action": "pong"}), "action: expected one of ping, stop"),
        (frame_of("channels.system", {"action": ["ping"]}), "action"),
        (frame_of("channels.system", {}), "action"),
        (frame_of("channels.system", {"action": "ping", "n": 1}), "not a param"),
        ([frame_of("channels.leave", {})], "frame: expected a JSON-RPC request"),
    ],
)
def test_frames_the_typed_api_refuses(frame: Any, fragment: str) -> None:
    with pytest.raises(LocalProtocolError) as refused:
        command_from_frame(frame)
    assert fragment in str(refused.value)


def test_system_actions() -> None:
    assert command_from_frame(frame_of("channels.system", {"action": "ping"}, id=1)) == Ping()
    assert command_from_frame(frame_of("channels.system", {"action": "stop"})) == StopFsm()
    ping: Command = Ping()
    assert ping != StopFsm()
    call = FIRST_VALID[CallContract]
    command: Command = CallContract(**call)
    assert command != DryRunCallContract(**call)  # same params, another method
    assert "kills the node's FSM" in (StopFsm.__doc__ or "")


# -- hostile frames -----------------------------------------------------------------------------

PARAM_NAMES = sorted({param_name(f) for cls in ALL_COMMANDS for f in sent_fields(cls)} | {"action"})
METHODS = sorted({cls.METHOD for cls in ALL_COMMANDS})
SAMPLES = [ALICE, BOB, CONTRACT, KEY_BLOCK, MICRO_BLOCK, TX_HASH, CODE, CALL_DATA, "ping", "stop"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**250, max_value=2**300)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([*SAMPLES, *HISTORY_TYPES, *HISTORY_TAGS, "ak_3NTNtGF", "ABCDEF"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
params_dicts = st.dictionaries(
    st.sampled_from(PARAM_NAMES) | st.text(max_size=8), json_values, max_size=6
)


def check_refused_or_round_trip(frame: Any) -> None:
    try:
        command = command_from_frame(frame)
    except LocalProtocolError:
        return
    # What is read is sent back exactly as it came, and reads back to the same command.
    assert command.request()["params"] == frame["params"]
    assert command_from_frame(command.request()) == command


@given(
    method=st.sampled_from(METHODS) | st.sampled_from(sorted(rpc.SIGN_TAGS)) | st.text(max_size=12),
    params=params_dicts | json_values,
    id=st.none() | st.integers() | st.text(max_size=4),
)
def test_arbitrary_frames_raise_only_local_protocol_error(
    method: str, params: Any, id: Any
) -> None:
    check_refused_or_round_trip(frame_of(method, params, id=id))


GOOD_BY_KIND: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(min_value=1, max_value=2**256 - 1),
    "ak": st.binary(min_size=32, max_size=32).map(lambda key: encoding.encode("ak", key)),
    "ct": st.binary(min_size=32, max_size=32).map(lambda key: encoding.encode("ct", key)),
    "cb": st.binary(max_size=40).map(lambda data: encoding.encode("cb", data)),
    "kh": st.sampled_from([KEY_BLOCK, MICRO_BLOCK]),
    "th": st.just(TX_HASH),
    "text": st.text(max_size=20),
    "text list": st.lists(st.text(max_size=8), max_size=3),
    "ak list": st.lists(st.sampled_from([ALICE, BOB]), max_size=3),
    "ct list": st.lists(st.just(CONTRACT), max_size=2),
    "type list": st.lists(st.sampled_from(HISTORY_TYPES), max_size=4),
    "tag list": st.lists(st.sampled_from(HISTORY_TAGS), max_size=4),
}


@st.composite
def near_valid_frames(draw: st.DrawFn) -> dict[str, Any]:
    """A known method with its own params, each a good value or junk, some left out."""
    cls = draw(st.sampled_from(ALL_COMMANDS))
    params = dict(cls.FIXED_PARAMS)
    for field in sent_fields(cls):
        if field.default is attrs.NOTHING or draw(st.booleans()):
            good = GOOD_BY_KIND[FIELD_KIND[field.name]]
            params[param_name(field)] = draw(good if draw(st.integers(0, 4)) else json_values)
    return frame_of(cls.METHOD, params)


@given(frame=near_valid_frames())
def test_near_valid_frames_raise_only_local_protocol_error(frame: dict[str, Any]) -> None:
    check_refused_or_round_trip(frame)


@given(data=st.data(), cls=st.sampled_from(ALL_COMMANDS))
def test_good_values_always_build(data: st.DataObject, cls: type[Command]) -> None:
    kwargs = {
        field.name: data.draw(GOOD_BY_KIND[FIELD_KIND[field.name]], label=field.name)
        for field in sent_fields(cls)
        if field.default is attrs.NOTHING or data.draw(st.booleans())
    }
    assume(cls is not Transfer or kwargs["from_id"] != kwargs["to_id"])
    command = cls(**kwargs)
    assert command_from_frame(command.request(id="x")) == command
