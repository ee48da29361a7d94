"""Every code block in docs/ and README.md is run, or says why not.

The rules a page keeps (docs/about.md tells writers the same):

* ```` ```python ```` blocks run, in page order, in one namespace per page (a page builds up
  like a session). A block may use top-level ``await``; it then runs under :func:`asyncio.run`.
* A ```` ```text ```` block right after a line ``<!-- output -->`` is the output the block
  above it prints, and must equal it (the output of a shell block, or of a python block).
* Shell blocks (```` ```sh ````) are commands. Each one is either run here (the table
  :data:`SHELL`) or listed in :data:`NOT_RUN` with the reason it is not; a shell block in
  neither table fails.
* ```` ```text ````, ```` ```mermaid ```` and ```` ```json ```` blocks are illustrations or
  output; nothing else may be used, and a fence without a language fails.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import os
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import pytest

from sansio_channels.cli import main

ROOT: Final = Path(__file__).parent.parent
PAGES: Final = [*sorted(ROOT.joinpath("docs").rglob("*.md")), ROOT / "README.md"]
PYTHON: Final = frozenset({"python"})
SHELL_LANGS: Final = frozenset({"sh"})
ILLUSTRATION: Final = frozenset({"text", "mermaid", "json"})
OUTPUT_MARK: Final = "<!-- output -->"
# What the site's content area shows of a code block without scrolling, in characters.
TEXT_WIDTH: Final = 85
# A word no wrap can break (an API string such as a signature, a path): longer than this, it
# may run past TEXT_WIDTH, as long as the rest of its line fits.
UNBREAKABLE: Final = 30
FENCE: Final = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)

# Blocks that are not run here, each with the reason. The key is the page and the block's
# first line.
NOT_RUN: Final[dict[tuple[str, str], str]] = {
    (
        "README.md",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest",
    ): "it is this test suite; .ci/run runs it verbatim (tests/test_readme.py checks that)",
    (
        "docs/quickstart.md",
        "python3 -m venv .venv",
    ): "it makes a virtual environment and installs packages from the index, which a test must "
    "not do; the demo command after it runs here",
    (
        "docs/adapters.md",
        "from sansio_channels.adapters.asyncio import resume_channel",
    ): "a fragment whose `record` and `keys` are the reader's own; tests/adapters/drivers.py "
    "drives resume_channel over each adapter",
}


def _cli(line: str) -> str:
    """Run ``python -m sansio_channels ...`` in this process; what it prints."""
    words = shlex.split(line)
    start = words.index("sansio_channels") + 1
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(words[start:])
    assert status == 0, f"{line!r} exited {status}:\n{out.getvalue()}"
    return out.getvalue()


def _readme_demo(block: str) -> str:
    # The venv and install steps are the reader's; the command they lead to runs here.
    return _cli(block.split("&&")[-1])


# Shell blocks run here, by the page and the block's first line.
SHELL: Final[dict[tuple[str, str], Callable[[str], str]]] = {
    (
        "README.md",
        "python3 -m venv .venv && .venv/bin/pip install '.[asyncio]' && "
        ".venv/bin/python -m sansio_channels demo",
    ): _readme_demo,
}


@attrs.frozen
class Block:
    page: str
    line: int
    lang: str
    body: str
    output_of_previous: bool  # preceded by <!-- output -->

    @property
    def first_line(self) -> str:
        return self.body.splitlines()[0] if self.body else ""

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        found.append(
            Block(
                page=_name(page),
                line=text.count("\n", 0, match.start()) + 1,
                lang=match["lang"],
                body=match["body"],
                output_of_previous=before == OUTPUT_MARK,
            )
        )
    return found


def _is_cli(block: Block) -> bool:
    return all(
        line.startswith("python -m sansio_channels ") for line in block.body.splitlines() if line
    )


def run_shell(block: Block) -> str:
    """Run a shell block from the repository's root, as a reader with a checkout would."""
    runner = SHELL.get((block.page, block.first_line))
    with in_directory(ROOT):
        if runner is not None:
            return runner(block.body.strip())
        assert _is_cli(block), f"{block.where}: a shell block neither run nor in NOT_RUN"
        return "".join(_cli(line) for line in block.body.splitlines() if line)


def run_python(block: Block, namespace: dict[str, Any]) -> str:
    code = compile(
        block.body,
        f"{block.where}",
        "exec",
        flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        dont_inherit=True,
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if code.co_flags & inspect.CO_COROUTINE:
            asyncio.run(eval(code, namespace))
        else:
            exec(code, namespace)
    return out.getvalue()


@contextlib.contextmanager
def in_directory(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_page(page: Path) -> int:
    """Run every block of ``page``; the number of blocks run."""
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    ran = 0
    printed: str | None = None
    for block in blocks(page):
        if block.output_of_previous:
            assert block.lang == "text", f"{block.where}: output must be a text block"
            assert printed is not None, f"{block.where}: output of no block that ran"
            assert printed.rstrip("\n") == block.body.rstrip("\n"), (
                f"{block.where}: the page shows\n{block.body}\nbut the block prints\n{printed}"
            )
            continue
        if (block.page, block.first_line) in NOT_RUN:
            printed = None
            continue
        if block.lang in PYTHON:
            printed = run_python(block, namespace)
            ran += 1
        elif block.lang in SHELL_LANGS:
            printed = run_shell(block)
            ran += 1
        elif block.lang in ILLUSTRATION:
            printed = None
        else:
            pytest.fail(
                f"{block.where}: a block of type {block.lang or 'none'}: use python, sh "
                f"(run or listed in NOT_RUN), or text/mermaid/json for illustrations"
            )
    return ran


def test_the_pages_have_blocks() -> None:
    """The extraction finds what the pages hold (a broken pattern would find nothing)."""
    counted = {page.name: len(blocks(page)) for page in PAGES}
    assert counted["README.md"] >= 3
    assert counted["quickstart.md"] >= 3
    assert sum(counted.values()) >= 40


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_block_runs(page: Path, tmp_path: Path) -> None:
    # The pages run in a scratch directory, so a file an example writes goes nowhere.
    with in_directory(tmp_path):
        run_page(page)


def too_wide(body: str) -> list[str]:
    """The lines of an output or illustration block a reader would have to scroll to see."""
    wide = []
    for line in body.splitlines():
        rest = " ".join(word for word in line.split(" ") if len(word) <= UNBREAKABLE)
        if len(line) > TEXT_WIDTH and len(rest) > TEXT_WIDTH:
            wide.append(line)
    return wide


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_text_blocks_fit_the_content_area(page: Path) -> None:
    """Output and illustrations are read, not scrolled: no line wider than the content area."""
    wide = {block.where: too_wide(block.body) for block in blocks(page) if block.lang == "text"}
    assert not {where: lines for where, lines in wide.items() if lines}, (
        f"wider than {TEXT_WIDTH} columns"
    )


def test_the_width_check_tells_a_long_line_from_a_long_word() -> None:
    signature = "sg_" + "x" * 90
    assert too_wide("a " * 43) == ["a " * 43]
    assert too_wide(f'  "signature": "{signature}",') == []
    assert too_wide("word " * 17) == []


def test_not_run_blocks_exist_and_say_why() -> None:
    """Every entry of NOT_RUN names a block that is there, with a reason."""
    present = {(block.page, block.first_line) for page in PAGES for block in blocks(page)}
    for key, reason in NOT_RUN.items():
        assert key in present, f"NOT_RUN names a block that is gone: {key}"
        assert len(reason) > 20, key
    for key in SHELL:
        assert key in present, f"SHELL names a block that is gone: {key}"


def test_a_failing_block_fails(tmp_path: Path) -> None:
    """The runner is not a formality: a wrong output, an exception, an untyped fence fail."""
    bad = {
        "wrong output": '```python\nprint("a")\n```\n\n<!-- output -->\n```text\nb\n```\n',
        "exception": "```python\nassert 1 == 2\n```\n",
        "untyped": "```\nls\n```\n",
        "shell not listed": "```sh\nrm -rf /tmp/nothing-here\n```\n",
    }
    for name, text in bad.items():
        page = tmp_path / f"{name.replace(' ', '-')}.md"
        page.write_text(text, encoding="utf-8")
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            run_page(page)
