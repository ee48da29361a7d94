"""A node for tests: the node side of the channel WebSocket API, sans-IO, with a fake chain.

:class:`Simulator` runs both participants' node FSMs, the link between them and a chain;
:mod:`.harness` wires two :class:`~sansio_channels.channel.Channel` s to it in memory;
``sansio_channels.simulator.server`` puts it behind a loopback WebSocket server.
"""

from __future__ import annotations

from .chain import ChainRejected, FakeChain
from .simulator import Connection, Simulator

__all__ = ["ChainRejected", "Connection", "FakeChain", "Simulator"]
