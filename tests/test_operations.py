"""The operation table: every field of every tx a sign request can carry has a rule.

The walk starts from the sign tags and reaches, for each, every version of its tx type that
the codec knows, the updates that can travel with it, the objects nested in the tx, and the
signed-tx and ga_meta_tx wrappers around it; a field without a rule fails the test, naming it.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from sansio_channels import checks, commands, txs
from sansio_channels.codec import ChainObject, registered
from sansio_channels.operations import (
    OPERATIONS,
    SIGN_TAGS,
    Ends,
    Rule,
    field_rules,
    operation_for_method,
    operation_for_tag,
    rules_table,
)
from sansio_channels.signing_context import PendingOperation

DOCS = Path(__file__).parent.parent / "docs"
ASKED_NAMES = {
    *(field.name for field in attrs.fields(PendingOperation) if field.name != "kind"),
    "account",
    "ct_version",
}
UPDATES: tuple[type[ChainObject], ...] = typing.get_args(txs.OffChainUpdate)
WRAPPERS = (txs.SignedTx, txs.GAMetaTx, txs.GAMetaTxV1)
# What the checks are called: the check functions' names, and the first two of every request.
CHECK_NAMES = {
    "tag",
    "tx_type",
    *(run.__name__.removeprefix("_check_") for run in checks._REQUEST_CHECKS),
}


def versions(tx_type: str) -> list[type[ChainObject]]:
    """Every class of the codec's that the node names ``tx_type``, each version."""
    return [kind for kind in registered().values() if tx_type == kind.TYPE]


def travelling_updates(tag: str) -> set[type[ChainObject]]:
    """The updates that can come beside a tag's tx and pass the checks."""
    row, _own = operation_for_tag(tag) or (None, False)
    assert row is not None
    if tag == "update_ack":
        # The peer's update may be any an off-chain tx can carry (the updates check refuses
        # a deposit or a withdrawal there).
        funding: set[type[ChainObject]] = {txs.OffChainDeposit, txs.OffChainWithdrawal}
        return set(UPDATES) - funding
    if row.update is None or row.kind is None:
        return set()  # a close, settle, slash or snapshot makes no update
    # An own update, deposit or withdrawal (or the peer's deposit or withdrawal) makes its
    # one update; meta updates may ride along, except with a force progress.
    found = {
        r.update
        for r in OPERATIONS
        if tag in (r.tag.tag, r.ack_tag and r.ack_tag.tag) and r.update is not None
    }
    return found if row.ends is Ends.SIGNED else found | {txs.OffChainMeta}


def nested(kind: type[ChainObject]) -> Iterator[type[ChainObject]]:
    """The object classes a tx class holds in its fields (a payload, an update)."""
    hints = typing.get_type_hints(kind)
    for name, _codec in kind.FIELDS:
        for arg in (hints[name], *typing.get_args(hints[name])):
            if isinstance(arg, type) and issubclass(arg, ChainObject) and arg is not ChainObject:
                yield arg


def missing_rules(tag: str) -> list[str]:
    rules = field_rules(tag)
    (row, _own) = operation_for_tag(tag) or (None, False)
    assert row is not None
    reachable = [k for k in versions(SIGN_TAGS[tag].tx_type) if k in row.tx_classes]
    reachable += [*travelling_updates(tag), *WRAPPERS]
    for kind in list(reachable):
        reachable += [inner for inner in nested(kind) if inner not in (txs.SignedTx,)]
    missing = []
    for kind in dict.fromkeys(reachable):
        for name, _codec in kind.FIELDS:
            if name not in rules.get(kind, {}):
                missing.append(f"{tag}: {kind.__name__} v{kind.VERSION}.{name} has no rule")
    return missing


@pytest.mark.parametrize("tag", list(SIGN_TAGS))
def test_every_field_of_every_signable_tx_has_a_rule(tag: str) -> None:
    assert missing_rules(tag) == []


@pytest.mark.parametrize("tag", list(SIGN_TAGS))
def test_every_version_of_a_tags_tx_is_ruled_or_refused(tag: str) -> None:
    row, _own = operation_for_tag(tag) or (None, False)
    assert row is not None
    found = versions(SIGN_TAGS[tag].tx_type)
    refused = [kind for kind in found if kind not in row.tx_classes]
    # Only the off-chain tx v1, invalid since Lima, is refused whole (the tx_type check).
    assert refused == ([txs.ChannelOffChainTxV1] if tag.startswith("update") else [])
    assert set(row.tx_classes) <= set(found)


def test_every_rule_names_a_check_that_runs() -> None:
    for tag in SIGN_TAGS:
        for kind, fields in field_rules(tag).items():
            for name, rule in fields.items():
                assert rule.check is None or rule.check in CHECK_NAMES | {"fee"}, (
                    tag,
                    kind,
                    name,
                )
                # A field the client can bound is bounded by a check; free ones are named.
                if rule.rule in (Rule.ASKED, Rule.FEE_POLICY):
                    assert rule.check is not None, (tag, kind, name)
                assert rule.why, (tag, kind, name)
                # What a rule compares with is a value we set, or our own account.
                assert set(rule.asked) <= ASKED_NAMES, (tag, kind, name, rule.asked)


def test_a_removed_rule_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = dict(field_rules("deposit_tx"))
    fields = dict(rules[txs.ChannelDepositTx])
    del fields["fee"]
    rules[txs.ChannelDepositTx] = fields
    monkeypatch.setattr(
        "tests.test_operations.field_rules", lambda tag: rules if tag == "deposit_tx" else {}
    )
    assert missing_rules("deposit_tx") == ["deposit_tx: ChannelDepositTx v1.fee has no rule"]


def test_every_own_operation_is_a_row_and_every_row_a_command() -> None:
    methods = {
        cls.METHOD
        for cls in vars(commands).values()
        if isinstance(cls, type)
        and issubclass(cls, commands.Command)
        and getattr(cls, "KIND", None) is commands.CommandKind.OPERATION
    }
    assert {row.method for row in OPERATIONS if row.method is not None} == methods
    for method in methods:
        row = operation_for_method(method)
        assert row is not None
        assert row.kind is not None
        assert row.ends is not None
    assert len(SIGN_TAGS) == 15


def test_the_signing_page_shows_the_table() -> None:
    page = (DOCS / "signing.md").read_text(encoding="utf-8")
    start, end = "<!-- field rules: start -->\n", "<!-- field rules: end -->"
    shown = page[page.index(start) + len(start) : page.index(end)]
    assert shown.strip() == rules_table().strip()
