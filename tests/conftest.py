"""Shared test settings: the hypothesis profiles of tests/profile.py."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

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
