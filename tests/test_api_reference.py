"""The API reference holds every public verb of the adapters' clients, and their names.

mkdocstrings leaves out what has no docstring, so every public member must have one; the page
must ask for the inherited verbs (they live in the clients' common base).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import sansio_channels.adapters as adapters
from sansio_channels.adapters import asyncio as aio
from sansio_channels.adapters import sync, trio

API_PAGE = Path(__file__).parent.parent / "docs" / "api.md"
VERBS = {
    "transfer", "message", "get_balances", "deposit", "withdraw", "shutdown", "leave",
    "close_solo", "slash", "settle", "snapshot_solo", "next_event", "start", "submit", "sign",
    "respond", "abort", "close", "open", "resume", "resume_all", "record",
}  # fmt: skip


def directives() -> dict[str, str]:
    """Each ``::: name`` of the page, with the options block under it."""
    text = API_PAGE.read_text(encoding="utf-8")
    found = re.findall(r"^::: (\S+)\n((?:    .*\n)*)", text, re.M)
    return dict(found)


@pytest.mark.parametrize("module", [aio, trio, sync], ids=lambda m: m.__name__)
def test_every_public_verb_is_documented(module: object) -> None:
    client = module.ChannelClient  # type: ignore[attr-defined]
    public = {
        name
        for name, member in inspect.getmembers(client)
        if not name.startswith("_") and callable(member)
    }
    assert public >= VERBS
    undocumented = sorted(name for name in public if not inspect.getdoc(getattr(client, name)))
    assert undocumented == []
    page = directives()
    name = module.__name__  # type: ignore[attr-defined]
    assert "inherited_members: true" in page[f"{name}.ChannelClient"]
    assert f"{name}.open_channel" in page
    assert f"{name}.resume_channel" in page


def test_the_adapters_shared_names_are_on_the_page() -> None:
    page = directives()
    missing = [name for name in adapters.__all__ if f"sansio_channels.adapters.{name}" not in page]
    assert missing == []
