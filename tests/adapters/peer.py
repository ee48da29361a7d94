"""A scripted node on a loopback WebSocket server, for the adapters' tests.

It plays the initiator's node (frames built by :class:`tests.scripted_node.ScriptedNode` with
keys the tests control): the open flow, transfers, messages, pings, leave, reconnect and
reestablish. A few message texts make it misbehave on purpose. It runs in a thread, on a free
port of 127.0.0.1, and stops by itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from sansio_channels import crypto, encoding, txs
from sansio_channels.options import Role
from tests.scripted_node import AMOUNTS, INITIATOR, PUSH, RESPONDER, ScriptedNode, ba, notification

FSM_ID: Final = ba(7)
NEW_FSM_ID: Final = ba(9)
# Message texts that make the peer misbehave.
KILL: Final = "kill the socket"
GARBAGE: Final = "send garbage"
FLOOD: Final = "flood"
FLOOD_SIZE: Final = 60


# A self-signed certificate for 127.0.0.1, for the tests only (its key is no secret).
CERTIFICATE: Final = Path(__file__).parent / "loopback-cert.pem"
KEY: Final = Path(__file__).parent / "loopback-key.pem"


def server_tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERTIFICATE, KEY)
    return context


def client_tls() -> ssl.SSLContext:
    """What a client trusts to reach the peer over wss://."""
    return ssl.create_default_context(cafile=str(CERTIFICATE))


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ok(request: dict[str, Any], channel_id: str | None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "version": 1,
        "channel_id": channel_id,
        "id": request.get("id"),
        "result": "ok",
    }


class Peer:
    """The node's side for the initiator; one FSM, kept across connections."""

    def __init__(
        self, *, mute: bool = False, reject: bool = False, tls: bool = False, lifetime: float = 30.0
    ):
        self.tls = tls  # wss:// with the loopback test certificate
        self.mute = mute  # close every socket at once, without a message
        self.reject = reject  # refuse the WebSocket handshake (HTTP 403)
        self.lifetime = lifetime
        self.node = ScriptedNode(role=Role.INITIATOR)
        self.create = self.node.build_create()
        self.fsm_id: str | None = None  # the running FSM's id; None once it stopped
        self.latest: txs.SignedTx | None = None
        self.pending: txs.ChannelOffChainTx | None = None  # the state our transfer asked for
        self.paths: list[str] = []  # every connect URL's path and query
        self.close_codes: list[int | None] = []
        self.received: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []
        self._server: Server | None = None
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.socket.getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/channel"

    def __enter__(self) -> Peer:
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,
            ssl=server_tls() if self.tls else None,
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._stopper = threading.Timer(self.lifetime, self._server.shutdown)
        self._stopper.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopper.cancel()
        assert self._server is not None
        self._server.shutdown()
        assert not self.errors, self.errors

    def methods(self) -> list[str]:
        return [frame.get("method", "") for frame in self.received]

    # --- the script ---------------------------------------------------------------------

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.paths.append(request.path)
        return conn.respond(403, "Forbidden\n") if self.reject else None

    def _handle(self, conn: ServerConnection) -> None:
        if self.mute:
            return
        try:
            self._greet(conn)
            for text in conn:
                frame = json.loads(text)
                with self._lock:
                    self.received.append(frame)
                    self._answer(conn, frame)
        except ConnectionClosed:
            pass
        except Exception as exc:  # a test fails on it in __exit__
            self.errors.append(exc)
        finally:
            self.close_codes.append(conn.close_code)

    def _send(self, conn: ServerConnection, *frames: dict[str, Any]) -> None:
        for frame in frames:
            conn.send(json.dumps(frame))

    def _greet(self, conn: ServerConnection) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.paths[-1]).query)
        node = self.node
        if "existing_channel_id" not in query:  # a new channel: the open flow starts
            self.fsm_id = FSM_ID
            self._send(
                conn,
                node.info("fsm_up", fsm_id=FSM_ID),
                node.info("channel_accept"),
                node.sign_request(
                    "initiator_sign", txs.SignedTx(signatures=(), transaction=self.create)
                ),
            )
        elif query["existing_fsm_id"] == [self.fsm_id]:  # the FSM kept running: reattach
            self._send(conn, node.info("fsm_up", fsm_id=self.fsm_id))
        else:  # a new FSM restores the channel
            assert self.latest is not None
            self.fsm_id = NEW_FSM_ID
            self._send(
                conn,
                node.info("fsm_up", fsm_id=NEW_FSM_ID),
                node.info("channel_reestablished"),
                node.info("open"),
                node.update(self.latest),
            )

    def _answer(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        handler = _HANDLERS.get(frame.get("method", ""))
        if handler is not None:
            handler(self, conn, frame)

    def _on_initiator_sign(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        node = self.node
        node.channel_id = crypto.channel_id(self.create).api
        node.balances = {
            INITIATOR.public_key: AMOUNTS["initiator"] - PUSH,
            RESPONDER.public_key: AMOUNTS["responder"] + PUSH,
        }
        node.round = 1
        self.latest = node.co_signed(self.create)
        self._send(
            conn,
            ok(frame, node.channel_id),
            node.info("funding_signed", fsm_id=self.fsm_id),
            node.info("own_funding_locked"),
            node.info("funding_locked"),
            node.info("open"),
            node.update(self.latest),
        )

    def _on_update_new(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        amount = frame["params"]["amount"]
        tx, updates = self.node.transfer(amount, to_peer=True)
        self.pending = tx
        unsigned = txs.SignedTx(signatures=(), transaction=tx)
        self._send(
            conn,
            ok(frame, self.node.channel_id),
            self.node.sign_request("update", unsigned, updates),
        )

    def _on_update(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        node = self.node
        tx = self.pending
        assert tx is not None
        signed = txs.decode_signed_tx(frame["params"]["signed_tx"])
        assert signed.transaction == tx, "the client signed another state"
        self.latest = node.co_signed(tx)
        node.took(tx)
        self.pending = None
        self._send(conn, ok(frame, node.channel_id), node.update(self.latest))

    def _on_message(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        info = frame["params"]["info"]
        node = self.node
        if info == KILL:
            conn.socket.shutdown(socket.SHUT_RDWR)  # no close frame: a dropped link
            return
        if info == GARBAGE:
            conn.send("this is not JSON")
        echo = {"message": {"from": node.peer.address, "to": node.ours.address, "info": info}}
        count = FLOOD_SIZE if info == FLOOD else 1
        for _ in range(count):
            self._send(conn, notification("channels.message", echo, node.channel_id))
        self._send(conn, ok(frame, node.channel_id))

    def _on_system(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        pong = notification("channels.system.pong", {}, self.node.channel_id)
        self._send(conn, pong, ok(frame, self.node.channel_id))

    def _on_leave(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        node = self.node
        assert self.latest is not None
        self.fsm_id = None
        leave = notification(
            "channels.leave", {"state": txs.encode_tx(self.latest)}, node.channel_id
        )
        self._send(conn, ok(frame, node.channel_id), leave, node.info("died"))
        conn.close()

    def _on_get_balances(self, conn: ServerConnection, frame: dict[str, Any]) -> None:
        balances = [
            {"account": encoding.encode("ak", key), "balance": amount}
            for key, amount in self.node.balances.items()
        ]
        reply = dict(ok(frame, self.node.channel_id), result=balances)
        self._send(conn, reply)


_HANDLERS: Final[dict[str, Callable[[Peer, ServerConnection, dict[str, Any]], None]]] = {
    "channels.initiator_sign": Peer._on_initiator_sign,
    "channels.update.new": Peer._on_update_new,
    "channels.update": Peer._on_update,
    "channels.message": Peer._on_message,
    "channels.system": Peer._on_system,
    "channels.leave": Peer._on_leave,
    "channels.get.balances": Peer._on_get_balances,
}


class Link:
    """A TCP relay in front of a node that can go silent or break, as a network path does.

    ``freeze()`` makes every connection relayed so far drop what it gets, both ways, without
    closing anything; ``cut()`` drops them. Connections made afterwards are relayed normally.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: list[socket.socket] = []
        self._frozen: list[threading.Event] = []
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        port: int = self._listener.getsockname()[1]
        return port

    def __enter__(self) -> Link:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            for sock in [self._listener, *self._sockets]:
                sock.close()

    def cut(self) -> None:
        """Drop every connection relayed so far, both ways, with no close frame."""
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def freeze(self) -> None:
        with self._lock:
            for frozen in self._frozen:
                frozen.set()

    def _accept(self) -> None:
        try:
            while True:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                frozen = threading.Event()
                with self._lock:
                    self._sockets += [client, upstream]
                    self._frozen.append(frozen)
                for source, target in ((client, upstream), (upstream, client)):
                    args = (source, target, frozen)
                    threading.Thread(target=self._relay, args=args, daemon=True).start()
        except OSError:
            return  # closed

    def _relay(self, source: socket.socket, target: socket.socket, frozen: threading.Event) -> None:
        try:
            while data := source.recv(65536):
                if not frozen.is_set():
                    target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            return
