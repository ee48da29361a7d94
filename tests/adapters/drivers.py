"""One face for the three adapters, so that a scenario is written once.

A scenario is a coroutine over a :class:`Client`. The asyncio and trio drivers run it in their
event loop; the blocking adapter's wrapper never really awaits, so its driver steps the
coroutine by hand. Every wait is bounded by :data:`TIMEOUT`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final, Protocol

import trio

from sansio_channels import commands as cmd
from sansio_channels.adapters import Outcome, Settings
from sansio_channels.adapters import asyncio as aio_adapter
from sansio_channels.adapters import sync as sync_adapter
from sansio_channels.adapters import trio as trio_adapter
from sansio_channels.channel import Channel
from sansio_channels.crypto import Signer
from sansio_channels.events import Event, Operation, SignRequest
from sansio_channels.policy import Policy
from sansio_channels.record import ChannelRecord

TIMEOUT: Final = 10.0


class Client(Protocol):
    channel: Channel

    async def next_event(self) -> Event | None: ...
    async def start(self, command: cmd.Command) -> Operation: ...
    async def submit(self, command: cmd.Command) -> Outcome: ...
    async def transfer(self, to_id: str, amount: int) -> Outcome: ...
    async def message(self, to_id: str, info: str) -> Outcome: ...
    async def leave(self) -> Outcome: ...
    async def call(self, verb: str, *args: Any) -> Outcome: ...
    async def sign(self, request: SignRequest) -> None: ...
    async def sleep(self, seconds: float) -> None: ...
    async def close(self) -> None: ...
    async def stop(self, failure: Exception) -> None: ...
    def record(self) -> ChannelRecord: ...


Options = dict[str, Any]  # signer, policy, settings


class Driver(Protocol):
    name: str

    def run(self, scenario: Callable[[], Coroutine[Any, Any, None]]) -> None: ...
    def client(
        self, channel: Channel, base_url: str, **options: Any
    ) -> AbstractAsyncContextManager[Client]: ...
    def resume(
        self, base_url: str, record: ChannelRecord, **options: Any
    ) -> AbstractAsyncContextManager[Client]: ...


# --- asyncio ----------------------------------------------------------------------------------


class AsyncioClient:
    def __init__(self, inner: aio_adapter.ChannelClient) -> None:
        self.inner = inner
        self.channel = inner.channel

    async def _bounded(self, awaitable: Awaitable[Any]) -> Any:
        return await asyncio.wait_for(awaitable, TIMEOUT)

    async def next_event(self) -> Event | None:
        return await asyncio.wait_for(self.inner.next_event(), TIMEOUT)

    async def start(self, command: cmd.Command) -> Operation:
        return await self.inner.start(command)

    async def submit(self, command: cmd.Command) -> Outcome:
        return await asyncio.wait_for(self.inner.submit(command), TIMEOUT)

    async def transfer(self, to_id: str, amount: int) -> Outcome:
        return await asyncio.wait_for(self.inner.transfer(to_id, amount), TIMEOUT)

    async def message(self, to_id: str, info: str) -> Outcome:
        return await asyncio.wait_for(self.inner.message(to_id, info), TIMEOUT)

    async def leave(self) -> Outcome:
        return await asyncio.wait_for(self.inner.leave(), TIMEOUT)

    async def call(self, verb: str, *args: Any) -> Outcome:
        """One of the client's command verbs (``deposit``, ``close_solo``, ...)."""
        outcome: Outcome = await asyncio.wait_for(getattr(self.inner, verb)(*args), TIMEOUT)
        return outcome

    async def sign(self, request: SignRequest) -> None:
        await self.inner.sign(request)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        await asyncio.wait_for(self.inner.close(), TIMEOUT)

    async def stop(self, failure: Exception) -> None:
        await asyncio.wait_for(self.inner.stop(failure), TIMEOUT)

    def record(self) -> ChannelRecord:
        return self.inner.record()


class AsyncioDriver:
    name = "asyncio"

    def run(self, scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
        asyncio.run(asyncio.wait_for(scenario(), 4 * TIMEOUT))

    @asynccontextmanager
    async def client(
        self, channel: Channel, base_url: str, **options: Any
    ) -> AsyncIterator[AsyncioClient]:
        async with aio_adapter.ChannelClient(channel, base_url, **options) as inner:
            yield AsyncioClient(inner)

    @asynccontextmanager
    async def resume(
        self, base_url: str, record: ChannelRecord, **options: Any
    ) -> AsyncIterator[AsyncioClient]:
        async with aio_adapter.resume_channel(base_url, record, **options) as inner:
            yield AsyncioClient(inner)


# --- trio -------------------------------------------------------------------------------------


class TrioClient:
    def __init__(self, inner: trio_adapter.ChannelClient) -> None:
        self.inner = inner
        self.channel = inner.channel

    async def next_event(self) -> Event | None:
        with trio.fail_after(TIMEOUT):
            return await self.inner.next_event()

    async def start(self, command: cmd.Command) -> Operation:
        return await self.inner.start(command)

    async def submit(self, command: cmd.Command) -> Outcome:
        with trio.fail_after(TIMEOUT):
            return await self.inner.submit(command)

    async def transfer(self, to_id: str, amount: int) -> Outcome:
        with trio.fail_after(TIMEOUT):
            return await self.inner.transfer(to_id, amount)

    async def message(self, to_id: str, info: str) -> Outcome:
        with trio.fail_after(TIMEOUT):
            return await self.inner.message(to_id, info)

    async def leave(self) -> Outcome:
        with trio.fail_after(TIMEOUT):
            return await self.inner.leave()

    async def call(self, verb: str, *args: Any) -> Outcome:
        with trio.fail_after(TIMEOUT):
            outcome: Outcome = await getattr(self.inner, verb)(*args)
            return outcome

    async def sign(self, request: SignRequest) -> None:
        await self.inner.sign(request)

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)

    async def close(self) -> None:
        with trio.fail_after(TIMEOUT):
            await self.inner.close()

    async def stop(self, failure: Exception) -> None:
        with trio.fail_after(TIMEOUT):
            await self.inner.stop(failure)

    def record(self) -> ChannelRecord:
        return self.inner.record()


class TrioDriver:
    name = "trio"

    def run(self, scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
        async def bounded() -> None:
            with trio.fail_after(4 * TIMEOUT):
                await scenario()

        trio.run(bounded)

    @asynccontextmanager
    async def client(
        self, channel: Channel, base_url: str, **options: Any
    ) -> AsyncIterator[TrioClient]:
        async with trio_adapter.ChannelClient(channel, base_url, **options) as inner:
            yield TrioClient(inner)

    @asynccontextmanager
    async def resume(
        self, base_url: str, record: ChannelRecord, **options: Any
    ) -> AsyncIterator[TrioClient]:
        async with trio_adapter.resume_channel(base_url, record, **options) as inner:
            yield TrioClient(inner)


# --- blocking ---------------------------------------------------------------------------------


class SyncClient:
    """The blocking client behind coroutines that never suspend."""

    def __init__(self, inner: sync_adapter.ChannelClient) -> None:
        self.inner = inner
        self.channel = inner.channel

    async def next_event(self) -> Event | None:
        return self.inner.next_event(timeout=TIMEOUT)

    async def start(self, command: cmd.Command) -> Operation:
        return self.inner.start(command)

    async def submit(self, command: cmd.Command) -> Outcome:
        return self.inner.submit(command, timeout=TIMEOUT)

    async def transfer(self, to_id: str, amount: int) -> Outcome:
        return self.inner.transfer(to_id, amount)

    async def message(self, to_id: str, info: str) -> Outcome:
        return self.inner.message(to_id, info)

    async def leave(self) -> Outcome:
        return self.inner.leave()

    async def call(self, verb: str, *args: Any) -> Outcome:
        outcome: Outcome = getattr(self.inner, verb)(*args)
        return outcome

    async def sign(self, request: SignRequest) -> None:
        self.inner.sign(request)

    async def sleep(self, seconds: float) -> None:
        self.inner.poll(seconds)

    async def close(self) -> None:
        self.inner.close()

    async def stop(self, failure: Exception) -> None:
        self.inner.stop(failure)

    def record(self) -> ChannelRecord:
        return self.inner.record()


class SyncDriver:
    name = "sync"

    def run(self, scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
        coroutine = scenario()
        try:
            coroutine.send(None)
        except StopIteration:
            return
        coroutine.close()
        raise AssertionError("a blocking scenario awaited something that suspends")

    @asynccontextmanager
    async def client(
        self, channel: Channel, base_url: str, **options: Any
    ) -> AsyncIterator[SyncClient]:
        with sync_adapter.ChannelClient(channel, base_url, **options) as inner:
            yield SyncClient(inner)

    @asynccontextmanager
    async def resume(
        self, base_url: str, record: ChannelRecord, **options: Any
    ) -> AsyncIterator[SyncClient]:
        with sync_adapter.resume_channel(base_url, record, **options) as inner:
            yield SyncClient(inner)


DRIVERS: Final[list[Driver]] = [AsyncioDriver(), TrioDriver(), SyncDriver()]


def options(*, signer: Signer | None, policy: Policy | None = None, settings: Settings) -> Options:
    return {"signer": signer, "policy": policy, "settings": settings}
