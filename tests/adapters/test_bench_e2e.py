"""bench/e2e.py runs, small, over each adapter: every transfer accepted, the balances right."""

from __future__ import annotations

import pytest

from tests.bench_modules import load


@pytest.mark.parametrize("adapter", ["asyncio", "trio", "sync"])
def test_measure_runs_every_transfer_through(adapter: str) -> None:
    rate = load("e2e").measure(adapter, channels=3, transfers=4)
    assert isinstance(rate, float)
    assert rate > 0
