"""``replay [--network-id ID] [--require-checked] FILE...``: replay recorded sessions against
the channel."""

from __future__ import annotations

import argparse

from ..errors import LocalProtocolError
from ..replay import FileReport, ReplayReport, replay_files
from ..simulator.simulator import DEFAULT_NETWORK_ID
from ..transcript import parse_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        metavar="FILE",
        nargs="+",
        help="recorded sessions; consecutive files continue one session (preamble first)",
    )
    parser.add_argument(
        "--network-id",
        metavar="ID",
        default=DEFAULT_NETWORK_ID,
        help=(
            "the network id the recorded signatures verify under (default: %(default)s, the "
            "simulator's and the demo's; a real node's: ae_mainnet, ae_uat, its own)"
        ),
    )
    parser.add_argument(
        "--require-checked",
        action="store_true",
        help="fail a file in which any check could not be made (NOT_CHECKED)",
    )


def run(args: argparse.Namespace) -> int:
    for path in args.files:
        _check_is_a_session(path)
    report = replay_files(args.files, args.network_id)
    failed = report.mismatched > 0
    for file in report.files:
        print(f"{file.path}: {_counts(file)}")
        for mismatch in file.mismatches:
            print(f"  {mismatch}")
        if file.not_checked:
            names = ", ".join(f"{name} {count}" for name, count in sorted(file.unchecked.items()))
            print(f"  not checked: {names}")
            if args.require_checked:
                print("  FAILED: --require-checked, and some checks could not be made")
                failed = True
    print(_counts(report))
    return 1 if failed else 0


def _check_is_a_session(path: str) -> None:
    """A file that holds no recorded step is not a transcript: replaying it would pass."""
    try:
        entries = parse_file(path)
    except UnicodeDecodeError:
        raise LocalProtocolError(f"{path}: not a text file, so not a recorded session") from None
    if not entries:
        raise LocalProtocolError(
            f"{path}: no recorded session in it (no '#### initiator ...' or "
            "'#### responder ...' steps)"
        )


def _counts(report: FileReport | ReplayReport) -> str:
    return (
        f"{report.frames} frames, {report.matched} matched, {report.mismatched} mismatched, "
        f"{report.not_checked} not checked"
    )
