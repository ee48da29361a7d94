"""The life cycle of a channel's own operations: one under way, the others waiting their turn.

An own operation (a transfer, a deposit, a close, ...) starts when the one before it has ended,
and ends on one path, :meth:`OwnOperations.finish`, with an :class:`Accepted` or a
:class:`Failed` value: its event goes out and the next operation starts. What ends an
operation well is the ``ends`` column of the operation table (:mod:`.operations`); the
signals that can end it are the rows of :data:`ENDED_BY`.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable
from typing import Final, TypeAlias

import attrs

from .events import (
    Event,
    FailureReason,
    Operation,
    OperationAccepted,
    OperationFailed,
    OperationQueued,
)
from .operations import Ends, operation_for_method

__all__ = ["ENDED_BY", "Accepted", "Ending", "Failed", "OwnOperations", "Signal"]


class Signal(enum.Enum):
    """What the channel saw that may end the operation under way."""

    CO_SIGNED = "its new state co-signed"  # with the round of the state
    SIGNED = "its tx signed"
    ON_CHAIN = "an on_chain_tx report"  # with the report's info


# How each kind of operation ends well: the signal, and for an on-chain report its info.
ENDED_BY: Final = {
    Ends.CO_SIGNED: (Signal.CO_SIGNED, None),
    Ends.SIGNED: (Signal.SIGNED, None),
    Ends.CLOSE_MUTUAL: (Signal.ON_CHAIN, Ends.CLOSE_MUTUAL.value),
}


@attrs.frozen
class Accepted:
    """The operation went through: co-signed at ``round``, or (None) its tx signed or posted."""

    round: int | None


@attrs.frozen
class Failed:
    """The operation ended without its effect, and why."""

    reason: FailureReason
    detail: str
    code: int | None = None


Ending: TypeAlias = "Accepted | Failed"


class OwnOperations:
    """The own operations of one channel: ``current`` under way, the rest waiting in order.

    ``emit`` hands an event to the application; ``start`` sends an operation's request;
    ``failed`` hears of each failure after its event, while the operation is still current
    (so that what it starts waits its turn behind the operations already waiting).
    """

    def __init__(
        self,
        emit: Callable[[Event], None],
        start: Callable[[Operation], None],
        failed: Callable[[Operation, Failed], None] | None = None,
    ) -> None:
        self._emit = emit
        self._start = start
        self._failed = failed
        self.current: Operation | None = None
        self.waiting: collections.deque[Operation] = collections.deque()

    def add(self, operation: Operation) -> None:
        """A new own operation: it starts now, or waits for those ahead of it."""
        self.waiting.append(operation)
        if self.current is not None:
            self._emit(OperationQueued(operation=operation, ahead=len(self.waiting)))
        self.start_next()

    def start_next(self) -> None:
        if self.current is None and self.waiting:
            self.current = self.waiting.popleft()
            self._start(self.current)

    def finish(self, ending: Ending, *, start_next: bool = True) -> None:
        """End the operation under way; the next one starts unless the caller starts it later
        (after the events of what ended this one)."""
        operation = self.current
        assert operation is not None, "no own operation is under way"
        if isinstance(ending, Accepted):
            self._emit(OperationAccepted(operation=operation, round=ending.round))
        else:
            self._emit(
                OperationFailed(
                    operation=operation,
                    reason=ending.reason,
                    detail=ending.detail,
                    error_code=ending.code,
                )
            )
            if self._failed is not None:
                self._failed(operation, ending)
        self.current = None
        if start_next:
            self.start_next()

    def seen(self, signal: Signal, *, info: str | None = None, round_: int | None = None) -> bool:
        """Whether ``signal`` ends the operation under way well (see :data:`ENDED_BY`)."""
        if self.current is None:
            return False
        row = operation_for_method(self.current.command.METHOD)
        wanted = None if row is None or row.ends is None else ENDED_BY[row.ends]
        return wanted is not None and wanted[0] is signal and wanted[1] in (None, info)

    def abandon(self, detail: str) -> None:
        """The channel is gone: every own operation, under way or waiting, fails."""
        for operation in [*([self.current] if self.current else []), *self.waiting]:
            self._emit(
                OperationFailed(
                    operation=operation, reason=FailureReason.CHANNEL_GONE, detail=detail
                )
            )
        self.current = None
        self.waiting.clear()
