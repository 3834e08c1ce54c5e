"""The vectorized category encoding (`Vocabulary.encode`: one Arrow string array, one hash lookup of its
values) gives the codes the dict-per-value encoding gave, batch after batch, OTHER and None included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftwarden.core.text_columns import encode_text
from driftwarden.detectors.vocabulary import OTHER, Vocabulary
from tests.support.vocabulary import DictVocabulary

values = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "é", "", OTHER, "x y"]), st.text(max_size=4))
batches = st.lists(st.lists(values, max_size=40), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(batches=batches, cap=st.integers(min_value=1, max_value=12))
def test_codes_are_those_of_the_dict_encoding(batches: list[list[str | None]], cap: int) -> None:
    ours, theirs = Vocabulary(max_categories=cap), DictVocabulary(max_categories=cap)
    for batch in batches:
        column = np.array(batch, dtype=object)
        np.testing.assert_array_equal(ours.encode("f", column), theirs.encode("f", column))
    assert ours.to_dict() == {"f": list(theirs.codes["f"])}


@settings(max_examples=200, deadline=None)
@given(batches=batches, cap=st.integers(min_value=1, max_value=12), data=st.data())
def test_a_parsers_encoding_gives_the_same_codes(
    batches: list[list[str | None]], cap: int, data: st.DataObject
) -> None:
    """`encode_column` (the batch's dictionary encoding, perhaps of more rows than are left) agrees with
    `encode` of the rows themselves."""
    ours, theirs = Vocabulary(max_categories=cap), Vocabulary(max_categories=cap)
    for batch in batches:
        mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(batch), max_size=len(batch))), dtype=bool)
        column = encode_text(batch).take(mask)
        rows = np.array(batch, dtype=object)[mask]
        np.testing.assert_array_equal(ours.encode_column("f", column), theirs.encode("f", rows))
    assert ours.to_dict() == theirs.to_dict()


def test_a_restored_vocabulary_encodes_as_before() -> None:
    v = Vocabulary()
    first = v.encode("f", np.array(["b", "a", None, "c"], dtype=object))
    restored = Vocabulary()
    restored.restore(v.to_dict())
    again = np.array(["c", "a", "b", None, "d"], dtype=object)
    np.testing.assert_array_equal(restored.encode("f", again), v.encode("f", again))
    np.testing.assert_array_equal(first, [1.0, 0.0, np.nan, 2.0])


def test_objects_other_than_text_take_the_dict_path() -> None:
    v, d = Vocabulary(), DictVocabulary()
    column = np.array([3, None, 5, 3], dtype=object)  # integers sent as categories
    np.testing.assert_array_equal(v.encode("f", column), d.encode("f", column))
