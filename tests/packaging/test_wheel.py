"""The wheel built from this repository installs one top-level name, `driftwarden`, and works with
no source tree around: `driftwarden check` and `driftwarden run` from a fresh virtualenv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import httpx
import polars as pl
import pytest

from tests.support.ports import free_port
from tests.support.processes import serving

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the files git tracks or would track, as a fresh clone has them: a build in
    the working tree would leave build/ behind, and a stale build/lib could slip removed modules in."""
    source = tmp_path_factory.mktemp("source") / "driftwarden"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        origin, target = ROOT / name, source / name
        if not origin.exists() and not origin.is_symlink():  # deleted in the working tree
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_symlink():
            target.symlink_to(os.readlink(origin))
        else:
            shutil.copy2(origin, target)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = out.glob("driftwarden-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh virtualenv holding only the wheel; its dependencies are seen through PYTHONPATH (the test
    venv's site-packages: .pth files there, such as an editable install's, are not read from it)."""
    env_dir = tmp_path_factory.mktemp("venv") / "fresh"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    env = {"PATH": f"{env_dir / 'bin'}:{os.environ.get('PATH', '')}", "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    return env_dir, env


def test_the_wheel_has_one_top_level_name(wheel: Path) -> None:
    names = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert names == {"driftwarden", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    members = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "driftwarden/collector/otlp.py",
        "driftwarden/detectors/stats.py",
        "driftwarden/alerts/rules/slos.yml",  # package data of the linked folders
        "driftwarden/dashboards/drift-overview.json",
    ):
        assert expected in members


def test_the_fresh_venv_holds_driftwarden_alone(installed: tuple[Path, dict[str, str]]) -> None:
    env_dir, env = installed
    [site] = (env_dir / "lib").glob("python3.*/site-packages")
    top = {p.name for p in site.iterdir() if not p.name.endswith(".dist-info") and p.name != "__pycache__"}
    assert top == {"driftwarden"}
    where = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import driftwarden.collector, sys; print(driftwarden.collector.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=env_dir,
        check=True,
    ).stdout
    assert where.startswith(str(site))


def test_check_and_run_work_from_the_wheel(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    env_dir, env = installed
    pl.DataFrame({"x": [float(i % 50) for i in range(2000)]}).write_csv(tmp_path / "ref.csv")
    pl.DataFrame({"x": [float(i % 50) + 30 for i in range(2000)]}).write_csv(tmp_path / "cur.csv")
    check = subprocess.run(
        [str(env_dir / "bin" / "driftwarden"), "check", "--reference", "ref.csv", "--current", "cur.csv", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert check.returncode == 1, check.stderr  # drifted
    assert '"drifted": true' in check.stdout

    port = free_port()
    config = tmp_path / "driftwarden.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\ngpu: {{enabled: false}}\n")
    command = [str(env_dir / "bin" / "driftwarden"), "run", "--config", str(config), "--listen", f"127.0.0.1:{port}"]
    with serving(command, base_url=f"http://127.0.0.1:{port}", log=tmp_path / "run.log", env=env) as served:
        assert httpx.get(f"{served.base_url}/metrics").status_code == 200
