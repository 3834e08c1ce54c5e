"""driftwarden: drift and SLO monitoring sidecar for model servers.

`import driftwarden` loads nothing else: the notebook API, `driftwarden.compare` (and the
`Comparison` it returns), lives in `driftwarden.comparison` and is imported on first use.
"""

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["Comparison", "__version__", "compare"]

_LAZY = frozenset({"compare", "Comparison"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        # by name, not by an import statement: the root (rendering reads __version__ here) stays
        # below every layer of the import contracts
        return getattr(importlib.import_module("driftwarden.comparison"), name)
    raise AttributeError(f"module 'driftwarden' has no attribute {name!r}")
