"""Shared test settings: a fixed hypothesis profile for CI, a faster one by default; the
PostgreSQL server the store tests use."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from . import postgres_cluster

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


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
