"""The image's build stage, run without Docker: the build context as `docker build -f deploy/Dockerfile .`
sends it (the repository's files narrowed by `.dockerignore`, symlinks kept as links, as Docker keeps them),
then the stage's own command, `python -m venv /opt/driftwarden && /opt/driftwarden/bin/pip install .`, into
a temporary virtualenv. What it installs must be the whole package: a link whose other end the context
leaves out (the operator's guide the runbooks come from, say) breaks the build here as it would in Docker.
Dependencies are not installed (no index may be reachable): they are seen through PYTHONPATH, as in
tests/packaging."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_STAGE_RUN = "RUN python -m venv /opt/driftwarden && /opt/driftwarden/bin/pip install ."


def dockerfile() -> list[str]:
    """deploy/Dockerfile's instructions, continuation lines joined (spaces squeezed), comments left out."""
    text = (ROOT / "deploy" / "Dockerfile").read_text().replace("\\\n", " ")
    return [" ".join(line.split()) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(keep, pattern) per line of .dockerignore, in order: Docker's matching, the last matching rule wins;
    `*` stays within one path element, `**` crosses them, and a rule matching a folder covers what is in it."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        regex = "".join(
            "(?:.*/)?" if part == "**/" else ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part)
            for part in re.split(r"(\*\*/|\*\*|\*)", pattern)
        )
        rules.append((keep, re.compile(regex + "(?:/.*)?")))
    return rules


def in_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    keep = True
    for rule_keeps, pattern in rules:
        if pattern.fullmatch(path):
            keep = rule_keeps
    return keep


def context(target: Path) -> Path:
    """The build context Docker would send, copied to `target` (links as links)."""
    git = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(git, cwd=ROOT, capture_output=True, check=True).stdout.decode()
    rules = dockerignore_rules()
    for name in filter(None, listed.split("\0")):
        origin = ROOT / name
        if not in_context(name, rules) or not (origin.exists() or origin.is_symlink()):
            continue
        copy = target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            copy.symlink_to(os.readlink(origin))
        else:
            shutil.copy2(origin, copy)
    return target


def test_the_dockerignore_matching_is_dockers() -> None:
    rules = dockerignore_rules()
    assert in_context("driftwarden/cli/check.py", rules) and in_context("docs/operators-guide.md", rules)
    assert not in_context("docs/design.md", rules) and not in_context("tests/conftest.py", rules)
    assert not in_context("driftwarden/__pycache__/app.cpython-311.pyc", rules)


@pytest.mark.timeout(600)
def test_the_build_stage_installs_the_whole_package_from_the_context(tmp_path: Path) -> None:
    assert BUILD_STAGE_RUN in dockerfile(), "the Dockerfile's build stage changed: change this emulation with it"
    source = context(tmp_path / "src")
    dangling = [str(p.relative_to(source)) for p in source.rglob("*") if p.is_symlink() and not p.exists()]
    assert dangling == [], "links whose other end .dockerignore leaves out of the context"

    env_dir = tmp_path / "opt-driftwarden"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [site] = (env_dir / "lib").glob("python3.*/site-packages")
    guide = site / "driftwarden" / "operators-guide.md"
    assert guide.is_file() and not guide.is_symlink()
    assert guide.read_text() == (ROOT / "docs" / "operators-guide.md").read_text()
    env = {"PATH": f"{env_dir / 'bin'}:{os.environ.get('PATH', '')}", "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    check = "from driftwarden.ui.runbooks import runbooks; print(sorted(runbooks().sections)[:2])"
    ran = subprocess.run(
        [str(env_dir / "bin" / "driftwarden"), "--version"], capture_output=True, text=True, env=env, check=False
    )
    assert ran.returncode == 0 and ran.stdout.startswith("driftwarden "), ran.stderr
    loaded = subprocess.run([str(python), "-c", check], capture_output=True, text=True, env=env, cwd=tmp_path)
    from driftwarden.ui.runbooks import runbooks  # the same sections as the source tree's guide

    assert loaded.stdout.strip() == str(sorted(runbooks().sections)[:2]), loaded.stderr
