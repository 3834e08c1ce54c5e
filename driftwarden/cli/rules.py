"""`driftwarden rules generate`: the Prometheus rule files (SLO burn rates, driftwarden's own health, fleet drift);
a line per file, or with `--json` one document: `{"files": [{"path", "alerts", ...}]}`."""

from __future__ import annotations

import argparse

from driftwarden.alerts import fleet_rules, slo_rules
from driftwarden.alerts.own_rules import daemon_rules, write_daemon_rules
from driftwarden.cli.common import EXIT_OK, fail, print_json
from driftwarden.config import load_config
from driftwarden.params import slo_params

__all__ = ["generate"]


def generate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    try:
        names = sorted({rule["alert"] for rule in daemon_rules(args.job)})
    except ValueError as exc:
        return fail(f"--job: {exc}")
    try:
        path = slo_rules.write_rules([slo_params(s) for s in config.slos], args.out)
        daemon = write_daemon_rules(args.out, args.job)
        fleet = fleet_rules.write_rules(args.out)
    except OSError as exc:
        return fail(f"--out {args.out}: {exc.strerror or exc}")
    if args.json:
        print_json(
            {
                "files": [
                    {"path": str(path), "slos": [slo.name for slo in config.slos]},
                    {"path": str(daemon), "job": args.job, "alerts": names},
                    {"path": str(fleet), "alerts": ["FleetFeatureDrift"], "records": ["driftwarden:feature_psi:fleet"]},
                ]
            }
        )
        return EXIT_OK
    if config.slos:
        print(f"{path}: rules for {len(config.slos)} SLOs ({', '.join(slo.name for slo in config.slos)})")
    else:
        print(f"{path}: no SLOs configured (the config has no slos), so the file has no rule groups")
    print(f"{daemon}: {len(names)} alerts on driftwarden's own metrics, job {args.job!r} ({', '.join(names)})")
    print(f"{fleet}: fleet-wide PSI per feature (driftwarden:feature_psi:fleet) and FleetFeatureDrift")
    return EXIT_OK
