"""Form bodies decode as urllib's parse_qsl does (blank values kept, the last repeat wins), on the
shortcut for bodies with nothing escaped and on the general path alike."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyless import errors
from keyless.protocol.form import form_params
from keyless.protocol.http import HttpRequest

FORM = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")]


def decoded(text: str) -> dict[str, str]:
    return form_params(HttpRequest("POST", "/", "", FORM, text.encode()))


@settings(max_examples=400, deadline=None)
@given(st.text(st.sampled_from("aZ.=&%+2F0é "), max_size=30))
def test_raw_bodies_decode_as_parse_qsl(text: str) -> None:
    try:
        expected = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        with pytest.raises(errors.AwsError):
            decoded(text)
        return
    assert decoded(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=12)), max_size=5))
def test_encoded_pairs_round_trip(pairs: list[tuple[str, str]]) -> None:
    assert decoded(urlencode(pairs)) == dict(pairs)
