"""Receivers turn a notification into HTTP messages for the outbox; they never send or raise."""

from __future__ import annotations

from driftwarden.alerts.receivers.base import Message, Receiver

__all__ = ["Message", "Receiver"]
