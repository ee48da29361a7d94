"""``demo [--adapter asyncio|trio|sync] [--transcript FILE]``: a whole channel life against
the simulator, on loopback.

The simulator runs in a thread of this process behind its WebSocket server on 127.0.0.1; two
participants, Alice (initiator) and Bob (responder), use the chosen adapter to open a channel,
pay each other, exchange a message, survive a dropped connection, deposit, withdraw and close.
Sign requests their default policy does not answer (a peer's deposit, say) are signed here, by
the application, after looking at the checks: nothing is ever signed implicitly.

The life is written once, as a coroutine over the two clients. With asyncio and trio a reader
task per client handles its events; the blocking clients are driven in turn from the one
thread, each for a moment (no thread runs inside an adapter), and their coroutine never waits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from types import ModuleType
from typing import Any, Final, Protocol

from ..adapters import ConnectionLost, Reconnected, Settings
from ..commands import Command, Deposit, Message, Shutdown, Transfer, Withdraw
from ..crypto import KeyPair
from ..errors import ChannelError
from ..events import (
    Event,
    FsmUp,
    MessageReceived,
    Operation,
    OperationAccepted,
    OperationFailed,
    SignRequest,
    StateChanged,
)
from ..options import OpenOptions, Role
from ..policy import DefaultPolicy
from ..simulator import Simulator
from ..simulator.harness import open_options
from ..state import ChannelState

AMOUNT: Final = 10**18  # each side's funds, in aettos
TRANSFERS: Final = 10  # each way
WAIT: Final = 20.0  # seconds any one step of the life may take
# adapter -> (the module it needs, the extra that installs it)
ADAPTERS: Final = {
    "asyncio": ("websockets", "asyncio"),
    "trio": ("trio_websocket", "trio"),
    "sync": ("wsproto", "sync"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--adapter",
        choices=sorted(ADAPTERS),
        default="asyncio",
        help="the transport both participants use (default: asyncio)",
    )
    parser.add_argument(
        "--transcript", metavar="FILE", help="write the session in the node's format"
    )


def run(args: argparse.Namespace) -> int:
    if args.transcript:
        # A path that cannot be written fails now, not after the whole life has run.
        with open(args.transcript, "w", encoding="utf-8"):
            pass
    run_demo(args.adapter, args.transcript, print)
    return 0


# --- adapters, and running a coroutine under each ---------------------------------------------


def load_adapter(name: str) -> ModuleType:
    """``sansio_channels.adapters.<name>``; a :class:`ChannelError` naming the extra to install
    when its transport (or the simulator's server, on ``websockets``) is missing."""
    for module, extra in (("websockets", "asyncio"), ADAPTERS[name]):
        try:
            importlib.import_module(module)
        except ImportError:
            need = "the simulator's server" if module != ADAPTERS[name][0] else f"--adapter {name}"
            raise ChannelError(
                f"{need} needs {module}: pip install 'sansio-channels[{extra}]'"
            ) from None
    return importlib.import_module(f"sansio_channels.adapters.{name}")


def run_under(adapter: str, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``main()`` in the adapter's event loop (the blocking one has none: its coroutine
    must finish without waiting)."""
    if adapter == "asyncio":
        return asyncio.run(main())
    if adapter == "trio":
        trio = importlib.import_module("trio")
        return trio.run(main)
    coroutine = main()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the blocking demo waited on an event loop")


async def resolve(value: Any) -> Any:
    """A call's result, awaited when the client's calls are coroutines."""
    return await value if inspect.isawaitable(value) else value


class ServerThread:
    """The simulator's WebSocket server on an asyncio loop in a thread of its own."""

    def __init__(self, sim: Simulator, transcript: str | None) -> None:
        self.sim = sim
        self.transcript = transcript
        self.url = ""
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="simulator", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._server: Any = None
        self._error: BaseException | None = None

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(WAIT) or self._error is not None:
            raise RuntimeError(f"the simulator's server did not start: {self._error!r}")
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT)
        if kind is None and self._error is not None:
            raise self._error  # the server failed on the way out (writing the transcript, ...)

    def drop(self, role: str) -> None:
        """Cut ``role``'s connections on the node's side, as a network fault would."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._server.drop, role)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # the demo reports it
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        from ..simulator.server import SimulatorServer  # needs websockets

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with SimulatorServer(self.sim, port=0, transcript=self.transcript) as server:
            self._server, self.url = server, server.url()
            self._ready.set()
            await self._stop.wait()


# --- the participants -------------------------------------------------------------------------


class Participant:
    """One side: its client, what it has seen, and how it answers what is asked."""

    def __init__(self, name: str, client: Any, log: Callable[[str], None]) -> None:
        self.name = name
        self.client = client
        self.log = log
        self.opened = self.closed = False
        self.reattached = 0  # times the client came back to the running FSM
        self.outcomes: dict[int, OperationAccepted | OperationFailed] = {}

    async def on(self, event: Event) -> None:
        if isinstance(event, SignRequest):
            # The policy left this one to us: look at the checks, then decide.
            if event.safe:
                unchecked = ", ".join(check.name for check in event.checks.not_checked)
                why = f"; not checkable now: {unchecked}" if unchecked else ""
                self.log(f"{self.name}: signs {event.tag.tag} (no check failed{why})")
                await resolve(self.client.sign(event))
            else:
                self.log(f"{self.name}: refuses {event.tag.tag}: {event.checks.failed}")
                await resolve(self.client.abort(event))
        elif isinstance(event, (OperationAccepted, OperationFailed)):
            self.outcomes[event.operation.id] = event
        elif isinstance(event, StateChanged):
            self.log(f"{self.name}: channel {event.previous.value} -> {event.state.value}")
            self.opened = self.opened or event.state is ChannelState.OPEN
            self.closed = self.closed or event.state is ChannelState.CLOSED
        elif isinstance(event, MessageReceived):
            self.log(f"{self.name}: message from the peer: {event.info!r}")
        elif isinstance(event, ConnectionLost):
            then = "reconnecting" if event.reconnecting else "the connection has ended"
            self.log(f"{self.name}: connection lost ({event.reason}); {then}")
        elif isinstance(event, Reconnected):
            self.log(f"{self.name}: reconnected (attempt {event.attempt})")
        elif isinstance(event, FsmUp) and event.reconnected:
            self.log(f"{self.name}: reattached to the node's running FSM")
            self.reattached += 1

    def balance(self) -> int | None:
        balances = self.client.channel.record().balances or {}
        value: int | None = balances.get(self.client.channel.account.api)
        return value


class Driver(Protocol):
    """How the participants' events are handled while the life waits for something."""

    async def until(self, done: Callable[[], bool], what: str) -> None: ...


class TaskDriver:
    """asyncio and trio: a reader task per client, started by the life's runner."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._sleep = sleep
        self.failure: BaseException | None = None

    async def read(self, side: Participant) -> None:
        try:
            async for event in side.client:
                await side.on(event)
        except Exception as exc:  # the life hears of it in until()
            self.failure = exc

    async def until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            if self.failure is not None:
                raise RuntimeError(f"waiting for {what}: {self.failure}") from self.failure
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not happen within {WAIT} s")
            await self._sleep(0.001)


class TurnDriver:
    """The blocking clients, each given a moment in turn from the one thread."""

    def __init__(self, sides: list[Participant]) -> None:
        self.sides = sides
        self.ended: list[Participant] = []

    async def until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            live = [side for side in self.sides if side not in self.ended]
            if not live:
                raise RuntimeError(f"both connections ended before {what}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not happen within {WAIT} s")
            for side in live:
                with contextlib.suppress(TimeoutError):
                    event = side.client.next_event(timeout=0.002)
                    if event is None:
                        self.ended.append(side)
                    else:
                        await side.on(event)


async def do(driver: Driver, side: Participant, command: Command) -> OperationAccepted:
    """Send ``command`` and insist that it went through."""
    operation: Operation = await resolve(side.client.start(command))
    await driver.until(lambda: operation.id in side.outcomes, f"the outcome of {command}")
    result = side.outcomes.pop(operation.id)
    if not isinstance(result, OperationAccepted):
        raise RuntimeError(f"an operation did not go through: {result}")
    return result


# --- the life ---------------------------------------------------------------------------------


def options(role: Role, alice: KeyPair, bob: KeyPair) -> OpenOptions:
    return open_options(role, alice, bob, port=3015, amount=AMOUNT)  # Bob's node on 3015


def run_demo(adapter: str, transcript: str | None, log: Callable[[str], None]) -> dict[str, Any]:
    """Run the whole life over ``adapter``; returns the summary it prints."""
    module = load_adapter(adapter)
    settings = Settings(open_timeout=5.0, close_timeout=2.0)
    sim = Simulator()
    with ServerThread(sim, transcript) as server:
        log(f"simulator listening on {server.url} (network id {sim.network_id})")
        log(f"both participants use the {adapter} adapter")
        summary: dict[str, Any] = run_under(
            adapter, lambda: life(adapter, module, settings, server, sim.network_id, log)
        )
    log(f"summary: {summary}")
    if transcript:
        log(f"session written to {transcript}")
    return summary


async def life(
    adapter: str,
    module: ModuleType,
    settings: Settings,
    server: ServerThread,
    network_id: str,
    log: Callable[[str], None],
) -> dict[str, Any]:
    alice_key, bob_key = KeyPair.generate(), KeyPair.generate()
    policy = DefaultPolicy()

    def client(role: Role, key: KeyPair) -> Any:
        return module.open_channel(
            server.url,
            options(role, alice_key, bob_key),
            network_id=network_id,
            signer=key,
            policy=policy,
            settings=settings,
        )

    async with contextlib.AsyncExitStack() as stack:
        sides = []
        for name, role, key in (
            ("Bob", Role.RESPONDER, bob_key),
            ("Alice", Role.INITIATOR, alice_key),
        ):
            entered = client(role, key)  # Bob first: the responder listens for the initiator
            if adapter == "sync":
                stack.enter_context(entered)
            else:
                await stack.enter_async_context(entered)
            sides.append(Participant(name, entered, log))
        bob, alice = sides
        driver: Driver
        if adapter == "sync":
            driver = TurnDriver([alice, bob])
        elif adapter == "asyncio":
            driver = TaskDriver(asyncio.sleep)
            tasks = [asyncio.ensure_future(driver.read(side)) for side in sides]
            stack.callback(lambda: [task.cancel() for task in tasks])
        else:
            trio = importlib.import_module("trio")
            driver = TaskDriver(trio.sleep)
            nursery = await stack.enter_async_context(trio.open_nursery())
            stack.push_async_callback(_cancel, nursery)
            for side in sides:
                nursery.start_soon(driver.read, side)
        return await script(driver, alice, bob, server, log)
    raise AssertionError("unreachable")  # pragma: no cover


async def _cancel(nursery: Any) -> None:
    nursery.cancel_scope.cancel()


async def script(
    driver: Driver,
    alice: Participant,
    bob: Participant,
    server: ServerThread,
    log: Callable[[str], None],
) -> dict[str, Any]:
    a, b = alice.client.channel.account.api, bob.client.channel.account.api
    await driver.until(lambda: alice.opened and bob.opened, "the open")
    log(f"open: channel {alice.client.channel.channel_id}")

    started = time.perf_counter()
    for i in range(TRANSFERS):
        await do(driver, alice, Transfer(from_id=a, to_id=b, amount=1_000 + i))
        await do(driver, bob, Transfer(from_id=b, to_id=a, amount=500 + i))
    per_transfer = (time.perf_counter() - started) / (2 * TRANSFERS)
    log(f"{2 * TRANSFERS} transfers, {per_transfer * 1000:.1f} ms each")

    await do(driver, alice, Message(to_id=b, info="thanks for the coffee"))

    log("the network drops Alice's connection")
    reattached = alice.reattached
    server.drop("initiator")
    await driver.until(lambda: alice.reattached > reattached, "Alice's reattach")
    await do(driver, alice, Transfer(from_id=a, to_id=b, amount=7))

    await do(driver, bob, Deposit(amount=50_000))
    log("Bob deposited 50000")
    await do(driver, alice, Withdraw(amount=20_000))
    log("Alice withdrew 20000")

    latest = alice.client.channel.ledger.latest
    balances = {"Alice": alice.balance(), "Bob": bob.balance()}
    await do(driver, alice, Shutdown())
    await driver.until(lambda: alice.closed and bob.closed, "the close")
    log("closed mutually")
    return {
        "rounds": None if latest is None else latest.round,
        "final_balances": balances,
        "ms_per_transfer": round(per_transfer * 1000, 2),
    }
