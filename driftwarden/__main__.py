"""`python -m driftwarden`: the `driftwarden` command (driftwarden.cli)."""

import sys

from driftwarden.cli import main

sys.exit(main())
