"""Receivers from the config, with their secrets read from files or the environment (never logged).

The wiring's job: alert code takes built receivers and never sees the config or a secret's source.
Each secret is read at start (a missing or empty one is a config error) and again at every send,
so a rotated routing key or signing secret is used without a restart."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from driftwarden.alerts.receivers.alertmanager import AlertmanagerReceiver
from driftwarden.alerts.receivers.base import Receiver, Secret, SecretUnavailable
from driftwarden.alerts.receivers.opsgenie import OpsGenieReceiver
from driftwarden.alerts.receivers.pagerduty import PagerDutyReceiver, TriggerMemory
from driftwarden.alerts.receivers.retrain import RetrainReceiver
from driftwarden.alerts.receivers.slack import SlackReceiver, ThreadStore
from driftwarden.alerts.receivers.webhook import WebhookReceiver
from driftwarden.alerts.signing import Signer, signing_keys
from driftwarden.config import Config, ConfigError, ReceiverSettings
from driftwarden.params import AlertLinkParams, alert_link_params, opsgenie_params

__all__ = ["build_receivers"]


def build_receivers(
    config: Config,
    *,
    last_trigger: Callable[[str], float | None],
    record_trigger: Callable[[str, float], None],
    threads: ThreadStore | None = None,
    triggered: Callable[[str], TriggerMemory] | None = None,
) -> dict[str, Receiver]:
    """`threads`: where Slack receivers keep the thread of each alert group (in memory when None)."""
    links = alert_link_params(config, os.environ)
    out: dict[str, Receiver] = {}
    for i, r in enumerate(config.receivers):
        sign = _signer(r, i)
        if r.type == "pagerduty":
            out[r.name] = PagerDutyReceiver(
                r.name,
                _key_secret(r, i, "routing_key"),
                url=r.url,
                timeout=r.timeout,
                links=links,
                source=r.source or pagerduty_source(os.environ),
                triggered=triggered(r.name) if triggered else None,
            )
        elif r.type == "opsgenie":
            key = _key_secret(r, i, "api_key")
            out[r.name] = OpsGenieReceiver(r.name, key, opsgenie_params(r), timeout=r.timeout, links=links)
        elif r.type == "slack":
            out[r.name] = _slack(r, i, links, threads)
        elif r.type == "webhook":
            out[r.name] = WebhookReceiver(r.name, r.url or "", timeout=r.timeout, sign=sign, links=links)
        elif r.type == "retrain":
            out[r.name] = RetrainReceiver(
                r.name,
                r.url or "",
                timeout=r.timeout,
                cooldown=r.cooldown,
                last_trigger=last_trigger,
                record_trigger=record_trigger,
                sign=sign,
            )
        else:
            # past the next repeat, with room for retries and clock skew: Alertmanager resolves what expires
            keep = config.alerting.repeat_interval + max(config.alerting.group_interval, 900.0)
            out[r.name] = AlertmanagerReceiver(
                r.name, r.url or "", timeout=r.timeout, keep_firing_for=keep, links=links
            )
    return out


def _slack(r: ReceiverSettings, i: int, links: AlertLinkParams, threads: ThreadStore | None) -> SlackReceiver:
    if r.bot_token_file or r.bot_token_env:
        token = _key_secret(r, i, "bot_token")
        return SlackReceiver(
            r.name, bot_token=token, channel=r.channel, url=r.url, threads=threads, timeout=r.timeout, links=links
        )
    url = _key_secret(r, i, "webhook_url")
    return SlackReceiver(r.name, webhook_url=url, timeout=r.timeout, links=links)


def _key_secret(r: ReceiverSettings, i: int, name: str) -> Secret:
    """The receiver's secret `name` from `<name>_file` or `<name>_env`, whichever the config gives."""
    path: Path | None = getattr(r, f"{name}_file")
    if path is not None:
        return _secret(partial(_read_secret, path, f"receivers.{i}.{name}_file"))
    variable: str | None = getattr(r, f"{name}_env")
    if variable is None:  # refused by the config first
        raise ConfigError([f"receivers.{i}.{name}_file: not set"])
    return _secret(partial(_env_secret, variable, f"receivers.{i}.{name}_env"))


def pagerduty_source(environ: Mapping[str, str]) -> str:
    """Where the problem is, as the Kubernetes downward API tells it: the pod (with its namespace),
    else the node, else this host's name."""
    pod, namespace, node = (environ.get(k, "").strip() for k in ("POD_NAME", "POD_NAMESPACE", "NODE_NAME"))
    if pod:
        return f"{namespace}/{pod}" if namespace else pod
    return node or socket.gethostname()


def _signer(r: ReceiverSettings, i: int) -> Signer | None:
    """The Standard Webhooks signer of a webhook or retrain receiver with secrets (checked now)."""
    read: Callable[[], bytes]
    if r.hmac_secret_file:
        key = f"receivers.{i}.hmac_secret_file"
        read = partial(_read_secret, r.hmac_secret_file, key)
    elif r.hmac_secret_env:
        key = f"receivers.{i}.hmac_secret_env"
        read = partial(_env_secrets, r.hmac_secret_env, key)
    else:
        return None
    try:
        signing_keys(read())
    except ValueError as exc:
        raise ConfigError([f"{key}: {exc}"]) from None
    return Signer(_secret(read), legacy=r.legacy_signature, where=key)


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


def _env_secrets(name: str, key: str) -> bytes:
    """Secrets separated by whitespace in one environment variable, one a line as a file has them."""
    return b"\n".join(_env_secret(name, key).split())
