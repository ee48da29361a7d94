"""One participant's node FSM (aesc_fsm): what a node does with its client's requests, its
peer's messages, blocks and timers.

The FSM never touches a socket, a clock or the other FSM directly: it talks through its
:class:`Node` (the simulator), which routes frames to the client, messages over the link and
blocks from the chain. Closing a channel (mutual, solo, slash, settle, snapshot) lives in
:mod:`.closing`; this module has the rest: open, updates, deposits, withdrawals, conflicts,
aborts, leave, reestablish, queries and timers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import attrs

from .. import crypto, encoding, rpc
from .. import txs as t
from ..encoding import Id, IdTag
from ..options import ANY_INITIATOR, MinimumDepthStrategy, OpenOptions, Role
from ..rpc import ErrorDataCode
from . import closing, frames, opening, updates
from . import link as m
from .chain import MIN_GAS_PRICE, FakeChain
from .frames import NodeError
from .signatures import Signatures
from .state import (
    DEFAULT_TIMEOUTS,
    OPENING,
    TIMERS,
    TRANSITIONS,
    CoSigned,
    OpKind,
    Pending,
    Request,
    State,
)

__all__ = ["Fsm", "Node", "Watch"]


class Node(Protocol):
    """What an FSM needs from the simulator around it."""

    chain: FakeChain
    network_id: str
    now: float
    signatures: Signatures

    def to_client(self, fsm: Fsm, frame: dict[str, Any]) -> None: ...

    def to_peer(self, fsm: Fsm, message: m.PeerMessage) -> None: ...

    def to_requester(self, fsm: Fsm, req: Request, frame: dict[str, Any]) -> None: ...

    def terminated(self, fsm: Fsm) -> None: ...

    def channel_known(self, fsm: Fsm) -> None: ...

    def watching(self, fsm: Fsm) -> None: ...

    def timer_set(self, fsm: Fsm) -> None: ...


@attrs.frozen(kw_only=True)
class Watch:
    """A tx the FSM waits to see deep enough: ``kind`` is a lock kind, "closed" or
    "snapshot"."""

    tx_hash: str
    kind: m.LockKind | str
    fee: int


class Fsm:
    """The node's FSM for one participant of one channel."""

    def __init__(
        self,
        node: Node,
        *,
        role: Role,
        options: OpenOptions,
        fsm_id: str,
        state: State,
        account: bytes,
        keep_running: bool | None = None,
    ) -> None:
        self.node = node
        self.role = role
        self.options = options
        self.fsm_id = fsm_id
        self.account = account
        self.peer_account: bytes | None = None
        if options.initiator_id != ANY_INITIATOR:
            self.peer_account = _peer_key(options, role)
        self.channel_id: bytes | None = None
        self.latest: CoSigned | None = None
        self.pending: Pending | None = None
        self.postponed: list[Request] = []
        self.peer: Fsm | None = None
        self.connected = True
        self.client_may_disconnect = False  # only once the create tx is signed (#3169)
        # Responder only, and on by default (sc_ws_handler general_options/1).
        self.keep_running = role is Role.RESPONDER and keep_running is not False
        strategy = options.minimum_depth_strategy or MinimumDepthStrategy.TXFEE
        self.strategy = strategy
        self.minimum_depth = options.minimum_depth
        if self.minimum_depth is None and role is Role.RESPONDER:
            self.minimum_depth = 10 if strategy is MinimumDepthStrategy.TXFEE else 3
        self._deadline: float | None = None
        self.watches: list[Watch] = []
        self.own_locked = False
        self.peer_locked = False
        self.held_settle: t.SignedTx | None = None
        self.events_seen = 0  # of its channel's chain events (from when it learns the id)
        self.state = state
        self._resuming = False
        self.move(state)

    @property
    def deadline(self) -> float | None:
        """When the state's timer runs out (the node's time), or None."""
        return self._deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self._deadline = value
        self.node.timer_set(self)  # the node keeps the timers in the order they run out

    # --- who and what ----------------------------------------------------------------------

    @property
    def channel_text(self) -> str | None:
        return None if self.channel_id is None else Id(IdTag.CHANNEL, self.channel_id).api

    @property
    def initiator(self) -> bytes:
        return self.account if self.role is Role.INITIATOR else self.peer_key

    @property
    def responder(self) -> bytes:
        return self.peer_key if self.role is Role.INITIATOR else self.account

    @property
    def peer_key(self) -> bytes:
        assert self.peer_account is not None, "the peer is known once the channel opens"
        return self.peer_account

    @property
    def alive(self) -> bool:
        return self.state is not State.TERMINATED

    def initial_balances(self) -> dict[bytes, int]:
        push = self.options.push_amount
        return {
            self.initiator: self.options.initiator_amount - push,
            self.responder: self.options.responder_amount + push,
        }

    def confirmations(self, fee: int) -> int:
        """Blocks to wait for a tx paying ``fee`` (minimum_depth and its strategy)."""
        depth = self.minimum_depth if self.minimum_depth is not None else 10
        if self.strategy is MinimumDepthStrategy.PLAIN:
            return max(depth, 1)
        if depth == 0:
            return 1
        return max(1, -int(-((fee / MIN_GAS_PRICE) ** (1 / depth)) // 1))

    # --- output ----------------------------------------------------------------------------

    def send(self, frame: dict[str, Any]) -> None:
        self.node.to_client(self, frame)

    def info(self, event: str, **extra: Any) -> None:
        self.send(frames.info(self.channel_text, event, **extra))

    def on_chain(self, what: str, signed: t.SignedTx) -> None:
        self.send(frames.on_chain_tx(self.channel_text, what, signed))

    def ok(self, req: Request) -> None:
        if req.has_id:
            self.node.to_requester(self, req, frames.result(self.channel_text, req.id, "ok"))

    def answer(self, req: Request, value: Any) -> None:
        """A query's answer: a result to an id, else a ``channels.<method>.reply``."""
        if req.has_id:
            self.node.to_requester(self, req, frames.result(self.channel_text, req.id, value))
        else:
            reply = frames.notification(req.method + ".reply", self.channel_text, value)
            self.node.to_requester(self, req, reply)

    def fail(self, req: Request, problem: NodeError) -> None:
        self.node.to_requester(
            self, req, frames.error(self.channel_text, req.id, problem, req.frame)
        )

    def to_peer(self, message: m.PeerMessage) -> None:
        self.node.to_peer(self, message)

    def report_update(self) -> None:
        assert self.latest is not None
        data = {"state": t.encode_tx(self.latest.signed)}
        self.send(frames.notification("channels.update", self.channel_text, data))

    def move(self, state: State) -> None:
        self.state = state
        self.arm_timer()
        if state is State.OPEN:
            self.resume()

    def arm_timer(self) -> None:
        name = TIMERS.get(self.state)
        if name is None:
            self.deadline = None
            return
        ms = self.options.timeouts.get(name)
        if ms is None:
            fallback = {"initialized": "accept", "awaiting_open": "idle"}.get(name, name)
            ms = self.options.timeouts.get(fallback, DEFAULT_TIMEOUTS[fallback])
        self.deadline = self.node.now + ms / 1000

    def ask(self, pending: Pending) -> None:
        """Ask our client to sign: ``channels.sign.<tag>``."""
        self.pending = pending
        self.move(State.AWAITING_SIGNATURE)
        self.send(
            frames.sign_request(self.channel_text, pending.tag, pending.signed, pending.updates)
        )

    def terminate(self) -> None:
        """The FSM process ends (``died`` was reported where the node reports it)."""
        if self.alive:
            self.state = State.TERMINATED
            self.deadline = None
            self.node.terminated(self)

    def die(self) -> None:
        if self.alive:
            self.info("died")
            self.terminate()

    # --- client requests -------------------------------------------------------------------

    def handle(self, req: Request) -> None:
        """One request of our client (``channels.system ping`` never gets here)."""
        if not self.alive:
            return
        try:
            tag = rpc.sign_tag_for_reply(req.method)
            if tag is not None:
                self.sign_reply(req, tag)
                return
            handler = _HANDLERS.get(req.method)
            if handler is None:
                raise NodeError.not_found()
            handler(self, req)
        except NodeError as problem:
            self.fail(req, problem)
        if self.state not in (State.AWAITING_SIGNATURE, State.TERMINATED):
            self.arm_timer()  # an FSM call resets the state's timer

    def operation(self, req: Request, start: Callable[[], None]) -> None:
        """Start an own operation now, later, or never, by the FSM's state."""
        pending = self.pending
        if self.state is State.OPEN:
            start()
        elif (
            self.state is State.AWAITING_SIGNATURE
            and pending is not None
            and not pending.own
            and pending.kind is not OpKind.CREATE
        ):
            # A new request while the peer's update waits for our signature: a conflict.
            self.ok(req)
            self.rollback(rpc.AbortCode.CONFLICT, tell_peer=True)
        elif self.state in TRANSITIONS:
            self.postponed.append(req)  # queued until the FSM is open again
        elif self.state in OPENING or self.latest is None:
            raise NodeError.rejected(ErrorDataCode.NOT_READY)
        else:
            raise NodeError.internal()

    def resume(self) -> None:
        """Back in open: take the postponed requests, in order, while the FSM stays open."""
        if self._resuming:
            return
        self._resuming = True
        try:
            while self.postponed and self.state is State.OPEN:
                self.handle(self.postponed.pop(0))
        finally:
            self._resuming = False

    def _system(self, req: Request) -> None:
        if req.params.get("action") != "stop":
            raise NodeError.not_found()
        self.ok(req)
        self.die()

    def _unsupported(self, req: Request) -> None:
        # Contracts, force progress and the FSM history are beyond this simulator.
        raise NodeError.internal()

    # --- queries ---------------------------------------------------------------------------

    # --- sign replies ----------------------------------------------------------------------

    def sign_reply(self, req: Request, tag: rpc.SignTag) -> None:
        pending = self.pending
        if self.state is not State.AWAITING_SIGNATURE or pending is None:
            raise NodeError.rejected(ErrorDataCode.NOT_ALLOWED_NOW)
        if tag.tag != pending.tag:
            return  # postponed inside awaiting_signature: no effect until a timeout
        if "error" in req.params:
            code = req.params["error"]
            if pending.kind is OpKind.CREATE:
                raise NodeError.rejected(ErrorDataCode.NOT_ALLOWED_NOW)
            if not rpc.AbortCode.is_valid(code):
                raise NodeError.internal()
            self.ok(req)
            self.abort(code)
            return
        signed = frames.decode_reply_tx(req.params)
        problem = self._reply_problem(pending, signed)
        if problem is not None:
            report = {"message": problem}
            self.send(frames.notification("channels.error", self.channel_text, report))
            if pending.kind is not OpKind.CREATE:  # the create tx waits for a good signature
                self.rollback(rpc.AbortCode.VALIDATION, tell_peer=not pending.own)
            return
        merged = t.SignedTx(
            signatures=tuple(sorted(set(pending.signed.signatures) | set(signed.signatures))),
            transaction=pending.signed.transaction,
        )
        self.ok(req)
        self.signed(pending, merged)

    def _reply_problem(self, pending: Pending, signed: t.SignedTx) -> str | None:
        """Why a signing reply is refused (maybe_check_auth/6), or None."""
        message = pending.signed.transaction.serialize()
        if signed.transaction.serialize() != message:
            return "not_the_same_tx"
        if not self.node.signatures.signed_by(signed.signatures, message, self.account):
            return "bad_signature"
        return None

    def verified(self, signed: t.SignedTx, keys: tuple[bytes, ...]) -> bool:
        """Whether each of ``keys`` signed the tx, under our network id."""
        message = signed.transaction.serialize()
        signatures = self.node.signatures
        return all(signatures.signed_by(signed.signatures, message, key) for key in keys)

    def signed(self, pending: Pending, signed: t.SignedTx) -> None:
        """Our client signed what the FSM asked for (or it carried our signature already)."""
        if pending.kind is OpKind.CREATE:
            opening.create_signed(self, pending, signed)
        elif pending.kind in (OpKind.TRANSFER, OpKind.DEPOSIT, OpKind.WITHDRAW):
            updates.signed(self, pending, signed)
        else:
            closing.signed(self, pending, signed)

    def co_signed(self, pending: Pending, signed: t.SignedTx) -> None:
        """``signed`` is the channel's latest state now."""
        assert pending.round is not None
        assert pending.balances is not None
        self.latest = CoSigned(signed=signed, round=pending.round, balances=pending.balances)

    def abort(self, code: int) -> None:
        """Our client refused the sign request: the FSM goes back, the peer hears of it."""
        pending = self.pending
        assert pending is not None
        self.pending = None
        self.info("aborted_update")
        if not pending.own and self.latest is not None:
            self.to_peer(m.UpdateError(round=self.latest.round, code=code))
        self.move(pending.back)

    def rollback(self, code: int, *, tell_peer: bool) -> None:
        """Back to the last co-signed state; our client gets a conflict (#3195: its round)."""
        pending = self.pending
        round_ = self.latest.round if self.latest is not None else 0
        self.pending = None
        if tell_peer:
            self.to_peer(m.UpdateError(round=round_, code=code))
        self.send(frames.conflict(self.channel_text, round_, code))
        self.move(pending.back if pending is not None else State.OPEN)

    # --- the open handshake ----------------------------------------------------------------

    def paired(self, peer: Fsm) -> None:
        """The simulator connected us to the peer's FSM (the Noise session is up)."""
        self.peer = peer
        if self.state is State.AWAITING_CONNECT:
            self.to_peer(m.ChannelOpen(initiator=self.account, responder=self.peer_key))
            self.move(State.INITIALIZED)
        elif self.state is State.REESTABLISH_INIT:
            assert self.channel_id is not None
            self.to_peer(m.Reestablish(channel_id=self.channel_id))

    # --- peer messages ---------------------------------------------------------------------

    def receive(self, message: m.PeerMessage) -> None:
        if not self.alive:
            return
        handler = _PEER_HANDLERS.get(type(message))
        if handler is not None:
            handler(self, message)

    # --- peer updates ----------------------------------------------------------------------

    # --- leave, reestablish, the peer going away -------------------------------------------

    # --- the client's connection -----------------------------------------------------------

    def client_gone(self) -> None:
        """Our client's socket went away. Before the create tx is signed the FSM cannot go on
        (#3169); after it, it runs on, and a sign request left pending waits for its timer
        (a client back in time sees the conflict)."""
        self.connected = False
        if not self.client_may_disconnect:
            self.terminate()

    def client_back(self) -> None:
        self.connected = True

    # --- time ------------------------------------------------------------------------------

    def fire_timer(self) -> None:
        """The state's timer ran out."""
        self.deadline = None
        if not self.alive:
            return
        pending = self.pending
        signing = self.state is State.AWAITING_SIGNATURE and pending is not None
        if self.state in (State.AWAITING_UPDATE_ACK, State.MUTUAL_CLOSING) or (
            signing and pending is not None and pending.kind is not OpKind.CREATE
        ):
            # During an update the FSM rolls back and goes on: a conflict "timeout".
            own_signing = signing and pending is not None and pending.own
            self.rollback(rpc.AbortCode.TIMEOUT, tell_peer=not own_signing)
        elif not self.keep_running:  # a responder that keeps running ignores the rest
            self.info("timeout")
            self.die()

    # --- the chain -------------------------------------------------------------------------

    def learn_channel_id(self, channel_id: bytes) -> None:
        """The FSM knows its channel now: it sees the channel's chain events from here on."""
        self.channel_id = channel_id
        self.events_seen = len(self.node.chain.channel_events(channel_id))
        self.node.channel_known(self)

    def watch(self, signed: t.SignedTx, kind: m.LockKind | str) -> None:
        fee = getattr(signed.transaction, "fee", 0)
        self.watches.append(Watch(tx_hash=crypto.tx_hash(signed), kind=kind, fee=fee))
        self.node.watching(self)

    def hold_settle(self, signed: t.SignedTx) -> None:
        """Keep a settle back until the lock period is over (posted on a later block)."""
        self.held_settle = signed
        self.node.watching(self)

    def wants_blocks(self) -> bool:
        """Something here waits for blocks (an auto-mining simulator mines them)."""
        return self.alive and (bool(self.watches) or self.held_settle is not None)

    def on_block(self) -> None:
        """A block was mined: report the channel's txs in it, then what got deep enough."""
        chain = self.node.chain
        events = chain.channel_events(self.channel_id) if self.channel_id is not None else []
        while self.alive and self.events_seen < len(events):
            event = events[self.events_seen]
            self.events_seen += 1
            closing.on_chain_event(self, event.signed_tx)
        for watch in list(self.watches):
            if not self.alive:
                return
            if watch.tx_hash in chain.rejected:
                self.watches.remove(watch)
                continue
            depth = chain.depth(watch.tx_hash)
            if depth is not None and depth >= self.confirmations(watch.fee):
                self.watches.remove(watch)
                self.deep_enough(watch)
        closing.post_held_settle(self)

    def deep_enough(self, watch: Watch) -> None:
        if isinstance(watch.kind, m.LockKind):
            opening.own_lock(self, watch.kind)
        elif watch.kind == "closed":
            self.info("closed_confirmed")
            self.die()
        elif watch.kind == "snapshot":
            # The node dumps the raw hash bytes into the JSON string.
            raw = encoding.decode(watch.tx_hash, "th")
            self.info(
                "min_depth_achieved",
                tx_hash=raw.decode("utf-8", errors="replace"),
                type="channel_snapshot_solo_tx",
            )

    # --- the rest of the table -------------------------------------------------------------


def _peer_key(options: OpenOptions, role: Role) -> bytes:
    peer = options.responder_id if role is Role.INITIATOR else options.initiator_id
    return Id.account(peer).key


# Methods the node has and this simulator does not (contracts, force progress, history).
_UNSUPPORTED: Final = (
    "channels.update.new_contract",
    "channels.update.call_contract",
    "channels.dry_run.call_contract",
    "channels.get.contract",
    "channels.get.contract_call",
    "channels.clean_contract_calls",
    "channels.force_progress",
    "channels.history.fetch",
    "channels.assume_minimum_depth",
)
_HANDLERS: Final[Mapping[str, Callable[[Fsm, Request], None]]] = {
    "channels.update.new": updates.transfer,
    "channels.deposit": updates.deposit,
    "channels.withdraw": updates.withdraw,
    "channels.shutdown": closing.shutdown,
    "channels.close_solo": closing.close_solo,
    "channels.slash": closing.slash,
    "channels.settle": closing.settle,
    "channels.snapshot_solo": closing.snapshot_solo,
    "channels.leave": opening.leave,
    "channels.message": updates.message,
    "channels.get.balances": updates.balances,
    "channels.get.offchain_state": updates.offchain_state,
    "channels.get.poi": updates.poi,
    "channels.system": Fsm._system,
    **dict.fromkeys(_UNSUPPORTED, Fsm._unsupported),
}
_PEER_HANDLERS: Final[Mapping[type, Callable[[Fsm, Any], None]]] = {
    m.ChannelOpen: opening.on_channel_open,
    m.ChannelAccept: opening.on_channel_accept,
    m.FundingCreated: opening.on_funding_created,
    m.FundingSigned: opening.on_funding_signed,
    m.Locked: opening.on_locked,
    m.Update: updates.on_update,
    m.UpdateAck: updates.on_update_ack,
    m.UpdateError: updates.on_update_error,
    m.Shutdown: closing.on_shutdown,
    m.ShutdownAck: closing.on_shutdown_ack,
    m.Inband: updates.on_inband,
    m.Leave: opening.on_leave,
    m.LeaveAck: opening.on_leave_ack,
    m.Reestablish: opening.on_reestablish,
    m.ReestablishAck: opening.on_reestablish_ack,
    m.PeerGone: opening.on_peer_gone,
}
