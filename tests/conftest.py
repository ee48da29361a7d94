"""Shared test settings: the hypothesis profiles of tests/profile.py; the PostgreSQL server
the store tests use."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from . import postgres_cluster
from .profile import NAME, PROFILES

for name, profile in PROFILES.items():
    settings.register_profile(
        name,
        max_examples=profile.max_examples,
        derandomize=profile.derandomize,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
settings.load_profile(NAME)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server the tests may create databases on: the one
    ``.ci/run`` started, or a throwaway cluster of this session; skips, saying why, where
    neither is possible."""
    given = os.environ.get(postgres_cluster.ENVIRONMENT)
    if given:
        yield given
        return
    try:
        psycopg = importlib.import_module("psycopg")
    except ImportError:
        pytest.skip("psycopg is not installed (the 'postgres' extra)")
    del psycopg
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_cluster.cluster())
        except RuntimeError as exc:
            pytest.skip(f"no PostgreSQL server could be started: {exc}")
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A new, empty database of its own for one test."""
    return postgres_cluster.fresh_database(postgres_server)


# Figures a test records with ``record_property(FIGURES, ...)`` (the worker-kill test's counts)
# are printed at the end of the run: a test's own output is lost under xdist, its properties
# reach the controller.
FIGURES = "figures"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for name, value in getattr(report, "user_properties", ()):
                if name == FIGURES and report.when == "call":
                    terminalreporter.write_line(f"{report.nodeid} ({outcome}): {value}")
