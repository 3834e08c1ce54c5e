"""The release built from this repository as a release is built (`python -m build`: the sdist, then
the wheel from the sdist): the wheel installs one top-level name, `driftwarden`, and works with no
source tree around (`driftwarden check` and `driftwarden run` from a fresh virtualenv); the sdist
installs too; the metadata is complete and `twine check --strict` passes, README included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import httpx
import polars as pl
import pytest

from driftwarden import __version__
from tests.support.ports import free_port
from tests.support.processes import serving

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel built from it, from a copy of the files git tracks or would track, as a
    fresh clone has them: a build in the working tree would leave build/ behind, and a stale build/lib
    could slip removed modules in."""
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
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [sdist] = out.glob("driftwarden-*.tar.gz")
    [wheel] = out.glob("driftwarden-*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def wheel(dist: dict[str, Path]) -> Path:
    return dist["wheel"]


def fresh_venv(tmp_path_factory: pytest.TempPathFactory, package: Path) -> tuple[Path, dict[str, str]]:
    """A fresh virtualenv holding only `package` (a wheel, or an sdist that pip builds); its dependencies
    are seen through PYTHONPATH (the test venv's site-packages: .pth files there, such as an editable
    install's, are not read from it)."""
    env_dir = tmp_path_factory.mktemp("venv") / "fresh"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(package)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    env = {"PATH": f"{env_dir / 'bin'}:{os.environ.get('PATH', '')}", "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    return env_dir, env


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return fresh_venv(tmp_path_factory, wheel)


def metadata(wheel: Path) -> Message:
    [name] = [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(zipfile.ZipFile(wheel).read(name).decode())


def test_the_wheel_has_one_top_level_name(wheel: Path) -> None:
    names = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert names == {"driftwarden", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    members = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "driftwarden/collector/otlp.py",
        "driftwarden/detectors/stats.py",
        "driftwarden/alerts/rules/slos.yml",  # package data of the linked folders
        "driftwarden/dashboards/drift-overview.json",
        "driftwarden/py.typed",
        "driftwarden/operators-guide.md",  # the runbooks the daemon serves
        f"driftwarden-{__version__}.dist-info/licenses/LICENSE",
    ):
        assert expected in members
    guide = zipfile.ZipFile(wheel).read("driftwarden/operators-guide.md").decode()
    assert guide == (ROOT / "docs" / "operators-guide.md").read_text()  # one source: the linked guide


def test_the_metadata_is_complete(wheel: Path) -> None:
    meta = metadata(wheel)
    assert meta["Name"] == "driftwarden" and meta["Version"] == __version__
    assert meta["License-Expression"] == "Apache-2.0" and meta["License-File"] == "LICENSE"
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200] and "Version 2.0" in (ROOT / "LICENSE").read_text()
    assert meta["Requires-Python"] == ">=3.11" and meta["Description-Content-Type"] == "text/markdown"
    classifiers = meta.get_all("Classifier") or []
    for expected in ("Programming Language :: Python :: 3.11", "Topic :: System :: Monitoring", "Typing :: Typed"):
        assert expected in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # the SPDX expression says it, alone
    assert meta["Summary"] and meta["Keywords"] and meta["Author"]
    assert meta.get_payload().startswith("# driftwarden")  # the README is the long description


def test_twine_check_passes_and_the_readme_renders(dist: dict[str, Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist["sdist"]), str(dist["wheel"])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | {"NO_COLOR": "1"},
    )
    assert done.returncode == 0 and done.stdout.count("PASSED") == 2, done.stdout + done.stderr
    # twine takes Markdown as rendering "cannot fail": render it as the package index does (cmarkgfm, GFM)
    from readme_renderer.markdown import render

    readme = (ROOT / "README.md").read_text()
    html = render(readme)
    assert html is not None
    headings = [line for line in readme.splitlines() if line.startswith("## ") and not line.startswith("## `")]
    assert html.count("<h2") >= len(headings) >= 3


def test_the_sdist_holds_the_package_as_files(dist: dict[str, Path]) -> None:
    """The linked folders (driftwarden/collector -> ../collector) as the files themselves, not links."""
    with tarfile.open(dist["sdist"]) as sdist:
        members = {m.name.split("/", 1)[1]: m for m in sdist.getmembers() if "/" in m.name}
    assert not [name for name, m in members.items() if m.issym() or m.islnk()]
    for expected in (
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "PKG-INFO",
        "driftwarden/collector/otlp.py",
        "driftwarden/alerts/rules/slos.yml",
        "driftwarden/dashboards/drift-overview.json",
        "driftwarden/operators-guide.md",
    ):
        assert expected in members, expected


def test_the_sdist_installs_in_a_fresh_venv(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    env_dir, env = fresh_venv(tmp_path_factory, dist["sdist"])
    version = subprocess.run(
        [str(env_dir / "bin" / "driftwarden"), "--version"], capture_output=True, text=True, env=env, check=False
    )
    assert version.returncode == 0 and version.stdout.strip() == f"driftwarden {__version__}", version.stderr
    [site] = (env_dir / "lib").glob("python3.*/site-packages")
    assert (site / "driftwarden" / "collector" / "otlp.py").is_file()
    assert (site / "driftwarden" / "dashboards" / "drift-overview.json").is_file()


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
        runbook = httpx.get(f"{served.base_url}/runbooks/FeatureDrift")  # from the guide packaged in the wheel
        assert runbook.status_code == 200 and 'id="runbook-featuredrift"' in runbook.text
