"""The recorded node sessions vendored under tests/transcripts, for the tests to walk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from sansio_channels import transcript

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def recording_files() -> list[str]:
    """Every recording, as a path relative to tests/transcripts, in a stable order."""
    return sorted(
        str(path.relative_to(TRANSCRIPTS))
        for path in TRANSCRIPTS.rglob("*.md")
        if path.name != "INDEX.md"
    )


def preamble(rel: str) -> str | None:
    """The ``init_per_group.md`` that opened the channel a group's case file continues."""
    path = TRANSCRIPTS / rel
    for folder in (path.parent, path.parent.parent):
        candidate = folder / "init_per_group.md"
        if candidate.exists() and candidate != path and TRANSCRIPTS in candidate.parents:
            return str(candidate.relative_to(TRANSCRIPTS))
    return None


@cache
def _index() -> dict[str, str | None]:
    table: dict[str, str | None] = {}
    text = (TRANSCRIPTS / "INDEX.md").read_text(encoding="utf-8")
    for match in re.finditer(r"^\| `([^`]+)` \| [^|]* \| ([^|]*) \|", text, re.M):
        network = match.group(2).strip()
        table[match.group(1)] = None if network in ("", "—") else network
    return table


def network_id(rel: str) -> str | None:
    """The network id the file's signatures verify under (INDEX.md; a group's from its preamble).

    The one file INDEX.md does not list in its table (``seed/...``) is named in its prose.
    """
    found = _index().get(rel)
    if found is None and (pre := preamble(rel)) is not None:
        found = _index().get(pre)
    if found is None and rel.startswith("seed/"):
        found = "local_iris_testnet"
    return found


@cache
def entries(rel: str) -> list[transcript.Entry]:
    return transcript.parse_file(str(TRANSCRIPTS / rel))


def frames(rel: str) -> Iterator[tuple[transcript.Entry, Any]]:
    """Every (entry, decoded frame) the file holds, sent and received."""
    for entry in entries(rel):
        if entry.kind in (transcript.EntryKind.RECEIVED, transcript.EntryKind.SENT):
            yield entry, entry.frame


def strings_with_prefix(value: Any, prefix: str) -> Iterator[str]:
    """Every string in a JSON value that starts with ``prefix`` (e.g. ``"tx_"``)."""
    if isinstance(value, str):
        if value.startswith(prefix):
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_with_prefix(item, prefix)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_with_prefix(item, prefix)
