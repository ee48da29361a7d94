"""Opening a channel, the minimum-depth locks, leave and reestablish: the FSM's life cycle
outside of updates and closes (functions on :class:`~.fsm.Fsm`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from .. import crypto
from .. import txs as t
from ..encoding import Id, IdTag
from ..options import Role
from ..trees import accounts_state_hash
from . import frames
from . import link as m
from .chain import pick_fee
from .state import CoSigned, OpKind, Pending, Request, State, unsigned

if TYPE_CHECKING:
    from .fsm import Fsm

__all__ = [
    "create_signed",
    "leave",
    "on_channel_accept",
    "on_channel_open",
    "on_funding_created",
    "on_funding_signed",
    "on_leave",
    "on_leave_ack",
    "on_locked",
    "on_peer_gone",
    "on_reestablish",
    "on_reestablish_ack",
    "own_lock",
]


def create_tx(fsm: Fsm) -> t.SignedTx:
    options = fsm.options
    chain = fsm.node.chain
    nonce = options.nonce if options.nonce is not None else chain.next_nonce(fsm.account)
    state_hash = accounts_state_hash(fsm.initial_balances())

    def build(fee: int) -> t.ChannelCreateTx:
        return t.ChannelCreateTx(
            initiator_id=Id(IdTag.ACCOUNT, fsm.initiator),
            initiator_amount=options.initiator_amount,
            responder_id=Id(IdTag.ACCOUNT, fsm.responder),
            responder_amount=options.responder_amount,
            channel_reserve=options.channel_reserve,
            lock_period=options.lock_period,
            ttl=options.ttl or 0,
            fee=fee,
            initiator_delegate_ids=(),
            responder_delegate_ids=(),
            state_hash=state_hash,
            nonce=nonce,
        )

    return unsigned(build(pick_fee(build, options.fee, options.gas_price)))


def create_signed(fsm: Fsm, pending: Pending, signed: t.SignedTx) -> None:
    fsm.client_may_disconnect = True
    fsm.pending = None
    if fsm.role is Role.INITIATOR:
        fsm.to_peer(m.FundingCreated(signed=signed))
        fsm.move(State.HALF_SIGNED)
        return
    fsm.co_signed(pending, signed)
    fsm.on_chain("funding_created", signed)
    fsm.to_peer(m.FundingSigned(signed=signed))
    fsm.watch(signed, m.LockKind.FUNDING)
    fsm.move(State.AWAITING_LOCKED)


def on_channel_open(fsm: Fsm, message: m.ChannelOpen) -> None:
    if fsm.state is not State.AWAITING_OPEN:
        return
    fsm.peer_account = message.initiator
    fsm.info("channel_open")
    assert fsm.minimum_depth is not None
    fsm.to_peer(m.ChannelAccept(minimum_depth=fsm.minimum_depth, strategy=fsm.strategy))
    fsm.move(State.ACCEPTED)


def on_channel_accept(fsm: Fsm, message: m.ChannelAccept) -> None:
    if fsm.state is not State.INITIALIZED:
        return
    if fsm.options.minimum_depth is None:
        fsm.minimum_depth, fsm.strategy = message.minimum_depth, message.strategy
    fsm.info("channel_accept")
    fsm.ask(
        Pending(
            kind=OpKind.CREATE,
            tag="initiator_sign",
            own=True,
            signed=create_tx(
                fsm,
            ),
            balances=fsm.initial_balances(),
            round=1,
            back=State.INITIALIZED,
        )
    )


def on_funding_created(fsm: Fsm, message: m.FundingCreated) -> None:
    tx = message.signed.transaction
    if fsm.state is not State.ACCEPTED or not isinstance(tx, t.ChannelCreateTx):
        return
    if not fsm.verified(message.signed, (fsm.initiator,)):
        return
    fsm.learn_channel_id(crypto.channel_id(tx).key)
    fsm.info("funding_created", fsm_id=fsm.fsm_id)
    pending = Pending(
        kind=OpKind.CREATE,
        tag="responder_sign",
        own=False,
        signed=message.signed,
        balances=fsm.initial_balances(),
        round=1,
        back=State.ACCEPTED,
    )
    fsm.ask(pending)


def on_funding_signed(fsm: Fsm, message: m.FundingSigned) -> None:
    tx = message.signed.transaction
    if fsm.state is not State.HALF_SIGNED or not isinstance(tx, t.ChannelCreateTx):
        return
    if not fsm.verified(message.signed, (fsm.initiator, fsm.responder)):
        return
    fsm.learn_channel_id(crypto.channel_id(tx).key)
    fsm.latest = CoSigned(signed=message.signed, round=1, balances=fsm.initial_balances())
    fsm.info("funding_signed", fsm_id=fsm.fsm_id)
    fsm.on_chain("funding_signed", message.signed)
    fsm.node.chain.post(message.signed, fsm.latest.balances)
    fsm.watch(message.signed, m.LockKind.FUNDING)
    fsm.move(State.AWAITING_LOCKED)


def on_locked(fsm: Fsm, message: m.Locked) -> None:
    if fsm.own_locked:
        fsm.info(f"{message.kind.value}_locked")
        lock_done(fsm, message.kind)
    else:
        fsm.peer_locked = True


def own_lock(fsm: Fsm, kind: m.LockKind) -> None:
    """Our node saw the funding tx deep enough."""
    fsm.info(f"own_{kind.value}_locked")
    fsm.to_peer(m.Locked(kind=kind))
    if fsm.peer_locked:
        fsm.info(f"{kind.value}_locked")
        lock_done(fsm, kind)
    else:
        fsm.own_locked = True
        fsm.move(State.SIGNED)


def lock_done(fsm: Fsm, kind: m.LockKind) -> None:
    fsm.own_locked = fsm.peer_locked = False
    assert fsm.latest is not None
    fsm.latest = attrs.evolve(fsm.latest, on_chain=True)
    if kind is m.LockKind.FUNDING:
        fsm.info("open")
    fsm.report_update()
    fsm.move(State.OPEN)


def leave(fsm: Fsm, req: Request) -> None:
    def start() -> None:
        fsm.ok(req)
        fsm.to_peer(m.Leave())
        fsm.move(State.AWAITING_LEAVE_ACK)

    fsm.operation(req, start)


def send_leave(fsm: Fsm) -> None:
    assert fsm.latest is not None
    data = {"state": t.encode_tx(fsm.latest.signed)}
    fsm.send(frames.notification("channels.leave", fsm.channel_text, data))


def on_leave(fsm: Fsm, message: m.Leave) -> None:
    if fsm.latest is None:
        return
    send_leave(
        fsm,
    )
    fsm.to_peer(m.LeaveAck())
    if not fsm.keep_running:
        fsm.die()


def on_leave_ack(fsm: Fsm, message: m.LeaveAck) -> None:
    if fsm.state is State.AWAITING_LEAVE_ACK:
        send_leave(
            fsm,
        )
        fsm.die()


def on_reestablish(fsm: Fsm, message: m.Reestablish) -> None:
    fresh = fsm.state is State.AWAITING_REESTABLISH
    # A running FSM takes the peer back while open, and while its channel is solo-closing.
    if not fresh and fsm.state not in (State.OPEN, State.CHANNEL_CLOSING):
        return
    reestablished(fsm, report=fresh)
    fsm.to_peer(m.ReestablishAck())


def on_reestablish_ack(fsm: Fsm, message: m.ReestablishAck) -> None:
    if fsm.state is State.REESTABLISH_INIT:
        reestablished(fsm, report=True)


def reestablished(fsm: Fsm, *, report: bool) -> None:
    fsm.info("channel_reestablished")
    assert fsm.channel_id is not None
    on_chain = fsm.node.chain.channel(fsm.channel_id)
    closing = on_chain is not None and on_chain.status == "closing"
    fsm.info("closing" if closing else "open")
    if report:
        fsm.report_update()
    fsm.move(State.CHANNEL_CLOSING if closing else State.OPEN)


def on_peer_gone(fsm: Fsm, message: m.PeerGone) -> None:
    """The peer's FSM stopped. During the open handshake ours stops too; after it, ours stays
    up (the recordings show it answering its own client), and a responder that keeps running
    says so."""
    fsm.peer = None
    if fsm.keep_running:
        fsm.info("peer_disconnected")
    elif fsm.latest is None:
        fsm.die()
