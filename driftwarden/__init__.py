"""driftwarden: drift and SLO monitoring sidecar for model servers."""

__version__ = "0.1.0"
