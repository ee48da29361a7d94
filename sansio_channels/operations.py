"""What each operation of a channel is, in one table that every layer reads.

One :class:`OperationRow` per operation: the client method that starts it (none for the open),
its :class:`OperationKind`, the sign tag of its request and the peer's tag for the same
operation, how each tag is answered (:class:`SignTag`), the tx classes and the update it
carries, how it ends (:class:`Ends`), and for every field of every tx class that can reach a
sign request the rule that bounds it (:class:`FieldRule`). The checks
(:mod:`sansio_channels.checks`) execute the rules; :func:`field_rules` gives them by sign tag,
and :func:`rules_table` renders them for docs/signing.md.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterator, Mapping
from typing import Final

import attrs

from . import txs as t
from .codec import ChainObject

__all__ = [
    "OPERATIONS",
    "SIGN_TAGS",
    "WRAPPERS",
    "Ends",
    "FieldRule",
    "OperationKind",
    "OperationRow",
    "Rule",
    "SignTag",
    "field_rules",
    "operation_for_method",
    "operation_for_tag",
    "rules_table",
]


class OperationKind(enum.Enum):
    """An own operation, one a client starts with a method of the node's API."""

    TRANSFER = "transfer"
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    NEW_CONTRACT = "new_contract"
    CALL_CONTRACT = "call_contract"
    SHUTDOWN = "shutdown"
    CLOSE_SOLO = "close_solo"
    SLASH = "slash"
    SETTLE = "settle"
    SNAPSHOT_SOLO = "snapshot_solo"
    FORCE_PROGRESS = "force_progress"


class Ends(enum.Enum):
    """How an own operation ends well."""

    CO_SIGNED = "co_signed"  # its new state comes back co-signed (channels.update)
    SIGNED = "signed"  # its solo tx is signed: the node posts it, OnChainTx events follow
    CLOSE_MUTUAL = "close_mutual"  # the close tx is co-signed and posted (on_chain_tx info)


class Rule(enum.Enum):
    """How a field of a tx we sign is bounded."""

    ASKED = "equal to what we asked"
    STATE = "follows from our known state"
    FEE_POLICY = "bounded by the fee policy"
    SHOWN = "free, shown in the sign request"
    UNKNOWABLE = "nothing a client can know"


@attrs.frozen
class FieldRule:
    """The rule of one field: its kind, the check that executes it, and why in a few words.

    ``asked`` names the values of our operation (:class:`PendingOperation` fields; ``account``
    for our own account) that the field must equal where we set them; the ``own_operation``
    check compares them, whatever the rule's kind (a nonce is unknowable unless we asked one).
    """

    rule: Rule
    check: str | None
    why: str
    asked: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class SignTag:
    """One sign request the node sends as ``channels.sign.<tag>``, and how to answer it."""

    tag: str
    tx_type: str  # the node's name of the inner tx
    reply_method: str
    # Other reply methods the node maps to the same tag; the builder uses reply_method.
    aliases: tuple[str, ...] = ()
    abortable: bool = True

    @property
    def request_method(self) -> str:
        return "channels.sign." + self.tag


_Fields = Mapping[type[ChainObject], Mapping[str, FieldRule]]


def _frozen(fields: _Fields) -> _Fields:
    return types.MappingProxyType({k: types.MappingProxyType(dict(v)) for k, v in fields.items()})


@attrs.frozen(kw_only=True)
class OperationRow:
    """One operation: how it starts, the requests it leads to, what they carry, how it ends.

    ``tag`` is the request for the participant that started it (for the open: the
    initiator), ``ack_tag`` the other participant's, if it signs too. ``update`` is the one
    update the operation makes (meta aside), if any. ``own_fields`` and ``ack_fields`` hold the
    rule of every field of every tx class and update the two requests can carry.
    """

    name: str
    kind: OperationKind | None  # None: the open, which no method of ours starts
    method: str | None  # the client method (a command's METHOD)
    tag: SignTag
    ack_tag: SignTag | None
    tx_classes: tuple[type[ChainObject], ...]
    update: type[ChainObject] | None
    ends: Ends | None
    own_fields: _Fields = attrs.field(converter=_frozen)
    ack_fields: _Fields = attrs.field(converter=_frozen)

    @property
    def opens(self) -> bool:
        return self.kind is None


# --- the field rules --------------------------------------------------------------------------


def _r(rule: Rule, check: str | None, why: str, *asked: str) -> FieldRule:
    return FieldRule(rule, check, why, asked)


_ASKED, _STATE, _FEE, _SHOWN, _UNKNOWABLE = Rule

CHANNEL_ID: Final = _r(_STATE, "channel_id", "our channel")
ROUND: Final = _r(_STATE, "round", "the round after our latest co-signed one")
STATE_HASH: Final = _r(_STATE, "state_hash", "our balances with the updates applied")
OUR_ACCOUNT: Final = _r(_ASKED, "own_operation", "our account", "account")
FEE: Final = _r(
    _FEE,
    "fee",
    "fee= or the fee gas_price= gives if asked; else the policy's bound",
    "fee",
    "gas_price",
)
FEE_OF_PEER: Final = _r(_SHOWN, None, "paid by the peer, from its own account")
NONCE: Final = _r(
    _UNKNOWABLE, "own_operation", "nonce= if asked; else the account's nonce on chain", "nonce"
)
NONCE_OF_PEER: Final = _r(_UNKNOWABLE, None, "the peer's account nonce on chain")
TTL: Final = _r(_SHOWN, None, "the last block the tx may be included in; it costs nothing")
PAYLOAD: Final = _r(_STATE, "payload", "our latest co-signed state, or empty")
POI: Final = _r(_UNKNOWABLE, "poi", "built by the node from its trees")
FINAL: Final = _r(_STATE, "final_amounts", "our balances less the fee, split as the node does")
SETTLED: Final = _r(_STATE, "final_amounts", "our balances")
AMOUNT: Final = _r(_ASKED, "own_operation", "amount=", "amount")
SHOWN_AMOUNT: Final = _r(_SHOWN, None, "what the peer moves; the application sees it")
PARTICIPANT: Final = _r(_STATE, "updates", "a participant, as the node applies it")
CALL_DATA: Final = _r(
    _ASKED,
    "contract_call",
    "the function and arguments of from_call, decoded; else call_data=",
    "call",
    "call_data",
)
PEER_CALL_DATA: Final = _r(_SHOWN, "contract_call", "the peer's call, decoded if the code is known")

_ON_CHAIN_TAIL: Final = {"ttl": TTL, "fee": FEE, "nonce": NONCE}
_OWN_UPDATES: Final[_Fields] = {
    t.OffChainTransfer: {
        "from_id": _r(_ASKED, "own_operation", "from=", "from_id"),
        "to_id": _r(_ASKED, "own_operation", "to=", "to_id"),
        "amount": AMOUNT,
    },
    t.OffChainNewContract: {
        "owner_id": OUR_ACCOUNT,
        "ct_version": _r(_ASKED, "own_operation", "vm_version=, abi_version=", "ct_version"),
        "code": _r(_ASKED, "own_operation", "code=", "code"),
        "deposit": _r(_ASKED, "own_operation", "deposit=", "deposit"),
        "call_data": CALL_DATA,
    },
    t.OffChainCallContract: {
        "caller_id": OUR_ACCOUNT,
        "contract_id": _r(_ASKED, "own_operation", "contract=", "contract_id"),
        "abi_version": _r(_ASKED, "own_operation", "abi_version=", "abi_version"),
        "amount": AMOUNT,
        "gas": _r(_SHOWN, "own_operation", "gas= if asked; off-chain the node's 1_000_000", "gas"),
        "gas_price": _r(
            _SHOWN, "own_operation", "gas_price= if asked; off-chain the node's 1", "gas_price"
        ),
        "call_data": CALL_DATA,
        "call_stack": _r(_SHOWN, None, "the contracts on the call's stack, as the node keeps it"),
    },
    t.OffChainMeta: {"data": _r(_ASKED, "own_operation", "meta=", "meta")},
}
_PEER_UPDATES: Final[_Fields] = {
    t.OffChainTransfer: {"from_id": PARTICIPANT, "to_id": PARTICIPANT, "amount": SHOWN_AMOUNT},
    t.OffChainNewContract: {
        "owner_id": PARTICIPANT,
        **{name: _r(_SHOWN, None, "the peer's contract") for name in ("ct_version", "code")},
        "deposit": SHOWN_AMOUNT,
        "call_data": PEER_CALL_DATA,
    },
    t.OffChainCallContract: {
        "caller_id": PARTICIPANT,
        **{
            name: _r(_SHOWN, None, "the peer's call")
            for name in ("contract_id", "abi_version", "gas", "gas_price")
        },
        "call_data": PEER_CALL_DATA,
        "amount": SHOWN_AMOUNT,
        "call_stack": _r(_SHOWN, None, "the contracts on the call's stack, as the node keeps it"),
    },
    t.OffChainMeta: {"data": _r(_SHOWN, None, "the peer's note; it does not enter the state")},
}
_OFF_CHAIN: Final = {"channel_id": CHANNEL_ID, "round": ROUND, "state_hash": STATE_HASH}
_SOLO: Final = {"channel_id": CHANNEL_ID, "from_id": OUR_ACCOUNT, "payload": PAYLOAD}


def _funding(tx: type[ChainObject], who: str, *, own: bool) -> _Fields:
    head = {"channel_id": CHANNEL_ID, who: OUR_ACCOUNT if own else PARTICIPANT}
    amount = AMOUNT if own else SHOWN_AMOUNT
    tail = {
        "ttl": TTL,
        "fee": FEE if own else FEE_OF_PEER,
        "nonce": NONCE if own else NONCE_OF_PEER,
    }
    update = t.OffChainDeposit if tx is t.ChannelDepositTx else t.OffChainWithdrawal
    update_own = {who: OUR_ACCOUNT if own else PARTICIPANT, "amount": amount}
    meta = _OWN_UPDATES[t.OffChainMeta] if own else _PEER_UPDATES[t.OffChainMeta]
    return {
        tx: {**head, "amount": amount, **tail, "state_hash": STATE_HASH, "round": ROUND},
        update: update_own,
        t.OffChainMeta: meta,
    }


def _close_mutual(*, own: bool) -> _Fields:
    return {
        t.ChannelCloseMutualTx: {
            "channel_id": CHANNEL_ID,
            "from_id": OUR_ACCOUNT if own else _r(_SHOWN, None, "whose nonce the tx uses"),
            "initiator_amount_final": FINAL,
            "responder_amount_final": FINAL,
            "ttl": TTL,
            "fee": FEE,  # both participants pay it, from the channel
            "nonce": NONCE if own else NONCE_OF_PEER,
        }
    }


def _create(*, initiator: bool) -> _Fields:
    opened = _r(_ASKED, "open_options", "our open options")
    no_delegates = _r(_ASKED, "open_options", "none: we asked for no delegates")
    head = dict.fromkeys(
        (
            *("initiator_id", "initiator_amount", "responder_id", "responder_amount"),
            *("channel_reserve", "lock_period"),
        ),
        opened,
    )
    if initiator:  # the initiator's node builds the tx, and the initiator pays for it
        ttl = _r(_ASKED, "open_options", "ttl= of the open options if asked; else free")
        fee = _r(
            _FEE,
            "fee",
            "fee= or gas_price= of the open options, else the policy",
            "fee",
            "gas_price",
        )
        nonce = _r(_UNKNOWABLE, "open_options", "nonce= of the open options; else on chain")
    else:
        ttl, fee, nonce = TTL, FEE_OF_PEER, NONCE_OF_PEER
    tail = {"ttl": ttl, "fee": fee}
    end = {"state_hash": _r(_STATE, "state_hash", "the open options' balances"), "nonce": nonce}
    return {
        t.ChannelCreateTx: {
            **head,
            **tail,
            "initiator_delegate_ids": no_delegates,
            "responder_delegate_ids": no_delegates,
            **end,
        },
        t.ChannelCreateTxV1: {**head, **tail, "delegate_ids": no_delegates, **end},
    }


# Every sign request wraps its tx in a signed tx; a generalized account's, in a meta tx too.
WRAPPERS: Final[_Fields] = _frozen(
    {
        t.SignedTx: {
            "signatures": _r(_STATE, "signatures", "each a participant's, under the network id"),
            "transaction": _r(_STATE, None, "the tx inside, whose fields follow their rules"),
        },
        t.GAMetaTx: {
            "ga_id": _r(_STATE, "signatures", "a participant, authenticated by its contract"),
            "auth_data": _r(_UNKNOWABLE, None, "what the account's contract authenticates"),
            "abi_version": _r(_SHOWN, None, "the ABI of the account's contract"),
            # The client of the account sets these, and the account pays: a peer's are the
            # peer's own, shown; ours are bounded.
            "fee": _r(_FEE, "fee", "ours: within the fee policy; the peer's: its own"),
            "gas": _r(_FEE, "fee", "ours: gas x gas price within the fee policy's fee bound"),
            "gas_price": _r(_FEE, "fee", "ours: at most the policy's max_gas_price"),
            "tx": _r(_STATE, None, "the signed tx inside, whose fields follow their rules"),
        },
    }
)
WRAPPERS_V1: Final[_Fields] = {
    t.GAMetaTxV1: {**WRAPPERS[t.GAMetaTx], "ttl": TTL},
}


# --- the sign tags and the operations ---------------------------------------------------------


def _tag(tag: str, tx_type: str, reply: str, *aliases: str, abortable: bool = True) -> SignTag:
    return SignTag(
        tag=tag, tx_type=tx_type, reply_method=reply, aliases=aliases, abortable=abortable
    )


def _rows() -> Iterator[OperationRow]:
    k = OperationKind
    # Signing the create tx cannot be aborted: the node answers 1018.
    create = "channel_create_tx"
    yield OperationRow(
        name="open",
        kind=None,
        method=None,
        tag=_tag("initiator_sign", create, "channels.initiator_sign", abortable=False),
        ack_tag=_tag("responder_sign", create, "channels.responder_sign", abortable=False),
        tx_classes=t.CREATE_TXS,
        update=None,
        ends=None,
        own_fields=_create(initiator=True),
        ack_fields=_create(initiator=False),
    )
    offchain = "channel_offchain_tx"
    update = _tag("update", offchain, "channels.update")
    update_ack = _tag("update_ack", offchain, "channels.update_ack")
    updates: tuple[tuple[OperationKind, str, type[ChainObject]], ...] = (
        (k.TRANSFER, "channels.update.new", t.OffChainTransfer),
        (k.NEW_CONTRACT, "channels.update.new_contract", t.OffChainNewContract),
        (k.CALL_CONTRACT, "channels.update.call_contract", t.OffChainCallContract),
    )
    for kind, method, made in updates:
        yield OperationRow(
            name=kind.value,
            kind=kind,
            method=method,
            tag=update,
            ack_tag=update_ack,
            tx_classes=(t.ChannelOffChainTx,),
            update=made,
            ends=Ends.CO_SIGNED,
            own_fields={t.ChannelOffChainTx: _OFF_CHAIN, **_OWN_UPDATES},
            ack_fields={t.ChannelOffChainTx: _OFF_CHAIN, **_PEER_UPDATES},
        )
    funding: tuple[tuple[OperationKind, str, type[ChainObject], type[ChainObject], str], ...]
    funding = (
        (k.DEPOSIT, "deposit", t.ChannelDepositTx, t.OffChainDeposit, "from_id"),
        (k.WITHDRAW, "withdraw", t.ChannelWithdrawTx, t.OffChainWithdrawal, "to_id"),
    )
    for kind, name, tx, made, who in funding:
        yield OperationRow(
            name=name,
            kind=kind,
            method=f"channels.{name}",
            tag=_tag(f"{name}_tx", tx.TYPE, f"channels.{name}_tx"),
            ack_tag=_tag(f"{name}_ack", tx.TYPE, f"channels.{name}_ack"),
            tx_classes=(tx,),
            update=made,
            ends=Ends.CO_SIGNED,
            own_fields=_funding(tx, who, own=True),
            ack_fields=_funding(tx, who, own=False),
        )
    close = t.ChannelCloseMutualTx.TYPE
    yield OperationRow(
        name="shutdown",
        kind=k.SHUTDOWN,
        method="channels.shutdown",
        tag=_tag("shutdown_sign", close, "channels.shutdown_sign"),
        ack_tag=_tag("shutdown_sign_ack", close, "channels.shutdown_sign_ack"),
        tx_classes=(t.ChannelCloseMutualTx,),
        update=None,
        ends=Ends.CLOSE_MUTUAL,
        own_fields=_close_mutual(own=True),
        ack_fields=_close_mutual(own=False),
    )
    solo_tail = {"poi": POI, **_ON_CHAIN_TAIL}
    settle_amounts = {"initiator_amount_final": SETTLED, "responder_amount_final": SETTLED}
    force_update = {
        **_OWN_UPDATES[t.OffChainCallContract],
        "gas": _r(_ASKED, "own_operation", "gas= if asked; else the node's 1_000_000", "gas"),
        "gas_price": _r(_ASKED, "own_operation", "gas_price=", "gas_price"),
    }
    vm_state = "the contract call's outcome: only the VM knows it"
    solo: tuple[tuple[OperationKind, str, str, tuple[str, ...], type[ChainObject], _Fields], ...]
    solo = (
        (
            k.CLOSE_SOLO,
            "close_solo_sign",
            "channels.close_solo_sign",
            ("channels.close_solo_tx",),
            t.ChannelCloseSoloTx,
            {t.ChannelCloseSoloTx: {**_SOLO, **solo_tail}},
        ),
        (
            k.SLASH,
            "slash_tx",
            "channels.slash_sign",
            ("channels.slash_tx",),
            t.ChannelSlashTx,
            {t.ChannelSlashTx: {**_SOLO, **solo_tail}},
        ),
        (
            k.SETTLE,
            "settle_sign",
            "channels.settle_sign",
            ("channels.settle_tx",),
            t.ChannelSettleTx,
            {
                t.ChannelSettleTx: {
                    "channel_id": CHANNEL_ID,
                    "from_id": OUR_ACCOUNT,
                    **settle_amounts,
                    **_ON_CHAIN_TAIL,
                }
            },
        ),
        # channels.snapshot_solo_tx is accepted by the node but maps to a tag the FSM never
        # expects, so it is deliberately not an alias here.
        (
            k.SNAPSHOT_SOLO,
            "snapshot_solo_tx",
            "channels.snapshot_solo_sign",
            (),
            t.ChannelSnapshotSoloTx,
            {t.ChannelSnapshotSoloTx: {**_SOLO, **_ON_CHAIN_TAIL}},
        ),
        (
            k.FORCE_PROGRESS,
            "force_progress_tx",
            "channels.force_progress_sign",
            ("channels.force_progress_tx",),
            t.ChannelForceProgressTx,
            {
                t.ChannelForceProgressTx: {
                    **_SOLO,
                    "round": ROUND,
                    "update": _r(_STATE, "updates", "the call update beside the tx"),
                    "state_hash": _r(_UNKNOWABLE, "state_hash", vm_state),
                    "offchain_trees": _r(_UNKNOWABLE, None, vm_state),
                    "ttl": TTL,
                    # gas_price= prices the call inside, so only the policy bounds the fee.
                    "fee": _r(_FEE, "fee", "at most the fee policy's bound"),
                    "nonce": NONCE,
                },
                t.OffChainCallContract: force_update,
            },
        ),
    )
    for kind, tag, reply, aliases, solo_tx, fields in solo:
        yield OperationRow(
            name=kind.value,
            kind=kind,
            method=f"channels.{kind.value}",
            tag=_tag(tag, solo_tx.TYPE, reply, *aliases),
            ack_tag=None,
            tx_classes=(solo_tx,),
            update=t.OffChainCallContract if kind is k.FORCE_PROGRESS else None,
            ends=Ends.SIGNED,
            own_fields=fields,
            ack_fields={},
        )


OPERATIONS: Final[tuple[OperationRow, ...]] = tuple(_rows())

# The indexes the layers look things up by, all from the rows.
SIGN_TAGS: Final[Mapping[str, SignTag]] = types.MappingProxyType(
    {tag.tag: tag for row in OPERATIONS for tag in (row.tag, row.ack_tag) if tag is not None}
)
_BY_TAG: Final = {
    tag.tag: (row, tag is row.tag)
    for row in OPERATIONS
    for tag in (row.tag, row.ack_tag)
    if tag is not None
}
_BY_METHOD: Final = {row.method: row for row in OPERATIONS if row.method is not None}
_BY_KIND: Final = {row.kind: row for row in OPERATIONS if row.kind is not None}


def _rules_by_tag() -> dict[str, _Fields]:
    found: dict[str, dict[type[ChainObject], Mapping[str, FieldRule]]] = {}
    for row in OPERATIONS:
        for tag, fields in ((row.tag, row.own_fields), (row.ack_tag, row.ack_fields)):
            if tag is not None:
                found.setdefault(tag.tag, {}).update(fields)
    wrappers: dict[type[ChainObject], Mapping[str, FieldRule]] = {**WRAPPERS, **WRAPPERS_V1}
    return {tag: _frozen({**wrappers, **fields}) for tag, fields in found.items()}


_RULES: Final = _rules_by_tag()


def operation_for_tag(tag: str) -> tuple[OperationRow, bool] | None:
    """The operation a sign tag belongs to, and whether it is the request of the participant
    that started it (False: the peer's operation, or the responder's side of the open).
    A tag shared by several operations (``update``) gives the first of them."""
    return _BY_TAG.get(tag)


def operation_for_method(method: str) -> OperationRow | None:
    """The operation a client method (a command's ``METHOD``) starts."""
    return _BY_METHOD.get(method)


def operation_of(kind: OperationKind) -> OperationRow:
    return _BY_KIND[kind]


def field_rules(tag: str) -> _Fields:
    """Every field rule of a sign tag's request: its tx classes, updates and wrappers."""
    return _RULES[tag]


def rules_table() -> str:
    """The rule of every field of every signable tx, by sign tag, as a Markdown table."""
    lines = [
        "| sign tag | object | field | rule | checked by | what |",
        "|---|---|---|---|---|---|",
    ]
    for tag in SIGN_TAGS:
        for kind, fields in field_rules(tag).items():
            if kind in WRAPPERS or kind in WRAPPERS_V1:
                continue
            name = f"{kind.__name__} v{kind.VERSION}"
            for field, rule in fields.items():
                check = f"`{rule.check}`" if rule.check else ""
                lines.append(
                    f"| `{tag}` | {name} | `{field}` | {rule.rule.value} | {check} | {rule.why} |"
                )
    lines.append("")
    lines.append("Around every tx, whatever the tag:")
    lines.append("")
    lines.append("| object | field | rule | checked by | what |")
    lines.append("|---|---|---|---|---|")
    wrappers: dict[type[ChainObject], Mapping[str, FieldRule]] = {**WRAPPERS, **WRAPPERS_V1}
    for kind, fields in wrappers.items():
        name = f"{kind.__name__} v{kind.VERSION}"
        for field, rule in fields.items():
            check = f"`{rule.check}`" if rule.check else ""
            lines.append(f"| {name} | `{field}` | {rule.rule.value} | {check} | {rule.why} |")
    return "\n".join(lines) + "\n"
