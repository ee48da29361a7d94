"""MkDocs hooks for the site (mkdocs.yml ``hooks:``).

The docstrings use Sphinx's roles (``:class:`Foo```, ``:meth:`~mod.Foo.bar```), which
mkdocstrings renders as the role's name followed by the code. Keep the code, drop the role and
a leading ``~`` (Sphinx's "show only the last name").
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|exc|obj):<code>(~?)([^<]*)</code>")


def _short(match: re.Match[str]) -> str:
    tilde, name = match.groups()
    return f"<code>{name.rsplit('.', 1)[-1] if tilde else name}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_short, html)
