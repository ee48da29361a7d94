"""``replay [--network-id ID] [--require-checked] FILE...``: replay recorded sessions against
the channel."""

from __future__ import annotations

import argparse

from ..replay import FileReport, ReplayReport, replay_files


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
        default="ae_mainnet",
        help="the network id the recorded signatures verify under (default: ae_mainnet)",
    )
    parser.add_argument(
        "--require-checked",
        action="store_true",
        help="fail a file in which any check could not be made (NOT_CHECKED)",
    )


def run(args: argparse.Namespace) -> int:
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


def _counts(report: FileReport | ReplayReport) -> str:
    return (
        f"{report.frames} frames, {report.matched} matched, {report.mismatched} mismatched, "
        f"{report.not_checked} not checked"
    )
