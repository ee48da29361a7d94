"""The ``python -m sansio_channels`` command line: one module per subcommand.

Each subcommand module has ``add_arguments(parser)`` and ``run(args) -> int``. Bad input, on
the line or in a file it names, is reported as one ``error:`` line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import NoReturn

from .. import __version__
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
LOG_LEVELS = ("debug", "info", "warning", "error")
# The logger's name in every line: which part of the library speaks.
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default after its help, when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and default not in (None, False, [], argparse.SUPPRESS)
            and "(default" not in text
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """An argument error is one ``error:`` line, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m sansio_channels",
        description="Tools for aeternity state channels.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="warning",
        help="show the library's log records from this level on, on stderr",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f"{__name__}.{module_name}")
        command = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=_HelpFormatter
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with _log_to_stderr(args.log_level):
        try:
            status: int = args.run(args)
        except ChannelError as exc:
            return _error(str(exc))
        except OSError as exc:  # a file named on the line: missing, unreadable, a directory
            return _error(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
    return status


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return USAGE_ERROR


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record to ``sys.stderr`` as it is then (a caller may have replaced it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stderr)
        super().emit(record)


@contextlib.contextmanager
def _log_to_stderr(level: str) -> Iterator[None]:
    """The library's records (loggers under ``sansio_channels``) from ``level`` on, on stderr,
    for the length of one command; the logger is left as it was found."""
    logger = logging.getLogger("sansio_channels")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    previous = logger.level
    logger.setLevel(level.upper())
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
