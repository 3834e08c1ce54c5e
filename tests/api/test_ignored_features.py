"""A feature of kind `ignore` (`models.<m>.features`) is left out like a `redact`ed one, for its model only:
not fitted into the reference, not stored from prediction records, not in the drift report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support.records import NDJSON, put_reference, records, reference_frame
from tests.support.server import running


def test_an_ignored_feature_is_neither_fitted_nor_stored(tmp_path: Path) -> None:
    models = {"fraud": {"features": {"score": "ignore", "country": "ignore"}}}
    with running(tmp_path / "s.db", models=models) as d:
        summary = put_reference(d, reference_frame(np.random.default_rng(8), 200))
        assert {f["name"] for f in summary["features"]} == {"amount", "age"}
        for model in ("fraud", "other"):  # another model keeps every feature
            r = d.client.post(
                "/v1/predictions", content=records(np.random.default_rng(9), 50, model=model), headers=NDJSON
            )
            assert r.status_code == 200, r.text
        d.evaluate()
        names = {f["name"] for f in d.client.get("/v1/models/fraud/drift").json()["features"]}
        assert names == {"amount", "age"}
        assert d.app.state.views.detector("fraud").window.features == ("amount", "age")
        assert set(d.app.state.views.detector("other").window.features) == {"amount", "age", "score", "country"}
