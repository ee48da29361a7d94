"""The simulator: both participants' nodes, the link between them and a fake chain, sans-IO.

A transport (the WebSocket server, or the in-memory harness) opens a connection with the
client's connect URL, feeds it the client's decoded frames and sends what
:meth:`Simulator.frames_for` gives. Time only comes in as ``now``; blocks are mined on
:meth:`Simulator.mine`, on a block interval as time advances, or, with ``auto_mine``, as soon
as something waits for one.

The node side pairs an initiator with the responder listening on the port the initiator names,
as real nodes do, so many channels can run at once. Every frame is recorded in the node's
recorded-session format (:meth:`Simulator.transcript`).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .. import crypto
from .. import txs as t
from ..encoding import Id, IdTag
from ..errors import DecodingError, LocalProtocolError
from ..options import (
    MinimumDepthStrategy,
    OpenOptions,
    ReestablishOptions,
    Role,
)
from ..rpc import ErrorDataCode
from ..transcript import Entry, EntryKind, frame_text, render
from . import frames, params
from . import link as m
from .chain import FakeChain, pick_fee
from .frames import NodeError
from .fsm import Fsm
from .signatures import Signatures
from .state import CoSigned, Request, State
from .trees import poi_bytes

__all__ = ["Connection", "Simulator"]

DEFAULT_NETWORK_ID: Final = "ae_dev"
# Blocks an auto-mining simulator mines at most in one go (a lock period, minimum depths).
_MAX_AUTO_BLOCKS: Final = 10_000


@attrs.frozen
class Connection:
    """A client's WebSocket connection to its node, as the simulator names it."""

    id: int
    role: str  # "initiator" or "responder", as the connect URL says


@attrs.define(eq=False)
class _Socket:
    handle: Connection
    # (send order, frame): the order across every socket is the order the nodes sent in.
    outbox: list[tuple[int, dict[str, Any]]] = attrs.Factory(list)
    fsm: Fsm | None = None
    closed: bool = False  # by the node (after died, or a refused connect) or by the client
    reason: str | None = None  # why the node refused a connect without an error frame


@attrs.frozen(kw_only=True)
class _Cached:
    """What a node keeps of a stopped FSM to reestablish it (aesc_state_cache)."""

    fsm_id: str
    options: OpenOptions
    latest: CoSigned
    peer_account: bytes
    minimum_depth: int | None
    strategy: MinimumDepthStrategy


class Simulator:
    """Two aeternity nodes' channel FSMs and a fake chain, behind their WebSocket API."""

    def __init__(
        self,
        *,
        network_id: str = DEFAULT_NETWORK_ID,
        accounts: Mapping[str, int] | None = None,
        auto_mine: bool = True,
        block_interval: float | None = None,
        seed: bytes = b"sansio-channels simulator",
        now: float = 0.0,
        record: bool = True,
    ) -> None:
        """``accounts`` pins the chain's accounts (``ak_`` -> balance): an open naming any
        other gets data code 1011. Without it every account is funded. With ``record=False``
        nothing is kept for :meth:`transcript` (a long-running server's memory would grow
        with every frame)."""
        pinned = None
        if accounts is not None:
            pinned = {Id.account(key).key: value for key, value in accounts.items()}
        self.network_id = network_id
        self.chain = FakeChain(network_id, pinned)
        self.signatures = Signatures(network_id)
        self.link = m.Link()
        self.auto_mine = auto_mine
        self.block_interval = block_interval
        self.now = now
        self.next_block_at = None if block_interval is None else now + block_interval
        # Every step as (role, kind, URL or frame), when recording; a frame is rendered as
        # text only when the transcript is asked for.
        self.record = record
        self._log: list[tuple[str, EntryKind, Any]] = []
        self._seed = seed
        self._fsm_count = 0
        self._next_connection = 1
        self._sockets: dict[int, _Socket] = {}
        # Every frame for a client gets the next number, so that a transport can send the
        # frames of one step to both participants in the order the nodes sent them
        # (outbound()); the sockets that hold frames, so that it walks only those.
        self._sent = itertools.count()
        self._waiting: dict[int, _Socket] = {}
        # The sockets closed since the transport last asked (closings()), so that it never
        # walks every socket to find them.
        self._closed: dict[int, Connection] = {}
        self._clients: dict[Fsm, _Socket] = {}
        self._ports: dict[Fsm, int] = {}
        self._cache: dict[tuple[bytes, Role], _Cached] = {}
        # The running FSMs, indexed so that no delivery, block or connect walks them all:
        # in start order (the order they hear of a block in), by channel and role, the
        # initiators not paired yet, the responders by (port, account), and the FSMs that
        # wait for blocks.
        self._fsms: dict[Fsm, int] = {}
        self._by_channel: dict[bytes, dict[Role, Fsm]] = {}
        self._unpaired: dict[Fsm, None] = {}
        self._responders: dict[tuple[int, bytes], dict[Fsm, None]] = {}
        self._watchers: dict[Fsm, None] = {}
        # The FSMs' timers as a heap of (deadline, start order, entry number, fsm), so that
        # neither advance() nor next_deadline() walks every FSM. An entry whose FSM has
        # moved its deadline since, or stopped, is dropped when it comes to the top.
        self._timers: list[tuple[float, int, int, Fsm]] = []
        self._timer_entries = itertools.count()

    # --- connections -----------------------------------------------------------------------

    def connect(self, url: str, *, now: float | None = None) -> Connection:
        """A client opens a WebSocket on ``url``; its first frames wait in :meth:`frames_for`."""
        self._tick(now)
        try:
            query = params.query(url)
        except params.Refused:
            query = {}
        role = query.get("role", "initiator")
        handle = Connection(self._next_connection, role)
        self._next_connection += 1
        socket = _Socket(handle)
        self._sockets[handle.id] = socket
        if self.record:
            self._log.append((role, EntryKind.CONNECT, url))
        try:
            self._open(socket, params.query(url))
        except NodeError as problem:
            # The node's explained refusals: an error frame, then the close.
            self._queue(socket, frames.error(None, None, problem, {}))
            self._close(socket)
        except (params.Refused, LocalProtocolError, DecodingError, ValueError) as problem:
            # The node closes without a word; the close frame's reason says why.
            socket.reason = str(problem)
            self._close(socket)
        self.deliver()
        return handle

    def _open(self, socket: _Socket, query: Mapping[str, str]) -> None:
        options = params.read(query)
        if isinstance(options, OpenOptions):
            self._start(socket, options)
        else:
            self._come_back(socket, options)

    def _start(self, socket: _Socket, options: OpenOptions) -> None:
        ids = [options.responder_id]
        if options.initiator_id != "any":
            ids.append(options.initiator_id)
        if any(not self.chain.has_account(Id.account(key).key) for key in ids):
            raise NodeError.rejected(ErrorDataCode.PARTICIPANT_NOT_FOUND)
        role = options.role
        own = options.initiator_id if role is Role.INITIATOR else options.responder_id
        state = State.AWAITING_CONNECT if role is Role.INITIATOR else State.AWAITING_OPEN
        fsm = Fsm(
            self,
            role=role,
            options=options,
            fsm_id=self._new_fsm_id(),
            state=state,
            account=Id.account(own).key,
            keep_running=options.keep_running,
        )
        self._attach(socket, fsm, options.port)
        self.to_client(fsm, frames.info(None, "fsm_up", fsm_id=fsm.fsm_id))
        self._pair()

    def _come_back(self, socket: _Socket, options: ReestablishOptions) -> None:
        channel_id = Id.from_api(options.existing_channel_id, IdTag.CHANNEL).key
        role = options.role
        # A node finds a running FSM by channel id and role, and an initiator's FSM is filed
        # under the channel id only once funding_signed came back. Between its client's
        # signature of the create tx and that, the FSM runs on (the channel goes on chain
        # once the responder signs) but a come-back finds nothing: refused without a word.
        running = self._by_channel.get(channel_id, {}).get(role)
        if running is not None:
            # Reconnect: the FSM kept running; same fsm id, nothing else (#3267, #4399).
            if options.existing_fsm_id != running.fsm_id:
                raise NodeError.rejected(ErrorDataCode.INVALID_FSM_ID)
            old = self._clients.get(running)
            if old is not None and old is not socket:
                self._close(old)  # a second client kicks the first off (#2790)
            self._attach(socket, running, self._ports[running])
            running.client_back()
            self.to_client(
                running, frames.info(running.channel_text, "fsm_up", fsm_id=running.fsm_id)
            )
            return
        # With no FSM running, the node reads the channel from the chain before its cache: a
        # create tx still in the mempool names no channel yet, so there is nothing to
        # reestablish, whatever the cache holds.
        if self.chain.channel(channel_id) is None:
            raise LocalProtocolError("existing_channel_id: no such channel on chain")
        cached = self._cache.get((channel_id, role))
        if cached is None:
            raise NodeError.rejected(ErrorDataCode.INVALID_FSM_ID)
        if options.existing_fsm_id != cached.fsm_id:
            raise NodeError.rejected(ErrorDataCode.INVALID_FSM_ID)
        self._reestablish(socket, options, channel_id, cached)

    def _reestablish(
        self, socket: _Socket, options: ReestablishOptions, channel_id: bytes, cached: _Cached
    ) -> None:
        role = options.role
        own = cached.options.initiator_id if role is Role.INITIATOR else cached.options.responder_id
        state = State.REESTABLISH_INIT if role is Role.INITIATOR else State.AWAITING_REESTABLISH
        keep = (
            options.keep_running
            if options.keep_running is not None
            else (cached.options.keep_running)
        )
        fsm = Fsm(
            self,
            role=role,
            options=cached.options,
            fsm_id=self._new_fsm_id(),
            state=state,
            account=Id.account(own).key,
            keep_running=keep,
        )
        fsm.learn_channel_id(channel_id)
        fsm.latest = cached.latest
        fsm.peer_account = cached.peer_account
        fsm.minimum_depth, fsm.strategy = cached.minimum_depth, cached.strategy
        fsm.client_may_disconnect = True
        # The old fsm id no longer opens the cache (aesc_state_cache:change_fsm_id/3).
        self._cache[(channel_id, role)] = attrs.evolve(cached, fsm_id=fsm.fsm_id)
        self._attach(socket, fsm, options.port)
        self.to_client(fsm, frames.info(fsm.channel_text, "fsm_up", fsm_id=fsm.fsm_id))
        self._pair()

    def _attach(self, socket: _Socket, fsm: Fsm, port: int) -> None:
        socket.fsm = fsm
        self._clients[fsm] = socket
        if fsm in self._fsms:
            return  # a reconnect
        self._ports[fsm] = port
        self._fsms[fsm] = self._fsm_count
        self.timer_set(fsm)  # armed when it was made
        if fsm.role is Role.INITIATOR:
            self._unpaired[fsm] = None
        else:
            self._responders.setdefault((port, fsm.account), {})[fsm] = None

    def _new_fsm_id(self) -> str:
        self._fsm_count += 1
        digest = hashlib.blake2b(
            self._seed + self._fsm_count.to_bytes(8, "big"), digest_size=32
        ).digest()
        return frames.fsm_id_text(digest)

    def _pair(self) -> None:
        """Connect every initiator that waits to the responder listening on its port."""
        for initiator in list(self._unpaired):
            if initiator.state not in (State.AWAITING_CONNECT, State.REESTABLISH_INIT):
                del self._unpaired[initiator]  # past the states it starts in: paired for good
                continue
            if initiator.peer is not None:
                continue
            responder = next(
                (f for f in self._candidates(initiator) if self._listens_for(f, initiator)), None
            )
            if responder is not None:
                responder.peer = initiator
                initiator.paired(responder)

    def _candidates(self, initiator: Fsm) -> list[Fsm]:
        """The responders that may listen for ``initiator``: its channel's, or its peer's."""
        if initiator.state is State.REESTABLISH_INIT:
            assert initiator.channel_id is not None
            found = self._by_channel.get(initiator.channel_id, {}).get(Role.RESPONDER)
            return [] if found is None else [found]
        if initiator.peer_account is None:
            return []
        return list(self._responders.get((self._ports[initiator], initiator.peer_account), {}))

    def _listens_for(self, responder: Fsm, initiator: Fsm) -> bool:
        if responder.role is not Role.RESPONDER or responder.peer is not None:
            return False
        if self._ports.get(responder) != self._ports.get(initiator):
            return False
        if initiator.state is State.REESTABLISH_INIT:
            return responder.channel_id == initiator.channel_id and responder.state in (
                State.AWAITING_REESTABLISH,
                State.OPEN,
                State.CHANNEL_CLOSING,
            )
        named = responder.options.initiator_id
        return (
            responder.state is State.AWAITING_OPEN
            and responder.account == initiator.peer_account
            and (named == "any" or Id.account(named).key == initiator.account)
        )

    def disconnect(self, connection: Connection, *, now: float | None = None) -> None:
        """The client's socket went away (closed by either side)."""
        self._tick(now)
        socket = self._sockets[connection.id]
        if self.record:
            self._log.append((connection.role, EntryKind.DISCONNECT, ""))
        self._close(socket)
        fsm = socket.fsm
        if fsm is not None and self._clients.get(fsm) is socket:
            del self._clients[fsm]
            fsm.client_gone()
        self.deliver()

    def close_reason(self, connection: Connection) -> str | None:
        """Why a connect was refused with no error frame (the node says nothing; a transport
        can put this in its close frame), or None."""
        return self._sockets[connection.id].reason

    def is_closed(self, connection: Connection) -> bool:
        """Whether the socket is closed (the node closes it after ``died`` and refusals)."""
        return self._sockets[connection.id].closed

    # --- frames ----------------------------------------------------------------------------

    def receive(
        self, connection: Connection, frame: Any, *, now: float | None = None, deliver: bool = True
    ) -> None:
        """A decoded frame from the client. With ``deliver=False`` the nodes do not talk to
        each other until :meth:`deliver` (so that two clients' requests can cross)."""
        self._tick(now)
        socket = self._sockets[connection.id]
        if self.record:
            self._log.append((connection.role, EntryKind.SENT, frame))
        if socket.closed or socket.fsm is None:
            return
        for item in frame if isinstance(frame, list) else [frame]:
            self._request(socket.fsm, item, connection.id)
        if deliver:
            self.deliver()

    def receive_text(self, connection: Connection, text: str, **kwargs: Any) -> None:
        """A text frame; one that is not JSON is dropped, as the node drops it."""
        try:
            frame = json.loads(text)
        except ValueError:
            return
        self.receive(connection, frame, **kwargs)

    def _request(self, fsm: Fsm, item: Any, origin: int) -> None:
        # Not JSON-RPC 2.0 with a method: dropped silently (sc_ws_api:try_seq).
        if not isinstance(item, dict) or item.get("jsonrpc") != "2.0":
            return
        method = item.get("method")
        if not isinstance(method, str):
            return
        params = item.get("params", {})
        if not isinstance(params, dict):
            params = {}
        if method == "channels.system" and params.get("action") == "ping":
            # The socket handler answers: the FSM never sees it (its idle timer runs on).
            pong = {"action": "system", "tag": "pong"}
            self.to_client(fsm, frames.notification("channels.system.pong", fsm.channel_text, pong))
            if "id" in item:
                self.to_client(fsm, frames.result(fsm.channel_text, item["id"], "ok"))
            return
        fsm.handle(Request(method=method, params=params, frame=item, origin=origin))

    def frames_for(self, connection: Connection) -> list[dict[str, Any]]:
        """The frames to send to the client now, oldest first."""
        socket = self._sockets[connection.id]
        out, socket.outbox = socket.outbox, []
        self._waiting.pop(connection.id, None)
        frames_out = [frame for _, frame in out]
        if self.record:
            received = EntryKind.RECEIVED
            self._log.extend((connection.role, received, frame) for frame in frames_out)
        return frames_out

    def outbound(self) -> list[tuple[Connection, dict[str, Any]]]:
        """Every frame to send now, to whichever client, in the order the nodes sent them.

        A node reports to its own client before its peer hears of the step (the side that
        acknowledges an update gets its ``channels.update`` first): a transport that sends
        in this order lets no client's reaction overtake a report to the other.
        """
        waiting = list(self._waiting.values())
        self._waiting.clear()
        merged: list[tuple[int, Connection, dict[str, Any]]] = []
        for socket in waiting:
            merged.extend((number, socket.handle, frame) for number, frame in socket.outbox)
            socket.outbox = []
        merged.sort(key=lambda item: item[0])
        if self.record:
            received = EntryKind.RECEIVED
            self._log.extend((handle.role, received, frame) for _, handle, frame in merged)
        return [(handle, frame) for _, handle, frame in merged]

    def closings(self) -> list[Connection]:
        """The connections closed since the last call (by the node, or by the client through
        :meth:`disconnect`), oldest first: what a transport has to close."""
        closed = list(self._closed.values())
        self._closed.clear()
        return closed

    def _close(self, socket: _Socket) -> None:
        if not socket.closed:
            socket.closed = True
            self._closed[socket.handle.id] = socket.handle

    def _queue(self, socket: _Socket, frame: dict[str, Any]) -> None:
        socket.outbox.append((next(self._sent), frame))
        self._waiting[socket.handle.id] = socket

    # --- what the FSMs need (the Node protocol) --------------------------------------------

    def to_client(self, fsm: Fsm, frame: dict[str, Any]) -> None:
        socket = self._clients.get(fsm)
        if socket is not None and not socket.closed:
            self._queue(socket, frame)

    def to_requester(self, fsm: Fsm, req: Request, frame: dict[str, Any]) -> None:
        # The node replies to the socket handler that made the call: a request postponed
        # past its socket's end is still served, but its reply reaches no later client.
        socket = self._clients.get(fsm)
        if socket is not None and (req.origin is None or req.origin == socket.handle.id):
            self.to_client(fsm, frame)

    def to_peer(self, fsm: Fsm, message: m.PeerMessage) -> None:
        if fsm.peer is not None and fsm.peer.alive:
            self.link.send(fsm.peer, message)

    def channel_known(self, fsm: Fsm) -> None:
        assert fsm.channel_id is not None
        self._by_channel.setdefault(fsm.channel_id, {})[fsm.role] = fsm

    def watching(self, fsm: Fsm) -> None:
        self._watchers[fsm] = None

    def timer_set(self, fsm: Fsm) -> None:
        order = self._fsms.get(fsm)
        if order is None or fsm.deadline is None:
            return
        heapq.heappush(self._timers, (fsm.deadline, order, next(self._timer_entries), fsm))
        if len(self._timers) > 2 * len(self._fsms) + 64:
            # Every FSM call re-arms a timer: drop the dead entries now and then.
            self._timers = [
                (f.deadline, order, next(self._timer_entries), f)
                for f, order in self._fsms.items()
                if f.deadline is not None
            ]
            heapq.heapify(self._timers)

    def _next_timer(self) -> Fsm | None:
        """The running FSM whose timer runs out first (the first started among equals)."""
        timers = self._timers
        while timers:
            deadline, order, _, fsm = timers[0]
            if fsm.deadline == deadline and self._fsms.get(fsm) == order:
                return fsm
            heapq.heappop(timers)
        return None

    def terminated(self, fsm: Fsm) -> None:
        self._fsms.pop(fsm, None)
        self._unpaired.pop(fsm, None)
        self._watchers.pop(fsm, None)
        port = self._ports.pop(fsm, None)
        self._responders.get((port or 0, fsm.account), {}).pop(fsm, None)
        if fsm.channel_id is not None and self._by_channel.get(fsm.channel_id, {}).get(fsm.role):
            del self._by_channel[fsm.channel_id][fsm.role]
        socket = self._clients.pop(fsm, None)
        if socket is not None:
            self._close(socket)  # the node closes the socket once the FSM is gone
        on_chain = self.chain.channel(fsm.channel_id) if fsm.channel_id else None
        closed = on_chain is not None and on_chain.status == "closed"
        if fsm.channel_id is not None and fsm.latest is not None and not closed:
            self._cache[(fsm.channel_id, fsm.role)] = _Cached(
                fsm_id=fsm.fsm_id,
                options=fsm.options,
                latest=fsm.latest,
                peer_account=fsm.peer_key,
                minimum_depth=fsm.minimum_depth,
                strategy=fsm.strategy,
            )
        peer = fsm.peer
        if peer is not None and peer.alive:
            self.link.send(peer, m.PeerGone())

    # --- the link, blocks and time ---------------------------------------------------------

    def deliver(self) -> None:
        """Let the nodes talk until they are quiet, mining as an auto-mining chain does."""
        for _ in range(_MAX_AUTO_BLOCKS):
            while (item := self.link.pop()) is not None:
                target, message = item
                target.receive(message)
                if not self.link:
                    self._pair()
            if not (self.auto_mine and self._wants_block()):
                return
            self._mine_one()

    def _wants_block(self) -> bool:
        chain = self.chain
        if chain.mempool:
            return True
        for fsm in list(self._watchers):
            if not fsm.wants_blocks():
                del self._watchers[fsm]  # it waits for nothing now
            elif fsm.held_settle is not None or any(
                w.tx_hash in chain.included for w in fsm.watches
            ):
                return True
        return False

    def _mine_one(self) -> None:
        """Mine a block and tell the FSMs it concerns: those that wait for blocks, and those
        whose channel has a tx in it (in the order they started, as a node would)."""
        events = self.chain.mine(1)
        told = dict(self._watchers)
        for event in events:
            told.update(dict.fromkeys(self._by_channel.get(event.channel_id, {}).values()))
        for fsm in sorted(told, key=lambda f: self._fsms.get(f, -1)):
            fsm.on_block()

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` blocks now (whatever waits in the mempool goes into the first)."""
        for _ in range(blocks):
            self._mine_one()
            self.deliver()

    def advance(self, now: float) -> None:
        """Time is ``now``: fire the FSM timers due and mine the blocks due."""
        self._tick(now)
        while (fsm := self._next_timer()) is not None and (fsm.deadline or 0.0) <= self.now:
            fsm.fire_timer()
            self.deliver()
        while self.next_block_at is not None and self.next_block_at <= self.now:
            self.next_block_at += self.block_interval or 0.0
            self.mine(1)
        self.deliver()

    def next_deadline(self) -> float | None:
        """When :meth:`advance` has something to do: a timer, or the next block."""
        fsm = self._next_timer()
        timer = None if fsm is None else fsm.deadline
        times = [t for t in (timer, self.next_block_at) if t is not None]
        return min(times) if times else None

    def _tick(self, now: float | None) -> None:
        if now is not None and now > self.now:
            self.now = now

    # --- chain control ---------------------------------------------------------------------

    def post_close_solo(
        self,
        state: t.SignedTx | str,
        balances: Mapping[str, int],
        signer: crypto.Signer,
    ) -> str:
        """Close a channel alone on chain with a co-signed ``state`` (an old one, to cheat),
        as a participant could without its node; ``balances`` are the state's. Returns the
        tx hash."""
        signed = t.decode_signed_tx(state) if isinstance(state, str) else state
        inner = signed.transaction
        channel = getattr(inner, "channel_id", None)
        if isinstance(inner, t.ChannelCreateTx):
            channel = crypto.channel_id(inner)
        if channel is None:
            raise LocalProtocolError("not a channel state")
        keys = {Id.account(key).key: value for key, value in balances.items()}
        sender = Id.account(signer.address)
        payload = signed if isinstance(inner, t.ChannelOffChainTx) else None
        nonce = self.chain.next_nonce(sender.key)

        def build(fee: int) -> t.ChannelCloseSoloTx:
            return t.ChannelCloseSoloTx(
                channel_id=channel,
                from_id=sender,
                payload=payload,
                poi=poi_bytes(keys),
                ttl=0,
                fee=fee,
                nonce=nonce,
            )

        tx = build(pick_fee(build, None, None))
        solo = crypto.sign(t.SignedTx(signatures=(), transaction=tx), signer, self.network_id)
        tx_hash = self.chain.post(solo, keys)
        self.deliver()
        return tx_hash

    # --- recording -------------------------------------------------------------------------

    @property
    def entries(self) -> list[Entry]:
        """Every step so far (connects, frames each way, disconnects), oldest first."""
        if not self.record:
            raise LocalProtocolError("the simulator was made with record=False: nothing recorded")
        framed = (EntryKind.SENT, EntryKind.RECEIVED)
        return [
            Entry(role=role, kind=kind, text=frame_text(item) if kind in framed else item)
            for role, kind, item in self._log
        ]

    def transcript(self) -> str:
        """Every frame so far, in the recorded-session format (:mod:`..transcript`)."""
        return render(self.entries)

    @property
    def fsms(self) -> tuple[Fsm, ...]:
        """The FSMs running now."""
        return tuple(self._fsms)
