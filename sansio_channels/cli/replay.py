"""``replay [--network-id ID] FILE...``: replay recorded sessions against the channel."""

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


def run(args: argparse.Namespace) -> int:
    report = replay_files(args.files, args.network_id)
    for file in report.files:
        print(f"{file.path}: {_counts(file)}")
        for mismatch in file.mismatches:
            print(f"  {mismatch}")
    print(_counts(report))
    return 0 if report.mismatched == 0 else 1


def _counts(report: FileReport | ReplayReport) -> str:
    return f"{report.frames} frames, {report.matched} matched, {report.mismatched} mismatched"
