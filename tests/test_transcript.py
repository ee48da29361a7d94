"""The recorded-session format: every recording parses; render and parse are inverses."""

from __future__ import annotations

import pytest

from sansio_channels import transcript
from sansio_channels.errors import DecodingError
from sansio_channels.transcript import Entry, EntryKind

from .recordings import TRANSCRIPTS, entries, recording_files


@pytest.mark.parametrize("rel", recording_files())
def test_every_recording_parses_and_renders_back(rel: str) -> None:
    parsed = entries(rel)
    assert parsed
    assert {e.role for e in parsed} <= {"initiator", "responder"}
    for entry in parsed:
        if entry.kind in (EntryKind.RECEIVED, EntryKind.SENT):
            assert isinstance(entry.frame, (dict, list))
            # The recordings print frames with sorted keys and a two-space indent.
            assert transcript.frame_text(entry.frame) == entry.text
    again = transcript.parse(transcript.render(parsed))
    assert [(e.role, e.kind, e.text) for e in again] == [(e.role, e.kind, e.text) for e in parsed]


def test_counts_over_all_recordings() -> None:
    kinds: dict[EntryKind, int] = dict.fromkeys(EntryKind, 0)
    for rel in recording_files():
        for entry in entries(rel):
            kinds[entry.kind] += 1
    # The 88 sessions of the INDEX.md table, and the seed recording its prose names.
    assert len(recording_files()) == 89
    assert kinds[EntryKind.RECEIVED] == 11590
    assert kinds[EntryKind.SENT] == 7064
    assert kinds[EntryKind.CONNECT] == kinds[EntryKind.DISCONNECT] == 217


def test_bad_recordings_say_where() -> None:
    with pytest.raises(DecodingError, match=r"x\.md:2: unknown step"):
        transcript.parse("\n#### initiator dances\n", source="x.md")
    with pytest.raises(DecodingError, match="frame is not JSON"):
        transcript.parse("#### initiator <--- node\n```javascript\n{nope\n```\n")
    with pytest.raises(DecodingError, match="fenced block was expected"):
        transcript.parse("#### initiator ---> node\nplain text\n")


def test_render_of_built_entries() -> None:
    built = [
        Entry(role="initiator", kind=EntryKind.CONNECT, text="ws://localhost:3014/channel?x=1"),
        Entry(role="initiator", kind=EntryKind.SENT, text=transcript.frame_text({"a": 1})),
        Entry(role="initiator", kind=EntryKind.INFO, text="two\nlines"),
        Entry(role="initiator", kind=EntryKind.DISCONNECT),
    ]
    again = transcript.parse(transcript.render(built))
    assert [(e.kind, e.text) for e in again] == [(e.kind, e.text) for e in built]
    assert (TRANSCRIPTS / "INDEX.md").exists()
