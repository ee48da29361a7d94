"""The simulator against the recorded node sessions.

Each recording's client frames are played against the simulator (``recorded.Player``), and
what each role receives must be what the recorded node sent: the same methods, info events,
on-chain reports, error codes and ``ok`` replies, in the same order (ids and keys aside).
Generic messages and query results are compared too.

Left out: the recordings of features the simulator does not have (contracts, force progress,
generalized accounts), and those where the order depends on timing the recording cannot
show, or on old node behaviour (DIFFERENCES, with the reason).
"""

from __future__ import annotations

import difflib

import pytest

from sansio_channels.replay import replay_files
from sansio_channels.simulator.harness import Pair
from tests.recordings import entries, preamble, recording_files

from .recorded import canonical, play, step_ends

# Features the simulator leaves out.
UNSUPPORTED = ("contracts/", "force_progress/", "generalized_accounts/", "with_meta/sc_ws_remote")
# Recordings whose order the simulator does not reproduce, and why.
DIFFERENCES = {
    "sc_ws_opening_ping_pong.md": "pongs come from the socket handler, other reports from the "
    "FSM: where a pong falls among them is timing",
    "sc_ws_close_mutual.md": "the first channel's closed_confirmed/died and the second "
    "channel's first message share the role's stream: their order is timing",
    "changeable_nonce/sc_ws_optional_params_fail_close_mutual.md": "as sc_ws_close_mutual.md",
    "abort_updates/sc_ws_abort_slash.md": "the old state is posted out of band by the recorded "
    "test; the ok to a stop falls before or after its can_slash by timing",
    "only_one_signs/sc_ws_conflict_snapshot_and_offchain_update.md": "recorded before #3332: "
    "an update during a snapshot's signing was a conflict, today it waits",
}


def _compared() -> list[str]:
    return [
        rel
        for rel in recording_files()
        if not rel.startswith(UNSUPPORTED)
        and not rel.endswith("init_per_group.md")
        and rel not in DIFFERENCES
    ]


@pytest.mark.parametrize("rel", _compared())
def test_the_simulator_sends_what_the_node_sent(rel: str) -> None:
    files = [rel] if preamble(rel) is None else [str(preamble(rel)), rel]
    session = play([entries(f) for f in files])
    for role in ("initiator", "responder"):
        recorded = canonical(session.recorded[role])
        simulated = canonical(session.simulated[role])
        assert simulated == recorded, "\n".join(
            difflib.unified_diff(recorded, simulated, "recorded", "simulated", lineterm="")
        )


# Recordings whose order across the two roles is timing (compared per role above).
ORDER_DIFFERENCES = {
    "both_sign/conflicts/sc_ws_conflict_deposit_and_offchain_update.md": "both requests cross "
    "on the wire: each node sees the conflict when the other's message comes, at once",
}


@pytest.mark.parametrize("rel", [rel for rel in _compared() if rel not in ORDER_DIFFERENCES])
def test_the_simulator_reports_to_both_roles_in_the_nodes_order(rel: str) -> None:
    """The interleaving of both roles: the reports that end each step (updates, leaves,
    conflicts) reach the two participants in the order the node sent them."""
    files = [rel] if preamble(rel) is None else [str(preamble(rel)), rel]
    session = play([entries(f) for f in files])
    recorded, simulated = step_ends(session.recorded_both), step_ends(session.simulated_both)
    assert simulated == recorded, "\n".join(
        difflib.unified_diff(recorded, simulated, "recorded", "simulated", lineterm="")
    )


@pytest.mark.parametrize(
    "rel",
    [
        "sc_ws_basic_open_close.md",
        "sc_ws_leave_reestablish.md",
        "both_sign/conflicts/sc_ws_conflict_two_offchain_updates.md",
    ],
)
def test_the_order_by_connection_is_not_the_nodes(rel: str) -> None:
    """Frames sent per connection in connect order (the initiator's first) put the
    requester's channels.update before the acknowledger's: the comparison above sees it."""
    files = [rel] if preamble(rel) is None else [str(preamble(rel)), rel]
    session = play([entries(f) for f in files], by_connection=True)
    assert step_ends(session.simulated_both) != step_ends(session.recorded_both)
    # Per role nothing changes: the order within one client's stream was right already.
    for role in ("initiator", "responder"):
        assert canonical(session.simulated[role]) == canonical(session.recorded[role])


def test_the_order_differences_are_still_there() -> None:
    for rel in ORDER_DIFFERENCES:
        files = [rel] if preamble(rel) is None else [str(preamble(rel)), rel]
        session = play([entries(f) for f in files])
        assert step_ends(session.simulated_both) != step_ends(session.recorded_both), rel


def test_the_differences_are_still_there() -> None:
    """If one of DIFFERENCES starts to match, it belongs in the compared files."""
    for rel in DIFFERENCES:
        files = [rel] if preamble(rel) is None else [str(preamble(rel)), rel]
        session = play([entries(f) for f in files])
        assert any(
            canonical(session.recorded[role]) != canonical(session.simulated[role])
            for role in ("initiator", "responder")
        ), rel


def test_a_simulated_session_replays_like_a_recorded_one(tmp_path: object) -> None:
    """The simulator's transcript goes through the replay of recordings with 0 mismatched."""
    from sansio_channels.commands import Deposit, Shutdown, Transfer, Withdraw

    pair = Pair.open(push_amount=3)
    pair.run()
    i, r = pair.initiator, pair.responder
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=5))
    r.channel.submit(Deposit(amount=7))
    pair.run()  # a conflict: both started one
    r.channel.submit(Deposit(amount=7))
    pair.run()
    i.channel.submit(Withdraw(amount=2))
    pair.run()
    r.intercept = lambda request: request.abort(200)
    i.channel.submit(Transfer(from_id=i.address, to_id=r.address, amount=1))
    pair.run()
    r.intercept = None
    i.channel.submit(Shutdown())
    pair.run()
    path = f"{tmp_path}/simulated.md"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(pair.sim.transcript())
    report = replay_files([path], pair.sim.network_id)
    assert report.frames > 60
    assert report.mismatched == 0, report.files[0].mismatches
