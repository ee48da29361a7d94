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
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from sansio_channels import commands as cmd
from sansio_channels.channel import Channel
from sansio_channels.crypto import Signer
from sansio_channels.events import Event, Operation
from sansio_channels.policy import Policy
from sansio_channels.store import ChannelStore

from ._common import DEFAULT_SETTINGS, AsyncAnswers, ClientBase, ConnectFailed, Outcome, Settings

__all__ = ["ChannelClient", "open_channel", "resume_channel"]


class ChannelClient(ClientBase[Coroutine[Any, Any, Outcome]], AsyncAnswers):
    """One channel on one (re)connecting WebSocket.

    Sign requests the policy answers with ``signer`` never reach the application; every
    other event does, in order, through ``async for`` or :meth:`next_event`.
    """

    def __init__(
        self,
        channel: Channel,
        base_url: str,
        *,
        signer: Signer | None = None,
        policy: Policy | None = None,
        settings: Settings = DEFAULT_SETTINGS,
        store: ChannelStore | None = None,
    ) -> None:
        super().__init__(
            channel, base_url, signer=signer, policy=policy, settings=settings, store=store
        )
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

    def __aiter__(self) -> ChannelClient:
        return self

    async def __anext__(self) -> Event:
        event = await self.next_event()
        if event is None:
            raise StopAsyncIteration
        return event

    async def next_event(self) -> Event | None:
        """The next event; None once the connection has ended for good. Raises the client's
        failure (:class:`FellBehind`, :class:`Disconnected`, ...) after the events before it."""
        while (event := self._pump.next_event()) is None and not self._pump.finished:
            await self._wait()
        return event

    async def start(self, command: cmd.Command) -> Operation:
        """Send ``command``; its outcome comes as an event about the operation."""
        operation = self._pump.start(command)
        await self._flush()
        return operation

    async def submit(self, command: cmd.Command) -> Outcome:
        """Send ``command`` and wait for its outcome (accepted, failed, or a query's result)."""
        operation = await self.start(command)
        try:
            while (outcome := self._pump.outcome(operation)) is None:
                await self._wait()
        finally:
            self._pump.forget(operation)
        return outcome

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
resume_channel = ChannelClient.resume
