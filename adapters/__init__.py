"""Bindings of the sans-IO core to real transports, installed as ``sansio_channels.adapters``.

The asyncio (websockets), trio (trio-websocket) and blocking-socket (wsproto) adapters are
built on top of the channel state machine; none is here yet.
"""
