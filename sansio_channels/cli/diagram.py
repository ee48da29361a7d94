"""``diagram``: the channel's life-cycle diagram (Mermaid), drawn from the transition table."""

from __future__ import annotations

import argparse
from collections import defaultdict

from ..state import TRANSITIONS, ChannelState

HEADER = """# The channel's life cycle

Drawn by `python -m sansio_channels diagram` from `sansio_channels.state.TRANSITIONS`, the one
table every life-cycle rule lives in (a test keeps this page equal to its output). A report
that has no arrow from the current state does not move it. On the documentation site the
drawing is made from the same table when the site is built (`sansio_channels.cli.lifecycle_svg`),
so the page needs no script to show it.

"""


def render() -> str:
    """The diagram page: one arrow per (state, next state), labelled with its inputs."""
    arrows: dict[tuple[ChannelState, ChannelState], list[str]] = defaultdict(list)
    for (state, event), target in TRANSITIONS.items():
        arrows[(state, target)].append(event.value)
    lines = ["```mermaid", "stateDiagram-v2", "    [*] --> new"]
    for (state, target), labels in arrows.items():
        lines.append(f"    {state.value} --> {target.value}: {', '.join(labels)}")
    lines.append("```")
    return HEADER + "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", metavar="FILE", help="write the page here (default: stdout)")


def run(args: argparse.Namespace) -> int:
    page = render()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(page)
    else:
        print(page, end="")
    return 0
