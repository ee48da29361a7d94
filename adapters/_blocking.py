"""One client WebSocket on a blocking socket, framed by ``wsproto``: the sync adapter's I/O."""

from __future__ import annotations

import os
import socket
import ssl
import time
import urllib.parse

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import ProtocolError

from ._common import Settings, describe


def earliest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


class Lost(Exception):
    """The socket is gone; the message says why."""


class BlockingSocket:
    """One client WebSocket on a blocking socket: wsproto does the framing."""

    def __init__(self, sock: socket.socket, ws: WSConnection, settings: Settings) -> None:
        self._sock = sock
        self._ws = ws
        self._settings = settings
        self._parts: list[str] = []
        self._size = 0
        self._closed: str | None = None  # why, once the node closed or the socket dropped
        self._pong_due: float | None = None
        interval = settings.ping_interval
        self._next_ping = None if interval is None else time.monotonic() + interval

    @classmethod
    def open(cls, url: str, context: ssl.SSLContext | None, settings: Settings) -> BlockingSocket:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        until = time.monotonic() + settings.open_timeout
        sock = socket.create_connection((host, port), timeout=settings.open_timeout)
        try:
            # One frame is one write; Nagle would hold a reply back behind an unacked frame.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname=host)
            ws = WSConnection(ConnectionType.CLIENT)
            target = parts.path + ("?" + parts.query if parts.query else "")
            sock.sendall(ws.send(Request(host=parts.netloc, target=target or "/")))
            while True:
                sock.settimeout(max(0.0, until - time.monotonic()))
                data = sock.recv(65536)
                ws.receive_data(data or None)
                for event in ws.events():
                    if isinstance(event, AcceptConnection):
                        return cls(sock, ws, settings)
                    if isinstance(event, (RejectConnection, RejectData)):
                        status = getattr(event, "status_code", "")
                        raise ConnectionRefusedError(f"handshake rejected {status}".rstrip())
                if not data:
                    raise ConnectionResetError("closed during the handshake")
        except BaseException:
            sock.close()
            raise

    def send(self, text: str) -> None:
        try:
            self._sock.settimeout(self._settings.open_timeout)  # a node that stops reading
            self._sock.sendall(self._ws.send(TextMessage(data=text)))
        except (OSError, ProtocolError) as exc:
            raise Lost(f"send failed: {describe(exc)}") from exc

    def poll(self, until: float | None) -> list[str]:
        """The messages that came by ``until`` (maybe none); _Lost once the socket is gone."""
        if self._closed is not None:
            raise Lost(self._closed)
        try:
            return self._poll(until)
        except (OSError, ProtocolError) as exc:
            raise Lost(describe(exc)) from exc

    def _poll(self, until: float | None) -> list[str]:
        messages = self._events()  # what came with the handshake, or before a close
        if messages or self._closed is not None:
            return messages
        settings = self._settings
        now = time.monotonic()
        if self._pong_due is not None and now >= self._pong_due:
            raise Lost(f"no pong within {settings.ping_timeout} s")
        if self._next_ping is not None and now >= self._next_ping:
            assert settings.ping_interval is not None
            self._sock.settimeout(settings.open_timeout)
            self._sock.sendall(self._ws.send(Ping(payload=os.urandom(4))))
            self._next_ping = now + settings.ping_interval
            self._pong_due = self._pong_due or now + settings.ping_timeout
        wake = earliest(until, self._next_ping, self._pong_due)
        self._sock.settimeout(None if wake is None else max(0.0, wake - now))
        try:
            data = self._sock.recv(65536)
        except (TimeoutError, BlockingIOError):  # a timeout of 0 makes the socket non-blocking
            return []
        self._ws.receive_data(data or None)  # None: the socket dropped
        return self._events()

    def _events(self) -> list[str]:
        settings = self._settings
        messages: list[str] = []
        for event in self._ws.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                part = (
                    event.data
                    if isinstance(event.data, str)
                    else event.data.decode("utf-8", "replace")
                )
                self._parts.append(part)
                self._size += len(part)
                if self._size > settings.max_message_bytes:
                    self._closed = f"a message over {settings.max_message_bytes} bytes"
                    break
                if event.message_finished:
                    messages.append("".join(self._parts))
                    self._parts, self._size = [], 0
            elif isinstance(event, Ping):
                self._sock.sendall(self._ws.send(event.response()))
            elif isinstance(event, Pong):
                self._pong_due = None
            elif isinstance(event, CloseConnection):
                self._closed = f"closed by the node: {event.code} {event.reason or ''}".rstrip()
                if self._ws.state is not ConnectionState.CLOSED:
                    self._sock.sendall(self._ws.send(event.response()))
                break
        return messages  # what came before a close is still handled

    def close(self, timeout: float) -> None:
        """A clean close: our close frame, then the node's, for at most ``timeout`` s."""
        until = time.monotonic() + timeout
        try:
            if self._ws.state is ConnectionState.OPEN:
                self._sock.sendall(self._ws.send(CloseConnection(code=1000)))
            while self._ws.state is not ConnectionState.CLOSED and time.monotonic() < until:
                self._sock.settimeout(max(0.0, until - time.monotonic()))
                data = self._sock.recv(65536)
                self._ws.receive_data(data or None)
                for _ in self._ws.events():
                    pass  # messages after our close frame are dropped
        except (OSError, ProtocolError):
            pass
        finally:
            self._sock.close()

    def abort(self) -> None:
        self._sock.close()
