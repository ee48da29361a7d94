"""Read and write the node's recorded-session format.

A recording is markdown: a ``#### <role> <what>`` heading, then a fenced block or a quote.

* ``opens a WebSocket connection`` — the block is the connect URL;
* ``<--- node`` / ``---> node`` — the block is one JSON frame received from / sent to the node;
* ``info`` — the quote is commentary;
* ``closes WebSocket connection`` — nothing follows.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable
from typing import Any

import attrs

from .errors import DecodingError

__all__ = ["Entry", "EntryKind", "parse", "parse_file", "render"]


class EntryKind(enum.Enum):
    CONNECT = "opens a WebSocket connection"
    DISCONNECT = "closes WebSocket connection"
    RECEIVED = "<--- node"
    SENT = "---> node"
    INFO = "info"


@attrs.frozen(kw_only=True)
class Entry:
    """One step of a recorded session, as one participant's client saw it."""

    role: str  # "initiator" or "responder"
    kind: EntryKind
    text: str = ""  # the URL, the frame's JSON text, or the commentary
    line: int = 0  # where the heading stands in the file (1-based), 0 if not from a file

    @property
    def frame(self) -> Any:
        """The decoded JSON frame of a RECEIVED or SENT entry."""
        return json.loads(self.text)


_HEADING = re.compile(r"^#### (initiator|responder) (.+?)\s*$")
_KINDS = {kind.value: kind for kind in EntryKind}


def parse(text: str, source: str = "transcript") -> list[Entry]:
    """The entries of a recorded session, in order."""
    entries: list[Entry] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _HEADING.match(lines[i])
        if not match:
            i += 1
            continue
        role, what = match.groups()
        kind = _KINDS.get(what)
        if kind is None:
            raise DecodingError(f"{source}:{i + 1}: unknown step {what!r}")
        heading_line = i + 1
        body, i = _body(lines, i + 1, kind)
        if kind in (EntryKind.RECEIVED, EntryKind.SENT):
            try:
                json.loads(body)
            except ValueError as exc:
                raise DecodingError(f"{source}:{heading_line}: frame is not JSON ({exc})") from None
        entries.append(Entry(role=role, kind=kind, text=body, line=heading_line))
    return entries


def _body(lines: list[str], i: int, kind: EntryKind) -> tuple[str, int]:
    """The block or quote after a heading, and the index of the first line after it."""
    if kind is EntryKind.DISCONNECT:
        return "", i
    while i < len(lines) and not lines[i].strip():
        i += 1
    if kind is EntryKind.INFO:
        quoted: list[str] = []
        while i < len(lines) and lines[i].startswith(">"):
            quoted.append(lines[i][1:].strip())
            i += 1
        return "\n".join(quoted), i
    if i >= len(lines) or not lines[i].startswith("```"):
        raise DecodingError(f"line {i + 1}: a fenced block was expected")
    start = i + 1
    end = start
    while end < len(lines) and lines[end].strip() != "```":
        end += 1
    return "\n".join(lines[start:end]), end + 1


def parse_file(path: str) -> list[Entry]:
    with open(path, encoding="utf-8") as handle:
        return parse(handle.read(), source=path)


def render(entries: Iterable[Entry]) -> str:
    """Write entries in the recorded-session format; ``parse(render(e)) == e`` up to lines."""
    out: list[str] = [""]
    for entry in entries:
        out.append(f"#### {entry.role} {entry.kind.value}")
        if entry.kind is EntryKind.CONNECT:
            out += ["```", entry.text, "```"]
        elif entry.kind in (EntryKind.RECEIVED, EntryKind.SENT):
            out += ["```javascript", entry.text, "```"]
        elif entry.kind is EntryKind.INFO:
            out += [f"> {line}" for line in entry.text.splitlines()]
        out.append("")
    return "\n".join(out)


def frame_text(frame: Any) -> str:
    """A frame as the recordings show it: sorted keys, two-space indent."""
    return json.dumps(frame, indent=2, sort_keys=True, ensure_ascii=False)
