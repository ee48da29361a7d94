"""bench/e2e.py runs, small, over each adapter: every transfer accepted, the balances right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent.parent / "bench" / "e2e.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_e2e", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("adapter", ["asyncio", "trio", "sync"])
def test_measure_runs_every_transfer_through(adapter: str) -> None:
    rate = load().measure(adapter, channels=3, transfers=4)
    assert isinstance(rate, float)
    assert rate > 0
