"""A WebSocket server around the :class:`~.Simulator`: a node to point a client at.

It listens on loopback by default, as a node's channel endpoint does
(``ws://127.0.0.1:3014/channel?...``), feeds each text frame to the simulator, and sends
whatever the simulator has for any connection after each step (a frame from one client often
makes frames for the other). The simulator's timers and block interval run on the event loop's
clock. Given ``peers`` (address -> signer), it plays the responders of those accounts itself
(:mod:`.peers`), so that only the initiators connect. This is the only module of the package
that does I/O; the core never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ..crypto import Signer
from ..errors import LocalProtocolError
from ..txs import SignedTx
from .peers import PlayedPeers
from .simulator import Connection, Simulator

__all__ = ["SimulatorServer"]


class SimulatorServer:
    """Serve a :class:`Simulator` over WebSockets (``await server.start()``, ``stop()``).

    With ``peers`` (``ak_...`` -> signer) the server plays the responder of every channel an
    initiator opens with one of those accounts: only the initiator connects.
    """

    def __init__(
        self,
        sim: Simulator,
        *,
        host: str = "127.0.0.1",
        port: int = 3014,
        transcript: str | None = None,
        peers: Mapping[str, Signer] | None = None,
    ) -> None:
        if transcript is not None and not sim.record:
            raise LocalProtocolError("transcript: the simulator was made with record=False")
        self.sim = sim
        self.host = host
        self.port = port
        self.transcript = transcript  # where to write the recorded session, if anywhere
        self.peers = PlayedPeers(sim, peers or {})
        self._sockets: dict[Connection, ServerConnection] = {}
        self._server: Server | None = None
        self._clock: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing: set[asyncio.Future[None]] = set()

    @property
    def bound_port(self) -> int:
        """The port actually listened on (``port=0`` picks a free one)."""
        assert self._server is not None, "not started"
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    def url(self) -> str:
        """The base URL a client connects to (``...?`` and its connect params follow)."""
        return f"ws://{self.host}:{self.bound_port}/channel"

    async def start(self) -> None:
        # No permessage-deflate: on loopback it only costs CPU at both ends. No WebSocket
        # pings either: the node sends none (its clients keep their sockets alive), and with
        # thousands of connections they would cost CPU all the time.
        self._server = await serve(
            self._serve, self.host, self.port, compression=None, ping_interval=None
        )
        self._clock = asyncio.get_running_loop().create_task(self._run_clock())

    async def stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.save()

    def drop(self, role: str) -> int:
        """Cut the connections of ``role`` ("initiator"/"responder") as a network fault would:
        the TCP connection is aborted, with no close handshake. How many were cut."""
        cut = [ws for conn, ws in self._sockets.items() if conn.role == role]
        for websocket in cut:
            websocket.transport.abort()
        return len(cut)

    async def post_close_solo(
        self, state: SignedTx | str, balances: Mapping[str, int], signer: Signer
    ) -> str:
        """Play a cheating peer: close the channel on chain alone with a co-signed ``state``
        (an old one), as :meth:`Simulator.post_close_solo` does; the clients hear of it."""
        tx_hash = self.sim.post_close_solo(state, balances, signer)
        await self._flush()
        return tx_hash

    def save(self) -> None:
        """Write the recorded session so far to ``transcript`` (when one was given)."""
        if self.transcript is not None:
            with open(self.transcript, "w", encoding="utf-8") as handle:
                handle.write(self.sim.transcript())

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- one client ------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _serve(self, websocket: ServerConnection) -> None:
        path = websocket.request.path if websocket.request is not None else "/"
        url = f"ws://{self.host}:{self.bound_port}{path}"
        self.peers.connect_for(url, now=self._now())
        connection = self.sim.connect(url, now=self._now())
        self._sockets[connection] = websocket
        await self._flush()
        try:
            async for message in websocket:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self.sim.receive_text(connection, text, now=self._now())
                await self._flush()
        except ConnectionClosed:
            pass
        finally:
            self._sockets.pop(connection, None)
            if not self.sim.is_closed(connection):
                self.sim.disconnect(connection, now=self._now())
            await self._flush()

    async def _flush(self) -> None:
        """Send what the simulator has, across clients in the order the nodes sent it (a
        played responder answers at once, which may make more); close what the node closed.
        Only what changed is looked at, however many clients are connected."""
        while outbound := self.sim.outbound():
            for connection, frame in outbound:
                if self.peers.plays(connection):
                    self.peers.receive(connection, frame, now=self._now())
                    continue
                websocket = self._sockets.get(connection)
                if websocket is not None:
                    with contextlib.suppress(ConnectionClosed):
                        await websocket.send(_dumps(frame))
        for connection in self.sim.closings():
            self.peers.closed(connection)
            websocket = self._sockets.pop(connection, None)
            if websocket is None:
                continue  # a played responder, or a client already gone
            reason = self.sim.close_reason(connection)
            # A refusal the node makes without a word: say why in the close frame
            # (1008, policy violation; the reason is cut to what a close frame holds).
            closing = (
                websocket.close()
                if reason is None
                else websocket.close(1008, reason.encode()[:120].decode(errors="ignore"))
            )
            # Not awaited here: the close handshake must not hold up the other clients.
            task = asyncio.ensure_future(closing)
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        self._wake.set()  # a new timer may be due sooner

    async def _run_clock(self) -> None:
        """Fire the simulator's timers and blocks when they are due."""
        while True:
            deadline = self.sim.next_deadline()
            self._wake.clear()
            timeout = None if deadline is None else max(0.0, deadline - self._now())
            # Not wait_for: on Python < 3.12 it can swallow stop()'s cancel when the wake
            # comes at the same moment, and the clock then runs on (stop() hung).
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait([waiter], timeout=timeout)
            finally:
                waiter.cancel()
            if deadline is not None and self._now() >= deadline:
                self.sim.advance(self._now())
                await self._flush()


def _dumps(frame: Any) -> str:
    return json.dumps(frame, separators=(",", ":"))
