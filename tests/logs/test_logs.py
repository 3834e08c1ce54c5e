"""Log lines nobody can forge: text a client chose (feature names, model names, error messages)
cannot start a line of its own or send terminal escapes, and URLs lose their credentials."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import httpx
import pytest

from driftwarden.logs import JsonFormatter, TextFormatter
from tests.support.processes import driftwarden_run

RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")
FORGED = "2026-12-02 12:00:00,000 ERROR driftwarden.app: FORGED"


def record(message: str, *args: object, exc_info: bool = False) -> logging.LogRecord:
    info = sys.exc_info() if exc_info else None
    return logging.LogRecord("driftwarden.test", logging.WARNING, __file__, 1, message, args, info)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f", "del\\x7f"),
        ("csi\x9b2J", "csi\\x9b2J"),
        ("nel\x85x", "nel\\x85x"),
        ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
        ("bidi\u202egnp.exe", "bidi\\u202egnp.exe"),
        ("tab\there", "tab\\there"),
        ("plain: üñíçødé, 模型", "plain: üñíçødé, 模型"),
    ],
)
def test_the_text_formatter_escapes_control_characters(value: str, escaped: str) -> None:
    line = TextFormatter().format(record("feature %s refused", value))
    assert line.endswith(f"feature {escaped} refused")
    assert RECORD_START.match(line) and len(line.splitlines()) == 1


def test_a_traceback_cannot_start_a_line_of_its_own() -> None:
    try:
        raise ValueError(f"bad column\n{FORGED}\x1b[2J")
    except ValueError:
        line = TextFormatter().format(record("evaluation failed", exc_info=True))
    first, *rest = line.splitlines()
    assert RECORD_START.match(first) and first.endswith("evaluation failed")
    assert rest and all(r.startswith("    ") for r in rest)  # only a record starts at column 0
    assert any(r.strip() == "Traceback (most recent call last):" for r in rest)
    assert "\x1b" not in line and "\\x1b[2J" in line


@pytest.mark.parametrize(
    ("message", "logged"),
    [
        ("POST https://user:hunter2@hooks.example.com:8443/services/T0/B0/XyZ failed",
         "POST https://***@hooks.example.com:8443/*** failed"),
        ("GET http://alertmanager:9093/api/v2/alerts?token=abc: 500", "GET http://alertmanager:9093/***: 500"),
        ("url 'https://h.example/x#frag'", "url 'https://h.example/***'"),
        ("listening on http://127.0.0.1:4318 (Press CTRL+C to quit)",
         "listening on http://127.0.0.1:4318 (Press CTRL+C to quit)"),
        ("endpoint http://[::1]:4318/ ready", "endpoint http://[::1]:4318 ready"),
        ("two: a://u:p@x/1 and B+c.d://y?q=1", "two: a://***@x/*** and b+c.d://y/***"),
        ("unescaped: https://u:pa/ss@h/x, then", "unescaped: https://***/***, then"),
        ("no url here: /v1/models/{model}/reference", "no url here: /v1/models/{model}/reference"),
    ],
)  # fmt: skip
def test_urls_keep_scheme_host_and_port_only(message: str, logged: str) -> None:
    assert TextFormatter().format(record(message)).endswith(logged)
    assert json.loads(JsonFormatter().format(record(message)))["message"] == logged


def test_json_lines_are_one_line_and_keep_the_text_exactly() -> None:
    value = f"col\n{FORGED}\x1b[31m\u2028\x85"
    try:
        raise ValueError(f"https://u:secret@h/x?k=v {value}")
    except ValueError:
        line = JsonFormatter().format(record("refused %s", value, exc_info=True))
    assert len(line.splitlines()) == 1 and line.isascii()  # \u2028 and \x85 escaped too
    entry = json.loads(line)
    assert entry["message"] == f"refused {value}"
    assert "secret" not in entry["exception"] and "https://***@h/***" in entry["exception"]


def column_that_forges_a_line() -> str:
    return f"amount\x1b[31m\n{FORGED} via https://user:hunter2@example.com/x?token=abc"


@pytest.mark.server
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_client_cannot_forge_a_line_of_the_daemons_log(tmp_path: Path, log_format: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"state_path: {tmp_path / 'state.db'}\ngpu: {{enabled: false}}\nlog_format: {log_format}\n")
    log = tmp_path / "daemon.log"
    column = column_that_forges_a_line()
    csv = f'a,"{column}"\n1,inf\n2,3\n'.encode()
    with driftwarden_run(config, log) as served:
        refused = httpx.put(
            f"{served.base_url}/v1/models/fraud/reference", content=csv, headers={"content-type": "text/csv"}
        )
        assert refused.status_code == 400 and column in refused.json()["error"]
    text = log.read_text()
    assert "FORGED" in text and "\x1b" not in text and "hunter2" not in text and "token=abc" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    if log_format == "json":
        entries = [json.loads(line) for line in lines]
        (entry,) = [e for e in entries if "FORGED" in e["message"]]
        assert "amount\x1b[31m\n" + FORGED + " via https://***@example.com/***" in entry["message"]
    else:
        assert all(RECORD_START.match(line) or line.startswith("    ") for line in lines), text
        (line,) = [line for line in lines if "FORGED" in line]
        assert "amount\\x1b[31m\\n" + FORGED + " via https://***@example.com/***" in line
