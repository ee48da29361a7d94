"""Benchmark: our clients next to the JavaScript SDK's ``Channel``, against one simulator.

One simulator (``python -m sansio_channels simulate``, a process of its own) serves every run.
The runs alternate, round after round: the JS SDK pair (``tests/interop/bench_pair.mjs``, both
participants of every channel in one Node.js process), then our pair on each adapter (both
participants in this process, as in bench/e2e.py). Each run is one channel making
``ONE[1]`` transfers, or ``MANY[0]`` channels making ``MANY[1]`` each at once; the initiator
pays the responder one aetto at a time, each transfer awaited. Each run reports transfers per
second and the clients' CPU seconds per transfer (the process's CPU time over the timed
window: both participants, the simulator excluded). The figures are the medians over the rounds.

The ratios are ours divided by the SDK's for transfers per second, and the SDK's CPU per
transfer divided by ours: higher is better in both.

It needs ``node`` and ``npm ci`` in tests/interop; :func:`missing` says what is not there.

Run: ``python bench/js_sdk.py [--rounds N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e  # bench/e2e.py, beside this file

INTEROP: Final = Path(__file__).resolve().parent.parent / "tests" / "interop"
ADAPTERS: Final = ("asyncio", "trio", "sync")
ONE: Final = (1, 200)  # channels, transfers per channel
MANY: Final = (100, 10)
ROUNDS: Final = 3
JS_FIRST_PORT: Final = 40_000  # the JS channels' responders listen from here (ours: 20,000)


def missing() -> str | None:
    """What the JS runs need and is not here, or None."""
    if shutil.which("node") is None:
        return "node (Node.js) is not installed"
    if not (INTEROP / "node_modules" / "@aeternity" / "aepp-sdk").is_dir():
        return "tests/interop/node_modules is missing (npm ci in tests/interop)"
    return None


def measure_js(server: e2e.Server, channels: int, transfers: int) -> tuple[float, float]:
    """Transfers per second and CPU seconds per transfer of the JS SDK pair."""
    node = shutil.which("node")
    assert node is not None, missing()
    command = [node, "bench_pair.mjs", server.url, str(channels), str(transfers)]
    run = subprocess.run(
        [*command, str(JS_FIRST_PORT)],
        cwd=INTEROP,
        capture_output=True,
        text=True,
        timeout=e2e.LIMIT,
    )
    if run.returncode != 0:
        raise e2e.BenchFailed(f"the JS SDK run failed: {run.stderr[-2000:]}")
    figures = json.loads(run.stdout.splitlines()[-1])
    count = figures["transfers"]
    if count != channels * transfers:
        raise e2e.BenchFailed(f"the JS SDK made {count} transfers of {channels * transfers}")
    return count / figures["seconds"], figures["cpu_seconds"] / count


def measure(rounds: int = ROUNDS) -> dict[str, Any]:
    """Every figure and ratio, against one simulator, the runs alternating."""
    rates: dict[tuple[str, int], list[float]] = {}
    cpu: dict[str, list[float]] = {}
    with e2e.Server() as server:
        for _ in range(rounds):
            for channels, transfers in (ONE, MANY):
                for who in ("js_sdk", *ADAPTERS):
                    if who == "js_sdk":
                        per_s, cpu_each = measure_js(server, channels, transfers)
                    else:
                        per_s, cpu_each = e2e.measure_on(server, who, channels, transfers)
                    rates.setdefault((who, channels), []).append(per_s)
                    if channels == ONE[0]:
                        cpu.setdefault(who, []).append(cpu_each)
    rate = {key: statistics.median(values) for key, values in rates.items()}  # medians
    cpu_us = {who: statistics.median(values) * 1e6 for who, values in cpu.items()}
    return {
        "e2e_vs_js_sdk": {a: rate[a, ONE[0]] / rate["js_sdk", ONE[0]] for a in ADAPTERS},
        f"e2e_{MANY[0]}_channels_vs_js_sdk": {
            a: rate[a, MANY[0]] / rate["js_sdk", MANY[0]] for a in ADAPTERS
        },
        "cpu_per_transfer_vs_js_sdk": {a: cpu_us["js_sdk"] / cpu_us[a] for a in ADAPTERS},
        "e2e_with_js_sdk_transfers_per_s": {
            who: rate[who, ONE[0]] for who in ("js_sdk", *ADAPTERS)
        },
        f"e2e_{MANY[0]}_channels_with_js_sdk_transfers_per_s": {
            who: rate[who, MANY[0]] for who in ("js_sdk", *ADAPTERS)
        },
        "client_cpu_us_per_transfer": cpu_us,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="runs of each, alternating")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if (reason := missing()) is not None:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    figures = measure(args.rounds)
    rounded = {name: {k: round(v, 2) for k, v in value.items()} for name, value in figures.items()}
    if args.json:
        print(json.dumps(rounded))
        return 0
    for name, value in rounded.items():
        print(f"{name:44} " + ", ".join(f"{k} {v}" for k, v in value.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
