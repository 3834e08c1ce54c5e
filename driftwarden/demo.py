"""`driftwarden demo`: the daemon plus a synthetic model server that drifts half-way.

The load is a fraud model's traffic: eight numeric features and a country. At the
shift, `amount`, `age` and `distance_km` move; the other five stay put, so the report
shows which features drifted and which did not. Records go to the daemon over real
HTTP, exactly as a model server's own logging would send them.
"""

from __future__ import annotations

import asyncio
import io
import time

import httpx
import numpy as np
import orjson
import polars as pl
from rich.console import Console

from detectors.drift import DriftReport

__all__ = ["DEMO_MODEL", "SHIFTED_FEATURES", "generate", "run_load"]

DEMO_MODEL = "fraud"
SHIFTED_FEATURES = ("amount", "age", "distance_km")
COUNTRIES = np.array(["DE", "FR", "US", "GB", "ES", "IT", "NL", "PL"])


def generate(rng: np.random.Generator, n: int, *, shifted: bool) -> dict[str, np.ndarray]:
    """n rows of the demo model's features; `shifted` moves amount, age and distance_km."""
    age = rng.normal(52 if shifted else 42, 12, n).clip(18, 95)
    age[rng.random(n) < 0.02] = np.nan  # some clients leave age out
    return {
        "amount": rng.lognormal(3.5, 0.8, n) * (1.6 if shifted else 1.0),
        "age": age,
        "tenure_days": rng.exponential(400, n),
        "num_items": rng.poisson(3, n).astype(np.float64),
        "hour": rng.integers(0, 24, n).astype(np.float64),
        "distance_km": rng.lognormal(2.8 if shifted else 2.0, 1.0, n),
        "external_score": rng.beta(2, 5, n),
        "txn_velocity": rng.gamma(2, 1.5, n),
        "country": COUNTRIES[rng.integers(0, len(COUNTRIES), n)],
    }


def reference_parquet(rng: np.random.Generator, n: int = 20_000) -> bytes:
    buf = io.BytesIO()
    pl.DataFrame(generate(rng, n, shifted=False)).with_columns(pl.col("age").fill_nan(None)).write_parquet(buf)
    return buf.getvalue()


def ndjson_records(rng: np.random.Generator, n: int, *, shifted: bool) -> bytes:
    cols = generate(rng, n, shifted=shifted)
    score = (1 / (1 + np.exp(-(cols["amount"] / 100 - 1)))).tolist()
    columns = {k: [None if x != x else x for x in v.tolist()] for k, v in cols.items()}  # x != x: NaN
    now = time.time()
    return b"\n".join(
        orjson.dumps(
            {
                "model": DEMO_MODEL,
                "model_version": "v3",
                "timestamp": now,
                "features": {k: columns[k][i] for k in columns},
                "prediction": score[i],
            }
        )
        for i in range(n)
    )


async def run_load(base_url: str, *, duration: float, rate: float, console: Console, seed: int = 42) -> int:
    """Fit the reference, then post `rate` records/s for `duration` s, shifting at duration/2."""
    rng = np.random.default_rng(seed)
    shift_at = duration / 2
    sent = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.put(
            f"/v1/models/{DEMO_MODEL}/reference",
            content=reference_parquet(rng),
            headers={"content-type": "application/vnd.apache.parquet"},
        )
        r.raise_for_status()
        summary = r.json()
        numeric = sum(1 for f in summary["features"] if f["kind"] == "numeric")
        console.print(
            f"  reference fitted for model [bold]{DEMO_MODEL}[/]: {summary['rows']:,} rows, {numeric} numeric features"
        )
        console.print(
            f"  sending ~{rate:,.0f} predictions/s for {duration:.0f}s; at +{shift_at:.0f}s "
            f"{', '.join(SHIFTED_FEATURES)} shift and the other features stay put"
        )
        start = time.monotonic()
        batch = max(1, int(rate / 4))
        announced = False
        next_progress = 10.0
        while (elapsed := time.monotonic() - start) < duration:
            shifted = elapsed >= shift_at
            if shifted and not announced:
                console.print(
                    f"  [+{elapsed:.0f}s] [bold yellow]shift injected[/]: amount x1.6, age +10 years, distance_km x2.2"
                )
                announced = True
            body = ndjson_records(rng, batch, shifted=shifted)
            r = await client.post("/v1/predictions", content=body, headers={"content-type": "application/x-ndjson"})
            if r.status_code == 200:
                sent += r.json()["accepted"]
            if elapsed >= next_progress:
                console.print(f"  [+{elapsed:.0f}s] {sent:,} records sent")
                next_progress += 10.0
            await asyncio.sleep(max(0.0, batch / rate - (time.monotonic() - start - elapsed)))
    return sent


def describe(report: DriftReport, previous: DriftReport | None, console: Console, started: float, listen: str) -> None:
    """Say in plain words what changed since the last evaluation."""
    now = f"[+{time.monotonic() - started:.0f}s]"
    drifted = {f.name for f in report.drifted_features}
    before = {f.name for f in previous.drifted_features} if previous else set()
    if previous is not None and drifted == before and report.drifted == previous.drifted:
        return
    if not drifted:
        console.print(f"  {now} [green]no drift[/]: {report.summary()}")
        return
    headline = "[bold red]DRIFT DETECTED[/]" if report.drifted else "[yellow]features drifting[/]"
    console.print(f"  {now} {headline} {report.summary()}")
    for f in sorted(report.features, key=lambda f: (not f.drifted, f.name)):
        if f.scores:
            mark = "[red]drifted[/]" if f.drifted else "ok"
            console.print(
                f"        {f.name:<15} PSI {f.scores['psi']:6.3f}  KS {f.scores['ks']:5.3f}  "
                f"p(BH) {f.pvalues_adjusted['ks']:.1e}  {mark}"
            )
    console.print(f"        see it: curl -s {listen}/metrics | grep drifted")
