"""The project's simulator behind its WebSocket server, run in a thread, with a responder.

The adapter under test plays the initiator. The responder is a bare channel on a plain
``websockets`` client that signs whatever it is asked, so that only one adapter is under test
at a time. Everything runs on an asyncio loop in a thread of its own, bounded in time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sansio_channels.channel import Channel
from sansio_channels.commands import Command, Transfer
from sansio_channels.dispute import DisputePolicy
from sansio_channels.events import CoSignedState, Event, SignRequest
from sansio_channels.options import OpenOptions, Role
from sansio_channels.simulator import Simulator, harness
from sansio_channels.simulator.harness import keypair
from sansio_channels.simulator.server import SimulatorServer
from sansio_channels.transcript import EntryKind

INITIATOR: Final = keypair("adapter initiator")
RESPONDER: Final = keypair("adapter responder")
AMOUNT: Final = 10**18
_REPORT_ONLY: Final = DisputePolicy.off()


def open_options(role: Role) -> OpenOptions:
    return harness.open_options(role, INITIATOR, RESPONDER, amount=AMOUNT)


class SimulatedNode:
    """``with SimulatedNode() as node``: ``node.base_url`` takes the initiator."""

    def __init__(self, lifetime: float = 30.0) -> None:
        self.sim = Simulator()
        self.lifetime = lifetime
        # The responder plays the cheat in the dispute tests: it never slashes or settles.
        self.responder = Channel(
            open_options(Role.RESPONDER), network_id=self.sim.network_id, dispute=_REPORT_ONLY
        )
        self.responder_events: list[Event] = []
        self.errors: list[BaseException] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._server: SimulatorServer | None = None
        self._url = ""
        self._socket: ClientConnection | None = None

    @property
    def base_url(self) -> str:
        return self._url

    @property
    def port(self) -> int:
        return int(self._url.split(":")[2].split("/")[0])

    @property
    def network_id(self) -> str:
        return self.sim.network_id

    def drop(self, role: str) -> None:
        """Abort the server side of ``role``'s connections, with no close frame."""
        assert self._loop is not None
        assert self._server is not None
        self._loop.call_soon_threadsafe(self._server.drop, role)

    def pay_initiator(self, amounts: tuple[int, ...]) -> None:
        """The responder pays the initiator each of ``amounts`` in turn (not waited for)."""
        assert self._loop is not None
        for amount in amounts:
            transfer = Transfer(from_id=RESPONDER.address, to_id=INITIATOR.address, amount=amount)
            asyncio.run_coroutine_threadsafe(self._submit(transfer), self._loop).result(5)

    def post_old_state(self, round_: int) -> None:
        """The responder cheats: it closes the channel on chain with its co-signed state of
        ``round_`` through the server."""
        assert self._loop is not None
        assert self._server is not None
        (state,) = [
            e
            for e in self.responder_events
            if isinstance(e, CoSignedState) and e.accepted and e.round == round_
        ]
        assert state.balances is not None
        post = self._server.post_close_solo(state.signed_tx, state.balances, RESPONDER)
        asyncio.run_coroutine_threadsafe(post, self._loop).result(5)

    def sent_by(self, role: str) -> int:
        """How many frames ``role``'s client has sent the node so far."""
        entries = list(self.sim.entries)
        return sum(1 for e in entries if e.role == role and e.kind is EntryKind.SENT)

    async def _submit(self, command: Command) -> None:
        assert self._socket is not None
        self.responder.submit(command)
        for frame in self.responder.frames_to_send():
            await self._socket.send(json.dumps(frame))

    def __enter__(self) -> SimulatedNode:
        self._thread.start()
        assert self._ready.wait(10), "the simulator did not start"
        assert not self.errors, self.errors
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        # Bounded: should the server not stop in time, the daemon thread ends alone.
        self._thread.join(3)
        assert not self.errors, self.errors

    def _main(self) -> None:
        try:
            asyncio.run(asyncio.wait_for(self._serve(), self.lifetime))
        except BaseException as exc:  # the test sees it in __exit__
            self.errors.append(exc)
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with SimulatorServer(self.sim, port=0) as server:
            self._url = server.url()
            self._server = server
            responder = asyncio.ensure_future(self._respond(server.url()))
            await self._stop.wait()
            # Let the responder take what the node still sends it (a close ends it).
            await asyncio.wait([responder], timeout=2.0)
            responder.cancel()
            await asyncio.gather(responder, return_exceptions=True)

    async def _respond(self, base_url: str) -> None:
        """The responder's client: sign every request, until the node closes the socket."""
        channel = self.responder
        async with connect(channel.connect_url(base_url)) as socket:
            self._socket = socket
            self._ready.set()  # the responder is there: the initiator may come
            try:
                async for text in socket:
                    assert isinstance(text, str)
                    channel.receive_text(text)
                    for event in channel.events():
                        self.responder_events.append(event)
                        if isinstance(event, SignRequest):
                            event.sign(RESPONDER, accept_failed_checks=True)
                    for frame in channel.frames_to_send():
                        await socket.send(json.dumps(frame))
            except ConnectionClosed:
                pass
