"""Two data sets compared at once, feature by feature: `driftwarden check` and the notebook API.

    import driftwarden as dw
    report = dw.compare(reference_df, current_df)    # polars or pandas frames
    report.drifted, report.reasons                   # the verdict, and which tests fired per feature
    report                                           # in Jupyter: the HTML report, charts included
    report.to_html("drift.html"); report.to_dict()   # the file `check --html` writes; `check --json`

`frames` turns the inputs into polars frames, `columns` decides which columns are compared (and
reports the rest: missing from a side, excluded, ID-like), `pipeline` fits the reference and
compares, `result` is the report object both the CLI and notebooks get.
"""

from driftwarden.comparison.columns import Schema
from driftwarden.comparison.pipeline import ComparisonError, DriftwardenWarning, compare, compare_frames
from driftwarden.comparison.result import Comparison

__all__ = ["Comparison", "ComparisonError", "DriftwardenWarning", "Schema", "compare", "compare_frames"]
