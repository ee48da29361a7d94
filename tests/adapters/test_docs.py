"""The examples in docs/adapters.md run, each against the scripted node."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest
import trio

from sansio_channels.options import Role
from sansio_channels.record import ChannelRecord
from tests.scripted_node import INITIATOR, NETWORK, RESPONDER, open_options

from .peer import Peer

PAGE: Final = Path(__file__).parent.parent.parent / "docs" / "adapters.md"
EXAMPLE: Final = re.compile(r"```python\n# example: (\w+)\n(.*?)```", re.DOTALL)
RUNNERS: Final[dict[str, Callable[[Any, tuple[Any, ...]], Any]]] = {
    "asyncio": lambda pay, args: asyncio.run(pay(*args)),
    "trio": lambda pay, args: trio.run(pay, *args),
    "sync": lambda pay, args: pay(*args),
}


def examples() -> dict[str, str]:
    return dict(EXAMPLE.findall(PAGE.read_text(encoding="utf-8")))


def test_the_page_has_an_example_per_adapter() -> None:
    assert sorted(examples()) == sorted(RUNNERS)


@pytest.mark.parametrize("adapter", sorted(RUNNERS))
def test_the_example_pays_the_peer(adapter: str, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(examples()[adapter], f"docs/adapters.md ({adapter})", "exec"), namespace)
    with Peer() as peer:
        args = (peer.base_url, open_options(Role.INITIATOR), NETWORK, INITIATOR, RESPONDER.address)
        record = RUNNERS[adapter](namespace["pay"], args)
    assert isinstance(record, ChannelRecord)
    assert record.latest_round == 2
    assert "OperationAccepted" in capsys.readouterr().out
    assert peer.close_codes == [1000]
