"""IMDS's JSON formatting: the fast flat writer must produce exactly what json.dumps would."""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st

from keyless.imds.model import imds_json

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text())


@given(st.dictionaries(st.text(), scalars, max_size=12))
@example({})
@example({"Code": "Success", "Token": 'quote " and \\ backslash \u2028 and \U0001f600'})
def test_flat_documents_match_json_dumps(document: dict[str, object]) -> None:
    assert imds_json(document) == json.dumps(document, indent=2, separators=(",", " : ")).encode()


def test_nested_documents_fall_back_to_json_dumps() -> None:
    document = {"a": {"b": [1, 2]}, "c": "d"}
    assert imds_json(document) == json.dumps(document, indent=2, separators=(",", " : ")).encode()
