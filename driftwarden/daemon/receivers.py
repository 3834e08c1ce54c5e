"""Receivers from the config, with their secrets read from files or the environment (never logged).

The wiring's job: alert code takes built receivers and never sees the config or a secret's source.
Each secret is read at start (a missing or empty one is a config error) and again at every send,
so a rotated routing key or HMAC secret is used without a restart."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

from driftwarden.alerts.receivers.alertmanager import AlertmanagerReceiver
from driftwarden.alerts.receivers.base import Receiver, Secret, SecretUnavailable
from driftwarden.alerts.receivers.opsgenie import OpsGenieReceiver
from driftwarden.alerts.receivers.pagerduty import PagerDutyReceiver
from driftwarden.alerts.receivers.retrain import RetrainReceiver
from driftwarden.alerts.receivers.slack import SlackReceiver, ThreadStore
from driftwarden.alerts.receivers.webhook import WebhookReceiver
from driftwarden.config import Config, ConfigError, ReceiverSettings
from driftwarden.params import AlertLinkParams, alert_link_params, opsgenie_params

__all__ = ["build_receivers"]


def build_receivers(
    config: Config,
    *,
    last_trigger: Callable[[str], float | None],
    record_trigger: Callable[[str, float], None],
    threads: ThreadStore | None = None,
) -> dict[str, Receiver]:
    """`threads`: where Slack receivers keep the thread of each alert group (in memory when None)."""
    links = alert_link_params(config, os.environ)
    out: dict[str, Receiver] = {}
    for i, r in enumerate(config.receivers):
        secret = (
            _secret(partial(_read_secret, r.hmac_secret_file, f"receivers.{i}.hmac_secret_file"))
            if r.hmac_secret_file
            else None
        )
        if r.type == "pagerduty":
            key = _secret(
                partial(_read_secret, r.routing_key_file, f"receivers.{i}.routing_key_file")
                if r.routing_key_file
                else partial(_env_secret, r.routing_key_env or "", f"receivers.{i}.routing_key_env")
            )
            out[r.name] = PagerDutyReceiver(
                r.name,
                key,
                url=r.url,
                timeout=r.timeout,
                links=links,
            )
        elif r.type == "opsgenie":
            key = _file_secret(r.api_key_file, f"receivers.{i}.api_key_file")
            out[r.name] = OpsGenieReceiver(r.name, key, opsgenie_params(r), timeout=r.timeout, links=links)
        elif r.type == "slack":
            out[r.name] = _slack(r, i, links, threads)
        elif r.type == "webhook":
            out[r.name] = WebhookReceiver(r.name, r.url or "", timeout=r.timeout, secret=secret, links=links)
        elif r.type == "retrain":
            out[r.name] = RetrainReceiver(
                r.name,
                r.url or "",
                timeout=r.timeout,
                cooldown=r.cooldown,
                last_trigger=last_trigger,
                record_trigger=record_trigger,
                secret=secret,
            )
        else:
            # past the next repeat, with room for retries and clock skew: Alertmanager resolves what expires
            keep = config.alerting.repeat_interval + max(config.alerting.group_interval, 900.0)
            out[r.name] = AlertmanagerReceiver(
                r.name, r.url or "", timeout=r.timeout, keep_firing_for=keep, links=links
            )
    return out


def _slack(r: ReceiverSettings, i: int, links: AlertLinkParams, threads: ThreadStore | None) -> SlackReceiver:
    if r.bot_token_file:
        token = _file_secret(r.bot_token_file, f"receivers.{i}.bot_token_file")
        return SlackReceiver(
            r.name, bot_token=token, channel=r.channel, url=r.url, threads=threads, timeout=r.timeout, links=links
        )
    url = _file_secret(r.webhook_url_file, f"receivers.{i}.webhook_url_file")
    return SlackReceiver(r.name, webhook_url=url, timeout=r.timeout, links=links)


def _file_secret(path: Path | None, key: str) -> Secret:
    if path is None:  # refused by the config first
        raise ConfigError([f"{key}: not set"])
    return _secret(partial(_read_secret, path, key))


def _secret(read: Callable[[], bytes]) -> Secret:
    """Read now (ConfigError when it cannot be), and again at each call (SecretUnavailable)."""
    read()

    def read_now() -> bytes:
        try:
            return read()
        except ConfigError as exc:
            raise SecretUnavailable(str(exc)) from None

    return read_now


def _read_secret(path: Path, key: str) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError([f"{key}: cannot read {path}: {exc.strerror or exc}"]) from exc
    if not secret:
        raise ConfigError([f"{key}: {path} is empty"])
    return secret


def _env_secret(name: str, key: str) -> bytes:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError([f"{key}: environment variable {name} is not set"])
    return value.encode()
