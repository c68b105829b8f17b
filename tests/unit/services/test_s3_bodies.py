"""Receiving object bodies: aws-chunked bodies built by botocore, payload hashes, lengths and digests.
Every failure must leave no blob behind."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import zlib
from pathlib import Path
from types import SimpleNamespace
from contextlib import contextmanager
from typing import Any, AsyncIterator, Iterator

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from keyless.auth.principals import anonymous
from keyless.clock import Clock
from keyless.config import Settings
from keyless.protocol.http import HttpRequest
from keyless.services.base import RequestContext
from keyless.services.s3 import bodies
from keyless.services.s3.errors import BadDigest, IncompleteBody, InvalidDigest, MissingContentLength
from keyless.services.s3.runtime import S3Runtime


class _NoDb:
    """Stands in for the Database when a test has no row to write."""

    @contextmanager
    def begin(self, *, iam: bool = True) -> Iterator[None]:
        yield None


NO_DB: Any = _NoDb()


@pytest.fixture()
def state(tmp_path: Path) -> Any:
    st = SimpleNamespace(settings=Settings(data_dir=tmp_path), db=None, clock=Clock(), components={})
    st.components["s3"] = S3Runtime(st)  # type: ignore[arg-type]
    return st


def ctx_for(state: Any, headers: dict[str, str]) -> RequestContext:
    req = HttpRequest(method="PUT", raw_path="/b/k", query_string="", headers=list(headers.items()))
    return RequestContext(state=state, caller=anonymous("123456789012"), request=req, operation="PutObject",
                          request_id="r", region="us-east-1", service="s3")


async def pieces(data: bytes, size: int = 7000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def blobs_on_disk(state: Any) -> list[Path]:
    state.components["s3"].blobs.settle()  # unlinking runs on the I/O threads
    return [p for p in (state.settings.data_dir / "s3").rglob("*") if p.is_file()]


def receive(state: Any, headers: dict[str, str], params: dict[str, Any]) -> bodies.Received:
    """Receive and check a body, then commit it as PutObject does (with no row to write)."""
    async def go() -> bodies.Received:
        got = await bodies.receive(ctx_for(state, headers), params)
        await state.components["s3"].blobs.commit(NO_DB, got.written.blob, got.written.staged, lambda conn: [])
        return got
    return asyncio.run(go())


def test_unsigned_aws_chunked_body_with_crc32_trailer(state: Any) -> None:
    data = os.urandom(300_000)
    framed = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32",
                               chunk_size=65536).read()
    headers = {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "content-encoding": "aws-chunked",
               "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-decoded-content-length": str(len(data))}
    got = receive(state, headers, {"Body": pieces(framed), "ContentEncoding": "aws-chunked"})
    assert state.components["s3"].blobs.path(got.written.blob).read_bytes() == data
    assert got.checksum == {"algorithm": "CRC32", "value": base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()}
    assert got.etag == f'"{hashlib.md5(data).hexdigest()}"'


def test_wrong_trailer_checksum_stores_nothing(state: Any) -> None:
    data = b"x" * 1000
    framed = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32").read()
    good = base64.b64encode(zlib.crc32(data).to_bytes(4, "big"))
    framed = framed.replace(good, base64.b64encode(b"\0\0\0\0"))
    headers = {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "content-encoding": "aws-chunked",
               "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-decoded-content-length": "1000"}
    with pytest.raises(Exception) as info:
        receive(state, headers, {"Body": pieces(framed)})
    assert getattr(info.value, "code", None) == "BadDigest"
    assert blobs_on_disk(state) == []


def test_payload_hash_mismatch_stores_nothing(state: Any) -> None:
    data = os.urandom(2 * 1024 * 1024)
    headers = {"x-amz-content-sha256": hashlib.sha256(b"something else").hexdigest(), "content-length": str(len(data))}
    with pytest.raises(Exception) as info:
        receive(state, headers, {"Body": pieces(data, 65536), "ContentLength": len(data)})
    assert getattr(info.value, "code", None) == "XAmzContentSHA256Mismatch"
    assert blobs_on_disk(state) == []
    headers["x-amz-content-sha256"] = hashlib.sha256(data).hexdigest()
    assert receive(state, headers, {"Body": pieces(data), "ContentLength": len(data)}).written.size == len(data)


def test_content_md5_and_checksum_headers(state: Any) -> None:
    data = b"hello"
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    headers = {"content-length": "5", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    got = receive(state, headers, {"Body": pieces(data), "ContentLength": 5, "ContentMD5": md5, "ChecksumCRC32": crc})
    assert got.checksum == {"algorithm": "CRC32", "value": crc}
    with pytest.raises(BadDigest):
        receive(state, headers, {"Body": pieces(b"hellp"), "ContentLength": 5, "ContentMD5": md5})
    with pytest.raises(BadDigest):
        receive(state, headers, {"Body": pieces(b"hellp"), "ContentLength": 5, "ChecksumCRC32": crc})
    with pytest.raises(InvalidDigest):
        receive(state, headers, {"Body": pieces(data), "ContentLength": 5, "ContentMD5": "abc"})
    assert len(blobs_on_disk(state)) == 1


def test_lengths(state: Any) -> None:
    with pytest.raises(IncompleteBody):
        receive(state, {"content-length": "10"}, {"Body": pieces(b"short"), "ContentLength": 10})
    with pytest.raises(MissingContentLength):
        receive(state, {}, {"Body": pieces(b"data")})
    assert blobs_on_disk(state) == []


def test_stored_headers_drop_aws_chunked_and_default_the_content_type() -> None:
    stored = bodies.stored_headers({"ContentEncoding": "gzip,aws-chunked", "StorageClass": "STANDARD"})
    assert stored == {"ContentEncoding": "gzip", "ContentType": "binary/octet-stream"}
    assert bodies.stored_headers({"ContentEncoding": "aws-chunked"}) == {"ContentType": "binary/octet-stream"}
