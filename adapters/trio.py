"""The channel over trio, on ``trio-websocket``.

::

    async with open_channel(base_url, options, network_id=..., signer=keys) as client:
        outcome = await client.transfer(peer, 10)
        async for event in client:
            ...

The client runs its reader in a nursery of its own, opened by ``async with``: it moves frames
between the socket and the channel, answers sign requests through the policy, fires the
channel's timers, pings the node and reconnects; it never waits for the application, whose
events wait in a bounded queue (:class:`FellBehind` when it overflows).
"""

from __future__ import annotations

import math
import ssl
import urllib.parse
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TypeAlias

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream

from ._common import AsyncClient, ConnectFailed

__all__ = ["ChannelClient", "open_channel", "resume_channel"]


class ChannelClient(AsyncClient):
    """One channel on one (re)connecting WebSocket.

    Sign requests the policy answers with ``signer`` never reach the application; every
    other event does, in order, through ``async for`` or :meth:`next_event`.
    """

    def _init_transport(self) -> None:
        self._ws: WebSocketConnection | None = None
        self._stack = AsyncExitStack()
        self._run_scope = trio.CancelScope()
        self._done = trio.Event()
        self._changed = trio.Event()
        self._send_lock = trio.Lock()
        self._started = False
        self._lost_reason: str | None = None  # why the client dropped a socket itself

    async def __aenter__(self) -> ChannelClient:
        nursery = await self._stack.enter_async_context(trio.open_nursery())
        try:
            await nursery.start(self._run)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.close()
        finally:  # cancelled from outside too: nothing of ours outlives the block
            self._run_scope.cancel()
            await self._stack.aclose()

    # --- the application's side -----------------------------------------------------------

    async def close(self) -> None:
        """Close the socket (code 1000) and stop; the channel's FSM on the node stays up."""
        self._pump.close()
        if self._ws is not None:
            with trio.move_on_after(self._pump.settings.close_timeout):
                await self._ws.aclose()
        else:
            self._run_scope.cancel()  # between sockets: stop the backoff
        if self._started:
            await self._done.wait()
        self._pump.finished = True
        self._notify()

    # --- the reader task ------------------------------------------------------------------

    async def _run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with self._run_scope:
                reason = await self._connection(task_status)
                delay = self._pump.lost(reason)
                while delay is not None:
                    self._notify()
                    await trio.sleep(delay)
                    try:
                        reason = await self._connection()
                    except ConnectFailed as exc:
                        delay = self._pump.retry(str(exc))
                    else:
                        delay = self._pump.lost(reason)
        except Exception as exc:
            if not self._started:
                raise  # to __aenter__: the first connection failed
            self._pump.fail(exc)  # the application hears of anything that stops the reader
        finally:
            self._done.set()
            self._notify()

    async def _connection(
        self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> str:
        """One socket, from opening to its end; why it ended."""
        settings = self._pump.settings
        ws: WebSocketConnection | None = None
        # The stream is ours to close: trio-websocket leaks it when the handshake is refused.
        stream: Stream | None = None
        try:
            async with trio.open_nursery() as nursery:
                with trio.fail_after(settings.open_timeout):
                    stream = await _open_stream(self._pump.url, self._pump.ssl_context())
                    ws = await wrap_client_stream(
                        nursery,
                        stream,
                        *_host_and_resource(self._pump.url),
                        max_message_size=settings.max_message_bytes,
                    )
                if not self._started:
                    self._started = True
                    task_status.started()
                reason = await self._serve(ws)
                # trio-websocket's reader finishes the close handshake; give it that long.
                nursery.cancel_scope.deadline = trio.current_time() + settings.close_timeout
            return reason
        except Exception as exc:  # refused, timed out, handshake failed (maybe in a group)
            if ws is not None:
                raise
            cause = _leaf(exc)
            if isinstance(cause, trio.TooSlowError):
                cause = TimeoutError(f"no answer within {settings.open_timeout} s")
            raise self._pump.connect_failed(cause.__cause__ or cause) from exc
        finally:
            if stream is not None:
                await trio.aclose_forcefully(stream)

    async def _serve(self, ws: WebSocketConnection) -> str:
        self._ws = ws
        self._lost_reason = None
        self._pump.opened()
        try:
            async with trio.open_nursery() as tasks:
                if self._pump.settings.ping_interval is not None:
                    tasks.start_soon(self._keep_alive, ws)
                reason = await self._read(ws)
                tasks.cancel_scope.cancel()
            return self._lost_reason or reason
        finally:
            self._ws = None

    async def _read(self, ws: WebSocketConnection) -> str:
        try:
            await self._flush()
            self._notify()
            while self._pump.failure is None and not self._pump.closing:
                deadline = self._pump.deadline()
                data: str | bytes | None = None
                with trio.move_on_at(math.inf if deadline is None else deadline):
                    data = await ws.get_message()
                if data is None:
                    self._pump.timer(trio.current_time())
                else:
                    self._pump.receive(data, trio.current_time())
                await self._flush()
                self._notify()
            with trio.move_on_after(self._pump.settings.close_timeout):
                await ws.aclose()  # closed, or failed (FellBehind, ...): let go of the socket
            return "the client stopped"
        except ConnectionClosed as exc:
            return str(exc.reason)

    async def _keep_alive(self, ws: WebSocketConnection) -> None:
        settings = self._pump.settings
        assert settings.ping_interval is not None
        try:
            while True:
                await trio.sleep(settings.ping_interval)
                with trio.move_on_after(settings.ping_timeout) as waiting:
                    await ws.ping()
                if waiting.cancelled_caught:
                    # No pong: the node or the path to it is gone. Drop the socket; the
                    # reader then comes back on a new one.
                    self._lost_reason = f"no pong within {settings.ping_timeout} s"
                    with trio.move_on_after(settings.close_timeout):
                        await ws.aclose()
                    return
        except ConnectionClosed:
            return

    async def _flush(self) -> None:
        async with self._send_lock:
            ws = self._ws
            if ws is None:
                return  # the frames wait for the next socket
            try:
                for frame in self._pump.outgoing():
                    await ws.send_message(frame)
            except ConnectionClosed:
                pass  # the reader sees it too, and comes back

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _wait(self) -> None:
        await self._changed.wait()


Stream: TypeAlias = "trio.SocketStream | trio.SSLStream[trio.SocketStream]"


async def _open_stream(url: str, context: ssl.SSLContext | None) -> Stream:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if context is not None else 80)
    if context is None:
        return await trio.open_tcp_stream(host, port)
    stream = await trio.open_ssl_over_tcp_stream(
        host, port, ssl_context=context, https_compatible=True
    )
    try:
        await stream.do_handshake()  # a TLS failure is told now, not as a stalled handshake
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    return stream


def _host_and_resource(url: str) -> tuple[str, str]:
    """The Host header and the request target of ``url``."""
    parts = urllib.parse.urlsplit(url)
    return parts.netloc, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside nested exception groups (as nurseries raise them), if one."""
    inner = getattr(exc, "exceptions", None)
    while isinstance(inner, tuple) and len(inner) == 1:
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


open_channel = ChannelClient.open
"""A client that opens a new channel: :meth:`ChannelClient.open`."""
resume_channel = ChannelClient.resume
"""A client that comes back to a channel from its record: :meth:`ChannelClient.resume`."""
