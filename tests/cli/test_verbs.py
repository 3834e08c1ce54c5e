"""The command's tree: every verb names a function that exists, and help costs no verb's imports."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


def imported_by(*argv: str) -> set[str]:
    """The modules `python -X importtime -m driftwarden ARGV` imports, as the command runs for a user."""
    ran = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "driftwarden", *argv], capture_output=True, text=True, check=False
    )
    return {line.split("|")[-1].strip() for line in ran.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"]])
def test_the_command_imports_nothing_heavy_for_help(argv: list[str]) -> None:
    loaded = imported_by(*argv) - {"name"}  # the header line's column title
    assert loaded, "python -X importtime printed nothing"
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)
    assert {m for m in loaded if m.startswith("driftwarden")} <= {
        "driftwarden",
        "driftwarden.__main__",
        "driftwarden.cli",
        "driftwarden.cli.common",
    }


# Imported by `check` only when it needs them: a config (--config), a daemon, scipy.stats, the estimators.
NOT_FOR_CHECK = ("fastapi", "uvicorn", "starlette", "pydantic", "yaml", "sklearn", "scipy.stats", "httpx", "pandas")


def test_check_without_a_config_imports_no_config_models_and_no_server(tmp_path: Path) -> None:
    reference, current = tmp_path / "ref.csv", tmp_path / "cur.csv"
    reference.write_text("a,b\n" + "".join(f"{i % 7},{i % 3}\n" for i in range(200)))
    current.write_text("a,b\n" + "".join(f"{i % 5},{i % 3}\n" for i in range(200)))
    loaded = imported_by("check", "--reference", str(reference), "--current", str(current))
    assert "driftwarden.comparison" in loaded  # it ran
    assert not {name for name in NOT_FOR_CHECK if name in loaded or any(m.startswith(f"{name}.") for m in loaded)}


def test_checks_settings_without_a_config_are_the_embedded_configs() -> None:
    from driftwarden.cli.check import CheckSettings
    from driftwarden.config import load_config

    assert CheckSettings() == CheckSettings.of(load_config(None), "check")
    assert CheckSettings.read(None, "fraud") == CheckSettings.of(load_config(None), "fraud")
