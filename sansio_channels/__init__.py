"""sansio-channels: a sans-IO client for aeternity state channels.

The names most applications need are here; everything else lives in its own module
(``sansio_channels.commands``, ``sansio_channels.events``, ``sansio_channels.txs``, ...).
"""

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
