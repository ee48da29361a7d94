"""bench/steps.py times every step of real transfers: each step of each kind, each transfer
accepted (the module raises otherwise)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.bench_modules import load


@pytest.fixture(scope="module")
def steps() -> ModuleType:
    return load("steps")


def test_each_step_of_each_transfer_is_timed(steps: ModuleType) -> None:
    own = steps.own_steps(4)
    ack = steps.ack_steps(4)
    assert list(own) == ["submit", "sign request", "sign", "co-signed state"]
    assert list(ack) == ["sign request", "sign", "co-signed state"]
    for timings in (own, ack):
        assert all(len(times) == 4 and min(times) > 0 for times in timings.values())
