"""The core does no I/O: none of its modules imports a transport, a clock or threads."""

from __future__ import annotations

import ast
from pathlib import Path

import sansio_channels

FORBIDDEN = {"socket", "asyncio", "trio", "threading", "select", "time", "selectors"}
CORE = Path(sansio_channels.__file__).parent
# The command line is an application around the core, not part of it; the simulator's
# WebSocket server is the one module of the simulator that does I/O.
OUTSIDE_CORE = {"cli", "adapters"}
IO_MODULES = {"simulator/server.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def core_modules() -> list[Path]:
    return [
        path
        for path in CORE.rglob("*.py")
        if not OUTSIDE_CORE & set(path.relative_to(CORE).parts)
        and path.relative_to(CORE).as_posix() not in IO_MODULES
    ]


def test_core_modules_import_no_io() -> None:
    modules = core_modules()
    assert len(modules) >= 6
    offenders = {
        str(path.relative_to(CORE)): sorted(imported_modules(path) & FORBIDDEN)
        for path in modules
        if imported_modules(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_check_sees_imports() -> None:
    sample = CORE.parent / "tests" / "test_layering.py"
    assert "ast" in imported_modules(sample)
