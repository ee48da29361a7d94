"""Closing a channel: mutual close, solo close, slash, settle, and the snapshot that guards
against a solo close; and what the FSM makes of the channel's txs on chain (functions on
:class:`~.fsm.Fsm`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from .. import rpc
from .. import txs as t
from ..codec import ChainObject
from ..encoding import Id, IdTag
from ..rpc import ErrorCode, ErrorDataCode
from . import frames
from . import link as m
from .chain import pick_fee
from .frames import NodeError
from .state import OpKind, Pending, Request, State, close_mutual_amounts, unsigned
from .trees import poi_bytes

if TYPE_CHECKING:
    from .fsm import Fsm

__all__ = [
    "close_solo",
    "on_chain_event",
    "on_shutdown",
    "on_shutdown_ack",
    "post_held_settle",
    "settle",
    "shutdown",
    "signed",
    "slash",
    "snapshot_solo",
]

# The sign tag of each closing operation, and the state it waits in.
_TAGS = {
    OpKind.SHUTDOWN: "shutdown_sign",
    OpKind.CLOSE_SOLO: "close_solo_sign",
    OpKind.SLASH: "slash_tx",
    OpKind.SETTLE: "settle_sign",
    OpKind.SNAPSHOT: "snapshot_solo_tx",
}


def _start(
    fsm: Fsm,
    req: Request,
    kind: OpKind,
    build: Callable[[int, int], ChainObject],
    *,
    allowed: State,
) -> None:
    """Build the tx with the request's fee, gas price and nonce; ask our client to sign it."""
    fee, gas_price, nonce = frames.on_chain_params(req.params)

    def start() -> None:
        tx_nonce = nonce if nonce is not None else fsm.node.chain.next_nonce(fsm.account)
        tx_fee = pick_fee(lambda f: build(f, tx_nonce), fee, gas_price)
        tx = build(tx_fee, tx_nonce)
        fsm.ok(req)
        latest = fsm.latest
        fsm.ask(
            Pending(
                kind=kind,
                tag=_TAGS[kind],
                own=True,
                signed=unsigned(tx),
                balances=latest.balances if latest is not None else None,
                back=allowed,
            )
        )

    if allowed is State.OPEN:
        fsm.operation(req, start)
    elif fsm.state is allowed:
        start()
    else:
        raise NodeError.internal()  # channel_not_closing, channel_closing, ...


def _ids(fsm: Fsm) -> tuple[Id, Id]:
    assert fsm.channel_id is not None
    return Id(IdTag.CHANNEL, fsm.channel_id), Id(IdTag.ACCOUNT, fsm.account)


def shutdown(fsm: Fsm, req: Request) -> None:
    channel, me = _ids(fsm)

    def build(fee: int, nonce: int) -> ChainObject:
        assert fsm.latest is not None
        balances = fsm.latest.balances
        initiator, responder = close_mutual_amounts(
            balances[fsm.initiator], balances[fsm.responder], fee
        )
        return t.ChannelCloseMutualTx(
            channel_id=channel,
            from_id=me,
            initiator_amount_final=initiator,
            responder_amount_final=responder,
            ttl=0,
            fee=fee,
            nonce=nonce,
        )

    _start(fsm, req, OpKind.SHUTDOWN, build, allowed=State.OPEN)


def close_solo(fsm: Fsm, req: Request) -> None:
    if fsm.state is State.CHANNEL_CLOSING:
        raise NodeError.internal()  # channel_closing
    channel, me = _ids(fsm)

    def build(fee: int, nonce: int) -> ChainObject:
        latest = fsm.latest
        assert latest is not None
        # An empty payload means "the latest state on chain": so when ours is on chain.
        payload = latest.signed if latest.off_chain and not latest.on_chain else None
        return t.ChannelCloseSoloTx(
            channel_id=channel,
            from_id=me,
            payload=payload,
            poi=poi_bytes(latest.balances),
            ttl=0,
            fee=fee,
            nonce=nonce,
        )

    _start(fsm, req, OpKind.CLOSE_SOLO, build, allowed=State.OPEN)


def slash(fsm: Fsm, req: Request) -> None:
    if fsm.state is not State.CHANNEL_CLOSING:
        raise NodeError.internal()  # channel_not_closing
    channel, me = _ids(fsm)
    latest = fsm.latest
    on_chain = fsm.node.chain.channel(channel.key)
    if latest is None or on_chain is None or latest.round <= on_chain.round:
        raise NodeError.internal()  # nothing newer than the state on chain to slash with

    def build(fee: int, nonce: int) -> ChainObject:
        return t.ChannelSlashTx(
            channel_id=channel,
            from_id=me,
            payload=latest.signed,
            poi=poi_bytes(latest.balances),
            ttl=0,
            fee=fee,
            nonce=nonce,
        )

    _start(fsm, req, OpKind.SLASH, build, allowed=State.CHANNEL_CLOSING)


def settle(fsm: Fsm, req: Request) -> None:
    if fsm.state is not State.CHANNEL_CLOSING:
        raise NodeError.internal()  # channel_not_closed
    channel, me = _ids(fsm)
    on_chain = fsm.node.chain.channel(channel.key)
    assert on_chain is not None

    def build(fee: int, nonce: int) -> ChainObject:
        return t.ChannelSettleTx(
            channel_id=channel,
            from_id=me,
            initiator_amount_final=on_chain.balances[on_chain.initiator],
            responder_amount_final=on_chain.balances[on_chain.responder],
            ttl=0,
            fee=fee,
            nonce=nonce,
        )

    _start(fsm, req, OpKind.SETTLE, build, allowed=State.CHANNEL_CLOSING)


def snapshot_solo(fsm: Fsm, req: Request) -> None:
    if fsm.state is State.CHANNEL_CLOSING:
        raise NodeError.internal()
    latest = fsm.latest
    if fsm.state is State.OPEN and latest is not None:
        if not latest.off_chain:
            raise NodeError(ErrorCode.ACTION_NOT_ALLOWED, ErrorDataCode.OFFCHAIN_TX_EXPECTED)
        if latest.on_chain:
            raise NodeError.rejected(ErrorDataCode.TX_ALREADY_ON_CHAIN)
    channel, me = _ids(fsm)

    def build(fee: int, nonce: int) -> ChainObject:
        assert fsm.latest is not None
        return t.ChannelSnapshotSoloTx(
            channel_id=channel, from_id=me, payload=fsm.latest.signed, ttl=0, fee=fee, nonce=nonce
        )

    _start(fsm, req, OpKind.SNAPSHOT, build, allowed=State.OPEN)


# --- after signing -----------------------------------------------------------------------


def signed(fsm: Fsm, pending: Pending, signed_tx: t.SignedTx) -> None:
    """Our client signed a closing tx: a shutdown goes to the peer, the rest to the chain."""
    if pending.kind is OpKind.SHUTDOWN:
        if pending.own:
            fsm.pending = attrs.evolve(pending, signed=signed_tx)
            fsm.to_peer(m.Shutdown(signed=signed_tx))
            fsm.move(State.MUTUAL_CLOSING)
        else:
            fsm.pending = None
            fsm.to_peer(m.ShutdownAck(signed=signed_tx))
            _closing_mutually(fsm, signed_tx)
        return
    fsm.pending = None
    chain = fsm.node.chain
    on_chain = chain.channel(fsm.channel_id or b"")
    if pending.kind is OpKind.SETTLE:
        # Before the lock period is over the FSM holds the settle back.
        fsm.hold_settle(signed_tx)
        fsm.move(State.CHANNEL_CLOSING)
        post_held_settle(fsm)
        return
    balances = fsm.latest.balances if fsm.latest is not None else None
    if on_chain is not None and getattr(signed_tx.transaction, "payload", None) is None:
        balances = on_chain.balances
    chain.post(signed_tx, balances)
    if pending.kind is OpKind.SNAPSHOT:
        fsm.watch(signed_tx, "snapshot")
    fsm.move(pending.back)


def post_held_settle(fsm: Fsm) -> None:
    """Post a settle held back, once the channel is unlocked for the next block."""
    held = fsm.held_settle
    chain = fsm.node.chain
    on_chain = chain.channel(fsm.channel_id or b"")
    if held is None or on_chain is None or chain.height + 1 < on_chain.locked_until:
        return
    fsm.held_settle = None
    chain.post(held)


def on_shutdown(fsm: Fsm, message: m.Shutdown) -> None:
    latest = fsm.latest
    if latest is None:
        return
    pending = Pending(
        kind=OpKind.SHUTDOWN, tag="shutdown_sign_ack", own=False, signed=message.signed
    )
    own = fsm.pending
    if fsm.state is State.MUTUAL_CLOSING or (
        fsm.state is State.AWAITING_SIGNATURE and own is not None and own.own
    ):
        fsm.rollback(rpc.AbortCode.CONFLICT, tell_peer=True)
    elif fsm.state is not State.OPEN:
        fsm.to_peer(m.UpdateError(round=latest.round, code=rpc.AbortCode.CONFLICT))
    elif not fsm.connected:
        if fsm.verified(message.signed, (fsm.account,)):
            signed(fsm, pending, message.signed)
        else:
            fsm.to_peer(m.UpdateError(round=latest.round, code=rpc.AbortCode.CONFLICT))
    else:
        fsm.info("shutdown")
        fsm.ask(pending)


def on_shutdown_ack(fsm: Fsm, message: m.ShutdownAck) -> None:
    pending = fsm.pending
    if fsm.state is not State.MUTUAL_CLOSING or pending is None:
        return
    same = message.signed.transaction.serialize() == pending.signed.transaction.serialize()
    if not same or not fsm.verified(message.signed, (fsm.initiator, fsm.responder)):
        fsm.rollback(rpc.AbortCode.VALIDATION, tell_peer=True)
        return
    fsm.pending = None
    fsm.node.chain.post(message.signed)
    _closing_mutually(fsm, message.signed)


def _closing_mutually(fsm: Fsm, signed_tx: t.SignedTx) -> None:
    fsm.on_chain("close_mutual", signed_tx)
    fsm.info("closing")
    fsm.move(State.MUTUAL_CLOSED)


# --- the channel's txs on chain ----------------------------------------------------------


def on_chain_event(fsm: Fsm, signed_tx: t.SignedTx) -> None:
    """A tx of our channel got into a block."""
    tx = signed_tx.transaction
    if isinstance(tx, (t.ChannelCloseSoloTx, t.ChannelSlashTx)):
        _solo_closing(fsm, signed_tx)
    elif isinstance(tx, (t.ChannelCloseMutualTx, t.ChannelSettleTx)):
        fsm.on_chain("channel_closed", signed_tx)
        fsm.pending = None
        fsm.move(State.CHANNEL_CLOSED)
        fsm.watch(signed_tx, "closed")
    else:
        fsm.on_chain("channel_changed", signed_tx)
        latest = fsm.latest
        if (
            isinstance(tx, t.ChannelSnapshotSoloTx)
            and latest is not None
            and (tx.payload.transaction.serialize() == latest.signed.transaction.serialize())
        ):
            fsm.latest = attrs.evolve(latest, on_chain=True)


def _solo_closing(fsm: Fsm, signed_tx: t.SignedTx) -> None:
    """A solo close or a slash is on chain: a state older than ours can be slashed."""
    latest = fsm.latest
    on_chain = fsm.node.chain.channel(fsm.channel_id or b"")
    if latest is not None and on_chain is not None and latest.round > on_chain.round:
        fsm.on_chain("can_slash", latest.signed)
    else:
        fsm.on_chain("solo_closing", signed_tx)
    if fsm.state is not State.CHANNEL_CLOSING:
        fsm.info("closing")
    pending = fsm.pending
    if fsm.state is State.AWAITING_SIGNATURE and pending is not None and not pending.kind.co_signed:
        # A solo tx being signed (a slash, say) goes on, and comes back to closing.
        fsm.pending = attrs.evolve(pending, back=State.CHANNEL_CLOSING)
    else:
        fsm.pending = None  # an update under way is over: the channel is closing
        fsm.move(State.CHANNEL_CLOSING)
