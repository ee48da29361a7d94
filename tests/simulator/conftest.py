"""Helpers for the simulator tests: an opened pair, and short views of what each side saw."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sansio_channels.events import (
    Conflict,
    CoSignedState,
    Event,
    FsmUp,
    Info,
    NodeError,
    OnChainTx,
    OperationAccepted,
    OperationFailed,
    ProtocolViolation,
    SignRequest,
)
from sansio_channels.simulator.harness import Pair, Participant
from sansio_channels.state import ChannelState


def open_pair(**options: object) -> Pair:
    """A pair whose channel is open, with each side's events cleared."""
    pair = Pair.open(**options)  # type: ignore[arg-type]
    pair.run()
    for side in pair.participants:
        assert side.channel.state is ChannelState.OPEN, side.events
        side.clear()
    return pair


@pytest.fixture
def pair() -> Iterator[Pair]:
    pair = open_pair()
    yield pair
    for side in pair.participants:
        assert not side.events_of(ProtocolViolation), side.events_of(ProtocolViolation)


def names(side: Participant) -> list[str]:
    """What a side saw, one short word per event that comes from the node."""
    found: list[str] = []
    for event in side.events:
        if isinstance(event, Info):
            found.append(event.event)
        elif isinstance(event, OnChainTx):
            found.append(f"on_chain:{event.info}")
        elif isinstance(event, SignRequest):
            found.append(f"sign:{event.tag.tag}")
        elif isinstance(event, CoSignedState):
            found.append("left" if event.left else "update")
        elif isinstance(event, Conflict):
            found.append(f"conflict:{event.error_code}")
        elif isinstance(event, NodeError):
            found.append(f"error:{','.join(str(int(c)) for c in event.data_codes) or event.code}")
        elif isinstance(event, FsmUp):
            found.append("fsm_up")
        elif isinstance(event, (OperationAccepted, OperationFailed)):
            found.append(type(event).__name__)
    return found


def balances(side: Participant) -> dict[str, int]:
    found = side.channel.ledger.balances_api()
    assert found is not None
    return found


def latest(events: list[Event]) -> Event:
    return events[-1]
