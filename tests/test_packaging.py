"""What the package declares agrees with what it imports, its version and its license."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

import sansio_channels

from .test_layering import imported_modules

PACKAGE = Path(sansio_channels.__file__).parent
ROOT = PACKAGE.parent
# The distribution a requirement names -> the module it installs.
MODULE_OF = {"attrs": "attrs", "pynacl": "nacl", "base58": "base58"}
# What stands behind an extra: the transports (the adapters and the simulator's server use
# them) and the PostgreSQL store (psycopg, imported only when that store is used).
BEHIND_EXTRAS = {"adapters", "simulator/server.py", "postgres.py"}


def runtime_requirements() -> set[str]:
    """The distributions a plain install brings (the requirements without an extra marker)."""
    requires = metadata.requires("sansio-channels") or []
    names = {
        re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower()
        for req in requires
        if "extra ==" not in req
    }
    return names


def third_party_imports() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in BEHIND_EXTRAS or relative.as_posix() in BEHIND_EXTRAS:
            continue
        found |= imported_modules(path)
    return found - set(sys.stdlib_module_names) - {"sansio_channels"}


def test_a_plain_install_brings_only_what_the_package_imports() -> None:
    assert runtime_requirements() == {"attrs", "pynacl", "base58"}
    assert third_party_imports() == {MODULE_OF[name] for name in runtime_requirements()}


def test_rlp_is_only_the_tests_reference() -> None:
    assert "rlp" not in third_party_imports()
    requires = metadata.requires("sansio-channels") or []
    test_requires = [r for r in requires if 'extra == "test"' in r]
    assert any(r.startswith("rlp") for r in test_requires)


def test_the_version_has_one_source() -> None:
    assert sansio_channels.__version__ == metadata.version("sansio-channels")
    assert re.fullmatch(r"\d+\.\d+\.\d+", sansio_channels.__version__)


def test_the_license_file_matches_the_declared_license() -> None:
    assert metadata.metadata("sansio-channels")["License-Expression"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def test_the_changelog_names_the_current_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {sansio_channels.__version__}" in changelog


def test_every_package_sits_at_its_dotted_path() -> None:
    """setuptools makes an editable install a plain path entry (which type checkers and IDEs
    follow) only for this simple layout: one root for every package, and each package at its
    dotted path under it. sansio_channels/adapters is a link to the top-level adapters/."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"": "."}
    for package in setuptools["packages"]:
        init = ROOT.joinpath(*package.split("."), "__init__.py")
        assert init.is_file(), package
    link = ROOT / "sansio_channels" / "adapters"
    assert link.is_symlink()
    assert link.resolve() == (ROOT / "adapters").resolve()
