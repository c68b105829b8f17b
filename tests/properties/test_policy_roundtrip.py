"""Round trips for the parsers the policy engine carries: JSON with positions, variable
templates, dates, and whole policy documents."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from keyless.policy import PolicyKind, parse_policy
from keyless.policy import jsontext
from keyless.policy.operators import parse_date
from keyless.policy.variables import Char, Text, Variable, parse_template

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values, st.sampled_from([None, 0, 2, "\t"]))
@example({"a": [1, {"b": "\u00e9\n"}]}, 2)
def test_json_reader_round_trips_what_json_writes(value: Any, indent: Any) -> None:
    text = json.dumps(value, indent=indent)
    note(text)
    assert jsontext.loads(text) == value


def _objects(value: Any) -> list[jsontext.JsonObject]:
    found = []
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            found += _objects(item)
    elif isinstance(value, list):
        for item in value:
            found += _objects(item)
    return found


@settings(max_examples=200)
@given(json_values, st.sampled_from([None, 1, 4]))
def test_object_offsets_point_at_their_braces(value: Any, indent: Any) -> None:
    text = json.dumps(value, indent=indent)
    lines = jsontext.LineIndex(text)
    for obj in _objects(jsontext.loads(text)):
        assert text[obj.start] == "{" and text[obj.end] == "}"
        line, column = lines.line_column(obj.start)
        assert text.splitlines()[line - 1][column - 1] == "{"


@settings(max_examples=300)
@given(st.text(alphabet='{}[]":,0123456789.eE+-truefalsn \n\\', max_size=20))
@example('{"a":1,}')
@example("[01]")
@example('"\\x"')
def test_json_reader_accepts_exactly_what_json_accepts(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(jsontext.JsonSyntaxError):
            jsontext.loads(text)
    else:
        assert jsontext.loads(text) == expected


plain_text = st.text(alphabet="ab/*?-:", min_size=1, max_size=5)
keys = st.from_regex(r"[a-z0-9]{1,5}:[A-Za-z/]{1,8}", fullmatch=True)
parts = st.lists(
    st.one_of(plain_text.map(Text), st.sampled_from("*?$").map(Char),
              st.tuples(keys, st.none() | st.text(alphabet="abc -", max_size=5)).map(lambda kd: Variable(kd[0].lower(), kd[1]))),
    min_size=1, max_size=5,
)


def render(part: Any) -> str:
    if isinstance(part, Text):
        return part.text
    if isinstance(part, Char):
        return "${" + part.char + "}"
    return "${" + part.key + ("" if part.default is None else f", '{part.default}'") + "}"


def merged(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for part in items:
        if isinstance(part, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].text + part.text)
        else:
            out.append(part)
    return out


@settings(max_examples=300)
@given(parts)
def test_templates_round_trip(items: list[Any]) -> None:
    source = "".join(render(p) for p in items)
    template = parse_template(source)
    if not any(not isinstance(p, Text) for p in items):
        assert template is None
        return
    assert template is not None
    assert merged(list(template.parts)) == merged(items)


@settings(max_examples=300)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.just(timezone.utc)))
def test_dates_round_trip(moment: datetime) -> None:
    expected = moment.timestamp()
    assert parse_date(moment.isoformat()) == pytest.approx(expected, abs=1e-6)
    assert parse_date(moment.strftime("%Y-%m-%dT%H:%M:%SZ")) == pytest.approx(int(expected), abs=1)
    assert parse_date(str(int(expected))) == int(expected)


statement_st = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]),
     "Action": st.lists(st.sampled_from(["s3:GetObject", "iam:*", "ec2:Describe*", "*"]), min_size=1, max_size=3),
     "Resource": st.lists(st.sampled_from(["*", "arn:aws:s3:::b/*", "arn:aws:iam::123456789012:user/${aws:username}"]),
                          min_size=1, max_size=3)},
    optional={"Sid": st.from_regex(r"[A-Za-z0-9]{1,10}", fullmatch=True),
              "Condition": st.just({"StringEquals": {"aws:username": ["bob", "carol"]}})},
)


@settings(max_examples=200)
@given(st.lists(statement_st, min_size=1, max_size=5, unique_by=lambda s: s.get("Sid", object())), st.sampled_from([None, 2]))
def test_policy_documents_round_trip(statements: list[dict[str, Any]], indent: Any) -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=indent)
    policy = parse_policy(text, PolicyKind.IDENTITY)
    assert policy.text == text and policy.version == "2012-10-17"
    for compiled, original in zip(policy.statements, statements, strict=True):
        assert compiled.effect == original["Effect"]
        assert list(compiled.actions) == original["Action"]
        assert list(compiled.resources or ()) == original["Resource"]
        assert compiled.sid == original.get("Sid")
        assert [c.key for c in compiled.clauses] == list(original.get("Condition", {}).get("StringEquals", {}))
