"""driftwarden's HTML rendering: SVG charts, the one drift view and the one-file drift report.

Shared by the built-in UI (driftwarden.ui) and `driftwarden check` (the `--html` report and the
terminal table): `svg` draws the charts, `drift_view` decides once which threshold applies to each
statistic of each feature and which test fired, `html_report` writes `check --html`'s file.
"""
