"""The library's exception types, all under :class:`ChannelError`.

``LocalProtocolError`` is raised at the call when the library is misused;
``RemoteProtocolError`` describes something the node sent wrong;
``DecodingError`` is raised by every decoder of API strings and chain objects,
whatever was wrong with the input.
"""

from __future__ import annotations


class ChannelError(Exception):
    """Root of every exception this library raises on purpose."""


class LocalProtocolError(ChannelError):
    """The caller asked for something the protocol or the library does not allow."""


class RemoteProtocolError(ChannelError):
    """The node (or whoever is on the socket) sent something the protocol does not allow."""


class DecodingError(ChannelError, ValueError):
    """An API string or a serialized chain object could not be decoded.

    The message says what was wrong and where, for example
    ``"tx_...: checksum mismatch"`` or ``"channel_offchain_tx.round: leading zero byte"``.
    """


class SignatureError(ChannelError):
    """A signature is malformed or does not verify for the account it claims."""
