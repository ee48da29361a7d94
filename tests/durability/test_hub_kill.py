"""The worker-kill test (``tests/hubkill.py``): 4 hub processes on one PostgreSQL store, 200
channels opened, used and closed, at least 20 SIGKILLs (some during the opens), pauses past a
lease, a lease thief.
Its figures are printed at the end of the test run; ``python bench/hub.py`` runs longer variants."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from tests import hubkill
from tests.conftest import FIGURES
from tests.postgres_cluster import fresh_database


def test_hub_workers_killed_at_random_lose_nothing_and_never_drive_a_channel_twice(
    postgres_server: str, record_property: Callable[[str, object], None]
) -> None:
    seed = int(os.environ["HUB_KILL_SEED"]) if "HUB_KILL_SEED" in os.environ else None
    outcome = hubkill.run(
        fresh_database(postgres_server), workers=4, channels=200, kills=20, seed=seed
    )
    record_property(FIGURES, json.dumps(outcome.figures()))
    assert outcome.problems == []
    assert outcome.kills >= 20
    assert 1 <= outcome.kills_during_opens <= 10  # opens cut by a kill: resumed or given up
    # Every channel closed: an open cut by a kill after its create tx was signed is never
    # given up, even when the node refused to come back to it at first (in doubt).
    assert outcome.closed == outcome.channels == 200
    assert outcome.double_driven == 0
    assert outcome.double_signed == 0
    assert outcome.lost == 0
