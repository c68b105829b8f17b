"""S3's pure rules: preconditions, ranges, ETag and checksum maths, names, tags, bucket policies."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyless.services.s3 import checksums, conditions
from keyless.services.s3.buckets import valid_bucket_name
from keyless.services.s3.errors import (
    InvalidRange,
    InvalidRequest,
    InvalidTag,
    MalformedPolicy,
    NotModified,
    PreconditionFailed,
)
from keyless.services.s3.multipart import _upload_checksum, multipart_etag
from keyless.services.s3.policy import is_public, validate_bucket_policy
from keyless.services.s3.tagging import validate_tags

ETAG = '"9e107d9d372bb6826bd81d3542a419d6"'
MODIFIED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()
EARLIER = datetime(2026, 1, 1, tzinfo=timezone.utc)
LATER = datetime(2026, 2, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("headers, outcome", [
    ({"if_match": ETAG}, None),
    ({"if_match": '"other", ' + ETAG}, None),
    ({"if_match": "*"}, None),
    ({"if_match": '"other"'}, PreconditionFailed),
    ({"if_none_match": ETAG}, NotModified),
    ({"if_none_match": '"other"'}, None),
    ({"if_modified_since": LATER}, NotModified),
    ({"if_modified_since": EARLIER}, None),
    ({"if_unmodified_since": EARLIER}, PreconditionFailed),
    ({"if_unmodified_since": LATER}, None),
    # S3's documented combinations
    ({"if_match": ETAG, "if_unmodified_since": EARLIER}, None),
    ({"if_none_match": '"other"', "if_modified_since": LATER}, None),
    ({"if_modified_since": datetime.fromtimestamp(int(MODIFIED), tz=timezone.utc)}, NotModified),
    ({"if_modified_since": "Fri, 02 Jan 2026 03:04:05 GMT"}, NotModified),
    ({"if_modified_since": "not a date"}, None),
])
def test_preconditions(headers: dict[str, object], outcome: type[Exception] | None) -> None:
    if outcome is None:
        conditions.check_preconditions(ETAG, MODIFIED, **headers)  # type: ignore[arg-type]
    else:
        with pytest.raises(outcome):
            conditions.check_preconditions(ETAG, MODIFIED, **headers)  # type: ignore[arg-type]


@pytest.mark.parametrize("header, size, span", [
    ("bytes=0-99", 1000, (0, 99)),
    ("bytes=900-", 1000, (900, 999)),
    ("bytes=-100", 1000, (900, 999)),
    ("bytes=-5000", 1000, (0, 999)),
    ("bytes=990-5000", 1000, (990, 999)),
    ("bytes=5-1", 1000, None),
    ("bytes=0-1,5-6", 1000, None),
    ("items=0-1", 1000, None),
    (None, 1000, None),
])
def test_ranges(header: str | None, size: int, span: tuple[int, int] | None) -> None:
    got = conditions.parse_range(header, size)
    assert (None if got is None else (got.start, got.end)) == span


@pytest.mark.parametrize("header, size", [("bytes=1000-", 1000), ("bytes=0-", 0), ("bytes=-0", 10)])
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(InvalidRange) as info:
        conditions.parse_range(header, size)
    assert info.value.status == 416 and info.value.fields["ActualObjectSize"] == str(size)


@given(st.lists(st.integers(1, 50), min_size=1, max_size=6), st.data())
def test_part_ranges_tile_the_object(sizes: list[int], data: st.DataObject) -> None:
    number = data.draw(st.integers(1, len(sizes)))
    span = conditions.part_range(sizes, sum(sizes), number)
    assert span.start == sum(sizes[: number - 1]) and span.length == sizes[number - 1]


def test_multipart_etag_is_md5_of_part_md5s() -> None:
    parts = [b"a" * 10, b"b" * 3]
    md5s = [hashlib.md5(p).digest() for p in parts]
    assert multipart_etag(md5s) == '"' + hashlib.md5(md5s[0] + md5s[1]).hexdigest() + '-2"'


def test_composite_checksum() -> None:
    parts = [b"hello ", b"world"]
    raw = [zlib.crc32(p).to_bytes(4, "big") for p in parts]
    expected = base64.b64encode(zlib.crc32(b"".join(raw)).to_bytes(4, "big")).decode() + "-2"
    assert checksums.composite("CRC32", raw) == expected


def test_checksum_headers_are_validated_for_shape() -> None:
    good = base64.b64encode(b"\x00\x01\x02\x03").decode()
    assert checksums.requested({"ChecksumCRC32": good}) == [checksums.Expected("CRC32", good)]
    with pytest.raises(InvalidRequest):
        checksums.requested({"ChecksumCRC32": "AAAA"})  # 3 bytes
    with pytest.raises(InvalidRequest):
        checksums.requested({"ChecksumCRC32": good, "ChecksumSHA1": base64.b64encode(b"x" * 20).decode()})


@pytest.mark.parametrize("algorithm, kind, expected", [
    ("CRC32", None, {"algorithm": "CRC32", "type": "COMPOSITE"}),
    ("crc32", "FULL_OBJECT", {"algorithm": "CRC32", "type": "FULL_OBJECT"}),
    ("CRC64NVME", None, {"algorithm": "CRC64NVME", "type": "FULL_OBJECT"}),
    (None, None, None),
])
def test_upload_checksum_defaults(algorithm: str | None, kind: str | None, expected: object) -> None:
    assert _upload_checksum(algorithm, kind) == expected


@pytest.mark.parametrize("algorithm, kind", [("SHA256", "FULL_OBJECT"), (None, "COMPOSITE"), ("MD4", None)])
def test_upload_checksum_refusals(algorithm: str | None, kind: str | None) -> None:
    with pytest.raises(InvalidRequest):
        _upload_checksum(algorithm, kind)


@pytest.mark.parametrize("name, ok", [
    ("my-specific-bucket", True), ("a.b-c1", True), ("ab", False), ("a" * 64, False), ("Upper", False),
    ("-start", False), ("end-", False), ("two..dots", False), ("192.168.1.1", False), ("xn--punycode", False),
    ("name-s3alias", False), ("under_score", False),
])
def test_bucket_names(name: str, ok: bool) -> None:
    assert valid_bucket_name(name) is ok


def test_tags() -> None:
    assert validate_tags([{"Key": "team", "Value": "a b+c=d"}], limit=10) == [{"Key": "team", "Value": "a b+c=d"}]
    for bad in ([{"Key": "k", "Value": "v"}] * 2, [{"Key": "aws:x", "Value": "v"}], [{"Key": "k" * 129, "Value": ""}],
                [{"Key": f"k{i}", "Value": ""} for i in range(11)], [{"Key": "k", "Value": "<script>"}]):
        with pytest.raises(InvalidTag):
            validate_tags(bad, limit=10)


def _policy(**statement: object) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]})


@pytest.mark.parametrize("text, message", [
    ("[]", "Policies must be valid JSON and the first byte must be '{'"),
    ("{not json", "This policy contains invalid Json"),
    (_policy(Action="s3:GetObject", Resource="arn:aws:s3:::b/*"), "Missing required field Principal"),
    (_policy(Principal="*", Action="iam:GetRole", Resource="arn:aws:s3:::b/*"), "Policy has invalid action"),
    (_policy(Principal="*", Action="s3:GetObject", Resource="arn:aws:s3:::other/*"), "Policy has invalid resource"),
    (_policy(Principal="*", Action="s3:GetObject", Resource="arn:aws:s3:::bb"), "Policy has invalid resource"),
])
def test_malformed_bucket_policies(text: str, message: str) -> None:
    with pytest.raises(MalformedPolicy) as info:
        validate_bucket_policy(text, "b")
    assert info.value.message == message and info.value.status == 400


def test_public_policies() -> None:
    public = _policy(Principal="*", Action="s3:GetObject", Resource="arn:aws:s3:::b/*")
    validate_bucket_policy(public, "b")
    assert is_public(public)
    assert not is_public(_policy(Principal={"AWS": "arn:aws:iam::123456789012:root"}, Action="s3:GetObject",
                                 Resource="arn:aws:s3:::b/*"))
    assert not is_public(_policy(Principal="*", Action="s3:GetObject", Resource="arn:aws:s3:::b/*",
                                 Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
