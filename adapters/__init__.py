"""Bindings of the sans-IO core to real transports, installed as ``sansio_channels.adapters``.

- :mod:`sansio_channels.adapters.asyncio`: asyncio, on ``websockets``;
- :mod:`sansio_channels.adapters.trio`: trio, on ``trio-websocket``;
- :mod:`sansio_channels.adapters.sync`: a blocking socket driven with ``wsproto``, no threads.

All three have the same shape (``open_channel``, ``resume_channel``, ``ChannelClient``) and
share the settings, errors and events below, which import no transport library.
"""

from ._common import (
    DEFAULT_SETTINGS,
    AdapterError,
    Answer,
    AnswerNeeded,
    Backoff,
    ClosedWithoutMessage,
    ConnectFailed,
    ConnectionLost,
    Disconnected,
    Done,
    FellBehind,
    NodeRefused,
    Outcome,
    Reconnected,
    Settings,
)

__all__ = [
    "DEFAULT_SETTINGS",
    "AdapterError",
    "Answer",
    "AnswerNeeded",
    "Backoff",
    "ClosedWithoutMessage",
    "ConnectFailed",
    "ConnectionLost",
    "Disconnected",
    "Done",
    "FellBehind",
    "NodeRefused",
    "Outcome",
    "Reconnected",
    "Settings",
]
