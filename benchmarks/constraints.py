"""Benchmark: data-quality constraint checking on one batch, against parsing the same batch at ingest.

A batch of `--records` records x `--features` features (by default 1,000 x 50 and 10,000 x 50): 40
numeric features with a range and a missing share, 5 text features with allowed categories and 5 with a
regex (emails, ~3,000 distinct per 10,000 rows), every value within its constraints. Measures the CPU time
(time.process_time, all threads; median of `--repeat` runs) of `detectors.constraints.check()` on the
parsed batch, of parsing its NDJSON body (`collector.predictions.parse_records`: the part of ingest every
record pays), of `check()` with the regex verdicts it remembers forgotten before each run (`cold`: every
distinct value new, as for a column of ids), and of the regex checks alone: one polars `str.contains` call
per column over every value (the baseline) vs `check()` on the regex columns alone (their distinct values,
verdicts remembered). Prints the medians and the ratios; constraint checking should be a small share of
ingest (target: under 2 ms per 10,000 rows x 50 features).

Run:  .venv/bin/python benchmarks/constraints.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import orjson
import polars as pl

from driftwarden.collector.predictions import parse_records
from driftwarden.core.constraints import ConstraintSet, FeatureRule
from driftwarden.core.records import RecordBatch
from driftwarden.detectors.constraints import _MATCHED, check

COUNTRIES = ["DE", "FR", "US", "BR", "IN", "JP", "GB", "ES"]
EMAIL = r"^[a-z0-9.]+@[a-z0-9]+\.(com|org)$"


def batch_body(rows: int, numeric: int, text: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, numeric)).round(4).tolist()
    cats = rng.choice(COUNTRIES, size=(rows, text // 2)).tolist()
    users = rng.integers(0, 3000, size=(rows, text - text // 2)).tolist()
    lines = []
    for i in range(rows):
        features = {f"n{j:02d}": values[i][j] for j in range(numeric)}
        features |= {f"c{j}": cats[i][j] for j in range(text // 2)}
        features |= {f"e{j}": f"user{u}@mail{u % 7}.com" for j, u in enumerate(users[i])}
        lines.append(orjson.dumps({"model": "bench", "features": features}))
    return b"\n".join(lines)


def rules_for(numeric: int, text: int) -> ConstraintSet:
    features = {
        f"n{j:02d}": FeatureRule(name=f"n{j:02d}", type="numeric", min=-8, max=8, max_missing=0.01)
        for j in range(numeric)
    }
    features |= {
        f"c{j}": FeatureRule(name=f"c{j}", type="categorical", allowed=frozenset(COUNTRIES)) for j in range(text // 2)
    }
    features |= {f"e{j}": FeatureRule(name=f"e{j}", type="categorical", regex=EMAIL) for j in range(text - text // 2)}
    return ConstraintSet(features=features)


def cpu_ms(fn: Callable[[], object], repeat: int, before: Callable[[], object] = lambda: None) -> float:
    """The median CPU time of `fn` (`before` runs first each time, untimed)."""
    times = []
    for _ in range(repeat):
        before()
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1e3)
    return statistics.median(times)


def regex_every_value(batch: RecordBatch, rules: ConstraintSet) -> int:
    assert batch.categorical_values is not None
    bad = 0
    for k, name in enumerate(batch.categorical):
        rule = rules.features[name]
        if rule.regex is not None:
            column = pl.Series(batch.categorical_values[:, k].tolist(), dtype=pl.String)
            bad += int((~column.str.contains(rule.regex)).sum())
    return bad


def regex_checked(batch: RecordBatch, rules: ConstraintSet) -> object:
    only = ConstraintSet(
        features={n: r for n, r in rules.features.items() if r.regex is not None}, undeclared=False, absent=False
    )
    return check(only, batch)


def measure(rows: int, numeric: int, text: int, rules: ConstraintSet, repeat: int) -> str:
    body = batch_body(rows, numeric, text)
    [batch] = parse_records(body, "application/x-ndjson", max_records=rows).batches
    found = check(rules, batch)
    assert not found.counts, found.counts  # every value within its constraints
    parse = cpu_ms(lambda: parse_records(body, "application/x-ndjson", max_records=rows), max(3, repeat // 5))
    checking = cpu_ms(lambda: check(rules, batch), repeat)
    cold = cpu_ms(lambda: check(rules, batch), repeat, before=_MATCHED.clear)
    every = cpu_ms(lambda: regex_every_value(batch, rules), repeat)
    distinct = cpu_ms(lambda: regex_checked(batch, rules), repeat)
    return (
        f"{rows:>7,} {parse:>9.2f} {checking:>9.2f} {cold:>9.2f} {checking / parse:>7.1%} {every:>12.2f}"
        f" {distinct:>12.2f}  (distinct, remembered: {every / distinct:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--text", type=int, default=10, help="of the features, how many are text")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    numeric, text = args.features - args.text, args.text
    rules = rules_for(numeric, text)
    print(f"{numeric} numeric features (range, missing); {text // 2} text, allowed; {text - text // 2} regex")
    print(
        f"{'rows':>7} {'parse ms':>9} {'check ms':>9} {'cold ms':>9} {'share':>7} {'regex/col':>12} {'regex check':>12}"
    )
    for rows in args.records:
        print(measure(rows, numeric, text, rules, args.repeat))


if __name__ == "__main__":
    main()
