"""A text column dictionary-encoded once per batch (`core.text_columns`): the codes give back every value,
the distinct values come in order of first sight, and a subset of the rows keeps counting right."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.collector.predictions import parse_records
from driftwarden.core.text_columns import encode_text

values = st.one_of(st.none(), st.sampled_from(["a", "b", "", "é"]), st.text(max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.lists(values, max_size=60), st.data())
def test_the_codes_give_back_each_value_and_the_counts_count_them(
    column: list[str | None], data: st.DataObject
) -> None:
    encoded = encode_text(column)
    assert encoded.values == tuple(dict.fromkeys(v for v in column if v is not None))
    assert [None if c < 0 else encoded.values[c] for c in encoded.codes.tolist()] == column
    counts = encoded.counts().tolist()
    assert counts == [column.count(None), *(column.count(v) for v in encoded.values)]

    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(column), max_size=len(column))), dtype=bool)
    kept = [v for v, keep in zip(column, mask.tolist(), strict=True) if keep]
    taken = encoded.take(mask)
    assert taken.values == encoded.values  # values no row holds any more count 0
    assert taken.counts().tolist() == [kept.count(None), *(kept.count(v) for v in encoded.values)]


def test_the_parser_encodes_each_text_column_it_builds() -> None:
    records = (b'"DE"', b"null", b'"FR"')
    body = b"\n".join(b'{"model": "m", "features": {"country": %s, "x": 1}}' % country for country in records)
    [batch] = parse_records(body, "application/x-ndjson").batches
    assert batch.text is not None  # made by the parser, not on first use
    [country] = batch.text_columns
    assert (country.values, country.codes.tolist()) == (("DE", "FR"), [0, -1, 1])
    subset = batch.subset(np.array([False, True, True]))
    assert subset.text is not None and subset.text_columns[0].counts().tolist() == [1, 0, 1]
