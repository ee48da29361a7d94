"""The JSON-RPC layer against every recorded frame, and against hostile input."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import rpc
from sansio_channels.errors import LocalProtocolError, RemoteProtocolError
from sansio_channels.rpc import (
    AbortCode,
    Batch,
    ErrorCode,
    ErrorDataCode,
    ErrorReply,
    Notification,
    RequestTable,
    ResultReply,
)
from sansio_channels.transcript import Entry, EntryKind, parse_file

TRANSCRIPTS = Path(__file__).parent / "transcripts"
FILES = sorted(
    str(path.relative_to(TRANSCRIPTS))
    for path in TRANSCRIPTS.rglob("*.md")
    if path.name != "INDEX.md"
)
CHANNEL_ID = "ch_2TfP6QrnYEk7f3hRSnDfxHhGRmdH1AvTnxdwM15EYuWpyqryc2"


def entries(rel: str, kind: EntryKind) -> list[Entry]:
    return [entry for entry in parse_file(str(TRANSCRIPTS / rel)) if entry.kind is kind]


def test_there_are_recordings() -> None:
    assert len(FILES) > 80


# -- recorded frames ---------------------------------------------------------------------------


def assert_parsed_as_recorded(message: rpc.Message, frame: dict[str, Any]) -> None:
    if "method" in frame:
        assert isinstance(message, Notification)
        assert message.method == frame["method"]
        assert message.channel_id == frame["params"]["channel_id"]
        assert message.data == frame["params"]["data"]
        tag = frame["method"].removeprefix("channels.sign.")
        assert (message.sign_tag is not None) == frame["method"].startswith("channels.sign.")
        if message.sign_tag is not None:
            assert message.sign_tag.tag == tag
    elif "result" in frame:
        assert isinstance(message, ResultReply)
        assert message.id == frame["id"]
        assert message.result == frame["result"]
        assert message.channel_id == frame["channel_id"]
    else:
        assert isinstance(message, ErrorReply)
        error = frame["error"]
        assert message.id == frame["id"]
        assert (message.code, message.message) == (error["code"], error["message"])
        assert message.data == tuple((d["code"], d["message"]) for d in error["data"])
        assert message.request == error["request"]
        assert message.channel_id == frame["channel_id"]
    assert message.version == frame["version"] == 1


@pytest.mark.parametrize("rel", FILES)
def test_every_received_frame_parses(rel: str) -> None:
    received = entries(rel, EntryKind.RECEIVED)
    for entry in received:
        frame = entry.frame
        message = rpc.parse_frame(frame)
        frames = frame if isinstance(frame, list) else [frame]
        messages = list(message) if isinstance(message, Batch) else [message]
        assert len(messages) == len(frames)
        for one, raw in zip(messages, frames, strict=True):
            assert_parsed_as_recorded(one, raw)
        assert rpc.parse_text(entry.text) == message


@pytest.mark.parametrize("rel", FILES)
def test_every_sent_frame_is_rebuilt(rel: str) -> None:
    for entry in entries(rel, EntryKind.SENT):
        frame = entry.frame
        rebuilt = rpc.build_request(frame["method"], frame["params"], id=frame.get("id"))
        assert rebuilt == frame, f"line {entry.line}"


@pytest.mark.parametrize("rel", FILES)
def test_replies_match_the_requests_they_answer(rel: str) -> None:
    """Per role and per connection, every reply with an id answers a pending request."""
    tables: dict[str, RequestTable[int]] = {}
    for entry in parse_file(str(TRANSCRIPTS / rel)):
        table = tables.setdefault(entry.role, RequestTable())
        if entry.kind in (EntryKind.CONNECT, EntryKind.DISCONNECT):
            table.drop_all()
        elif entry.kind is EntryKind.SENT and "id" in entry.frame:
            table.add(entry.frame, context=entry.line)
        elif entry.kind is EntryKind.RECEIVED:
            message = rpc.parse_frame(entry.frame)
            if isinstance(message, (ResultReply, ErrorReply)):
                pending = table.match(message)
                if pending is None:
                    assert isinstance(message, ErrorReply)
                    assert message.id is None
                    continue
                assert pending.id == message.id
                if isinstance(message, ErrorReply):
                    # The node echoes the request it refuses.
                    assert message.request == rpc.build_request(
                        pending.method, pending.params, id=pending.id
                    )


@pytest.mark.parametrize("rel", FILES)
def test_sign_replies_use_the_tag_table(rel: str) -> None:
    """What a recorded client sent after each sign request is that tag's reply (or alias)."""
    waiting: dict[str, rpc.SignTag] = {}
    for entry in parse_file(str(TRANSCRIPTS / rel)):
        if entry.kind is EntryKind.RECEIVED:
            message = rpc.parse_frame(entry.frame)
            if isinstance(message, Notification) and message.method.startswith("channels.sign."):
                assert message.sign_tag is not None, message.method
                waiting[entry.role] = message.sign_tag
        elif entry.kind is EntryKind.SENT:
            frame = entry.frame
            if not ({"signed_tx", "error"} & frame["params"].keys()):
                continue
            answered = rpc.sign_tag_for_reply(frame["method"])
            assert answered is not None, frame["method"]
            if entry.role in waiting:
                assert answered == waiting.pop(entry.role), f"line {entry.line}"


def test_recorded_error_codes_are_in_the_tables() -> None:
    seen: set[tuple[int, str]] = set()
    for rel in FILES:
        for entry in entries(rel, EntryKind.RECEIVED):
            message = rpc.parse_frame(entry.frame)
            if isinstance(message, ErrorReply):
                seen.add((message.code, message.message))
                seen.update(message.data)
    for code, text in seen:
        known: ErrorCode | ErrorDataCode = (
            ErrorCode(code) if code in ErrorCode.__members__.values() else ErrorDataCode(code)
        )
        assert known.message == text
    assert len(seen) > 15


# -- the tables --------------------------------------------------------------------------------


def test_error_code_tables() -> None:
    assert int(ErrorCode.INTERNAL_ERROR) == -32603
    assert ErrorCode.REJECTED.message == "Rejected"
    assert ErrorDataCode.MISSING_FSM_ID.message == "Missing field: existing_fsm_id"
    assert all(code.message for code in ErrorCode)
    assert all(code.message for code in ErrorDataCode)
    assert [int(c) for c in ErrorCode] == [-32700, -32000, -32601, -32602, -32603, 1, 2, 3]
    assert min(ErrorDataCode) == 100
    assert max(ErrorDataCode) == 2000


def test_abort_codes() -> None:
    assert AbortCode.REJECTED_ON_CHAIN.message == "rejected on-chain"
    assert AbortCode.VALIDATION.message == "validation error"
    assert AbortCode.is_valid(1)
    assert AbortCode.is_valid(65535)
    assert not AbortCode.is_valid(0)
    assert not AbortCode.is_valid(65536)
    assert not AbortCode.is_valid(True)


def test_sign_tag_table() -> None:
    snapshot = rpc.SIGN_TAGS["snapshot_solo_tx"]
    assert snapshot.reply_method == "channels.snapshot_solo_sign"
    assert snapshot.request_method == "channels.sign.snapshot_solo_tx"
    assert snapshot.abortable
    # The alias the node accepts for snapshot maps to a tag the FSM never expects.
    assert rpc.sign_tag_for_reply("channels.snapshot_solo_tx") is None
    assert rpc.sign_tag_for_reply("channels.slash_tx") is rpc.SIGN_TAGS["slash_tx"]
    assert rpc.sign_tag_for_reply("channels.update.new") is None
    assert not rpc.SIGN_TAGS["initiator_sign"].abortable
    assert not rpc.SIGN_TAGS["responder_sign"].abortable
    assert len(rpc.SIGN_TAGS) == 15
    unknown = Notification(method="channels.sign.foo", data={})
    assert unknown.sign_tag is None


# -- building requests and matching replies ----------------------------------------------------


def test_build_request() -> None:
    assert rpc.build_request("channels.leave") == {
        "jsonrpc": "2.0",
        "method": "channels.leave",
        "params": {},
    }
    params = {"amount": 2**70}
    frame = rpc.build_request("channels.deposit", params, id=-5)
    assert frame == {"jsonrpc": "2.0", "method": "channels.deposit", "params": params, "id": -5}
    assert json.dumps(frame["params"]) == '{"amount": 1180591620717411303424}'
    frame["params"]["amount"] = 1
    assert params == {"amount": 2**70}  # the frame holds its own copy


@pytest.mark.parametrize(
    ("args", "kwargs", "says"),
    [
        ((42,), {}, "method"),
        (("",), {}, "method"),
        (("channels.leave", [1]), {}, "params"),
        (("channels.leave", None), {"id": True}, "id"),
        (("channels.leave", None), {"id": 1.5}, "id"),
    ],
)
def test_build_request_refuses(args: tuple[Any, ...], kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(LocalProtocolError, match=says):
        rpc.build_request(*args, **kwargs)


def test_request_table() -> None:
    table: RequestTable[str] = RequestTable()
    first = table.request("channels.get.balances", {"accounts": []}, context="balances")
    second = table.request("channels.get.offchain_state", context="state")
    assert (first["id"], second["id"]) == (1, 2)
    assert len(table) == 2
    assert 1 in table
    assert True not in table  # True == 1, but a bool is no request id
    reply = rpc.parse_frame(
        {"jsonrpc": "2.0", "version": 1, "channel_id": None, "id": 2, "result": {"trees": ""}}
    )
    assert isinstance(reply, ResultReply)
    pending = table.match(reply)
    assert pending is not None
    assert (pending.method, pending.context) == ("channels.get.offchain_state", "state")
    with pytest.raises(RemoteProtocolError, match="unknown request id 2"):
        table.match(reply)  # answered twice
    null = ErrorReply(id=None, code=3, message="Rejected")
    assert table.match(null) is None
    with pytest.raises(RemoteProtocolError, match="unknown request id 'x'"):
        table.match(ErrorReply(id="x", code=3, message="Rejected"))
    assert [p.context for p in table.drop_all()] == ["balances"]
    assert len(table) == 0


def test_request_table_skips_ids_added_by_hand() -> None:
    table: RequestTable[None] = RequestTable(first_id=7)
    table.add(rpc.build_request("channels.leave", id=7), context=None)
    assert table.request("channels.leave", context=None)["id"] == 8
    with pytest.raises(LocalProtocolError, match="already pending"):
        table.add(rpc.build_request("channels.leave", id=8), context=None)
    with pytest.raises(LocalProtocolError, match="without an id"):
        table.add(rpc.build_request("channels.leave"), context=None)
    with pytest.raises(LocalProtocolError, match="method"):
        table.add({"id": 9}, context=None)
    with pytest.raises(LocalProtocolError, match="expected a request object"):
        table.add([("id", 9)], context=None)  # type: ignore[arg-type]
    assert [p.id for p in table.pending] == [7, 8]
    with pytest.raises(LocalProtocolError, match="first_id"):
        RequestTable(first_id="1")  # type: ignore[arg-type]


def test_messages_are_frozen_slotted_and_keyword_only() -> None:
    message = Notification(method="channels.info", channel_id=None, data={"event": "open"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.method = "x"  # type: ignore[misc]
    assert not hasattr(message, "__dict__")
    with pytest.raises(TypeError):
        Notification("channels.info")  # type: ignore[call-arg]
    assert hash(message) == hash(Notification(method="channels.info", data=[]))


def test_built_messages_are_checked() -> None:
    with pytest.raises(LocalProtocolError, match="code"):
        ErrorReply(id=None, code="3", message="Rejected")
    with pytest.raises(LocalProtocolError, match="channel_id"):
        ResultReply(id=1, result="ok", channel_id="ch_nope")
    with pytest.raises(LocalProtocolError, match="at least one"):
        Batch(messages=[])
    with pytest.raises(LocalProtocolError, match="messages: expected a list"):
        Batch(messages="ab")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="not a message"):
        Batch(messages=[{"jsonrpc": "2.0"}])  # type: ignore[list-item]
    error = ErrorReply(id=1, code=3, message="Rejected", data=[(1011, "Participant not found")])
    assert error.data_codes == (ErrorDataCode.PARTICIPANT_NOT_FOUND,)
    assert ErrorReply(id=1, code=77, message="?").code == 77  # unknown codes stay ints


# -- malformed and hostile input ---------------------------------------------------------------

NOTE = {"jsonrpc": "2.0", "method": "channels.info", "params": {"channel_id": None, "data": {}}}
REPLY = {"jsonrpc": "2.0", "id": 1, "result": "ok", "channel_id": None, "version": 1}
ERROR = {
    "jsonrpc": "2.0",
    "id": None,
    "channel_id": None,
    "version": 1,
    "error": {"code": 3, "message": "Rejected", "data": [], "request": {}},
}


def edit(frame: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``frame`` with ``path`` set to ``value`` (deleted if value is DELETE)."""
    copy = json.loads(json.dumps(frame))
    target = copy
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copy  # type: ignore[no-any-return]


DELETE = object()


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("text", "expected a JSON-RPC object, got 'text'"),
        (None, "got None"),
        ([], "empty batch"),
        ([NOTE, [NOTE]], r"\[1\]: expected a JSON-RPC object, got a list"),
        (edit(NOTE, ("jsonrpc",), "1.0"), '"jsonrpc" must be "2.0", got \'1.0\''),
        (edit(NOTE, ("jsonrpc",), DELETE), '"jsonrpc" must be "2.0", got None'),
        ({"jsonrpc": "2.0"}, "found none"),
        ({**REPLY, "error": ERROR["error"]}, "found result, error"),
        ({**NOTE, "id": 4}, "request from the node"),
        (edit(NOTE, ("method",), 7), "method: expected a string, got 7"),
        (edit(NOTE, ("params",), []), "params: expected an object, got a list"),
        (edit(NOTE, ("params", "data"), DELETE), '"data" is missing'),
        (edit(NOTE, ("params", "channel_id"), "ch_x"), "channel_id: 'ch_x'"),
        (edit(NOTE, ("params", "channel_id"), CHANNEL_ID[:-1] + "1"), "checksum mismatch"),
        (edit(NOTE, ("params", "channel_id"), 5), "channel_id: expected a ch_ string or null"),
        (edit(NOTE, ("version",), "1"), "version: expected 1, the channel API's, got '1'"),
        (edit(NOTE, ("version",), True), "version: expected 1, the channel API's, got True"),
        (edit(REPLY, ("id",), DELETE), 'without "id"'),
        (edit(REPLY, ("id",), None), "id: expected an int or a string, got None"),
        (edit(REPLY, ("id",), 1.0), "id: expected an int or a string, got 1.0"),
        (edit(REPLY, ("id",), False), "got False"),
        (edit(REPLY, ("id",), [1]), "got a list"),
        (edit(ERROR, ("error",), "Rejected"), "error: expected an object"),
        (edit(ERROR, ("error", "code"), DELETE), '"code" is missing'),
        (edit(ERROR, ("error", "message"), DELETE), '"message" is missing'),
        (edit(ERROR, ("error", "code"), "3"), "code: expected an int, got '3'"),
        (edit(ERROR, ("error", "code"), 3.0), "code: expected an int, got 3.0"),
        (edit(ERROR, ("error", "message"), None), "message: expected a string"),
        (edit(ERROR, ("error", "data"), {}), "data: expected a list, got a dict"),
        (edit(ERROR, ("error", "data"), [5]), r"data\[0\]: expected an object"),
        (edit(ERROR, ("error", "data"), [{"code": True, "message": ""}]), r"data\[0\].code"),
        (edit(ERROR, ("error", "data"), [{"code": 1}]), r"data\[0\].message"),
        (edit(ERROR, ("error", "request"), "req"), "request: expected an object or null"),
        (edit(ERROR, ("id",), {}), "id: expected an int, a string or null, got a dict"),
    ],
)
def test_malformed_frames_say_what_is_wrong(frame: Any, says: str) -> None:
    with pytest.raises(RemoteProtocolError, match=says):
        rpc.parse_frame(frame)


def test_lenient_where_the_node_is_silent() -> None:
    # Absent channel_id / version / request / data are None or empty, not errors.
    bare = {"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": "Internal error"}}
    error = rpc.parse_frame(bare)
    assert isinstance(error, ErrorReply)
    assert (error.code, error.data, error.request) == (ErrorCode.INTERNAL_ERROR, (), None)
    assert error.channel_id is None
    assert error.version is None
    note = rpc.parse_frame({"jsonrpc": "2.0", "method": "channels.x", "params": {"data": 1}})
    assert note == Notification(method="channels.x", channel_id=None, data=1)
    extra = rpc.parse_frame({**REPLY, "unexpected": 1})
    assert isinstance(extra, ResultReply)


def test_huge_values_stay_exact_and_errors_stay_short() -> None:
    huge = 2**4000
    reply = rpc.parse_frame({**REPLY, "id": huge, "result": {"balance": huge}})
    assert isinstance(reply, ResultReply)
    assert reply.id == huge
    assert reply.result["balance"] == huge
    with pytest.raises(RemoteProtocolError, match="an int of 40001 bits") as info:
        rpc.parse_frame(edit(NOTE, ("params", "channel_id"), 2**40000))
    assert len(str(info.value)) < 200
    with pytest.raises(RemoteProtocolError) as info:
        rpc.parse_frame(edit(NOTE, ("params", "channel_id"), "ch_" + "x" * 10**6))
    assert len(str(info.value)) < 200
    with pytest.raises(RemoteProtocolError, match=r"'x{24}\.\.\.'"):
        rpc.parse_frame({"jsonrpc": "x" * 10**6})


def test_batch() -> None:
    batch = rpc.parse_frame([NOTE, REPLY, ERROR])
    assert isinstance(batch, Batch)
    assert [type(m) for m in batch] == [Notification, ResultReply, ErrorReply]
    assert len(batch) == 3
    with pytest.raises(RemoteProtocolError, match=r"\[2\]: .*code"):
        rpc.parse_frame([NOTE, REPLY, edit(ERROR, ("error", "code"), None)])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "not JSON"),
        ("", "not JSON"),
        ('{"a": NaN}', "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply|not JSON"),
        ("1" * 10_000, "not JSON"),  # beyond Python's int-from-text limit
        ('"ok"', "got 'ok'"),
    ],
)
def test_parse_text_refuses(text: str, says: str) -> None:
    with pytest.raises(RemoteProtocolError, match=says):
        rpc.parse_text(text)


# -- hypothesis: nothing but RemoteProtocolError escapes --------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**53, max_value=2**2000),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["2.0", "channels.info", CHANNEL_ID, "ch_", "ok", "code", "data"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=25,
)
# Frame-shaped junk gets past the first checks far more often than arbitrary values.
frame_keys = st.sampled_from(
    ["jsonrpc", "method", "params", "id", "result", "error", "channel_id", "version"]
)
inner_keys = st.sampled_from(["channel_id", "data", "code", "message", "request"])
frame_like = st.recursive(
    st.dictionaries(frame_keys, json_values, max_size=6).map(lambda d: {"jsonrpc": "2.0", **d}),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(frame_keys | inner_keys, children | json_values, max_size=6),
    ),
    max_leaves=10,
)


def parse_or_remote_error(frame: Any) -> None:
    try:
        message = rpc.parse_frame(frame)
    except RemoteProtocolError:
        return
    assert isinstance(message, (Notification, ResultReply, ErrorReply, Batch))


@given(json_values)
def test_arbitrary_json_raises_only_remote_protocol_error(value: Any) -> None:
    parse_or_remote_error(value)


@given(frame_like)
def test_frame_shaped_junk_raises_only_remote_protocol_error(value: Any) -> None:
    parse_or_remote_error(value)


@given(
    st.sampled_from([NOTE, REPLY, ERROR]),
    st.lists(st.sampled_from(["params", "error", "channel_id", "data", "request", "code"])),
    json_values,
)
def test_mutated_frames_raise_only_remote_protocol_error(
    frame: dict[str, Any], path: list[str], value: Any
) -> None:
    copy = json.loads(json.dumps(frame))
    target = copy
    for key in path:
        if not isinstance(target.get(key), dict):
            break
        target = target[key]
    target[path[-1] if path else "id"] = value
    parse_or_remote_error(copy)


@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_remote_protocol_error(text: str) -> None:
    with contextlib.suppress(RemoteProtocolError):
        rpc.parse_text(text)
