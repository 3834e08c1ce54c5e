"""docs/config-reference.md is generated from driftwarden/config.py and kept in step with it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from pydantic import BaseModel

from driftwarden import config_reference
from driftwarden.config import Config, load_config

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "docs" / "config-reference.md"


def documented_keys(text: str) -> set[str]:
    return set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE))


def every_key(model: type[BaseModel] = Config, path: str = "") -> set[str]:
    """Every key path the models accept, walked independently of the renderer."""
    keys = set()
    for section, sub in config_reference.sections(model, path):
        keys |= {f"{section}{field.alias or name}" for name, field in sub.model_fields.items()}
    return keys


def test_committed_reference_is_what_the_models_generate() -> None:
    assert CHECKED_IN.read_text() == config_reference.render(), (
        "docs/config-reference.md is stale: run .venv/bin/python -m driftwarden.config_reference"
    )


def test_every_key_has_a_row_a_type_and_a_meaning() -> None:
    text = config_reference.render()
    assert documented_keys(text) == every_key()
    for path, model in config_reference.sections():
        for key, kind, default, meaning in config_reference.fields(model):
            assert kind and default and meaning, f"{path}{key} lacks a type, default or meaning"


def test_notes_name_real_keys_that_have_no_description_of_their_own() -> None:
    models = {model.__name__: model for _, model in config_reference.sections()}
    for ref in config_reference.NOTES:
        model_name, field = ref.split(".")
        info = models[model_name].model_fields[field]
        assert not info.description, f"{ref} now has a description in config.py: drop its note"


def test_the_design_docs_config_example_uses_only_documented_keys() -> None:
    """The YAML block of design.md's Config section, loaded: every key there is in the reference."""
    design = (ROOT / "docs" / "design.md").read_text()
    block = design.split("## Config", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    data = yaml.safe_load(block)
    documented = documented_keys(config_reference.render())

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                named = path == "models" or path.endswith(".per_feature")  # user-chosen names
                name = f"{path}.<name>" if named else f"{path}.{key}" if path else str(key)
                if named:
                    walk(sub, name)
                    continue
                if path.endswith((".features", ".bin_features", ".match", ".model_processes")):
                    continue  # user-chosen keys
                assert name in documented, f"design.md's config names {name}, which the reference lacks"
                walk(sub, name)
        elif isinstance(value, list) and path in {"slos", "sources", "receivers", "routes"}:
            for item in value:
                walk(item, f"{path}[]")

    walk(data, "")


def test_defaults_are_the_models_defaults() -> None:
    config, text = load_config(None), config_reference.render()
    assert f"| `listen` | string | `{config.listen}` |" in text
    assert "| `evaluate_every` | duration | `30s` |" in text
    assert "| `slos[].period` | duration | `30d` |" in text
    assert "`[5ms, 10ms, 25ms, 50ms, 100ms, 250ms, 500ms, 1s, 2.5s, 5s, 10s, 30s]`" in text
    assert "| `alerting.for` | integer | `2` |" in text  # the alias, not the attribute
    assert "| `slos[].name` | string | required |" in text
    assert "≥ 1,000" in text  # limits.max_queue_rows' bound


def test_check_mode_exits_1_on_a_stale_file_and_0_on_a_fresh_one(tmp_path: Path) -> None:
    path = tmp_path / "ref.md"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "driftwarden.config_reference", "--path", str(path), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)

    missing = run("--check")
    assert missing.returncode == 1 and "stale" in missing.stderr
    assert run().returncode == 0 and path.read_text() == config_reference.render()
    assert run("--check").returncode == 0
    path.write_text(path.read_text().replace("`30s`", "`60s`"))
    assert run("--check").returncode == 1


# --- docs/operators-guide.md ---------------------------------------------------------------------

GUIDE = ROOT / "docs" / "operators-guide.md"
SOURCES = ("driftwarden", "collector", "detectors", "exporters", "alerts")


def troubleshooting_messages() -> list[str]:
    section = GUIDE.read_text().split("## Troubleshoot", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [m for row in rows for m in re.findall(r"`([^`]+)`", row.split(" | ")[0])]


def test_every_troubleshooting_message_is_one_the_code_prints() -> None:
    """Each quoted message's literal parts (between <placeholders>) occur in the code as written."""
    code = "\n".join(p.read_text() for d in SOURCES for p in (ROOT / d).rglob("*.py"))
    messages = troubleshooting_messages()
    assert len(messages) >= 20
    assert "[red]config error[/]" in code  # the CLI's prefix of every config problem
    for message in messages:
        for part in re.split(r"<[^>]+>|\.\.\.", message.removeprefix("config error ")):
            part = part.strip(" :")
            if len(part) >= 4:
                assert part in code, f"operators-guide.md quotes {message!r}, but no code prints {part!r}"


def test_guide_links_the_reference_and_states_the_fleet_conventions() -> None:
    guide = GUIDE.read_text()
    assert "](config-reference.md)" in guide and "python -m driftwarden.config_reference" in guide
    assert "driftwarden_feature_bin_values" in guide and "driftwarden_feature_bin_count" in guide  # the rename
    for label in ("`pod`", "`namespace`", "`model`", "`model_version`", "`cluster`"):
        assert label in guide
    for word in ("Thanos", "Mimir", "federat", "sqlite3", ".backup", "PagerDuty", "Alertmanager", "retrain"):
        assert word in guide
    assert "requests 250m / 384Mi, limits 1 CPU / 768Mi" in guide  # as deploy/kubernetes sets them
