"""Replay of every recorded session, for both roles: 0 mismatched, 0 protocol violations."""

from __future__ import annotations

import pytest

from sansio_channels.replay import replay_files

from .recordings import TRANSCRIPTS, network_id, preamble, recording_files


def sessions() -> list[list[str]]:
    """Each recording as a session: a group's case file comes after its preamble."""
    found = []
    for rel in recording_files():
        pre = preamble(rel)
        found.append([pre, rel] if pre is not None else [rel])
    return found


SESSIONS = sessions()


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s[-1])
def test_recorded_session_replays(session: list[str]) -> None:
    network = network_id(session[-1]) or "local_iris_testnet"
    report = replay_files([str(TRANSCRIPTS / rel) for rel in session], network)
    mismatches = [m for f in report.files for m in f.mismatches]
    assert mismatches == []
    assert report.matched == report.frames > 0


def test_fetched_states_are_rebuilt_and_verified() -> None:
    """Every get.offchain_state answer in the recordings: trees rebuilt, hash = signed state's."""
    counts: dict[str, int] = {}
    for session in SESSIONS:
        if session[-1].startswith("generalized_accounts/"):
            continue  # their states are authenticated by contracts the client cannot run
        report = replay_files(
            [str(TRANSCRIPTS / rel) for rel in session],
            network_id(session[-1]) or "local_iris_testnet",
        )
        for file in report.files:
            for kind, count in file.events.items():
                counts[kind] = counts.get(kind, 0) + count
    assert counts.get("OffChainStateFetched", 0) == 0
    assert counts["OffChainStateFetched(verified)"] >= 125
    assert counts.get("CoSignedState", 0) == 0  # every co-signed state was taken
