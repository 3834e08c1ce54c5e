"""The command's tree: every verb names a function that exists, and help costs no verb's imports."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

from driftwarden.cli import build_parser

# Imported by some verb, never by `driftwarden --help` (or any verb's --help, or a usage error).
HEAVY = ("fastapi", "uvicorn", "polars", "scipy", "numpy", "pydantic", "yaml", "rich", "httpx")


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(verb path, "module:function") for every parser that runs something."""
    target = parser.get_default("verb")
    if target is not None:
        yield path, target
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from leaves(sub, (*path, name))


def test_every_verb_names_a_function_of_its_module() -> None:
    found = dict(leaves(build_parser()))
    assert set(found) == {
        ("run",),
        ("demo",),
        ("check",),
        ("reference", "build"),
        ("rules", "generate"),
        ("dashboards", "generate"),
        ("silence", "add"),
        ("silence", "list"),
        ("silence", "expire"),
        ("audit",),
        ("config", "validate"),
    }
    for path, target in found.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(f"driftwarden.cli.{module}"), function)), path


@pytest.mark.parametrize("argv", [["--help"], [], ["check", "--help"], ["run", "--help"], ["check"], ["bogus"]])
def test_help_and_usage_errors_import_no_verb(argv: list[str]) -> None:
    probe = (
        "import contextlib, io, sys\nfrom driftwarden.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)
    assert {m for m in loaded if m.startswith("driftwarden")} == {
        "driftwarden",
        "driftwarden.cli",
        "driftwarden.cli.common",
    }
