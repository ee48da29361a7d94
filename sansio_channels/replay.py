"""Replay a recorded node session against the channel, for both roles.

For each role the replay plays the client the recording shows:

* each connect URL is parsed into options and rebuilt by the library; the parameters and their
  values must come back the same;
* each frame the node sent is fed to the channel and must produce its events and never a
  :class:`~sansio_channels.events.ProtocolViolation`;
* each frame the client sent is reproduced through the typed API (a sign reply by
  ``respond()`` with the recorded signed tx, or ``abort(code)``; anything else by the command
  read from the recorded method and params) and the frame the library emits must equal the
  recorded one in method and params, in the recorded order: each frame the library emits is
  matched with the oldest recorded frame of that role not yet emitted, and with no other. Ids
  are set aside: the node's replies are fed with the ids the library chose. A recorded frame
  the typed API refuses to build conforms only if the node answered it with an error.

Each file's report also counts the checks that could not be made (NOT_CHECKED) on the sign
requests and co-signed states the node's frames produced: a replay in which every frame
matched may still have taken some facts on trust, and ``not_checked`` says how many.

Consecutive files continue one session (a group's preamble, then one of its cases). Cases in
between may be left out, so at a file boundary the channel keeps its id and fsm id but forgets
its co-signed state, as a client does that reconnects without a stored state.
"""

from __future__ import annotations

import collections
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import attrs

from . import commands, rpc, transcript
from .channel import Channel
from .dispute import DisputePolicy
from .errors import ChannelError, LocalProtocolError
from .events import (
    ChannelErrorReported,
    Conflict,
    CoSignedState,
    Event,
    FsmUp,
    Info,
    MessageReceived,
    NodeError,
    OffChainStateFetched,
    OnChainTx,
    Pong,
    ProtocolViolation,
    QueryResult,
    SignRequest,
)
from .options import OpenOptions, parse_connect_url
from .transcript import Entry, EntryKind

__all__ = ["FileReport", "ReplayReport", "replay_files"]

ROLES = ("initiator", "responder")


@attrs.define
class FileReport:
    path: str
    frames: int = 0
    matched: int = 0
    mismatches: list[str] = attrs.Factory(list)
    # How many events of each kind the node's frames produced (verified fetches, ...).
    events: collections.Counter[str] = attrs.Factory(collections.Counter)
    # The checks of sign requests and co-signed states that could not be made, by name.
    unchecked: collections.Counter[str] = attrs.Factory(collections.Counter)

    @property
    def mismatched(self) -> int:
        return len(self.mismatches)

    @property
    def not_checked(self) -> int:
        return sum(self.unchecked.values())


@attrs.define
class ReplayReport:
    files: list[FileReport] = attrs.Factory(list)

    @property
    def frames(self) -> int:
        return sum(f.frames for f in self.files)

    @property
    def matched(self) -> int:
        return sum(f.matched for f in self.files)

    @property
    def mismatched(self) -> int:
        return sum(f.mismatched for f in self.files)

    @property
    def not_checked(self) -> int:
        return sum(f.not_checked for f in self.files)


class _RoleReplay:
    """One role's client, played through the library across the files of a session."""

    def __init__(self, role: str, network_id: str) -> None:
        self.role = role
        self.network_id = network_id
        self.channel: Channel | None = None
        self.account: str | None = None
        self.ids: dict[Any, Any] = {}  # recorded request id -> the id the library sent
        # The recorded frames this role sent that the library has not emitted yet, oldest first.
        self.expected: list[tuple[dict[str, Any], int]] = []
        self.refused = False  # the current connection is one the library refused to make

    def new_file(self) -> None:
        if self.channel is not None:
            self.channel = self.channel.without_stored_state()

    def step(self, entries: Sequence[Entry], index: int, report: FileReport) -> None:
        entry = entries[index]
        if entry.kind is EntryKind.CONNECT:
            self._connect(entry, entries, index, report)
        elif entry.kind is EntryKind.DISCONNECT:
            self.refused = False
            if self.channel is not None:
                self.channel.connection_lost()
        elif entry.kind is EntryKind.RECEIVED:
            self._received(entry, report)
        elif entry.kind is EntryKind.SENT:
            self._sent(entry, entries, index, report)

    # --- connect ------------------------------------------------------------------------

    def _connect(
        self, entry: Entry, entries: Sequence[Entry], index: int, report: FileReport
    ) -> None:
        report.frames += 1
        url = entry.text
        try:
            options = parse_connect_url(url)
        except LocalProtocolError as exc:
            if _node_refused_connect(entries, index, self.role):
                report.matched += 1
                self.refused = True  # what the node sends on it is its refusal
            else:
                report.mismatches.append(f"line {entry.line}: URL refused: {exc}")
            return
        recorded = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        rebuilt_url = options.connect_url(url.split("?")[0])
        rebuilt = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(rebuilt_url).query))
        if rebuilt != recorded:
            report.mismatches.append(f"line {entry.line}: URL rebuilt as {rebuilt_url}")
        else:
            report.matched += 1
        if isinstance(options, OpenOptions):
            own = options.initiator_id if self.role == "initiator" else options.responder_id
            self.account = own if own != "any" else self.account
            # The recorded client sent its own slashes and settles: the replay sends none.
            self.channel = Channel(options, network_id=self.network_id, dispute=_REPORT_ONLY)
        elif self.channel is not None:
            self.channel.connection_lost()
            self.channel.reconnect(options)
        else:
            self.channel = Channel(
                options, network_id=self.network_id, account=self.account, dispute=_REPORT_ONLY
            )
        self.ids.clear()

    # --- frames from the node -----------------------------------------------------------

    def _received(self, entry: Entry, report: FileReport) -> None:
        report.frames += 1
        if self.refused:
            # A connection our client would not have opened: the node refused it as well.
            if _is_error(entry.frame):
                report.matched += 1
            else:
                report.mismatches.append(f"line {entry.line}: the node took a refused connect")
            return
        if self.channel is None:
            report.mismatches.append(f"line {entry.line}: a frame with no channel to take it")
            return
        frame = _with_ids(entry.frame, self.ids)
        self.channel.receive_frame(frame)
        events = list(self.channel.events())
        report.events.update(_kind(event) for event in events)
        for event in events:
            if isinstance(event, (SignRequest, CoSignedState)):
                report.unchecked.update(check.name for check in event.checks.not_checked)
        self._match_emitted(report)
        problem = _problem(frame, events)
        if problem:
            report.mismatches.append(f"line {entry.line}: {problem}")
        else:
            report.matched += 1

    # --- frames to the node -------------------------------------------------------------

    def _sent(self, entry: Entry, entries: Sequence[Entry], index: int, report: FileReport) -> None:
        report.frames += 1
        recorded = entry.frame
        if self.channel is None:
            report.mismatches.append(f"line {entry.line}: a frame sent with no channel")
            return
        try:
            self._reproduce(recorded)
        except _ChecksRefused as exc:
            report.mismatches.append(f"line {entry.line}: {exc}")
            return
        except ChannelError as exc:
            if _node_refused(entries, index, self.role, recorded):
                report.matched += 1
            else:
                report.mismatches.append(f"line {entry.line}: the typed API refused: {exc}")
            return
        self.expected.append((recorded, entry.line))
        self._match_emitted(report)

    def _reproduce(self, recorded: dict[str, Any]) -> None:
        assert self.channel is not None
        method = recorded.get("method")
        params = recorded.get("params") or {}
        if isinstance(method, str) and rpc.sign_tag_for_reply(method) is not None:
            request = self.channel.pending_sign_request
            if request is None:
                raise LocalProtocolError("no sign request is pending")
            if method not in (request.tag.reply_method, *request.tag.aliases):
                raise LocalProtocolError(f"{method} does not answer {request.tag.request_method}")
            if "error" in params:
                request.abort(params["error"])
            else:
                if request.checks.failed:
                    # The recorded client signed it, so the checks must not have refused it.
                    failed = "; ".join(f"{c.name}: {c.detail}" for c in request.checks.failed)
                    raise _ChecksRefused(f"{request.tag.tag} failed the checks: {failed}")
                signed_tx = params.get("signed_tx")
                if not isinstance(signed_tx, str):
                    raise LocalProtocolError("signed_tx: a tx_ string is required")
                request.respond(signed_tx)
            return
        self.channel.submit(commands.command_from_frame(recorded))

    def _match_emitted(self, report: FileReport) -> None:
        """Match what the channel emitted with the recorded frames it reproduces, in order.

        A frame may leave later than its API call (an operation waits its turn), so a recorded
        frame waits in ``expected`` until the library emits it. Each emitted frame must equal
        the oldest one waiting: a frame emitted ahead of an older one is out of order, even if
        it equals a frame recorded later.
        """
        assert self.channel is not None
        for frame in self.channel.frames_to_send():
            found = next(
                (i for i, (recorded, _) in enumerate(self.expected) if _same(frame, recorded)),
                None,
            )
            if found is None:
                report.mismatches.append(f"emitted, but not recorded: {frame}")
                continue
            if found:  # reported once; the frame then counts as the later one it equals
                older, line = self.expected[0]
                report.mismatches.append(
                    f"line {self.expected[found][1]}: emitted out of order: "
                    f"{frame.get('method')} before {older.get('method')} of line {line}"
                )
            else:
                report.matched += 1
            recorded, _ = self.expected.pop(found)
            if "id" in recorded and "id" in frame:
                self.ids[recorded["id"]] = frame["id"]

    def finish(self, report: FileReport) -> None:
        for recorded, line in self.expected:
            report.mismatches.append(f"line {line}: never emitted: {recorded}")
        self.expected.clear()


# The event a frame from the node must produce, by its method (replies: by their kind).
_REPORT_ONLY: Final = DisputePolicy.off()
_MEANS: Final[Mapping[str, type[Event]]] = {
    "channels.info": Info,
    "channels.on_chain_tx": OnChainTx,
    "channels.update": CoSignedState,
    "channels.leave": CoSignedState,
    "channels.conflict": Conflict,
    "channels.message": MessageReceived,
    "channels.error": ChannelErrorReported,
    "channels.system.pong": Pong,
    "error": NodeError,
}


def _problem(frame: Any, events: list[Event]) -> str | None:
    """What is wrong with the events a recorded frame produced, or None."""
    for event in events:
        if isinstance(event, ProtocolViolation):
            return f"protocol violation: {event.reason}"
        if isinstance(event, CoSignedState) and event.checks.failed:
            failed = "; ".join(f"{c.name}: {c.detail}" for c in event.checks.failed)
            return f"a co-signed state failed the checks: {failed}"
    method = frame.get("method") if isinstance(frame, dict) else None
    if isinstance(method, str):
        wanted: type[Event] | None = _MEANS.get(method)
        if method.startswith("channels.sign."):
            wanted = SignRequest
        elif method.endswith(".reply"):
            wanted = QueryResult
        elif method == "channels.info" and frame["params"]["data"].get("event") == "fsm_up":
            wanted = FsmUp
    else:
        wanted = NodeError if _is_error(frame) else None
    if wanted is not None and not any(isinstance(event, wanted) for event in events):
        return f"no {wanted.__name__} event for it"
    return None


def _same(emitted: dict[str, Any], recorded: dict[str, Any]) -> bool:
    """Same method and params, ids aside; a recorded alias of a reply method is the same."""
    method = recorded.get("method")
    tag = rpc.sign_tag_for_reply(method) if isinstance(method, str) else None
    methods = {method} if tag is None else {method, tag.reply_method}
    return emitted.get("method") in methods and emitted.get("params", {}) == recorded.get(
        "params", {}
    )


class _ChecksRefused(Exception):
    """A sign request that the recorded client signed failed the checks."""


def _with_ids(frame: Any, ids: dict[Any, Any]) -> Any:
    if isinstance(frame, dict) and "id" in frame and frame["id"] in ids:
        return {**frame, "id": ids[frame["id"]]}
    return frame


def _kind(event: Event) -> str:
    if isinstance(event, OffChainStateFetched):
        return "OffChainStateFetched(verified)" if event.verified else "OffChainStateFetched"
    if isinstance(event, CoSignedState):
        return "CoSignedState(accepted)" if event.accepted else "CoSignedState"
    return type(event).__name__


def _is_error(frame: Any) -> bool:
    return isinstance(frame, dict) and isinstance(frame.get("error"), dict)


def _later(entries: Sequence[Entry], index: int, role: str) -> Iterator[Entry]:
    for entry in entries[index + 1 :]:
        if entry.role == role:
            yield entry


def _node_refused(entries: Sequence[Entry], index: int, role: str, sent: Any) -> bool:
    """Whether the node answered the frame sent at ``index`` with an error reply."""
    for entry in _later(entries, index, role):
        if entry.kind is EntryKind.SENT:
            return False
        if entry.kind is EntryKind.RECEIVED:
            frame = entry.frame
            if isinstance(frame, dict) and "error" in frame:
                request = (
                    frame["error"].get("request") if isinstance(frame["error"], dict) else None
                )
                if request == sent or ("id" in sent and frame.get("id") == sent["id"]):
                    return True
    return False


def _node_refused_connect(entries: Sequence[Entry], index: int, role: str) -> bool:
    """Whether the node answered the connect at ``index`` with an error, or closed at once."""
    for entry in _later(entries, index, role):
        if entry.kind is EntryKind.DISCONNECT:
            return True
        if entry.kind is EntryKind.RECEIVED:
            return _is_error(entry.frame)
        if entry.kind is not EntryKind.INFO:
            return False
    return True


def replay_files(paths: Sequence[str], network_id: str) -> ReplayReport:
    """Replay files that continue one session; a report per file."""
    report = ReplayReport()
    players = {role: _RoleReplay(role, network_id) for role in ROLES}
    for number, path in enumerate(paths):
        entries = transcript.parse_file(path)
        file_report = FileReport(path=path)
        if number:
            for player in players.values():
                player.new_file()
        for index, entry in enumerate(entries):
            if entry.kind is not EntryKind.INFO:
                players[entry.role].step(entries, index, file_report)
        for player in players.values():
            player.finish(file_report)
        report.files.append(file_report)
    return report
