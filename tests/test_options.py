"""Connect options: every recorded connect URL, the node's open checks, and round trips."""

from __future__ import annotations

import contextlib
import urllib.parse
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import encoding, options
from sansio_channels.errors import DecodingError, LocalProtocolError
from sansio_channels.options import (
    MinimumDepthStrategy,
    OpenOptions,
    ReestablishOptions,
    Role,
)
from sansio_channels.rpc import ErrorDataCode, ErrorReply, parse_frame
from sansio_channels.transcript import Entry, EntryKind, parse_file

TRANSCRIPTS = Path(__file__).parent / "transcripts"
FILES = sorted(
    str(path.relative_to(TRANSCRIPTS))
    for path in TRANSCRIPTS.rglob("*.md")
    if path.name != "INDEX.md"
)
BASE = "ws://localhost:3014/channel"
INITIATOR = "ak_mLjWgLbapr5CiVD2Q248aS2TQj9itXnoPv5tteXvZaJ8tdD2C"
RESPONDER = "ak_26jAbCjYM16ppbhFG6PCQhv6HkwRAri7QNJfoEtb1R8amLscpt"
CHANNEL = "ch_2TfP6QrnYEk7f3hRSnDfxHhGRmdH1AvTnxdwM15EYuWpyqryc2"
FSM_ID = "ba_j5r5E5mdhQFag+ObX+RXEvr4qFyzkWcVSRlDy169qe3DD8TM"


def query(url: str) -> dict[str, str]:
    pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    assert len(pairs) == len(dict(pairs))
    return dict(pairs)


def connects(rel: str) -> list[tuple[Entry, ErrorReply | None]]:
    """Each connect URL of a recording, with the error the node answered it with, if it did.

    The node refuses a connect with an error reply carrying ``"request": {}`` as the first
    frame on the new socket, and then closes it.
    """
    found: list[tuple[Entry, ErrorReply | None]] = []
    steps = parse_file(str(TRANSCRIPTS / rel))
    for i, entry in enumerate(steps):
        if entry.kind is not EntryKind.CONNECT:
            continue
        refusal = None
        for later in steps[i + 1 :]:
            if later.role != entry.role or later.kind is EntryKind.INFO:
                continue
            if later.kind is EntryKind.RECEIVED:
                reply = parse_frame(later.frame)
                if isinstance(reply, ErrorReply) and reply.request == {}:
                    refusal = reply
            break
        found.append((entry, refusal))
    return found


def refused_locally(url: str, refusal: ErrorReply) -> bool:
    """Whether the node's reason for refusing ``url`` is one a client can know offline."""
    (code, _message), *_ = refusal.data
    if code == ErrorDataCode.PARTICIPANT_NOT_FOUND:
        return False  # whether an account exists is the chain's to say
    if code == ErrorDataCode.INVALID_FSM_ID:
        # A well-formed fsm id may still be stale; only the node knows which one is current.
        fsm_id = query(url)["existing_fsm_id"]
        try:
            return len(encoding.decode(fsm_id, "ba")) != 32
        except DecodingError:
            return True
    assert code in (ErrorDataCode.VALUE_TOO_LOW, ErrorDataCode.MISSING_FSM_ID), code
    return True


CONNECT_FILES = [rel for rel in FILES if connects(rel)]


def test_every_connect_url_is_covered() -> None:
    urls = sum(len(connects(rel)) for rel in CONNECT_FILES)
    refused = [(e, r) for rel in CONNECT_FILES for e, r in connects(rel) if r is not None]
    assert urls > 200
    assert len(refused) == 32  # 16 open refusals, 16 reconnects with a missing or bad fsm id
    assert sum(refused_locally(e.text, r) for e, r in refused) == 24


@pytest.mark.parametrize("rel", CONNECT_FILES)
def test_recorded_connect_urls_round_trip(rel: str) -> None:
    for entry, refusal in connects(rel):
        if refusal is not None and refused_locally(entry.text, refusal):
            continue
        parsed = options.parse_connect_url(entry.text)
        assert isinstance(parsed, ReestablishOptions) == ("existing_channel_id" in entry.text)
        assert parsed.role.value == entry.role
        rebuilt = parsed.connect_url(entry.text.partition("?")[0])
        assert query(rebuilt) == query(entry.text), f"line {entry.line}"
        # Sorted names and the same percent-encoding give back the very same string.
        assert rebuilt == entry.text


@pytest.mark.parametrize("rel", CONNECT_FILES)
def test_urls_the_node_refused_are_refused(rel: str) -> None:
    """We refuse exactly the URLs the node refused for a reason a client can know offline."""
    for entry, refusal in connects(rel):
        if refusal is not None and refused_locally(entry.text, refusal):
            with pytest.raises(LocalProtocolError):
                options.parse_connect_url(entry.text)
        else:
            options.parse_connect_url(entry.text)


def test_broken_open_params_name_the_parameter() -> None:
    said = []
    for entry, refusal in connects("sc_ws_broken_open_params.md"):
        assert refusal is not None
        if refused_locally(entry.text, refusal):
            with pytest.raises(LocalProtocolError) as info:
                options.parse_connect_url(entry.text)
            name = str(info.value).partition(":")[0]
            assert query(entry.text)[name] == "-1"
            said.append(name)
    assert sorted(set(said)) == [
        "channel_reserve",
        "initiator_amount",
        "lock_period",
        "push_amount",
        "responder_amount",
    ]


# -- building and checking ---------------------------------------------------------------------


def open_options(**changes: Any) -> OpenOptions:
    kwargs: dict[str, Any] = {
        "role": Role.INITIATOR,
        "host": "localhost",
        "port": 13179,
        "initiator_id": INITIATOR,
        "responder_id": RESPONDER,
        "lock_period": 10,
        "push_amount": 1,
        "initiator_amount": 8,
        "responder_amount": 4,
        "channel_reserve": 2,
    }
    kwargs.update(changes)
    return OpenOptions(**kwargs)


def test_url_from_options() -> None:
    opts = open_options(
        initiator_amount=10**21,
        keep_running=False,
        msg_forwarding=True,
        timeouts={"idle": 1_000_000, "accept": 500},
        reports={"debug": True},
        minimum_depth_strategy="plain",
        minimum_depth=2,
    )
    assert opts.minimum_depth_strategy is MinimumDepthStrategy.PLAIN
    params = query(opts.connect_url(BASE))
    assert params["initiator_amount"] == "1000000000000000000000"
    assert params["keep_running"] == "false"
    assert params["msg_forwarding"] == "true"
    assert params["timeout_idle"] == "1000000"
    assert params["timeout_accept"] == "500"
    assert params["report_debug"] == "true"
    assert params["minimum_depth_strategy"] == "plain"
    assert params["protocol"] == "json-rpc"
    assert "fee" not in params  # None is not sent: the node's default applies
    assert list(params) == sorted(params)
    assert options.parse_connect_url(opts.connect_url(BASE)) == opts


def test_options_are_frozen_and_keyword_only() -> None:
    opts = open_options(timeouts={"idle": 5})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        opts.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        opts.timeouts["idle"] = 6  # type: ignore[index]
    with pytest.raises(TypeError):
        OpenOptions(Role.INITIATOR)  # type: ignore[call-arg]
    assert hash(opts) == hash(open_options(timeouts={"idle": 5}))


def test_responder_may_accept_any_initiator() -> None:
    opts = open_options(role="responder", host=None, initiator_id=options.ANY_INITIATOR)
    assert query(opts.connect_url(BASE))["initiator_id"] == "any"
    with pytest.raises(LocalProtocolError, match='initiator_id: "any" is for the responder'):
        open_options(initiator_id="any")


def test_reestablish_from_open() -> None:
    opts = open_options(timeouts={"idle": 5}, keep_running=True)
    again = opts.reestablish(existing_channel_id=CHANNEL, existing_fsm_id=FSM_ID)
    assert (again.role, again.host, again.port, again.timeouts) == (
        opts.role,
        opts.host,
        opts.port,
        opts.timeouts,
    )
    params = query(again.connect_url(BASE))
    assert params["existing_fsm_id"] == FSM_ID
    assert "initiator_id" not in params
    assert options.parse_connect_url(again.connect_url(BASE)) == again


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"role": "observer"}, "role: expected 'initiator' or 'responder'"),
        ({"host": None}, "host: required for the initiator"),
        ({"host": ""}, "host: must not be empty"),
        ({"host": "\ud800"}, "host: not valid unicode"),
        ({"port": 0}, "port: must be >= 1"),
        ({"port": 65536}, "port: must be <= 65535"),
        ({"port": "13179"}, "port: expected an int, got '13179'"),
        ({"protocol": "legacy"}, "protocol: must be 'json-rpc'"),
        ({"initiator_id": "ak_x"}, "initiator_id: 'ak_x'"),
        ({"responder_id": CHANNEL}, "responder_id: .*expected prefix ak_"),
        ({"lock_period": -1}, "lock_period: must be >= 0, got -1"),
        ({"push_amount": True}, "push_amount: expected an int, got True"),
        ({"channel_reserve": 2.0}, "channel_reserve: expected an int, got 2.0"),
        ({"initiator_amount": 2**256}, "initiator_amount: must fit in 256 bits"),
        ({"initiator_amount": 2}, r"initiator_amount: minus push_amount \(1\) must be >= "),
        ({"responder_amount": 0, "push_amount": 0}, r"responder_amount: plus push_amount \(0\)"),
        ({"fee": -5}, "fee: must be >= 0"),
        ({"keep_running": "true"}, "keep_running: expected true or false"),
        ({"slogan": 5}, "slogan: expected a string"),
        ({"minimum_depth_strategy": "fast"}, "minimum_depth_strategy: expected 'txfee' or"),
        ({"timeouts": {"nap": 5}}, "timeouts: unknown timeout 'nap' .known: idle,"),
        ({"timeouts": {"idle": -1}}, "timeout_idle: must be >= 0"),
        ({"timeouts": [("idle", 1)]}, "timeouts: expected a mapping"),
        ({"reports": {"info": 1}}, "report_info: expected true or false, got 1"),
        ({"reports": {"everything": True}}, "reports: unknown report 'everything'"),
        ({"bh_delta_pick": 11}, r"bh_delta_not_older_than: must be >= bh_delta_not_newer_than"),
        ({"bh_delta_not_older_than": 3, "bh_delta_not_newer_than": 4}, "the node would ignore"),
    ],
)
def test_bad_options_say_which_parameter_and_why(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(LocalProtocolError, match=says):
        open_options(**changes)


def test_the_reserve_rules_are_the_nodes() -> None:
    # Exactly at the reserve after the push is fine on both sides.
    open_options(initiator_amount=3, push_amount=1, channel_reserve=2, responder_amount=1)
    open_options(bh_delta_not_newer_than=2, bh_delta_not_older_than=5, bh_delta_pick=3)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"existing_fsm_id": "ba_VdRl+zAMvYVDGr3f"}, "holds 8 bytes, expected 32"),
        ({"existing_fsm_id": FSM_ID[:-1]}, "existing_fsm_id: "),
        ({"existing_channel_id": INITIATOR}, "existing_channel_id: .*expected prefix ch_"),
        ({"offchain_tx": "tx_"}, "offchain_tx: "),
        ({"role": Role.INITIATOR}, "host: required"),
    ],
)
def test_bad_reestablish_options(changes: dict[str, Any], says: str) -> None:
    kwargs: dict[str, Any] = {
        "role": Role.RESPONDER,
        "port": 1,
        "existing_channel_id": CHANNEL,
        "existing_fsm_id": FSM_ID,
    }
    with pytest.raises(LocalProtocolError, match=says):
        ReestablishOptions(**{**kwargs, **changes})


# -- parsing URLs ------------------------------------------------------------------------------

GOOD = open_options().connect_url(BASE)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (GOOD + "&colour=blue&flavour=x", "unknown parameter.* for an open: 'colour', 'flavour'"),
        (GOOD + "&timeout_nap=5", "unknown parameter.*'timeout_nap'"),
        (GOOD + "&report_all=true", "unknown parameter.*'report_all'"),
        (GOOD + "&timeouts=5", "unknown parameter.*'timeouts'"),
        (GOOD + "&existing_channel_id=" + CHANNEL, "for a reestablish: 'channel_reserve', "),
        (GOOD + "&port=1", "'port': given more than once"),
        (GOOD.replace("port=13179", "port=1e4"), "port: not a decimal integer: '1e4'"),
        (GOOD.replace("port=13179", "port=%2B5"), "port: not a decimal integer: '\\+5'"),
        (GOOD.replace("port=13179", "port=" + "9" * 5000), "port: not a decimal integer"),
        (GOOD.replace("port=13179&", ""), r"missing parameter\(s\): port"),
        (GOOD.replace("&protocol=json-rpc", ""), r"missing parameter\(s\): protocol"),
        (GOOD + "&keep_running=yes", "keep_running: expected true or false, got 'yes'"),
        (GOOD + "&keep_running", "keep_running: expected true or false, got ''"),
        (GOOD + "&slogan=%ff", "cannot parse"),
        (GOOD.replace("ws://", "http://"), "expected a ws:// or wss:// URL"),
        ("ws://[::1/channel?port=1", "cannot parse"),
        (GOOD + "&x" * 300, "cannot parse"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(LocalProtocolError, match=says):
        options.parse_connect_url(url)


def test_wrong_types_at_the_entry_points() -> None:
    with pytest.raises(LocalProtocolError, match="url: expected a string"):
        options.parse_connect_url(b"ws://x/channel")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="params: expected a mapping"):
        options.from_query_params([("port", "1")])  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="names and values must be strings"):
        options.from_query_params({"port": 1})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "base",
    [
        "http://localhost/channel",
        "localhost:3014",
        BASE + "?a=1",
        BASE + "#x",
        BASE + "?",
        "ws://[::1/channel",
        None,
    ],
)
def test_bad_bases_are_refused(base: str) -> None:
    with pytest.raises(LocalProtocolError, match="base: "):
        open_options().connect_url(base)


def test_wss_and_odd_text_round_trip() -> None:
    opts = open_options(slogan="a b&c=d/é+%", host="node.example")
    url = opts.connect_url("wss://node.example:443/channel")
    assert options.parse_connect_url(url) == opts
    assert options.parse_connect_url(open_options(slogan="").connect_url(BASE)).slogan == ""


# -- hypothesis --------------------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=2**200)
optional_ints = st.none() | st.integers(min_value=0, max_value=2**64)
accounts = st.binary(min_size=32, max_size=32).map(lambda key: encoding.encode("ak", key))
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@st.composite
def common_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    role = draw(st.sampled_from(Role))
    not_newer = draw(optional_ints)
    pick = draw(optional_ints)
    # The node wants not_older_than >= not_newer_than + pick, defaults 0, 10 and 0 filled in.
    floor = (not_newer or 0) + (pick or 0)
    not_older: int | None
    if draw(st.booleans()):
        not_older = draw(st.integers(min_value=floor, max_value=floor + 1000))
    else:
        not_older = None if floor <= 10 else floor
    return {
        "role": draw(st.sampled_from([role, role.value])),
        "port": draw(st.integers(min_value=1, max_value=65535)),
        "host": draw(
            texts.filter(bool) if role is Role.INITIATOR else st.none() | texts.filter(bool)
        ),
        "minimum_depth": draw(optional_ints),
        "minimum_depth_strategy": draw(st.none() | st.sampled_from(MinimumDepthStrategy)),
        "ttl": draw(optional_ints),
        "fee": draw(optional_ints),
        "gas_price": draw(optional_ints),
        "nonce": draw(optional_ints),
        "timeouts": draw(st.dictionaries(st.sampled_from(options.TIMEOUTS), amounts)),
        "reports": draw(st.dictionaries(st.sampled_from(options.REPORTS), st.booleans())),
        "bh_delta_not_newer_than": not_newer,
        "bh_delta_pick": pick,
        "bh_delta_not_older_than": not_older,
        "keep_running": draw(st.none() | st.booleans()),
        "msg_forwarding": draw(st.none() | st.booleans()),
        "log_keep": draw(optional_ints),
        "slogan": draw(st.none() | texts),
    }


@st.composite
def valid_open_options(draw: st.DrawFn) -> OpenOptions:
    kwargs = draw(common_kwargs())
    reserve, push = draw(amounts), draw(amounts)
    responder = Role(kwargs["role"]) is Role.RESPONDER
    return OpenOptions(
        **kwargs,
        initiator_id=draw(st.just("any") | accounts) if responder else draw(accounts),
        responder_id=draw(accounts),
        lock_period=draw(amounts),
        push_amount=push,
        channel_reserve=reserve,
        initiator_amount=reserve + push + draw(amounts),
        responder_amount=max(0, reserve - push) + draw(amounts),
    )


@st.composite
def valid_reestablish_options(draw: st.DrawFn) -> ReestablishOptions:
    return ReestablishOptions(
        **draw(common_kwargs()),
        existing_channel_id=encoding.encode("ch", draw(st.binary(min_size=32, max_size=32))),
        existing_fsm_id=encoding.encode("ba", draw(st.binary(min_size=32, max_size=32))),
        offchain_tx=draw(
            st.none() | st.binary(max_size=60).map(lambda b: encoding.encode("tx", b))
        ),
    )


@given(valid_open_options() | valid_reestablish_options())
def test_generated_options_round_trip(opts: options.ConnectOptions) -> None:
    url = opts.connect_url(BASE)
    assert options.parse_connect_url(url) == opts
    assert options.from_query_params(query(url)) == opts
    assert query(url) == opts.query_params()


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**250, max_value=2**5000),
    st.integers(max_value=-(2**250)),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers() | st.booleans(), max_size=3),
    st.sampled_from(["any", "initiator", "responder", "plain", INITIATOR, CHANNEL, FSM_ID]),
)
OPEN_FIELDS = [field.name for field in attrs.fields(OpenOptions)]


@given(valid_open_options(), st.sampled_from(OPEN_FIELDS), junk)
def test_invalid_values_raise_only_local_protocol_error(
    opts: OpenOptions, name: str, value: Any
) -> None:
    kwargs = {field: getattr(opts, field) for field in OPEN_FIELDS}
    kwargs[name] = value
    with contextlib.suppress(LocalProtocolError):
        OpenOptions(**kwargs)


@given(
    valid_open_options() | valid_reestablish_options(),
    st.dictionaries(
        st.sampled_from([*OPEN_FIELDS, "existing_channel_id", "timeout_idle", "report_info"])
        | st.text(max_size=12),
        st.text(max_size=12) | st.integers().map(str),
        max_size=4,
    ),
    st.lists(st.sampled_from(OPEN_FIELDS), max_size=3),
)
def test_junk_query_params_raise_only_local_protocol_error(
    opts: options.ConnectOptions, changes: dict[str, str], dropped: list[str]
) -> None:
    params = {**opts.query_params(), **changes}
    for name in dropped:
        params.pop(name, None)
    with contextlib.suppress(LocalProtocolError):
        options.from_query_params(params)
