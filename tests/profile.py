"""How hard the randomized tests try: one profile for a contributor's run, one for CI.

``.ci/run`` selects ``ci`` with ``HYPOTHESIS_PROFILE=ci`` (``CI=true`` selects it too); a plain
``pytest`` runs ``dev``: 50 examples a hypothesis test (the suite's many property tests, one
per chain object, are most of its time), the stateful machine and the crash test at the length
they always had. ``ci`` is derandomized, runs 200 examples a hypothesis test, and runs the long
randomized tests twice as long. ``tests/conftest.py`` registers the hypothesis side of each.
"""

from __future__ import annotations

import os
from typing import Final

import attrs


@attrs.frozen
class Profile:
    max_examples: int  # each hypothesis test
    derandomize: bool
    stateful_examples: int  # tests/simulator/test_stateful.py, up to 50 steps each
    crash_kills: int  # tests/durability/test_crash.py


PROFILES: Final = {
    "dev": Profile(max_examples=50, derandomize=False, stateful_examples=150, crash_kills=200),
    "ci": Profile(max_examples=200, derandomize=True, stateful_examples=300, crash_kills=400),
}
NAME: Final = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
PROFILE: Final = PROFILES[NAME]
