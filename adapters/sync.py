"""The channel over a plain blocking socket, driven with ``wsproto``; no threads.

::

    with open_channel(base_url, options, network_id=..., signer=keys) as client:
        outcome = client.transfer(peer, 10)
        for event in client:
            ...

Nothing runs between calls: the client reads the socket, answers sign requests through the
policy, fires the channel's timers, pings the node and reconnects only while the application
is inside one of its methods (:meth:`ChannelClient.next_event`, :meth:`ChannelClient.submit`,
:meth:`ChannelClient.poll`, ...). Call one at least every few seconds to keep the link alive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType

from wsproto.utilities import ProtocolError

from sansio_channels import commands as cmd
from sansio_channels.crypto import Signer
from sansio_channels.events import Event, Operation, SignRequest
from sansio_channels.txs import SignedTx

from ._blocking import BlockingSocket, Lost, earliest
from ._common import (
    DEFAULT_ABORT,
    Answer,
    AnswerNeeded,
    ClientBase,
    ConnectFailed,
    Done,
    Outcome,
    answered,
    done,
)

__all__ = ["ChannelClient", "open_channel", "resume_channel"]


class ChannelClient(ClientBase[Done, Answer]):
    """One channel on one (re)connecting WebSocket, driven by the application's calls.

    Sign requests the policy answers with ``signer`` never reach the application; every
    other event does, in order, through iteration or :meth:`next_event`.
    """

    def _init_transport(self) -> None:
        self._socket: BlockingSocket | None = None
        self._retry_at = 0.0  # when the next reconnect try is due (between sockets)

    def __enter__(self) -> ChannelClient:
        self.connect()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Open the first socket; :class:`ConnectFailed` if it cannot be opened."""
        self._socket = self._open()
        self._opened()

    # --- the application's side -----------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        while (event := self.next_event()) is not None:
            yield event

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` s (TimeoutError); None once the connection
        has ended for good. Raises the client's failure after the events before it."""
        until = _until(timeout)
        while (event := self._pump.next_event()) is None and not self._pump.finished:
            self._step(until)
        return event

    def start(self, command: cmd.Command) -> Operation:
        """Send ``command``; its outcome comes as an event about the operation."""
        operation = self._pump.start(command)
        self._flush()
        return operation

    def submit(self, command: cmd.Command, timeout: float | None = None) -> Outcome:
        """Send ``command`` and wait for its outcome (accepted, failed, or a query's result).

        Raises :class:`AnswerNeeded` if the policy hands its sign request to the application
        (nobody else could answer it while this call waits).
        """
        operation = self.start(command)
        until = _until(timeout)
        try:
            while (outcome := self._pump.outcome(operation)) is None:
                request = self._pump.asked(operation)
                if request is not None:
                    raise AnswerNeeded(request)
                self._step(until)
        finally:
            self._pump.forget(operation)
        return outcome

    def _update(self, command: cmd.Command) -> Done:
        return done(self.submit(command))

    def _query(self, command: cmd.Command) -> Answer:
        return answered(self.submit(command))

    def poll(self, timeout: float = 0.0) -> None:
        """Do the client's I/O for up to ``timeout`` s; events wait in the queue."""
        until = time.monotonic() + timeout
        while not self._pump.finished and time.monotonic() < until:
            self._step(until)

    def sign(
        self,
        request: SignRequest,
        signer: Signer | None = None,
        *,
        accept_failed_checks: bool = False,
    ) -> None:
        """Sign a request handed to the application (with the client's signer by default)."""
        self._pump.sign(request, signer, accept_failed_checks=accept_failed_checks)
        self._flush()

    def respond(self, request: SignRequest, signed_tx: str | SignedTx) -> None:
        """Answer with a tx signed elsewhere."""
        self._pump.respond(request, signed_tx)
        self._flush()

    def abort(self, request: SignRequest, code: int = DEFAULT_ABORT) -> None:
        """Refuse a sign request handed to the application, with ``code``."""
        self._pump.abort(request, code)
        self._flush()

    def close(self) -> None:
        """Close the socket (code 1000) and stop; the channel's FSM on the node stays up."""
        self._pump.close()
        if self._socket is not None:
            self._socket.close(self._pump.settings.close_timeout)
            self._lost("closed by the application")
        self._pump.finished = True

    def stop(self, failure: Exception) -> None:
        """Stop the client because of ``failure``: it takes in no frame more and starts no
        operation, and its socket closes as with :meth:`close`. The event stream raises
        ``failure`` after the events before it, and so does every later command."""
        self._pump.fail(failure)
        self.close()

    # --- the socket -----------------------------------------------------------------------

    def _open(self) -> BlockingSocket:
        try:
            return BlockingSocket.open(
                self._pump.url, self._pump.ssl_context(), self._pump.settings
            )
        except (OSError, ProtocolError) as exc:
            raise self._pump.connect_failed(exc) from exc

    def _opened(self) -> None:
        self._pump.opened()
        self._flush()

    def _step(self, until: float | None) -> None:
        """Wait for the socket, a timer or ``until`` (TimeoutError), and handle what came."""
        now = time.monotonic()
        if until is not None and now >= until:
            raise TimeoutError("nothing came in time")
        if self._socket is None:
            self._come_back(now, until)
            return
        deadline = self._pump.deadline()
        try:
            messages = self._socket.poll(earliest(until, deadline))
        except Lost as exc:
            self._lost(str(exc))
            return
        now = time.monotonic()
        for message in messages:
            self._pump.receive(message, now)
        if deadline is not None and now >= deadline:
            self._pump.timer(now)
        self._flush()
        if self._pump.failure is not None and self._socket is not None:
            self._socket.close(self._pump.settings.close_timeout)  # FellBehind, ...
            self._lost("the client stopped")

    def _come_back(self, now: float, until: float | None) -> None:
        if now < self._retry_at:
            time.sleep(self._retry_at - now if until is None else min(self._retry_at, until) - now)
            return
        try:
            self._socket = self._open()
        except ConnectFailed as exc:
            delay = self._pump.retry(str(exc))
            self._retry_at = time.monotonic() + (delay or 0.0)
            return
        self._opened()

    def _lost(self, reason: str) -> None:
        if self._socket is not None:
            self._socket.abort()
            self._socket = None
        delay = self._pump.lost(reason)
        self._retry_at = time.monotonic() + (delay or 0.0)

    def _flush(self) -> None:
        if self._socket is None:
            return  # the frames wait for the next socket
        try:
            for frame in self._pump.outgoing():
                self._socket.send(frame)
        except Lost as exc:
            self._lost(str(exc))


def _until(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


open_channel = ChannelClient.open
"""A client that opens a new channel: :meth:`ChannelClient.open`."""
resume_channel = ChannelClient.resume
"""A client that comes back to a channel from its record: :meth:`ChannelClient.resume`."""
