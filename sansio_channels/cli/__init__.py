"""The ``python -m sansio_channels`` command line: one module per subcommand.

Each subcommand module has ``add_arguments(parser)`` and ``run(args) -> int``. Bad input is
reported as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import ChannelError

# subcommand name -> (module under sansio_channels.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "channels": ("channels", "list, show or export the channels a store holds"),
    "contract": ("contract", "a contract's functions, call data and results, from its code"),
    "decode": ("decode", "decode a tx_ string and check its signatures"),
    "demo": ("demo", "a whole channel life against the simulator, on loopback"),
    "diagram": ("diagram", "draw the channel's life-cycle diagram from its transition table"),
    "replay": ("replay", "replay recorded node sessions against the channel"),
    "simulate": ("simulate", "run the channel simulator as a node on a loopback WebSocket"),
    "state": ("state", "rebuild the roots, balances and state hash of an ss_ state"),
}

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sansio_channels",
        description="Tools for aeternity state channels.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f"{__name__}.{module_name}")
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except ChannelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return status
