"""Benchmark: hub processes on one store, killed and restarted, against the simulator.

The longer runs of the worker-kill test (``tests/hubkill.py`` says what runs and what is
checked): ``workers`` hub processes share ``channels`` channels on the store ``URL``
(``sqlite:PATH`` or a libpq URL such as ``postgresql:///hub?host=/var/run/postgresql``); at
least ``kills`` SIGKILLs land, up to half of them while channels are still opening, the rest
while they are in use. Exits non-zero, saying what is wrong, unless every check passed.

Run: ``python bench/hub.py --store URL [--workers 4] [--channels 200] [--kills 20] [--json]``;
the last line of ``--json`` holds ``channels``, ``closed``, ``kills``, ``kills_during_opens``,
``abandoned``, ``in_doubt``, ``given_up_in_doubt``, ``fenced_saves``, ``double_driven``,
``double_signed``, ``lost``, ``transfers_per_s`` and more.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import hubkill


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, metavar="URL")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--bound", type=float, default=1800.0, help="give up after (s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    outcome = hubkill.run(
        args.store,
        workers=args.workers,
        channels=args.channels,
        kills=args.kills,
        seed=args.seed,
        bound=args.bound,
    )
    figures = outcome.figures()
    print(
        f"{outcome.closed}/{outcome.channels} closed, {outcome.kills} kills "
        f"({outcome.kills_during_opens} during the opens), {outcome.abandoned} opens given up "
        f"(before a create tx was signed), {outcome.in_doubt} in doubt "
        f"({outcome.given_up_in_doubt} of them given up, proven off chain), "
        f"{outcome.pauses} pauses, {outcome.fenced_saves} fenced saves, "
        f"{outcome.double_driven} double-driven, {outcome.double_signed} double-signed, "
        f"{outcome.lost} lost, {figures['transfers_per_s']} transfers/s, "
        f"{outcome.seconds:.1f} s (seed {outcome.seed})"
    )
    for problem in outcome.problems[:20]:
        print("problem:", problem[:500])
    if args.json:
        print(json.dumps(figures))
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    sys.exit(main())
