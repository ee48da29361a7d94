"""The life-cycle diagram as a self-contained SVG, laid out here from the transition table.

The documentation site shows this drawing instead of a Mermaid block, so that no page needs a
script from elsewhere to draw it. The layout is plain, and derived from the table alone:

* the states that every input of some rule leaves where they are (``fsm_up (same fsm id)``:
  the live FSM) stand in a frame; the rules that hold for all of them are written once, in
  the frame's heading, instead of as an arrow from each;
* states stand in rows by their distance from ``new`` along the table's arrows; one outside the
  frame but in a row inside it stands to the right of the frame;
* within a row, a state stands near the states it has arrows with (crossings are fewer);
* an input that leaves a state where it is is written inside the state's box, after ``↻``;
* every other arrow is a curve bent to its left, so the two arrows between a pair of states do
  not overlap; its inputs are written at its middle, one per line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Final
from xml.sax.saxutils import escape

import attrs

from ..state import TRANSITIONS, ChannelState, Input

FONT: Final = 13  # px, monospace: a character is about 0.6 em wide
CHAR: Final = FONT * 0.6
LINE: Final = FONT + 5
PAD: Final = 10  # inside a box or the frame
ROW_GAP: Final = 110  # between rows of boxes, where the arrows and their labels go
COLUMN_GAP: Final = 70
MARGIN: Final = 20
BEND: Final = 0.15  # how far an arrow bows out, as a share of its length
START: Final = ChannelState.NEW

Link = tuple[ChannelState, ChannelState]


def arrows() -> dict[Link, list[str]]:
    """One arrow per (state, next state), with the inputs that take it, in table order."""
    found: dict[Link, list[str]] = defaultdict(list)
    for (state, event), target in TRANSITIONS.items():
        found[(state, target)].append(event.value)
    return dict(found)


@attrs.frozen
class Rect:
    """A box (or the frame): centre ``x``, top ``y``."""

    x: float
    y: float
    width: float
    height: float

    @property
    def middle(self) -> tuple[float, float]:
        return self.x, self.y + self.height / 2

    def edge_towards(self, x: float, y: float) -> tuple[float, float]:
        """Where the line from the centre towards (x, y) leaves the rectangle."""
        cx, cy = self.middle
        dx, dy = x - cx, y - cy
        if dx == 0 and dy == 0:
            return cx, cy
        scale = min(
            (self.width / 2) / abs(dx) if dx else float("inf"),
            (self.height / 2) / abs(dy) if dy else float("inf"),
        )
        return cx + dx * scale, cy + dy * scale


@attrs.frozen
class Frame:
    """The states that share rules, and those rules: ``(input, target)``, None for "stays"."""

    states: frozenset[ChannelState]
    rules: tuple[tuple[Input, ChannelState | None], ...]

    def covers(self, state: ChannelState, event: Input) -> bool:
        return state in self.states and any(rule == event for rule, _ in self.rules)

    def heading(self) -> list[str]:
        lines = ["any of these states:"]
        for event, target in self.rules:
            what = f"↻ {event.value}" if target is None else f"{event.value} → {target.value}"
            lines.append(what)
        return lines


def find_frame() -> Frame:
    """The largest set of states one input leaves where they are, and the rules they share."""
    staying: dict[Input, set[ChannelState]] = defaultdict(set)
    for (state, event), target in TRANSITIONS.items():
        if state is target:
            staying[event].add(state)
    states: frozenset[ChannelState] = frozenset()
    for found in staying.values():
        if len(found) > len(states):
            states = frozenset(found)
    if len(states) < 3:
        return Frame(frozenset(), ())
    rules: list[tuple[Input, ChannelState | None]] = []
    for event in Input:
        targets = {TRANSITIONS.get((state, event)) for state in states}
        if all(TRANSITIONS.get((state, event)) is state for state in states):
            rules.append((event, None))
        elif len(targets) == 1 and None not in targets:
            rules.append((event, targets.pop()))
    return Frame(states, tuple(rules))


def _box_size(state: ChannelState, loops: Sequence[str]) -> tuple[float, float]:
    longest = max([len(state.value)] + [len(f"↻ {loop}") for loop in loops])
    return longest * CHAR + 2 * PAD, (1 + len(loops)) * LINE + 2 * PAD - 5


def _depths(links: Iterable[Link]) -> dict[ChannelState, int]:
    """Each state's distance from the start along the arrows; unreached ones come last."""
    following: dict[ChannelState, list[ChannelState]] = defaultdict(list)
    for state, target in links:
        following[state].append(target)
    depth = {START: 0}
    frontier = [START]
    while frontier:
        nearer: list[ChannelState] = []
        for state in frontier:
            for target in following[state]:
                if target not in depth:
                    depth[target] = depth[state] + 1
                    nearer.append(target)
        frontier = nearer
    last = max(depth.values()) + 1
    return {state: depth.get(state, last) for state in ChannelState}


@attrs.frozen
class Drawing:
    boxes: dict[ChannelState, Rect]
    loops: dict[ChannelState, list[str]]
    edges: dict[Link, list[str]]
    frame: Frame
    frame_rect: Rect | None
    width: float
    height: float


def layout() -> Drawing:
    frame = find_frame()
    loops: dict[ChannelState, list[str]] = defaultdict(list)
    edges: dict[Link, list[str]] = defaultdict(list)
    for (state, event), target in TRANSITIONS.items():
        if frame.covers(state, event):
            continue
        if state is target:
            loops[state].append(event.value)
        else:
            edges[(state, target)].append(event.value)
    sizes = {state: _box_size(state, loops[state]) for state in ChannelState}
    depth = _depths(link for link in arrows() if link[0] is not link[1])
    rows: dict[int, list[ChannelState]] = defaultdict(list)
    for state in ChannelState:
        rows[depth[state]].append(state)
    framed_rows = {depth[state] for state in frame.states}
    side = [s for s in ChannelState if depth[s] in framed_rows and s not in frame.states]

    def extent(row: Iterable[ChannelState]) -> float:
        """A row's width: its boxes side by side, COLUMN_GAP apart."""
        widths = [sizes[state][0] for state in row]
        return sum(widths) + COLUMN_GAP * (len(widths) - 1)

    heading = frame.heading() if frame.states else []
    inner = [extent(s for s in rows[index] if s not in side) for index in rows]
    frame_width = max([*inner, max((len(line) for line in heading), default=0) * CHAR])
    left = MARGIN + (PAD if frame.states else 0)
    side_width = max((sizes[state][0] for state in side), default=0)
    side_x = left + frame_width + PAD + COLUMN_GAP + side_width / 2
    neighbours: dict[ChannelState, list[ChannelState]] = defaultdict(list)
    for state, target in edges:
        neighbours[state].append(target)
        neighbours[target].append(state)
    x: dict[ChannelState, float] = dict.fromkeys(side, side_x)
    boxes: dict[ChannelState, Rect] = {}
    y = float(MARGIN + 30)  # room for the start marker
    frame_top = frame_bottom = 0.0
    for index in sorted(rows):
        if index in framed_rows and index - 1 not in framed_rows:
            frame_top = y - 20
            y += len(heading) * LINE + PAD
        row = [s for s in rows[index] if s not in side]
        # Near the states it has arrows with; those not placed yet count as the middle.
        middle = left + frame_width / 2

        def pull(state: ChannelState, middle: float = middle) -> float:
            near = [x.get(other, middle) for other in neighbours[state]]
            return sum(near) / len(near) if near else middle

        row.sort(key=pull)
        cursor = middle - extent(row) / 2
        for state in row:
            x[state] = cursor + sizes[state][0] / 2
            cursor += sizes[state][0] + COLUMN_GAP
        height = max(sizes[state][1] for state in rows[index])
        for state in rows[index]:
            width, own = sizes[state]
            boxes[state] = Rect(x[state], y + (height - own) / 2, width, own)
        y += height
        if index in framed_rows:
            frame_bottom = y + PAD
        y += ROW_GAP
    frame_rect = None
    if frame.states:
        frame_rect = Rect(
            left - PAD + frame_width / 2, frame_top, frame_width + 2 * PAD, frame_bottom - frame_top
        )
    width = max([box.x + box.width / 2 for box in boxes.values()] + [side_x]) + MARGIN
    if frame_rect is not None:
        width = max(width, frame_rect.x + frame_rect.width / 2 + MARGIN)
    height = y - ROW_GAP + MARGIN
    return Drawing(boxes, dict(loops), dict(edges), frame, frame_rect, width, height)


Points = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]


def _curve(start: Rect, end: Rect, bend: float = BEND) -> Points:
    """An arrow's start, control and end points: bent to its left by ``bend`` of its length."""
    (sx, sy), (ex, ey) = start.middle, end.middle
    dx, dy = ex - sx, ey - sy
    cx, cy = (sx + ex) / 2 + dy * bend, (sy + ey) / 2 - dx * bend
    return start.edge_towards(cx, cy), (cx, cy), end.edge_towards(cx, cy)


def _text(x: float, y: float, text: str, css: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{css}">{escape(text)}</text>'


def _overlaps(one: Rect, other: Rect) -> bool:
    return (
        abs(one.x - other.x) * 2 < one.width + other.width
        and one.y < other.y + other.height
        and other.y < one.y + one.height
    )


# Where along its arrow a label may sit, best first: the middle, then further out.
LABEL_AT: Final = (0.5, 0.4, 0.6, 0.32, 0.68, 0.25, 0.75)


class Labels:
    """The arrows' labels, each put where it covers no box and no label placed before it."""

    def __init__(self, taken: Iterable[Rect]) -> None:
        self.taken = list(taken)
        self.svg: list[str] = []

    def place(self, points: Sequence[tuple[float, float]], events: Sequence[str]) -> None:
        (sx, sy), (cx, cy), (ex, ey) = points
        wide = max(len(event) for event in events) * (FONT - 1) * 0.6 + 6
        high = len(events) * LINE
        spots = []
        for t in LABEL_AT:
            # A point of the quadratic curve.
            x = (1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t**2 * ex
            y = (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t**2 * ey
            spots.append(Rect(x, y - high / 2, wide, high))
        free = [spot for spot in spots if not any(_overlaps(spot, rect) for rect in self.taken)]
        spot = (free or spots)[0]
        self.taken.append(spot)
        self.svg.append(
            f'<rect class="bg" x="{spot.x - wide / 2:.1f}" y="{spot.y:.1f}" width="{wide:.1f}" '
            f'height="{high:.1f}" rx="3"/>'
        )
        self.svg.extend(
            _text(spot.x, spot.y + (index + 1) * LINE - 5, event, "label")
            for index, event in enumerate(events)
        )


def _path(points: Sequence[tuple[float, float]]) -> str:
    (sx, sy), (cx, cy), (ex, ey) = points
    return (
        f'<path class="arrow" d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" '
        'marker-end="url(#head)"/>'
    )


STYLE: Final = (
    "<style>"
    ".box{fill:#f5f5ff;stroke:#4051b5;stroke-width:1.5}"
    ".frame{fill:none;stroke:#4051b5;stroke-width:1.2;stroke-dasharray:6 4}"
    f".name{{font:bold {FONT}px monospace;fill:#1a1a1a;text-anchor:middle}}"
    f".loop{{font:{FONT - 1}px monospace;fill:#444}}"
    f".rule{{font:{FONT - 1}px monospace;fill:#4051b5}}"
    f".label{{font:{FONT - 1}px monospace;fill:#7a2e00;text-anchor:middle}}"
    ".bg{fill:#ffffff;fill-opacity:0.9}"
    ".arrow{fill:none;stroke:#555;stroke-width:1.3}"
    "</style>"
)


def render_svg() -> str:
    """The drawing, as one ``<svg>`` element with its own styles and no external reference."""
    drawing = layout()
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {drawing.width:.0f} '
        f'{drawing.height:.0f}" width="{drawing.width:.0f}" role="img" '
        'aria-labelledby="lifecycle-title" style="max-width:100%;height:auto">',
        '<title id="lifecycle-title">The channel\'s life cycle, drawn from '
        "sansio_channels.state.TRANSITIONS</title>",
        STYLE,
        '<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    first = drawing.boxes[START]
    out.append(f'<circle cx="{first.x:.1f}" cy="{first.y - 24:.1f}" r="6" fill="#1a1a1a"/>')
    out.append(
        f'<path class="arrow" d="M{first.x:.1f},{first.y - 18:.1f} V{first.y:.1f}" '
        'marker-end="url(#head)"/>'
    )
    labels = Labels(drawing.boxes.values())
    frame = drawing.frame_rect
    if frame is not None:
        left = frame.x - frame.width / 2
        out.append(
            f'<rect class="frame" x="{left:.1f}" y="{frame.y:.1f}" width="{frame.width:.1f}" '
            f'height="{frame.height:.1f}" rx="12"/>'
        )
        out.extend(
            _text(left + PAD, frame.y + PAD + (index + 1) * LINE - 5, line, "rule")
            for index, line in enumerate(drawing.frame.heading())
        )
        for event, target in drawing.frame.rules:
            if target is not None and target not in drawing.frame.states:
                # Straight out of the frame's side that faces the state.
                box = drawing.boxes[target]
                start = frame.edge_towards(*box.middle)
                end = box.edge_towards(*start)
                points = (start, ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2), end)
                out.append(_path(points))
                labels.place(points, [event.value])
    for (state, target), events in drawing.edges.items():
        points = _curve(drawing.boxes[state], drawing.boxes[target])
        out.append(_path(points))
        labels.place(points, events)
    for state, box in drawing.boxes.items():
        left = box.x - box.width / 2
        out.append(
            f'<rect class="box" x="{left:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="8"/>'
        )
        out.append(_text(box.x, box.y + PAD + FONT - 2, state.value, "name"))
        out.extend(
            _text(left + PAD, box.y + PAD + FONT - 2 + (index + 1) * LINE, f"↻ {loop}", "loop")
            for index, loop in enumerate(drawing.loops.get(state, []))
        )
    out.extend(labels.svg)  # last, so that no arrow or box is drawn over a label
    out.append("</svg>")
    return "\n".join(out) + "\n"
