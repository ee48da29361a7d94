"""Off-chain updates, deposits and withdrawals, generic messages and queries: what an open
channel does (functions on :class:`~.fsm.Fsm`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import attrs

from .. import encoding, rpc
from .. import txs as t
from ..codec import ChainObject
from ..encoding import Id, IdTag
from ..rpc import ErrorDataCode
from ..trees import accounts_state_hash
from . import frames
from . import link as m
from .chain import pick_fee
from .frames import NodeError
from .state import CoSigned, OpKind, Pending, Request, State, apply_updates, offchain_tx, unsigned
from .trees import Balances, calls_text, poi_bytes, state_trees_text

if TYPE_CHECKING:
    from .fsm import Fsm

__all__ = [
    "balances",
    "deposit",
    "message",
    "offchain_state",
    "on_inband",
    "on_update",
    "on_update_ack",
    "on_update_error",
    "poi",
    "transfer",
    "withdraw",
]

# The info / on_chain_tx words of each funding kind: (acknowledger's, starter's) on_chain_tx.
FUNDING_REPORTS: Final = {
    OpKind.DEPOSIT: ("deposit_created", "deposit_signed"),
    OpKind.WITHDRAW: ("withdraw_created", "withdraw_signed"),
}
LOCKS: Final = {OpKind.DEPOSIT: m.LockKind.DEPOSIT, OpKind.WITHDRAW: m.LockKind.WITHDRAW}
# The acknowledger's sign tag and the info event that announces it, by kind of update.
_ACK_TAGS: Final = {
    OpKind.TRANSFER: ("update_ack", "update"),
    OpKind.DEPOSIT: ("deposit_ack", "deposit_created"),
    OpKind.WITHDRAW: ("withdraw_ack", "withdraw_created"),
}
_OWN_TAGS: Final = {OpKind.TRANSFER: "update", OpKind.DEPOSIT: "deposit_tx"}


def transfer(fsm: Fsm, req: Request) -> None:
    params = req.params
    from_id = frames.account_param(params, "from")
    to_id = frames.account_param(params, "to")
    amount = frames.int_param(params, "amount")
    meta = frames.meta_param(params)
    if amount < 0:
        raise NodeError.rejected(ErrorDataCode.NEGATIVE_AMOUNT)

    def start() -> None:
        assert fsm.latest is not None
        keys = (fsm.initiator, fsm.responder)
        if from_id.key not in keys or to_id.key not in keys or from_id == to_id:
            raise NodeError.rejected(ErrorDataCode.INVALID_PUBKEYS)
        transfer = t.OffChainTransfer(from_id=from_id, to_id=to_id, amount=amount)
        start_update(fsm, req, OpKind.TRANSFER, (transfer,), meta, lambda b, r: None)

    fsm.operation(req, start)


def funding(fsm: Fsm, req: Request, kind: OpKind) -> None:
    params = req.params
    amount = frames.int_param(params, "amount")
    meta = frames.meta_param(params)
    fee, gas_price, nonce = frames.on_chain_params(params)
    if amount < 0:
        raise NodeError.rejected(ErrorDataCode.NEGATIVE_AMOUNT)
    if amount == 0:
        raise NodeError.internal()  # the FSM's guard wants a positive amount

    def start() -> None:
        assert fsm.channel_id is not None
        me = Id(IdTag.ACCOUNT, fsm.account)
        channel = Id(IdTag.CHANNEL, fsm.channel_id)
        update: t.OffChainUpdate
        if kind is OpKind.DEPOSIT:
            update = t.OffChainDeposit(from_id=me, amount=amount)
        else:
            update = t.OffChainWithdrawal(to_id=me, amount=amount)
        chain = fsm.node.chain
        tx_nonce = nonce if nonce is not None else chain.next_nonce(fsm.account)

        def build(balances: Balances, round_: int) -> t.SignedTx:
            cls = t.ChannelDepositTx if kind is OpKind.DEPOSIT else t.ChannelWithdrawTx
            who = {"from_id": me} if kind is OpKind.DEPOSIT else {"to_id": me}

            def tx(f: int) -> ChainObject:
                return cls(
                    channel_id=channel,
                    amount=amount,
                    ttl=0,
                    fee=f,
                    state_hash=accounts_state_hash(balances),
                    round=round_,
                    nonce=tx_nonce,
                    **who,
                )

            tx_fee = pick_fee(tx, fee, gas_price)
            needed = tx_fee + (amount if kind is OpKind.DEPOSIT else 0)
            if chain.balance(fsm.account) < needed:
                raise NodeError.rejected(ErrorDataCode.INSUFFICIENT_BALANCE)
            return unsigned(tx(tx_fee))

        start_update(fsm, req, kind, (update,), meta, build)

    fsm.operation(req, start)


def start_update(
    fsm: Fsm,
    req: Request,
    kind: OpKind,
    updates: tuple[t.OffChainUpdate, ...],
    meta: tuple[bytes, ...],
    build: Callable[[Balances, int], t.SignedTx | None],
) -> None:
    assert fsm.latest is not None
    assert fsm.channel_id is not None
    balances = apply_updates(fsm.latest.balances, updates, fsm.options.channel_reserve)
    round_ = fsm.latest.round + 1
    signed = build(balances, round_) or unsigned(offchain_tx(fsm.channel_id, round_, balances))
    all_updates = (*updates, *(t.OffChainMeta(data=data) for data in meta))
    tag = _OWN_TAGS.get(kind, "withdraw_tx")
    fsm.ok(req)
    fsm.ask(
        Pending(
            kind=kind,
            tag=tag,
            own=True,
            signed=signed,
            updates=all_updates,
            balances=balances,
            round=round_,
        )
    )


def deposit(fsm: Fsm, req: Request) -> None:
    funding(fsm, req, OpKind.DEPOSIT)


def withdraw(fsm: Fsm, req: Request) -> None:
    funding(fsm, req, OpKind.WITHDRAW)


def on_update(fsm: Fsm, message: m.Update) -> None:
    pending = fsm.pending
    latest = fsm.latest
    if latest is None or fsm.channel_id is None:
        return
    own_busy = fsm.state in (State.AWAITING_UPDATE_ACK, State.MUTUAL_CLOSING) or (
        fsm.state is State.AWAITING_SIGNATURE
        and pending is not None
        and pending.own
        and pending.kind.co_signed
    )
    if own_busy:
        fsm.rollback(rpc.AbortCode.CONFLICT, tell_peer=True)  # both started one
        return
    if fsm.state is not State.OPEN:
        fsm.to_peer(m.UpdateError(round=latest.round, code=rpc.AbortCode.CONFLICT))
        return
    tx = message.signed.transaction
    kind = {
        t.ChannelOffChainTx: OpKind.TRANSFER,
        t.ChannelDepositTx: OpKind.DEPOSIT,
        t.ChannelWithdrawTx: OpKind.WITHDRAW,
    }.get(type(tx))
    try:
        if kind is None or getattr(tx, "round", None) != latest.round + 1:
            raise NodeError.internal()
        balances = apply_updates(latest.balances, message.updates, fsm.options.channel_reserve)
        if accounts_state_hash(balances) != getattr(tx, "state_hash", None):
            raise NodeError.internal()
    except NodeError:
        fsm.to_peer(m.UpdateError(round=latest.round, code=rpc.AbortCode.VALIDATION))
        return
    if not fsm.verified(message.signed, (fsm.peer_key,)):
        fsm.to_peer(m.UpdateError(round=latest.round, code=rpc.AbortCode.VALIDATION))
        return
    pending = Pending(
        kind=kind,
        tag=_ACK_TAGS[kind][0],
        own=False,
        signed=message.signed,
        updates=message.updates,
        balances=balances,
        round=latest.round + 1,
    )
    if not fsm.connected:
        # No client to sign: only a request that carries its signature already goes on.
        if fsm.verified(message.signed, (fsm.account,)):
            fsm.signed(pending, message.signed)
        else:
            fsm.to_peer(m.UpdateError(round=latest.round, code=rpc.AbortCode.CONFLICT))
        return
    fsm.info(_ACK_TAGS[kind][1])
    fsm.ask(pending)


def on_update_ack(fsm: Fsm, message: m.UpdateAck) -> None:
    pending = fsm.pending
    if fsm.state is not State.AWAITING_UPDATE_ACK or pending is None:
        return
    signed = message.signed
    same = signed.transaction.serialize() == pending.signed.transaction.serialize()
    if not same or not fsm.verified(signed, (fsm.initiator, fsm.responder)):
        fsm.rollback(rpc.AbortCode.VALIDATION, tell_peer=True)
        return
    fsm.pending = None
    fsm.co_signed(pending, signed)
    if pending.kind is OpKind.TRANSFER:
        fsm.report_update()
        fsm.move(State.OPEN)
        return
    fsm.on_chain(FUNDING_REPORTS[pending.kind][1], signed)
    assert fsm.latest is not None
    fsm.node.chain.post(signed, fsm.latest.balances)
    fsm.watch(signed, LOCKS[pending.kind])
    fsm.move(State.AWAITING_LOCKED)


def on_update_error(fsm: Fsm, message: m.UpdateError) -> None:
    pending = fsm.pending
    waiting = fsm.state in (State.AWAITING_UPDATE_ACK, State.MUTUAL_CLOSING) or (
        fsm.state is State.AWAITING_SIGNATURE and pending is not None and pending.own
    )
    if waiting and pending is not None and pending.kind.co_signed:
        fsm.rollback(message.code, tell_peer=False)
    # Otherwise a late notice about an update already rolled back.


def message(fsm: Fsm, req: Request) -> None:
    to_id = frames.account_param(req.params, "to")
    text = req.params.get("info")
    if not isinstance(text, str):
        raise NodeError.not_found()
    if len(text.encode("utf-8")) > 65000 or to_id.key != fsm.peer_account:
        raise NodeError.internal()  # too long, or not the peer without msg_forwarding
    fsm.ok(req)
    me = Id(IdTag.ACCOUNT, fsm.account).api
    fsm.to_peer(m.Inband(from_id=me, to_id=to_id.api, info=text))


def on_inband(fsm: Fsm, message: m.Inband) -> None:
    data = {
        "message": {
            "channel_id": fsm.channel_text,
            "from": message.from_id,
            "info": message.info,
            "to": message.to_id,
        }
    }
    fsm.send(frames.notification("channels.message", fsm.channel_text, data))


def latest_or_not_ready(fsm: Fsm) -> CoSigned:
    if fsm.latest is None:
        raise NodeError.rejected(ErrorDataCode.NOT_READY)
    return fsm.latest


def balances(fsm: Fsm, req: Request) -> None:
    accounts = req.params.get("accounts")
    if not isinstance(accounts, list):
        raise NodeError.not_found()
    wanted = [frames.account_param({"a": account}, "a") for account in accounts]
    latest = latest_or_not_ready(
        fsm,
    )
    found = [
        {"account": account.api, "balance": latest.balances[account.key]}
        for account in wanted
        if account.key in latest.balances
    ]
    fsm.answer(req, found)


def offchain_state(fsm: Fsm, req: Request) -> None:
    latest = latest_or_not_ready(
        fsm,
    )
    pending = fsm.pending
    half = ""
    if pending is not None and pending.signed.signatures and pending.kind.co_signed:
        half = t.encode_tx(pending.signed)
    fsm.answer(
        req,
        {
            "calls": calls_text(),
            "half_signed_tx": half,
            "signed_tx": t.encode_tx(latest.signed),
            "trees": state_trees_text(latest.balances),
        },
    )


def poi(fsm: Fsm, req: Request) -> None:
    latest = latest_or_not_ready(
        fsm,
    )
    fsm.answer(req, {"poi": encoding.encode("pi", poi_bytes(latest.balances))})


def signed(fsm: Fsm, pending: Pending, signed_tx: t.SignedTx) -> None:
    """Our client signed an update: the starter's goes to the peer, an ack co-signs it."""
    if pending.own:
        fsm.pending = attrs.evolve(pending, signed=signed_tx)
        fsm.to_peer(m.Update(signed=signed_tx, updates=pending.updates))
        fsm.move(State.AWAITING_UPDATE_ACK)
        return
    fsm.pending = None
    fsm.co_signed(pending, signed_tx)
    fsm.to_peer(m.UpdateAck(signed=signed_tx))
    if pending.kind is OpKind.TRANSFER:
        fsm.report_update()
        fsm.move(State.OPEN)
    else:
        fsm.on_chain(FUNDING_REPORTS[pending.kind][0], signed_tx)
        fsm.watch(signed_tx, LOCKS[pending.kind])
        fsm.move(State.AWAITING_LOCKED)
