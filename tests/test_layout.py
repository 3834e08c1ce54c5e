"""The test tree's own rules: it mirrors the package, and test modules share helpers only through
tests/support/ (plain modules) and conftest.py files (fixtures, which pytest finds by itself).

- Every folder under tests/ names a module or subpackage of driftwarden (tests/collector/ for
  driftwarden.collector, tests/alerts/receivers/ for driftwarden.alerts.receivers, tests/config/ for
  driftwarden/config.py), or is one of `EXTRAS`. Each has an __init__.py, so two folders may hold
  test modules of the same name.
- No Python file under tests/ imports a test module (`test_*`) or a conftest.
- Test modules live in those folders; this one is the only test module at the top.
- No doctest in the package imports from tests/: the package's examples run without the test tree.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path

import driftwarden

TESTS = Path(__file__).resolve().parent
PACKAGE = Path(driftwarden.__file__).resolve().parent
EXTRAS = {
    "support": "helpers shared by the tests (no tests of their own)",
    "daemon": "the daemon end to end: the demo, restarts, the soak, GPU telemetry in the running daemon",
    "deploy": "deploy/ at the repository root: the Dockerfile and the Kubernetes manifests",
    "packaging": "the wheel and what it installs",
}
DOCTEST_IMPORTS_TESTS = re.compile(r"^\s*>>>\s*(from|import)\s+tests\b", re.MULTILINE)


def folders() -> Iterator[Path]:
    for path in sorted(TESTS.rglob("*")):
        if path.is_dir() and not any(part.startswith((".", "__")) for part in path.relative_to(TESTS).parts):
            yield path


def package_modules() -> Iterator[Path]:
    """Every module of the package, through the links that bring collector/, detectors/, ... into it."""
    for folder, _, files in os.walk(PACKAGE, followlinks=True):
        yield from (Path(folder) / name for name in sorted(files) if name.endswith(".py"))


def names_a_driftwarden_module(parts: tuple[str, ...]) -> bool:
    try:
        return importlib.util.find_spec(".".join(("driftwarden", *parts))) is not None
    except ModuleNotFoundError:  # a parent of it is missing
        return False


def imported_test_modules(path: Path) -> list[str]:
    """The imports in `path` that reach a test module or a conftest inside the tests package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names if alias.name.split(".")[0] == "tests"]
        elif isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "tests"):
            module = "." * node.level + (f"{node.module}." if node.module else "")
            targets = [module + alias.name for alias in node.names]
        else:
            continue
        found += [t for t in targets if any(p.startswith("test_") or p == "conftest" for p in t.split("."))]
    return found


def test_each_folder_mirrors_a_driftwarden_module_or_is_an_agreed_extra() -> None:
    strays = [
        f"tests/{'/'.join(parts)}/"
        for parts in (folder.relative_to(TESTS).parts for folder in folders())
        if parts[0] not in EXTRAS and not names_a_driftwarden_module(parts)
    ]
    assert not strays, f"{strays} name no driftwarden module or subpackage, and none of the extras: {EXTRAS}"


def test_each_folder_is_a_package_so_module_names_cannot_clash() -> None:
    assert [f.relative_to(TESTS).as_posix() for f in folders() if not (f / "__init__.py").is_file()] == []


def test_no_module_of_the_tests_imports_a_test_module_or_a_conftest() -> None:
    offenders = {
        path.relative_to(TESTS).as_posix(): found
        for path in sorted(TESTS.rglob("*.py"))
        if (found := imported_test_modules(path))
    }
    assert not offenders, f"import helpers from tests/support/ and take fixtures from conftest.py: {offenders}"


def test_test_modules_live_in_the_mirrored_folders() -> None:
    assert sorted(p.name for p in TESTS.glob("test_*.py")) == [Path(__file__).name]


def test_no_doctest_of_the_package_imports_from_the_tests() -> None:
    offenders = [
        path.relative_to(PACKAGE).as_posix()
        for path in package_modules()
        if DOCTEST_IMPORTS_TESTS.search(path.read_text())
    ]
    assert not offenders


def test_the_design_card_folders_are_imported_only_under_driftwarden() -> None:
    """collector/, detectors/, ... sit at the repository's top too: imported by their bare names they
    would load a second copy of every class (an isinstance check that fails for no visible reason)."""
    bare = re.compile(r"^\s*(>>> )?(from|import) (collector|detectors|exporters|alerts|dashboards)\b", re.M)
    linked = [p.resolve() for p in PACKAGE.iterdir() if p.is_symlink()]  # rglob does not follow links
    roots = [PACKAGE, *linked, TESTS, PACKAGE.parent / "benchmarks"]
    offenders = [str(p) for root in roots for p in root.rglob("*.py") if bare.search(p.read_text())]
    assert not offenders
