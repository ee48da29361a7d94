"""The built documentation site loads nothing from outside itself, and draws its diagram.

A reader offline (or behind a strict firewall) must see the same site: no page may load a
script, a style sheet, an image, a frame or a font from another host. Links a reader follows
(``<a href>``) are not loads and may point anywhere.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Final

import pytest

from sansio_channels.cli.lifecycle_svg import find_frame, layout, render_svg
from sansio_channels.state import TRANSITIONS, ChannelState

ROOT: Final = Path(__file__).parent.parent
# The attributes through which a page loads something, by tag.
LOADS: Final = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "image": ("href", "xlink:href"),  # SVG
    "use": ("href", "xlink:href"),  # SVG
}
# Outside the site: a scheme, or a protocol-relative //host.
EXTERNAL: Final = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.I)
CSS_EXTERNAL: Final = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])(?:https?:)?//", re.I)


class Loads(HTMLParser):
    """Every URL a page loads, and whether it asks the theme for Mermaid."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.mermaid = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = LOADS.get(tag, ())
        for name, value in attrs:
            if value is None:
                continue
            if name in wanted:
                # srcset holds "url size, url size".
                urls = [part.split()[0] for part in value.split(",") if part.strip()]
                self.urls.extend(urls if name == "srcset" else [value])
            if name == "class" and "mermaid" in value.split():
                self.mermaid = True
            if name == "style" and CSS_EXTERNAL.search(value):
                self.urls.append(value)


def external_loads(site: Path) -> dict[str, list[str]]:
    """Per page (or style sheet), what it would load from outside the site."""
    found: dict[str, list[str]] = {}
    for page in sorted(site.rglob("*.html")):
        parser = Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        outside = [url for url in parser.urls if EXTERNAL.match(url) or CSS_EXTERNAL.search(url)]
        # The theme fetches Mermaid from a CDN for any element of class "mermaid".
        outside += ["a .mermaid element (the theme would load Mermaid)"] if parser.mermaid else []
        if outside:
            found[page.relative_to(site).as_posix()] = outside
    for sheet in sorted(site.rglob("*.css")):
        if CSS_EXTERNAL.search(sheet.read_text(encoding="utf-8")):
            found[sheet.relative_to(site).as_posix()] = ["a url() or @import from elsewhere"]
    return found


def build_site(out: Path) -> None:
    build = pytest.importorskip(
        "mkdocs.commands.build", reason="the site needs the docs extra: pip install -e '.[docs]'"
    )
    config_module = pytest.importorskip("mkdocs.config")
    old = Path.cwd()
    os.chdir(ROOT)  # mkdocs.yml names its paths from the project's root
    try:
        build.build(config_module.load_config(str(ROOT / "mkdocs.yml"), site_dir=str(out)))
    finally:
        os.chdir(old)


# One test builds the site once (a build takes seconds) and checks all that needs it.
def test_the_built_site_loads_nothing_from_outside_and_draws_the_diagram(tmp_path: Path) -> None:
    build_site(tmp_path)
    pages = list(tmp_path.rglob("*.html"))
    assert len(pages) > 20  # the whole site was built
    assert external_loads(tmp_path) == {}
    diagram = (tmp_path / "state-diagram" / "index.html").read_text(encoding="utf-8")
    assert render_svg() in diagram
    assert "stateDiagram-v2" not in diagram  # the Mermaid source is not what the reader sees


def test_the_check_finds_what_a_page_would_load(tmp_path: Path) -> None:
    """The check is no formality: each kind of outside load is found, links are not."""
    (tmp_path / "a.html").write_text(
        '<a href="https://example.org/">a link</a><img src="img/local.png">'
        '<script src="https://cdn.example.org/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/f.css">'
        '<img srcset="local.png 1x, https://example.org/b.png 2x">'
        '<div style="background: url(https://example.org/c.png)"></div>'
        '<pre class="mermaid">graph</pre>',
        encoding="utf-8",
    )
    (tmp_path / "b.css").write_text("@import 'https://example.org/d.css';", encoding="utf-8")
    found = external_loads(tmp_path)
    assert found["a.html"][:4] == [
        "https://cdn.example.org/x.js",
        "//fonts.example.org/f.css",
        "https://example.org/b.png",
        "background: url(https://example.org/c.png)",
    ]
    assert len(found["a.html"]) == 5  # and the mermaid element
    assert "b.css" in found


def test_the_drawing_has_every_transition() -> None:
    """Each row of the table is an arrow, a line in a state's box, or a rule of the frame."""
    drawing = layout()
    frame = find_frame()
    svg = render_svg()
    for (state, event), target in TRANSITIONS.items():
        if frame.covers(state, event):
            continue
        if state is target:
            assert event.value in drawing.loops[state]
            assert f">↻ {event.value}</text>" in svg
        else:
            assert event.value in drawing.edges[(state, target)]
            assert f">{event.value}</text>" in svg
    for line in frame.heading():
        assert line in svg
    assert set(drawing.boxes) == set(ChannelState)
    for state in ChannelState:
        assert f">{state.value}</text>" in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_no_two_boxes_overlap_and_all_are_inside() -> None:
    drawing = layout()
    boxes = list(drawing.boxes.values())
    for index, box in enumerate(boxes):
        assert box.x - box.width / 2 >= 0
        assert box.y >= 0
        assert box.x + box.width / 2 <= drawing.width
        assert box.y + box.height <= drawing.height
        for other in boxes[index + 1 :]:
            apart_x = abs(box.x - other.x) * 2 >= box.width + other.width
            apart_y = box.y + box.height <= other.y or other.y + other.height <= box.y
            assert apart_x or apart_y, (box, other)
