"""The one error tree. Lower layers raise these; only the API maps them to HTTP statuses
(`driftwarden.api.plumbing.http_status`) and only the CLI to exit codes.

    DriftwardenError                 reason: a sentence a person can act on; code: a short metric label
     ├── InputError (ValueError)     what the caller sent cannot be used (HTTP 400, CLI exit 2)
     │    └── UnsupportedMediaType   a Content-Type or Content-Encoding not read (415)
     ├── LimitExceeded               a configured bound refuses the work before it is done
     │    ├── BodyTooLarge           a body, decoded body or record count over its limit (413)
     │    ├── TooManyModels          limits.max_models already tracked (409)
     │    └── TooManyFeatures        limits.max_features for one model (409)
     ├── Overloaded                  ingest is behind: retry later (429 with Retry-After)
     └── StorageError                state could not be written or read back
          └── CorruptState           a stored row that no longer loads (skipped, counted, logged)
"""

from __future__ import annotations

__all__ = [
    "BodyTooLarge",
    "CorruptState",
    "DriftwardenError",
    "InputError",
    "LimitExceeded",
    "Overloaded",
    "StorageError",
    "TooManyFeatures",
    "TooManyModels",
    "UnsupportedMediaType",
]


class DriftwardenError(Exception):
    """Base of every error driftwarden raises on purpose."""

    code = "error"

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code


class InputError(DriftwardenError, ValueError):
    """A body, file or value the caller sent cannot be used as it is."""

    code = "invalid"


class UnsupportedMediaType(InputError):
    code = "unsupported_media_type"


class LimitExceeded(DriftwardenError):
    """A configured limit refuses the work; nothing of it was done."""

    code = "limit"


class BodyTooLarge(LimitExceeded):
    code = "too_large"


class TooManyModels(LimitExceeded, ValueError):
    code = "too_many_models"


class TooManyFeatures(LimitExceeded, ValueError):
    code = "too_many_features"


class Overloaded(DriftwardenError):
    """The bounded ingest queue is full: the caller should retry shortly."""

    code = "queue_full"


class StorageError(DriftwardenError):
    """The state file could not be written (read-only, full disk) or read."""

    code = "storage"


class CorruptState(StorageError):
    """A stored row that no longer loads; the loader skips it."""

    code = "corrupt_state"
