"""How hard the randomized tests try: one profile for a contributor's run, one for CI.

``.ci/run`` selects ``ci`` with ``HYPOTHESIS_PROFILE=ci`` (``CI=true`` selects it too); a plain
``pytest`` runs ``dev``. ``dev`` is what the suite always ran; ``ci`` is derandomized and runs
the long randomized tests longer. ``tests/conftest.py`` registers the hypothesis side of each.
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
    "dev": Profile(max_examples=100, derandomize=False, stateful_examples=150, crash_kills=200),
    "ci": Profile(max_examples=200, derandomize=True, stateful_examples=300, crash_kills=400),
}
NAME: Final = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
PROFILE: Final = PROFILES[NAME]
