"""The off-chain accounts: balances replayed over the recorded sessions, updates' JSON form.

The recordings are the evidence: starting from the balances the
connect URL gives, each create, off-chain, deposit and withdraw tx a node asked a client to
sign must commit to the state hash of the prior co-signed state with the request's updates
applied. Channels that hold contracts are skipped: their state hash needs the VM.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels.checks import derived_channel_id
from sansio_channels.crypto import inner_tx
from sansio_channels.encoding import Id, IdTag
from sansio_channels.errors import ChannelError, LocalProtocolError, RemoteProtocolError
from sansio_channels.offchain import (
    OffChainState,
    UpdateRefused,
    pack_ct_version,
    unpack_ct_version,
    update_to_json,
    updates_from_json,
    updates_to_json,
)
from sansio_channels.options import OpenOptions, parse_connect_url
from sansio_channels.trees import accounts_state_hash
from sansio_channels.txs import (
    ChannelCreateTx,
    ChannelCreateTxV1,
    ChannelDepositTx,
    ChannelOffChainTx,
    ChannelWithdrawTx,
    OffChainCallContract,
    OffChainDeposit,
    OffChainMeta,
    OffChainNewContract,
    OffChainTransfer,
    OffChainUpdate,
    OffChainWithdrawal,
    decode_signed_tx,
)

from .recordings import TRANSCRIPTS, entries, frames, recording_files

# --- the recordings, channel by channel ---------------------------------------------------


def channel_groups() -> list[list[str]]:
    """The recordings grouped by channel: a group's preamble, then its cases alphabetically.

    A folder with an ``init_per_group.md`` ran its cases on the channel the preamble opened
    (subfolders included); any other file is its own channel(s).
    """
    groups: dict[str, list[str]] = {}
    for rel in recording_files():
        parents = Path(rel).parents
        group = next((p for p in parents if (TRANSCRIPTS / p / "init_per_group.md").exists()), None)
        groups.setdefault(rel if group is None else str(group), []).append(rel)
    return [
        sorted(files, key=lambda rel: (Path(rel).name != "init_per_group.md", rel))
        for files in groups.values()
    ]


def open_options(url: str) -> OpenOptions | None:
    """The options of a connect URL that opens a channel (None: a reestablish, or refused)."""
    try:
        options = parse_connect_url(url)
    except ChannelError:
        return None  # the node refused these too (broken params, bad fsm ids)
    return options if isinstance(options, OpenOptions) else None


def uses_contracts(rel: str) -> bool:
    return any(
        '"OffChainNewContract"' in entry.text or '"OffChainCallContract"' in entry.text
        for entry, _frame in frames(rel)
    )


def sign_requests(rel: str) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(entry, params) of every ``channels.sign.*`` request in the file."""
    for entry, frame in frames(rel):
        method = frame.get("method", "") if isinstance(frame, dict) else ""
        if entry.kind.name == "RECEIVED" and method.startswith("channels.sign."):
            yield entry, frame["params"]


STATE_TXS = (
    ChannelCreateTxV1,
    ChannelCreateTx,
    ChannelOffChainTx,
    ChannelDepositTx,
    ChannelWithdrawTx,
)


class BalancesReplay:
    """Every accounts-only state hash the node asked a client to sign, from OffChainState.

    States are pooled per channel and round, as several may compete for a round (conflicts,
    aborts); a request's base is any state of the round before whose hash was confirmed.
    """

    def __init__(self) -> None:
        self.found: Counter[str] = Counter()
        self.matched: Counter[str] = Counter()
        self.misses: list[str] = []
        self.skipped: list[str] = []
        self.fallbacks: list[str] = []
        self.files = 0

    def run(self) -> None:
        for files in channel_groups():
            pool: defaultdict[bytes, defaultdict[int, dict[bytes, OffChainState]]]
            pool = defaultdict(lambda: defaultdict(dict))
            for rel in files:
                if uses_contracts(rel):
                    self.skipped.append(rel)
                else:
                    self.files += 1
                    self.replay(rel, pool)

    def replay(
        self, rel: str, pool: defaultdict[bytes, defaultdict[int, dict[bytes, OffChainState]]]
    ) -> None:
        connects = [entry for entry in entries(rel) if entry.kind.name == "CONNECT"]
        for entry, params in sign_requests(rel):
            signed = decode_signed_tx(params["data"]["signed_tx"])
            tx = inner_tx(signed)
            if not isinstance(tx, STATE_TXS):
                continue
            self.found[tx.TYPE] += 1
            updates = updates_from_json(params["data"]["updates"])
            if isinstance(tx, (ChannelCreateTx, ChannelCreateTxV1)):
                url = [c for c in connects if c.role == entry.role and c.line < entry.line][-1]
                opened = open_options(url.text)
                assert opened is not None
                assert updates == ()
                bases = [OffChainState.initial(opened)]
                # The initiator is asked before the node names the channel: derive its id.
                named = params["channel_id"]
                derived = Id.from_api(named) if named else derived_channel_id(signed)
                channel, round_ = (None if derived is None else derived.key), 1
            else:
                channel, round_ = tx.channel_id.key, tx.round
                previous = list(pool[channel][round_ - 1].values())
                if not previous and (reported := self.reported(rel, entry.line, pool[channel])):
                    # A case that ran before the one sorting ahead of it: the node's balances.
                    previous = [reported]
                    self.fallbacks.append(f"{rel}:{entry.line}")
                bases = [base.apply(updates) for base in previous]
            hits = [state for state in bases if state.state_hash() == tx.state_hash]
            if not hits:
                self.misses.append(f"{rel}:{entry.line} {tx.TYPE} round {round_}")
                continue
            self.matched[tx.TYPE] += 1
            if channel is not None:  # None: a generalized initiator, named in the next request
                pool[channel][round_][tx.state_hash] = hits[0]

    @staticmethod
    def reported(
        rel: str, line: int, rounds: defaultdict[int, dict[bytes, OffChainState]]
    ) -> OffChainState | None:
        """The balances of the last ``channels.get.balances`` reply before ``line``."""
        known = [state for states in rounds.values() for state in states.values()]
        replies = [
            frame["result"]
            for entry, frame in frames(rel)
            if entry.line < line
            and isinstance(frame, dict)
            and isinstance(frame.get("result"), list)
        ]
        if not known or not replies:
            return None
        balances = {Id.account(item["account"]).key: item["balance"] for item in replies[-1]}
        return OffChainState(
            initiator=known[0].initiator,
            responder=known[0].responder,
            balances=balances,
            channel_reserve=known[0].channel_reserve,
        )


def test_state_hashes_of_the_recordings_from_off_chain_state(
    record_property: Callable[[str, object], None],
) -> None:
    replay = BalancesReplay()
    replay.run()
    found, matched = sum(replay.found.values()), sum(replay.matched.values())
    summary = (
        f"OffChainState state hashes: {matched}/{found} sign requests ({dict(replay.matched)}); "
        f"{replay.files} files; skipped, their channel holds contracts: {replay.skipped}; "
        f"based on get.balances (a case run out of file order): {replay.fallbacks}"
    )
    print(summary)
    record_property("offchain_state_hashes", summary)
    assert replay.misses == []
    assert matched == found > 200
    assert set(replay.found) == {tx.TYPE for tx in STATE_TXS}
    assert all(uses_contracts(rel) for rel in replay.skipped)
    assert len(replay.fallbacks) <= 1


# --- the JSON form of updates ---------------------------------------------------------------


@cache
def recorded_updates() -> list[tuple[str, Any]]:
    """(where, update) of every update in the recorded sign requests, in their JSON form."""
    return [
        (f"{rel}:{entry.line}", item)
        for rel in recording_files()
        for entry, params in sign_requests(rel)
        for item in params["data"]["updates"]
    ]


def test_every_recorded_update_round_trips() -> None:
    ops: Counter[str] = Counter()
    for where, item in recorded_updates():
        (update,) = updates_from_json([item])
        assert update_to_json(update) == item, where
        ops[item["op"]] += 1
    assert set(ops) == {
        "OffChainTransfer",
        "OffChainDeposit",
        "OffChainWithdrawal",
        "OffChainNewContract",
        "OffChainCallContract",
        "OffChainMeta",
    }


def test_contract_versions_pack_as_the_node_does() -> None:
    assert pack_ct_version(7, 3) == 0x70003
    assert unpack_ct_version(0x70003) == (7, 3)
    assert pack_ct_version(1, 1) == 1  # legacy: vm == abi <= 2 stores the abi alone
    assert unpack_ct_version(1) == (1, 1)
    recorded = next(item for _, item in recorded_updates() if item["op"] == "OffChainNewContract")
    (update,) = updates_from_json([recorded])
    assert isinstance(update, OffChainNewContract)
    assert update.ct_version == pack_ct_version(recorded["vm_version"], recorded["abi_version"])


uint256 = st.integers(min_value=0, max_value=2**256 - 1)
accounts = st.binary(min_size=32, max_size=32).map(lambda key: Id(IdTag.ACCOUNT, key))
contracts = st.binary(min_size=32, max_size=32).map(lambda key: Id(IdTag.CONTRACT, key))
versions = st.integers(min_value=0, max_value=2**16 - 1)
code = st.binary(max_size=40)
updates = st.one_of(
    st.builds(OffChainTransfer, from_id=accounts, to_id=accounts, amount=uint256),
    st.builds(OffChainDeposit, from_id=accounts, amount=uint256),
    st.builds(OffChainWithdrawal, to_id=accounts, amount=uint256),
    st.builds(
        lambda owner, vm, abi, code, deposit, call_data: OffChainNewContract(
            owner_id=owner,
            ct_version=pack_ct_version(vm, abi),
            code=code,
            deposit=deposit,
            call_data=call_data,
        ),
        accounts,
        versions,
        versions,
        code,
        uint256,
        code,
    ).filter(lambda u: pack_ct_version(*unpack_ct_version(u.ct_version)) == u.ct_version),
    st.builds(
        OffChainCallContract,
        caller_id=accounts,
        contract_id=contracts,
        abi_version=uint256,
        amount=uint256,
        gas=uint256,
        gas_price=uint256,
        call_data=code,
        call_stack=st.lists(uint256, max_size=3).map(tuple),
    ),
    st.builds(OffChainMeta, data=st.text().map(lambda text: text.encode("utf-8", "replace"))),
)


@given(st.lists(updates, max_size=4))
def test_updates_round_trip_through_json(values: list[OffChainUpdate]) -> None:
    text = json.dumps(updates_to_json(values))  # exact ints survive the JSON text
    assert updates_from_json(json.loads(text)) == tuple(values)


def test_an_int_subclass_in_updates_is_taken_as_its_number() -> None:
    class Amount(int):
        pass

    (update,) = updates_to_json([OffChainTransfer(from_id=INITIATOR, to_id=RESPONDER, amount=7)])
    assert isinstance(update, dict)
    (parsed,) = updates_from_json([{**update, "amount": Amount(7)}])
    assert isinstance(parsed, OffChainTransfer)
    assert type(parsed.amount) is int
    assert parsed.amount == 7


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@st.composite
def doctored_updates(draw: st.DrawFn) -> Any:
    """A real update with one field dropped, replaced by junk, or a field added."""
    _, item = draw(st.sampled_from(recorded_updates()))
    item = dict(item)
    key = draw(st.sampled_from(sorted(item)))
    action = draw(st.sampled_from(["drop", "junk", "add"]))
    if action == "drop":
        del item[key]
    elif action == "junk":
        item[key] = draw(json_values | st.sampled_from(["ak_1", "ct_x", "cb_!", -1, 2**256]))
    else:
        item[draw(st.text(max_size=8))] = draw(json_values)
    return [item]


@given(st.one_of(json_values, st.lists(json_values, max_size=3), doctored_updates()))
def test_malformed_updates_raise_only_remote_protocol_error(value: Any) -> None:
    try:
        parsed = updates_from_json(value)
    except RemoteProtocolError as exc:
        failure = str(exc)
    else:
        assert updates_from_json(updates_to_json(parsed)) == parsed
        return
    assert failure  # says what was wrong


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "updates: expected a list"),
        ([{"op": "OffChainTeleport"}], "updates[0].op"),
        ([{"op": "OffChainMeta"}], "updates[0].data: missing"),
        ([{"op": "OffChainMeta", "data": "x", "extra": 1}], "unknown field"),
        ([{"op": "OffChainDeposit", "from": "ak_x", "amount": 1}], "updates[0].from"),
        (
            [{"op": "OffChainWithdrawal", "to": str(Id(IdTag.ACCOUNT, bytes(32))), "amount": "1"}],
            "updates[0].amount: expected an integer",
        ),
        ([{"op": "OffChainMeta", "data": "\ud800"}], "not valid unicode"),
    ],
)
def test_malformed_updates_say_what_is_wrong(value: Any, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message.replace("[", r"\[").replace("]", r"\]")):
        updates_from_json(value)


def test_meta_data_that_is_not_text_has_no_json_form() -> None:
    with pytest.raises(LocalProtocolError):
        update_to_json(OffChainMeta(data=b"\xff"))


# --- the accounts -----------------------------------------------------------------------------

INITIATOR_KEY, RESPONDER_KEY = bytes([1] * 32), bytes([2] * 32)
INITIATOR, RESPONDER = Id(IdTag.ACCOUNT, INITIATOR_KEY), Id(IdTag.ACCOUNT, RESPONDER_KEY)
OPTIONS = OpenOptions(
    role="responder",
    port=3014,
    initiator_id=INITIATOR.api,
    responder_id=RESPONDER.api,
    lock_period=10,
    push_amount=3,
    initiator_amount=100,
    responder_amount=50,
    channel_reserve=2,
)


def test_the_first_state_has_the_push_moved() -> None:
    state = OffChainState.initial(OPTIONS)
    assert dict(state.balances or {}) == {INITIATOR_KEY: 97, RESPONDER_KEY: 53}
    assert state.exact
    assert state.state_hash() == accounts_state_hash({INITIATOR_KEY: 97, RESPONDER_KEY: 53})
    anyone = attrs.evolve(OPTIONS, initiator_id="any")
    assert OffChainState.initial(anyone, initiator_id=INITIATOR) == state
    with pytest.raises(LocalProtocolError):
        OffChainState.initial(anyone)
    with pytest.raises(LocalProtocolError):
        OffChainState.initial(OPTIONS, initiator_id=RESPONDER)


def test_the_first_state_from_a_create_tx() -> None:
    create = ChannelCreateTx(
        initiator_id=INITIATOR,
        initiator_amount=100,
        responder_id=RESPONDER,
        responder_amount=50,
        channel_reserve=2,
        lock_period=10,
        ttl=0,
        fee=1,
        initiator_delegate_ids=(),
        responder_delegate_ids=(),
        state_hash=bytes(32),
        nonce=1,
    )
    assert OffChainState.from_create_tx(create, 3) == OffChainState.initial(OPTIONS)
    with pytest.raises(UpdateRefused):
        OffChainState.from_create_tx(create, 101)


def test_updates_move_the_balances() -> None:
    state = OffChainState.initial(OPTIONS).apply(
        [
            OffChainTransfer(from_id=INITIATOR, to_id=RESPONDER, amount=10),
            OffChainDeposit(from_id=RESPONDER, amount=5),
            OffChainWithdrawal(to_id=INITIATOR, amount=7),
            OffChainMeta(data=b"ignored"),
        ]
    )
    assert dict(state.balances or {}) == {INITIATOR_KEY: 80, RESPONDER_KEY: 68}
    assert state.state_hash() == accounts_state_hash({INITIATOR_KEY: 80, RESPONDER_KEY: 68})


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (OffChainTransfer(from_id=INITIATOR, to_id=INITIATOR, amount=1), "to itself"),
        (OffChainDeposit(from_id=Id(IdTag.ACCOUNT, bytes(32)), amount=1), "not a participant"),
        (OffChainTransfer(from_id=INITIATOR, to_id=RESPONDER, amount=96), "channel reserve"),
        (OffChainWithdrawal(to_id=RESPONDER, amount=52), "channel reserve"),
        (
            OffChainNewContract(
                owner_id=INITIATOR, ct_version=0x70003, code=b"", deposit=98, call_data=b""
            ),
            "below zero",
        ),
    ],
)
def test_updates_a_node_would_refuse(update: OffChainUpdate, message: str) -> None:
    with pytest.raises(UpdateRefused, match=message):
        OffChainState.initial(OPTIONS).apply([update])


def test_contracts_make_the_state_hash_unknowable() -> None:
    call = OffChainCallContract(
        caller_id=RESPONDER,
        contract_id=Id(IdTag.CONTRACT, bytes(32)),
        abi_version=3,
        amount=4,
        gas=1_000_000,
        gas_price=1,
        call_data=b"",
        call_stack=(),
    )
    state = OffChainState.initial(OPTIONS).apply([call])
    assert state.contracts
    assert not state.exact
    assert state.state_hash() is None
    assert "contracts" in (state.unknown_reason() or "")
    assert dict(state.balances or {}) == {
        INITIATOR_KEY: 97,
        RESPONDER_KEY: 49,
    }  # an estimate: what it says
    # A contract may have paid the caller since: a debit beyond the estimate is not refused.
    spent = state.apply([attrs.evolve(call, amount=500)])
    assert spent.balances is None
    assert spent.state_hash() is None
    assert spent.unknown_reason() == "the balances are unknown"


@pytest.mark.parametrize(
    ("fee", "balances", "expected"),
    [
        (16_900_000_000_000, (69999999999999, 40000000000001), (61549999999999, 31550000000001)),
        (20000000000001, (69999999999999, 40000000000001), (59999999999998, 30000000000001)),
        (11, (3, 100), (0, 92)),  # the initiator cannot pay its half: it pays all it has
        (11, (100, 3), (92, 0)),
        (11, (5, 7), (0, 1)),  # neither can pay the larger half
        (11, (6, 5), (0, 0)),
    ],
)
def test_the_close_fee_split_as_the_node_takes_it(
    fee: int, balances: tuple[int, int], expected: tuple[int, int]
) -> None:
    state = OffChainState(
        initiator=INITIATOR_KEY,
        responder=RESPONDER_KEY,
        balances={INITIATOR_KEY: balances[0], RESPONDER_KEY: balances[1]},
    )
    assert state.close_mutual_amounts(fee) == frozenset({expected})


def test_the_close_fee_split_when_it_cannot_be_paid_or_known() -> None:
    state = OffChainState(
        initiator=INITIATOR_KEY,
        responder=RESPONDER_KEY,
        balances={INITIATOR_KEY: 1, RESPONDER_KEY: 1},
    )
    assert state.close_mutual_amounts(3) == frozenset()
    unknown = OffChainState(initiator=INITIATOR_KEY, responder=RESPONDER_KEY, balances=None)
    assert unknown.close_mutual_amounts(3) is None
    big = 2**60
    huge = OffChainState(
        initiator=INITIATOR_KEY,
        responder=RESPONDER_KEY,
        balances={INITIATOR_KEY: big, RESPONDER_KEY: big},
    )
    # Above 2**53 the node's float halves differ from exact ones: both are accepted.
    assert huge.close_mutual_amounts(2**55 + 1) == frozenset(
        {
            (big - 2**54 - 1, big - 2**54),  # exact: ceil and floor of the half
            (big - 2**54, big - 2**54),  # the node's float: 2**55 + 1 rounds to 2**55
        }
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initiator": b"short", "responder": RESPONDER_KEY, "balances": None},
        {"initiator": INITIATOR_KEY, "responder": INITIATOR_KEY, "balances": None},
        {"initiator": INITIATOR_KEY, "responder": RESPONDER_KEY, "balances": {INITIATOR_KEY: 1}},
        {
            "initiator": INITIATOR_KEY,
            "responder": RESPONDER_KEY,
            "balances": {INITIATOR_KEY: 1, RESPONDER_KEY: -1},
        },
        {
            "initiator": INITIATOR_KEY,
            "responder": RESPONDER_KEY,
            "balances": None,
            "channel_reserve": -1,
        },
        {"initiator": INITIATOR_KEY, "responder": RESPONDER_KEY, "balances": [1, 2]},
    ],
)
def test_misuse_raises_local_protocol_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        OffChainState(**kwargs)
