"""MkDocs hooks for the site (mkdocs.yml ``hooks:``).

The life-cycle page's Mermaid block (kept in the Markdown file, which the repository host
draws) becomes an SVG drawn here at build time from the same table, so that the site loads no
script from elsewhere to draw it and reads the same offline.

The docstrings use Sphinx's roles (``:class:`Foo```, ``:meth:`~mod.Foo.bar```), which
mkdocstrings renders as the role's name followed by the code. Keep the code, drop the role and
a leading ``~`` (Sphinx's "show only the last name").
"""

from __future__ import annotations

import re
from typing import Any

from sansio_channels.cli.lifecycle_svg import render_svg

_MERMAID = re.compile(r"^```mermaid\n.*?^```[ \t]*$", re.M | re.S)
_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj):<code>(~?)([^<]*)</code>")


def _short(match: re.Match[str]) -> str:
    tilde, name = match.groups()
    return f"<code>{name.rsplit('.', 1)[-1] if tilde else name}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_short, html)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if "```mermaid" not in markdown:
        return markdown
    # An HTML block with no blank line in it passes through Markdown as it is.
    drawing = f'<div class="lifecycle-diagram">\n{render_svg()}</div>'
    return _MERMAID.sub(lambda _: drawing, markdown)
