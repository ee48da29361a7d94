"""sansio-channels: a sans-IO client for aeternity state channels.

The names most applications need are here; everything else lives in its own module
(``sansio_channels.commands``, ``sansio_channels.events``, ``sansio_channels.txs``, ...).
"""

import logging

from .channel import Channel
from .checks import Check, CheckReport, Outcome
from .crypto import KeyPair, SignatureForm, Signer
from .errors import (
    ChannelError,
    DecodingError,
    LocalProtocolError,
    RemoteProtocolError,
    SignatureError,
)
from .options import OpenOptions, ReestablishOptions, Role, parse_connect_url
from .policy import AskPolicy, Decision, DefaultPolicy, Policy
from .record import ChannelRecord
from .state import ChannelState

# The release: the packaging (pyproject.toml) and ``--version`` read it here.
__version__ = "0.1.0"

# A library leaves output to the application: without a handler of its own configured, the
# records of the loggers under "sansio_channels" go nowhere (docs/logging.md).
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AskPolicy",
    "Channel",
    "ChannelError",
    "ChannelRecord",
    "ChannelState",
    "Check",
    "CheckReport",
    "Decision",
    "DecodingError",
    "DefaultPolicy",
    "KeyPair",
    "LocalProtocolError",
    "OpenOptions",
    "Outcome",
    "Policy",
    "ReestablishOptions",
    "RemoteProtocolError",
    "Role",
    "SignatureError",
    "SignatureForm",
    "Signer",
    "parse_connect_url",
]
