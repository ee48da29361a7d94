"""bench/js_sdk.py runs, small: the JS SDK pair and ours against one simulator, in turn."""

from __future__ import annotations

import pytest

from tests.bench_modules import load

js_sdk = load("js_sdk")
e2e = load("e2e")


@pytest.mark.skipif(js_sdk.missing() is not None, reason=str(js_sdk.missing()))
def test_both_pairs_run_against_one_simulator() -> None:
    with e2e.Server() as server:
        js_rate, js_cpu = js_sdk.measure_js(server, channels=2, transfers=3)
        ours_rate, ours_cpu = e2e.measure_on(server, "asyncio", channels=2, transfers=3)
        again_rate, _ = js_sdk.measure_js(server, channels=1, transfers=2)  # the same simulator
    for figure in (js_rate, js_cpu, ours_rate, ours_cpu, again_rate):
        assert figure > 0
