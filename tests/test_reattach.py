"""What the node's latest state, fetched after a reattach, says of the operation under way:
each case of reattach.settle, from values alone."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_channels.events import FailureReason
from sansio_channels.own_operations import Accepted, Failed
from sansio_channels.reattach import NOT_TAKEN, Settlement, rounds_to_keep, settle

QUIET: dict[str, Any] = {
    "in_flight": False,
    "own_round": None,
    "latest_round": 4,
    "stale": False,
    "aborted": False,
    "request_pending": False,
}
GONE = "its sign request was abandoned with the connection"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"in_flight": True, "own_round": 5}, Settlement()),
        ({"own_round": 4}, Settlement(ending=Accepted(4))),
        (
            {"own_round": 5},
            Settlement(
                ending=Failed(FailureReason.CONFLICT, "rolled back while we were away"),
                roll_back_to=4,
            ),
        ),
        ({"own_round": 3}, Settlement()),  # the node is past it: its update ends it
        ({"own_round": 5, "stale": True}, Settlement()),
        ({"own_round": 5, "latest_round": None}, Settlement()),
        ({"aborted": True}, Settlement(ending=Failed(FailureReason.ABORTED, "aborted"))),
        (
            {"request_pending": True},
            Settlement(ending=Failed(FailureReason.CHANNEL_GONE, NOT_TAKEN), not_taken=True),
        ),
        ({}, Settlement(ending=Failed(FailureReason.CHANNEL_GONE, GONE))),
    ],
)
def test_settle(change: dict[str, Any], expected: Settlement) -> None:
    assert settle(**{**QUIET, **change}) == expected


def test_rounds_to_keep() -> None:
    assert rounds_to_keep(verified=True, latest_round=4, half_signed=False) == 4
    assert rounds_to_keep(verified=True, latest_round=4, half_signed=True) is None
    assert rounds_to_keep(verified=False, latest_round=4, half_signed=False) is None
    assert rounds_to_keep(verified=True, latest_round=None, half_signed=False) is None
