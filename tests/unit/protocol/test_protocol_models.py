"""Building blocks: Java model regexes, scalar codecs, the validation walk and its wording."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from keyless.protocol import protocol_for
from keyless.protocol.models import ShapeCompiler, java_pattern
from keyless.protocol.validate import coral_message, violations
from keyless.protocol.values import epoch, iso8601, parse_timestamp, rfc822

UTC = timezone.utc


@pytest.mark.parametrize(("pattern", "accepted", "refused"), [
    (r"[\w+=,.@-]+", ["dev.session@x"], ["é", "a b"]),  # Java's \w is ASCII
    (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+", ["équipe 東京 ٣", "a\u3000b"], ["a#b", "a\tb"]),
    (r"\p{Print}+", ["a b~"], ["é", "\t"]),
    (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", ["ok😀\t"], ["\x01"]),
    (r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)", ["/", "/a/b/"], ["/a", "a/"]),
])
def test_java_patterns_match_as_java_would(pattern: str, accepted: list[str], refused: list[str]) -> None:
    regex = java_pattern(pattern)
    assert regex is not None
    assert all(regex.fullmatch(text) for text in accepted)
    assert not any(regex.fullmatch(text) for text in refused)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
@example(datetime(2026, 11, 28, 10, tzinfo=UTC))
def test_timestamp_texts_round_trip(moment: datetime) -> None:
    assert parse_timestamp(iso8601(moment)) == moment
    assert parse_timestamp(str(epoch(moment))) == moment
    assert parse_timestamp(rfc822(moment)) == moment.replace(microsecond=0)


def test_timestamp_formats() -> None:
    moment = datetime(2026, 11, 28, 10, 0, 0, 120000, tzinfo=UTC)
    assert iso8601(moment.replace(microsecond=0)) == "2026-11-28T10:00:00Z"
    assert iso8601(moment) == "2026-11-28T10:00:00.120Z"
    assert rfc822(moment) == "Sat, 28 Nov 2026 10:00:00 GMT"
    assert epoch(moment) == 1795860000.12 and epoch(moment.replace(microsecond=0)) == 1795860000
    assert iso8601(1795860000) == "2026-11-28T10:00:00Z"  # handlers may hand epoch numbers


def _input(service: str, operation: str):  # type: ignore[no-untyped-def]
    return ShapeCompiler().compile(protocol_for(service).service_model.operation_model(operation).input_shape)


def test_list_of_scalars_reports_once_at_the_list() -> None:
    node = _input("cloudtrail", "LookupEvents")
    found = violations(node, {"LookupAttributes": [{"AttributeKey": "Bad", "AttributeValue": "x"}]})
    assert [v.path for v in found] == [("LookupAttributes", 1, "member", "AttributeKey")]
    ec2 = _input("ec2", "DescribeInstanceTypes")
    found = violations(ec2, {"InstanceTypes": ["t3.micro", "z9.huge", "y1.tiny"]})
    assert len(found) == 1 and found[0].constraint.startswith("Member must satisfy constraint: [Member must satisfy enum")
    assert coral_message(found).startswith("1 validation error detected: Value '[t3.micro, z9.huge, y1.tiny]' at "
                                           "'instanceTypes' failed to satisfy constraint:")


def test_enums_can_be_left_out() -> None:
    node = _input("s3", "PutBucketVersioning")
    value = {"Bucket": "b", "VersioningConfiguration": {"Status": "Sideways"}}
    assert violations(node, value) and not violations(node, value, enums=False)


def test_recursive_shapes_compile_and_validate() -> None:
    node = _input("dynamodb", "PutItem")
    deep = {"L": [{"M": {"a": {"L": [{"S": "x"}]}}}]}
    assert violations(node, {"TableName": "ok-table", "Item": {"k": deep}}) == []
    assert violations(node, {"TableName": "", "Item": {}})[0].constraint == "Member must have length greater than or equal to 1"
