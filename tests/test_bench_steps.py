"""bench/steps.py times every step of real transfers: each step of each kind, each transfer
accepted (the module raises otherwise)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def steps() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("steps")
    finally:
        sys.path.remove(str(BENCH))


def test_each_step_of_each_transfer_is_timed(steps: ModuleType) -> None:
    own = steps.own_steps(4)
    ack = steps.ack_steps(4)
    assert list(own) == ["submit", "sign request", "sign", "co-signed state"]
    assert list(ack) == ["sign request", "sign", "co-signed state"]
    for timings in (own, ack):
        assert all(len(times) == 4 and min(times) > 0 for times in timings.values())
