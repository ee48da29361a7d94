"""The state hash: the trie, the trees, and every state hash in the recorded node sessions.

The recordings are the evidence: the state hash computed from nothing but the balances must
equal the one in every create, off-chain, deposit and withdraw tx the node asked a client to
sign (for channels without contracts), and the trees of every ``channels.get.offchain_state``
reply must hash to the state hash of the signed tx beside them (contracts included).
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import cli, encoding, transcript
from sansio_channels.checks import derived_channel_id
from sansio_channels.codec import ChainObject, encode_int
from sansio_channels.crypto import blake2b_256, inner_tx
from sansio_channels.errors import DecodingError, LocalProtocolError
from sansio_channels.mpt import EMPTY_ROOT, root_hash
from sansio_channels.trees import (
    HASH_ORDER,
    Account,
    AccountsMtree,
    CallsMtree,
    ChannelsMtree,
    ContractsMtree,
    Mtree,
    MtreeValue,
    NameServiceMtree,
    OraclesMtree,
    StateTrees,
    accounts_root,
    accounts_state_hash,
    decode_state_trees,
    state_hash_of_roots,
)
from sansio_channels.txs import (
    ChannelCreateTx,
    ChannelCreateTxV1,
    ChannelDepositTx,
    ChannelOffChainTx,
    ChannelWithdrawTx,
    decode_signed_tx,
    decode_tx,
)

TRANSCRIPTS = Path(__file__).parent / "transcripts"

# --- a recorded test vector (sc_ws_basic_open_close.md, create tx) ------------------------

INITIATOR = encoding.decode("ak_mLjWgLbapr5CiVD2Q248aS2TQj9itXnoPv5tteXvZaJ8tdD2C", "ak")
RESPONDER = encoding.decode("ak_26jAbCjYM16ppbhFG6PCQhv6HkwRAri7QNJfoEtb1R8amLscpt", "ak")
VECTOR = {INITIATOR: 69999999999999, RESPONDER: 40000000000001}


def test_account_value_vector() -> None:
    value = Account(nonce=0, balance=69999999999999).serialize()
    assert value == bytes.fromhex("ca0a0100863faa25225fff")


def test_state_hash_vector() -> None:
    root = "2354ce6b05c0ef095b628a52e74f1b24d77739902f27b0b8b56e0e3598551a6f"
    assert accounts_root(VECTOR).hex() == root
    expected = "64ff081cd36c4f1698a7f19a906cba3135e6f0c9ce9e03e479ba8c2e09f5b846"
    assert accounts_state_hash(VECTOR).hex() == expected
    # The same from its parts: version 1 on 8 bytes, then the roots in hash order.
    assert accounts_state_hash(VECTOR) == blake2b_256(
        (1).to_bytes(8, "big") + bytes.fromhex(root) + bytes(32 * 5)
    )


def test_state_hash_arguments_are_checked() -> None:
    with pytest.raises(LocalProtocolError):
        accounts_state_hash({b"short": 1})
    with pytest.raises(LocalProtocolError):
        accounts_state_hash({INITIATOR: -1})
    with pytest.raises(LocalProtocolError):
        state_hash_of_roots({"accounts": EMPTY_ROOT})
    with pytest.raises(LocalProtocolError):
        state_hash_of_roots({**dict.fromkeys(HASH_ORDER, EMPTY_ROOT), "calls": b"x"})


# --- the recordings -----------------------------------------------------------------------


def recording_files() -> list[str]:
    return sorted(
        str(path.relative_to(TRANSCRIPTS))
        for path in TRANSCRIPTS.rglob("*.md")
        if path.name != "INDEX.md"
    )


@cache
def entries(rel: str) -> list[transcript.Entry]:
    return transcript.parse_file(str(TRANSCRIPTS / rel))


def received(rel: str) -> Iterator[tuple[transcript.Entry, Any]]:
    for entry in entries(rel):
        if entry.kind is transcript.EntryKind.RECEIVED:
            yield entry, entry.frame


def channels() -> list[list[str]]:
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


CONTRACT_OPS = ("OffChainNewContract", "OffChainCallContract")


def uses_contracts(rel: str) -> bool:
    """Whether the file's channel holds contracts: some update creates or calls one."""
    return any(
        entry.kind in (transcript.EntryKind.RECEIVED, transcript.EntryKind.SENT)
        and any(f'"{op}"' in entry.text for op in CONTRACT_OPS)
        for entry in entries(rel)
    )


def pubkey(text: str) -> bytes:
    return encoding.decode(text, "ak")


def apply_updates(balances: dict[bytes, int], updates: list[dict[str, Any]]) -> dict[bytes, int]:
    """The balances after the updates of a sign request (their client JSON form)."""
    after = dict(balances)
    for update in updates:
        op = update["op"]
        if op == "OffChainTransfer":
            amount = int(update["amount"])
            after[pubkey(update["from"])] -= amount
            after[pubkey(update["to"])] += amount
        elif op == "OffChainDeposit":
            after[pubkey(update["from"])] += int(update["amount"])
        elif op == "OffChainWithdrawal":
            after[pubkey(update["to"])] -= int(update["amount"])
        elif op != "OffChainMeta":  # meta data changes nothing
            raise AssertionError(f"unexpected update {op} in a channel without contracts")
    assert all(balance >= 0 for balance in after.values())
    return after


STATE_TXS = (
    ChannelCreateTxV1,
    ChannelCreateTx,
    ChannelOffChainTx,
    ChannelDepositTx,
    ChannelWithdrawTx,
)
CREATE_TXS = (ChannelCreateTxV1, ChannelCreateTx)


def get_balances_result(frame: Any) -> dict[bytes, int] | None:
    result = frame.get("result")
    if not isinstance(result, list) or not result:
        return None
    if not all(isinstance(item, dict) and {"account", "balance"} <= set(item) for item in result):
        return None
    return {pubkey(item["account"]): int(item["balance"]) for item in result}


class Replay:
    """Every accounts-only state hash the node asked a client to sign, recomputed."""

    def __init__(self) -> None:
        self.found: Counter[str] = Counter()
        self.matched: Counter[str] = Counter()
        self.per_channel: set[tuple[str, str, int, bytes]] = set()  # (channel, kind, round, hash)
        self.misses: list[str] = []
        self.skipped: list[str] = []
        self.fallbacks: list[str] = []
        self.files = 0

    def run(self) -> None:
        for files in channels():
            # channel id -> round -> state hash -> balances, states whose hash was verified
            verified: defaultdict[bytes, defaultdict[int, dict[bytes, dict[bytes, int]]]]
            verified = defaultdict(lambda: defaultdict(dict))
            reported: dict[bytes, dict[bytes, int]] = {}  # latest get.balances per channel
            for rel in files:
                if uses_contracts(rel):
                    self.skipped.append(rel)
                    continue
                self.files += 1
                self.replay_file(files[0], rel, verified, reported)

    def replay_file(
        self,
        group: str,
        rel: str,
        verified: defaultdict[bytes, defaultdict[int, dict[bytes, dict[bytes, int]]]],
        reported: dict[bytes, dict[bytes, int]],
    ) -> None:
        connect: dict[str, dict[str, str]] = {}  # role -> latest opening URL parameters
        for entry in entries(rel):
            if entry.kind is transcript.EntryKind.CONNECT:
                query = {k: v[0] for k, v in parse_qs(urlsplit(entry.text).query).items()}
                if "initiator_amount" in query:
                    connect[entry.role] = query
                continue
            if entry.kind is not transcript.EntryKind.RECEIVED:
                continue
            frame = entry.frame
            if (balances := get_balances_result(frame)) is not None:
                reported[encoding.decode(frame["channel_id"], "ch")] = balances
                continue
            if not str(frame.get("method", "")).startswith("channels.sign."):
                continue
            data = frame["params"]["data"]
            tx = inner_tx(decode_tx(data["signed_tx"]))
            if not isinstance(tx, STATE_TXS):
                continue
            where = f"{rel}:{entry.line}"
            self.found[tx.TYPE] += 1
            if isinstance(tx, CREATE_TXS):
                assert data["updates"] == []
                url = connect[entry.role]
                push = int(url.get("push_amount", "0"))
                bases = [
                    {
                        pubkey(url["initiator_id"]): int(url["initiator_amount"]) - push,
                        pubkey(url["responder_id"]): int(url["responder_amount"]) + push,
                    }
                ]
                # The initiator is asked before the channel has an id; a plain initiator's is
                # computed (a generalized one's is not known before its meta tx: None).
                named = frame["params"]["channel_id"]
                derived = derived_channel_id(decode_signed_tx(data["signed_tx"]))
                channel: bytes | None = encoding.decode(named, "ch") if named else None
                if channel is None and derived is not None:
                    channel = derived.key
                round_ = 1
            else:
                channel, round_ = tx.channel_id.key, tx.round
                previous = list(verified[channel][round_ - 1].values())
                if not previous and channel in reported:
                    # No verified state of the round before in the files so far (a case that
                    # ran earlier but sorts later): the balances the node last reported.
                    previous = [reported[channel]]
                    self.fallbacks.append(where)
                bases = [apply_updates(base, data["updates"]) for base in previous]
            hits = [base for base in bases if accounts_state_hash(base) == tx.state_hash]
            if not hits:
                self.misses.append(f"{where} {tx.TYPE} round {round_}")
                continue
            self.matched[tx.TYPE] += 1
            if channel is not None:
                verified[channel][round_][tx.state_hash] = hits[0]
            self.per_channel.add((group, tx.TYPE, round_, tx.state_hash))


def test_every_accounts_only_state_hash_in_the_recordings(
    record_property: Callable[[str, object], None],
) -> None:
    """Balances alone give the state hash of every create, off-chain, deposit and withdraw tx.

    Files whose channel holds contracts are skipped: their state also holds the contracts and
    call results, which only the VM can produce (the trees test below covers them).
    """
    replay = Replay()
    replay.run()
    total_found, total_matched = sum(replay.found.values()), sum(replay.matched.values())
    distinct = {(kind, round_, hash_) for _, kind, round_, hash_ in replay.per_channel}
    summary = (
        f"state hashes from balances: {total_matched}/{total_found} sign requests "
        f"({dict(replay.matched)}), {len(replay.per_channel)} distinct per channel, "
        f"{len(distinct)} distinct (kind, round, hash); {replay.files} files, "
        f"skipped for contracts: {replay.skipped}; get.balances fallbacks: {replay.fallbacks}"
    )
    print(summary)
    record_property("accounts_state_hashes", summary)
    assert replay.misses == []
    assert total_matched == total_found
    # Every kind of tx that commits to a state is there, and the skipping is not wholesale.
    assert set(replay.found) == {tx.TYPE for tx in STATE_TXS}
    assert replay.files > len(replay.skipped) > 0
    assert all(uses_contracts(rel) for rel in replay.skipped)


def offchain_states() -> Iterator[tuple[str, Any]]:
    """Every ``channels.get.offchain_state`` reply: a result with ``trees`` and ``signed_tx``."""
    for rel in recording_files():
        for entry, frame in received(rel):
            result = frame.get("result")
            if isinstance(result, dict) and {"trees", "signed_tx"} <= set(result):
                yield f"{rel}:{entry.line}", result


def test_every_offchain_state_hashes_to_its_signed_tx(
    record_property: Callable[[str, object], None],
) -> None:
    found = matched = with_contracts = 0
    for where, result in offchain_states():
        found += 1
        trees = decode_state_trees(result["trees"])
        tx = inner_tx(decode_tx(result["signed_tx"]))
        assert isinstance(tx, STATE_TXS), where
        assert trees.state_hash() == tx.state_hash, where
        matched += 1
        assert trees.serialize() == encoding.decode(result["trees"], "ss")
        if trees.roots["contracts"] != EMPTY_ROOT:
            with_contracts += 1
        else:
            # Without contracts the balances alone give the same hash.
            assert accounts_state_hash(trees.accounts()) == tx.state_hash, where
    summary = f"offchain_state trees: {matched}/{found} ({with_contracts} with contracts)"
    print(summary)
    record_property("offchain_states", summary)
    assert found > 0
    assert with_contracts > 0
    assert matched == found


def test_contract_state_exercises_the_whole_trie() -> None:
    """The contract state has store keys longer than the contract's (branch values,
    extensions) and a calls tree with 64-byte keys; its contract account has a balance."""
    states = [decode_state_trees(result["trees"]) for _, result in offchain_states()]
    contract_states = [t for t in states if t.contracts_tree.mtree.values]
    assert contract_states
    trees = contract_states[0]
    key_sizes = {len(entry.key) for entry in trees.contracts_tree.mtree.values}
    assert {32, 33, 34} <= key_sizes
    assert {len(entry.key) for entry in trees.calls_tree.mtree.values} == {64}
    contracts = {e.key for e in trees.contracts_tree.mtree.values if len(e.key) == 32}
    assert contracts
    assert contracts <= set(trees.accounts())


# --- the trie ------------------------------------------------------------------------------


class _Leaf:
    def __init__(self, path: bytes, value: bytes) -> None:
        self.path, self.value = path, value


class _Extension:
    def __init__(self, path: bytes, child: _Node) -> None:
        self.path, self.child = path, child


class _Branch:
    def __init__(self) -> None:
        self.children: list[_Node | None] = [None] * 16
        self.value = b""


_Node = _Leaf | _Extension | _Branch


def _common(a: bytes, b: bytes) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _insert(node: _Node | None, path: bytes, value: bytes) -> _Node:
    """Textbook insertion, one key at a time (the reference, unlike the sorted build)."""
    if node is None:
        return _Leaf(path, value)
    if isinstance(node, _Branch):
        if not path:
            node.value = value
        else:
            node.children[path[0]] = _insert(node.children[path[0]], path[1:], value)
        return node
    if isinstance(node, _Leaf) and node.path == path:
        node.value = value
        return node
    n = _common(node.path, path)
    if isinstance(node, _Extension) and n == len(node.path):
        node.child = _insert(node.child, path[n:], value)
        return node
    branch = _Branch()
    rest = node.path[n:]
    if isinstance(node, _Leaf):
        if rest:
            branch.children[rest[0]] = _Leaf(rest[1:], node.value)
        else:
            branch.value = node.value
    else:  # an extension that parts from the path: keep its remainder under the branch
        branch.children[rest[0]] = _Extension(rest[1:], node.child) if rest[1:] else node.child
    _insert(branch, path[n:], value)
    return _Extension(path[:n], branch) if n else branch


def _hp(path: bytes, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    nibbles = [flag + 1, *path] if len(path) % 2 else [flag, 0, *path]
    return bytes(nibbles[i] * 16 + nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _encode(node: _Node) -> list[bytes]:
    if isinstance(node, _Leaf):
        return [_hp(node.path, True), node.value]
    if isinstance(node, _Extension):
        return [_hp(node.path, False), blake2b_256(rlp.encode(_encode(node.child)))]
    slots = []
    for child in node.children:
        if child is None:
            slots.append(b"")
        else:
            raw = rlp.encode(_encode(child))
            slots.append(raw if len(raw) < 32 else blake2b_256(raw))
    return [*slots, node.value]


def reference_root(pairs: list[tuple[bytes, bytes]]) -> bytes:
    root: _Node | None = None
    for key, value in pairs:
        root = _insert(root, bytes(n for b in key for n in (b >> 4, b & 15)), value)
    return b"" if root is None else blake2b_256(rlp.encode(_encode(root)))


# Short keys over a small alphabet so that keys share prefixes and extend each other.
keys = st.one_of(
    st.binary(min_size=0, max_size=4).map(lambda b: bytes(x % 3 * 0x11 for x in b)),
    st.binary(min_size=0, max_size=6),
    st.binary(min_size=32, max_size=34),
)
values = st.binary(min_size=1, max_size=40)


@given(st.lists(st.tuples(keys, values), max_size=24), st.randoms())
def test_trie_root_is_the_reference_root_in_any_order(
    pairs: list[tuple[bytes, bytes]], rnd: random.Random
) -> None:
    distinct = list(dict(pairs).items())
    shuffled = distinct[:]
    rnd.shuffle(shuffled)
    expected = reference_root(distinct)
    assert reference_root(shuffled) == expected
    assert root_hash(shuffled) == expected
    assert root_hash(dict(distinct)) == expected
    assert len(expected) == (32 if distinct else 0)


def test_trie_embeds_short_nodes_and_forces_the_root_to_a_hash() -> None:
    # Two one-byte keys that part at the first nibble: a branch over two leaves whose RLP
    # (3 bytes) is embedded as a byte string; the root is the hash of the branch.
    leaf_1 = rlp.encode([bytes([0x30]), b"a"])  # hp: leaf, odd, remaining nibble 0
    leaf_2 = rlp.encode([bytes([0x31]), b"b"])
    branch = [b""] * 17
    branch[1], branch[2] = leaf_1, leaf_2
    assert root_hash({b"\x10": b"a", b"\x21": b"b"}) == blake2b_256(rlp.encode(branch))
    # The bound: a child whose RLP is 31 bytes is embedded, one of 32 bytes is hashed.
    for size, embedded in ((28, True), (29, False)):
        value = b"v" * size
        leaf = rlp.encode([bytes([0x30]), value])
        assert len(leaf) == size + 3
        branch[1] = leaf if embedded else blake2b_256(leaf)
        expected = blake2b_256(rlp.encode(branch))
        assert root_hash({b"\x10": value, b"\x21": b"b"}) == expected
    # One short entry alone: still a hash at the root.
    assert root_hash({b"\x10": b"a"}) == blake2b_256(rlp.encode([b"\x20\x10", b"a"]))
    assert root_hash({}) == EMPTY_ROOT


def test_trie_refuses_empty_values_and_survives_long_key_chains() -> None:
    with pytest.raises(ValueError, match="empty value"):
        root_hash({b"k": b""})
    # Each key extends the one before: a node per key, deeper than Python's stack.
    chain = {bytes(n): b"v" for n in range(1500)}
    assert len(root_hash(chain)) == 32


# --- the trees decoder -----------------------------------------------------------------


def tree_of(cls: type[Any], entries: dict[bytes, bytes]) -> Any:
    mtree = Mtree(values=tuple(MtreeValue(key=k, val=v) for k, v in entries.items()))
    return cls(mtree=mtree)


def accounts_only_trees(balances: dict[bytes, int]) -> StateTrees:
    accounts = {k: Account(nonce=0, balance=v).serialize() for k, v in balances.items()}
    return StateTrees(
        contracts_tree=tree_of(ContractsMtree, {}),
        calls_tree=tree_of(CallsMtree, {}),
        channels_tree=tree_of(ChannelsMtree, {}),
        ns_tree=tree_of(NameServiceMtree, {}),
        oracles_tree=tree_of(OraclesMtree, {}),
        accounts_tree=tree_of(AccountsMtree, accounts),
    )


balances = st.dictionaries(
    st.binary(min_size=32, max_size=32), st.integers(0, 2**300), min_size=0, max_size=6
)


@given(balances)
def test_trees_and_balances_give_the_same_hash(table: dict[bytes, int]) -> None:
    trees = StateTrees.from_bytes(accounts_only_trees(table).serialize())
    assert trees.accounts() == table
    assert trees.state_hash() == accounts_state_hash(table)
    assert set(trees.roots) == set(HASH_ORDER)


@cache
def recorded_trees() -> list[bytes]:
    return [encoding.decode(result["trees"], "ss") for _, result in offchain_states()]


def decodes_or_refuses(data: bytes) -> None:
    """Decoding gives well-formed trees or raises DecodingError, and nothing else."""
    try:
        trees = StateTrees.from_bytes(data)
    except DecodingError:
        return
    assert trees.serialize() == data
    assert len(trees.state_hash()) == 32
    assert all(isinstance(balance, int) for balance in trees.accounts().values())


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_decoding_error(data: bytes) -> None:
    decodes_or_refuses(data)


@given(st.data())
def test_mutated_recorded_trees_raise_only_decoding_error(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(recorded_trees())))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    decodes_or_refuses(bytes(raw))
    decodes_or_refuses(bytes(raw[:cut]))


def _object(fields: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[Any]:
    tags = st.sampled_from([10, 62, 63, 64, 621, 622, 623, 624, 625, 626]).map(encode_int)
    versions = st.sampled_from([0, 1, 2, 3]).map(encode_int)
    return st.tuples(tags, versions, fields).map(lambda t: [t[0], t[1], *t[2]])


# RLP shaped like the trees: tagged objects whose fields are bytes, lists, or nested objects.
shaped = st.recursive(
    _object(st.lists(st.binary(max_size=34), max_size=7)),
    lambda inner: _object(
        st.lists(
            st.one_of(
                inner.map(rlp.encode),
                st.lists(inner.map(rlp.encode), max_size=3),
                st.binary(max_size=34),
            ),
            max_size=7,
        )
    ),
    max_leaves=12,
)


@given(shaped)
def test_tree_shaped_rlp_raises_only_decoding_error(items: Any) -> None:
    decodes_or_refuses(rlp.encode(items))


@given(st.text(max_size=100))
def test_arbitrary_ss_strings_raise_only_decoding_error(text: str) -> None:
    for candidate in (text, "ss_" + text):
        try:
            decode_state_trees(candidate)
        except DecodingError:
            continue


def test_trees_that_no_node_holds_are_refused() -> None:
    account = Account(nonce=0, balance=1).serialize()
    twice = Mtree(values=(MtreeValue(key=INITIATOR, val=account),) * 2)
    empty = Mtree(values=(MtreeValue(key=INITIATOR, val=b""),))
    base = accounts_only_trees({INITIATOR: 1})
    cases: list[tuple[ChainObject, str]] = [
        (attrs.evolve(base, accounts_tree=AccountsMtree(mtree=twice)), "appears twice"),
        (attrs.evolve(base, calls_tree=CallsMtree(mtree=empty)), "empty value"),
        (
            attrs.evolve(
                base, accounts_tree=tree_of(AccountsMtree, {INITIATOR: empty.serialize()})
            ),
            "expected an account, got mtree",
        ),
        (attrs.evolve(base, accounts_tree=tree_of(AccountsMtree, {b"\x01": account})), "32 bytes"),
        (Account(nonce=0, balance=1), "expected state_trees, got account"),
    ]
    for obj, says in cases:
        with pytest.raises(DecodingError, match=says):
            StateTrees.from_bytes(obj.serialize())
    # Built by hand they still serialize; only their root is refused.
    with pytest.raises(DecodingError, match="appears twice"):
        twice.root_hash()


# --- the command line ------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["state", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_state(capsys: pytest.CaptureFixture[str]) -> None:
    contract_state = next(
        result
        for _, result in offchain_states()
        if decode_state_trees(result["trees"]).contracts_tree.mtree.values
    )
    tx = inner_tx(decode_tx(contract_state["signed_tx"]))
    assert isinstance(tx, STATE_TXS)
    st_hash = encoding.encode("st", tx.state_hash)

    status, out, _ = run_cli(capsys, contract_state["trees"], "--expect-hash", st_hash)
    assert status == 0
    view = json.loads(out)
    assert view["state_hash"] == st_hash
    assert view["matches"] is True
    assert list(view["roots"]) == list(HASH_ORDER)
    assert view["roots"]["channels"] is None
    assert len(bytes.fromhex(view["roots"]["contracts"])) == 32
    shown = {item["account"][:3] for item in view["accounts"]}
    assert shown == {"ak_", "ct_"}  # the contract's own account is shown as the contract
    trees = decode_state_trees(contract_state["trees"])
    assert sum(item["balance"] for item in view["accounts"]) == sum(trees.accounts().values())

    status, out, _ = run_cli(capsys, contract_state["trees"])
    assert status == 0
    assert "matches" not in json.loads(out)


def test_cli_state_wrong_hash_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    trees = encoding.encode("ss", accounts_only_trees(VECTOR).serialize())
    wrong = encoding.encode("st", bytes(32))
    status, out, err = run_cli(capsys, trees, "--expect-hash", wrong)
    assert status == 1
    view = json.loads(out)
    assert view["matches"] is False
    assert view["state_hash"] == encoding.encode("st", accounts_state_hash(VECTOR))
    assert "differs" in err


def test_cli_state_bad_input_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    good = encoding.encode("ss", accounts_only_trees(VECTOR).serialize())
    for argv in (["ss_AAAA"], [encoding.encode("ss", b"\xc0")], [good, "--expect-hash", "st_x"]):
        status, out, err = run_cli(capsys, *argv)
        assert status == 2
        assert out == ""
        assert err.startswith("error: ")
        assert err.count("\n") == 1
