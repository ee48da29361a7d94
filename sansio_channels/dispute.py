"""Disputes: what the channel does when it is closing on chain.

A peer may close the channel alone with an older co-signed state, one that paid it more. The
node reports it (``on_chain_tx`` ``can_slash``), and during the lock period a slash with our
latest co-signed state puts that state on chain instead. Once a solo close (or our slash) holds
our latest state (``solo_closing``), a settle pays the channel out; signed early, the node
keeps it and posts it when the channel unlocks.

:class:`DisputePolicy` says whether the channel does this by itself (the default), asks the
application first and acts at a deadline, or only reports it. :class:`DisputeWatch` is the
pure decision: given the node's report and what is under way, which action is due and when.
The channel carries the action out as an own operation (:class:`~.commands.Slash` or
:class:`~.commands.Settle`), whose signature is written ahead like any other.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from . import commands as cmd
from .errors import LocalProtocolError
from .events import Event, FailureReason, Operation

__all__ = [
    "DisputeAction",
    "DisputeActionDue",
    "DisputeMode",
    "DisputePolicy",
    "DisputeWatch",
]


class DisputeAction(enum.Enum):
    """What a channel closing on chain needs from us next."""

    SLASH = "slash"  # an older state is closing: put our latest one on chain
    SETTLE = "settle"  # our latest state is closing: pay out once the channel unlocks


class DisputeMode(enum.Enum):
    """Who carries out a :class:`DisputeAction`."""

    ACT = "act"  # the channel, at once
    ASK = "ask"  # the application; the channel acts at the deadline if it has not
    OFF = "off"  # the application alone: the channel only reports


@attrs.frozen
class DisputePolicy:
    """How the channel answers a close on chain. The default acts at once.

    With :attr:`DisputeMode.ASK` the application gets :class:`DisputeActionDue` with a
    ``deadline`` (``ask_for`` seconds after the report, on the clock of the ``now`` the frames
    come with) and may act itself; the channel acts when the deadline passes
    (:meth:`~.channel.Channel.handle_timer`). Without ``ask_for`` it waits for the application.

    A settle the node refuses (its FSM still waits for an earlier signature, after a restart)
    is tried again ``retry_after`` seconds later, a slash first.
    """

    mode: DisputeMode = DisputeMode.ACT
    ask_for: float | None = None
    retry_after: float = 10.0

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.mode, DisputeMode):
            raise LocalProtocolError(f"mode: a DisputeMode is required, got {self.mode!r}")
        for name, value, optional in (
            ("ask_for", self.ask_for, True),
            ("retry_after", self.retry_after, False),
        ):
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise LocalProtocolError(f"{name}: seconds >= 0 required, got {value!r}")

    @classmethod
    def off(cls) -> DisputePolicy:
        """Only report: the application slashes and settles itself, or not at all."""
        return cls(DisputeMode.OFF)

    @classmethod
    def ask(cls, within: float | None = None) -> DisputePolicy:
        """Ask the application first; act ``within`` seconds unless it did."""
        return cls(DisputeMode.ASK, within)


@attrs.frozen(kw_only=True)
class DisputeActionDue(Event):
    """The channel is closing on chain and ``action`` is due (``info`` is the node's report:
    ``can_slash``, ``solo_closing``, or ``closing`` after coming back to a closing channel).

    ``operation`` is the slash or settle the channel started itself, or None when the policy
    leaves it to the application; then ``deadline`` (if any) is when the channel acts anyway.
    """

    info: str
    action: DisputeAction
    operation: Operation | None
    deadline: float | None = None


# The node's report -> the action it makes due. A channel we come back to that is closing
# (info "closing" on a reestablish) may hold an older state on chain: try the slash; the node
# refuses it when there is nothing newer, and the settle follows.
_DUE_ON: Final[Mapping[str, DisputeAction]] = {
    "can_slash": DisputeAction.SLASH,
    "solo_closing": DisputeAction.SETTLE,
    "closing": DisputeAction.SLASH,
}
# (the action that failed, whether the node refused it) -> the action to try next, and whether
# to wait ``retry_after`` first. A slash the node refuses (its latest state is on chain already)
# leaves the settle. A settle the node refuses finds its FSM busy (an earlier sign request it
# still waits for): both are tried again later, the slash first. A settle we refused to sign
# (its checks failed) pays out a state that is not our latest: an older one is on chain, so
# slash, after a pause, should the node and we disagree for good. A slash we refused to sign
# is the application's word: nothing more is tried.
_AFTER_FAILURE: Final[Mapping[tuple[DisputeAction, bool], tuple[DisputeAction, bool] | None]] = {
    (DisputeAction.SLASH, True): (DisputeAction.SETTLE, False),
    (DisputeAction.SETTLE, True): (DisputeAction.SLASH, True),
    (DisputeAction.SETTLE, False): (DisputeAction.SLASH, True),
    (DisputeAction.SLASH, False): None,
}
_COMMANDS: Final[Mapping[DisputeAction, type[cmd.Slash | cmd.Settle]]] = {
    DisputeAction.SLASH: cmd.Slash,
    DisputeAction.SETTLE: cmd.Settle,
}


def command_for(action: DisputeAction) -> cmd.Slash | cmd.Settle:
    """The command that carries ``action`` out (the node picks fee and nonce)."""
    return _COMMANDS[action]()


def action_of(command: cmd.Command) -> DisputeAction | None:
    """The action ``command`` carries out, if it is a slash or a settle."""
    for action, kind in _COMMANDS.items():
        if type(command) is kind:
            return action
    return None


@attrs.define
class DisputeWatch:
    """The dispute of one channel: the action due, and until when the application may take it.

    Pure: the channel gives it the node's reports, the outcomes of slashes and settles and the
    time; it answers which action to start now. ``due`` is what a resumed channel picks up
    (it is part of the durable record).
    """

    policy: DisputePolicy = attrs.field(factory=DisputePolicy)
    due: DisputeAction | None = None
    info: str = ""  # the report that made it due
    deadline: float | None = None
    waits: bool = False  # the due action waits for its deadline, or for the next report

    def reported(self, info: str, now: float | None) -> DisputeActionDue | None:
        """The node reported ``info``: the action it makes due, as the event to announce it
        (its ``operation`` still to be filled by the channel when it acts), or None."""
        action = _DUE_ON.get(info)
        if action is None:
            return None
        return self._make_due(info, action, now)

    def again(self, now: float | None) -> DisputeActionDue | None:
        """The action still due when the channel is back on the node (after a reconnect or a
        restart from the record), announced anew."""
        if self.due is None:
            return None
        return self._make_due(self.info, self.due, now)

    def failed(
        self, command: cmd.Command, *, by_node: bool, now: float | None
    ) -> DisputeActionDue | None:
        """A slash or settle failed, refused ``by_node`` or by our own answer to its sign
        request: the action to try next, if any."""
        action = action_of(command)
        if action is None or action is not self.due:
            return None
        following = _AFTER_FAILURE[action, by_node]
        if following is None:
            self.deadline, self.waits = None, True
            return None
        action, later = following
        return self._make_due(self.info, action, now, retry=later)

    def ended(
        self, command: cmd.Command, reason: FailureReason, now: float | None
    ) -> DisputeActionDue | None:
        """An operation failed for ``reason``: the action to try next when it was a slash or
        settle the node refused or we aborted (see :meth:`failed`)."""
        if reason not in (FailureReason.NODE_ERROR, FailureReason.ABORTED):
            return None
        return self.failed(command, by_node=reason is FailureReason.NODE_ERROR, now=now)

    def to_start(
        self, due: DisputeActionDue, *, under_way: Iterable[Operation], closing: bool
    ) -> bool:
        """Whether the channel starts ``due``'s action now. A slash or settle already under way
        or waiting (``under_way``: ours or the application's) is not started twice; on a
        channel no longer ``closing`` (closed, or open again: a snapshot) nothing is due."""
        if any(action_of(operation.command) is due.action for operation in under_way):
            return False
        if not closing:
            self.closed()
        return closing

    def taken(self, command: cmd.Command) -> None:
        """A slash or settle was started (by the channel or the application): it is no longer
        waiting for a deadline."""
        if action_of(command) is self.due:
            self.deadline = None

    def act_now(self) -> bool:
        """Whether the channel starts the due action at once."""
        return self.due is not None and self.policy.mode is DisputeMode.ACT and not self.waits

    def timer(self, now: float) -> DisputeAction | None:
        """The action whose deadline has passed at ``now`` (the channel starts it)."""
        if self.due is None or self.deadline is None or now < self.deadline:
            return None
        self.deadline, self.waits = None, False
        return self.due

    def closed(self) -> None:
        """The channel is no longer closing on chain (closed, or open again): nothing is due."""
        self.due, self.deadline, self.waits = None, None, False

    def _make_due(
        self, info: str, action: DisputeAction, now: float | None, *, retry: bool = False
    ) -> DisputeActionDue:
        self.due, self.info = action, info
        policy = self.policy
        wait = policy.retry_after if retry else None
        if policy.mode is DisputeMode.ASK:
            wait = policy.ask_for
        # With no clock to count from, a retry waits for the next report or reconnect.
        self.deadline = None if wait is None or now is None else now + wait
        self.waits = retry or policy.mode is not DisputeMode.ACT
        return DisputeActionDue(info=info, action=action, operation=None, deadline=self.deadline)
