"""The channel over asyncio, on the ``websockets`` library.

::

    async with open_channel(base_url, options, network_id=..., signer=keys) as client:
        outcome = await client.transfer(peer, 10)
        async for event in client:
            ...

One reader task per client moves frames between the socket and the channel, answers sign
requests through the policy, fires the channel's timers and reconnects; it never waits for the
application, whose events wait in a bounded queue (:class:`FellBehind` when it overflows).
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ._common import AsyncClient, ConnectFailed

__all__ = ["ChannelClient", "open_channel", "resume_channel"]


class ChannelClient(AsyncClient):
    """One channel on one (re)connecting WebSocket.

    Sign requests the policy answers with ``signer`` never reach the application; every
    other event does, in order, through ``async for`` or :meth:`next_event`.
    """

    def _init_transport(self) -> None:
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._send_lock = asyncio.Lock()

    async def __aenter__(self) -> ChannelClient:
        ws = await self._connect()
        self._task = asyncio.create_task(self._run(ws))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.close()
        finally:  # cancelled from outside too: nothing of ours outlives the block
            if self._task is not None and not self._task.done():
                self._task.cancel()

    # --- the application's side -----------------------------------------------------------

    async def close(self) -> None:
        """Close the socket (code 1000) and stop; the channel's FSM on the node stays up."""
        self._pump.close()
        ws, task = self._ws, self._task
        if ws is not None:
            await ws.close()
        if task is not None:
            if ws is None:
                task.cancel()  # between sockets: nothing to close, stop the backoff
            await asyncio.gather(task, return_exceptions=True)
        self._pump.finished = True
        self._notify()

    # --- the reader task ------------------------------------------------------------------

    async def _connect(self) -> ClientConnection:
        settings = self._pump.settings
        try:
            return await connect(
                self._pump.url,
                ssl=self._pump.ssl_context(),
                open_timeout=settings.open_timeout,
                ping_interval=settings.ping_interval,
                ping_timeout=settings.ping_timeout,
                close_timeout=settings.close_timeout,
                max_size=settings.max_message_bytes,
                proxy=None,
            )
        except (OSError, asyncio.TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise self._pump.connect_failed(exc) from exc

    async def _run(self, ws: ClientConnection | None) -> None:
        try:
            while ws is not None:
                ws = await self._come_back(await self._serve(ws))
        except Exception as exc:  # the application hears of anything that stops the reader
            self._pump.fail(exc)
        finally:
            self._notify()

    async def _serve(self, ws: ClientConnection) -> str:
        """Pump frames and timers until the socket goes; why it went."""
        loop = asyncio.get_running_loop()
        self._ws = ws
        self._pump.opened()
        try:
            await self._flush()
            self._notify()
            while self._pump.failure is None and not self._pump.closing:
                deadline = self._pump.deadline()
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    data = await asyncio.wait_for(ws.recv(), timeout)
                except asyncio.TimeoutError:
                    self._pump.timer(loop.time())
                else:
                    self._pump.receive(data, loop.time())
                await self._flush()
                self._notify()
            await ws.close()  # closed, or failed (FellBehind, ...): let go of the socket
            return "the client stopped"
        except ConnectionClosed as exc:
            return str(exc)
        finally:
            self._ws = None

    async def _come_back(self, reason: str) -> ClientConnection | None:
        delay = self._pump.lost(reason)
        self._notify()
        while delay is not None:
            await asyncio.sleep(delay)
            try:
                return await self._connect()
            except ConnectFailed as exc:
                delay = self._pump.retry(str(exc))
                self._notify()
        return None

    async def _flush(self) -> None:
        async with self._send_lock:
            ws = self._ws
            if ws is None:
                return  # the frames wait for the next socket
            try:
                for frame in self._pump.outgoing():
                    await ws.send(frame)
            except ConnectionClosed:
                pass  # the reader sees it too, and comes back

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self) -> None:
        await self._changed.wait()


open_channel = ChannelClient.open
"""A client that opens a new channel: :meth:`ChannelClient.open`."""
resume_channel = ChannelClient.resume
"""A client that comes back to a channel from its record: :meth:`ChannelClient.resume`."""
