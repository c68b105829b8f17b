"""Multipart uploads: boto3's managed transfers (multipart + CRC32 checksums by default), the
low-level API, and S3's multipart errors."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
import zlib
from pathlib import Path
from typing import Any, Iterator

import botocore.exceptions
import pytest

from keyless.testing import Server

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(server: Server) -> Any:
    return server.client("s3")


@pytest.fixture()
def bucket(s3: Any) -> Iterator[str]:
    name = f"multipart-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    yield name
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.mark.slow
def test_100_mib_upload_file_download_file_round_trip(s3: Any, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with open(source, "wb") as handle:
        for _ in range(100):
            handle.write(os.urandom(MiB))
    s3.upload_file(str(source), bucket, "big.bin")  # default TransferConfig: 8 MiB parts, CRC32 per part
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 100 * MiB and head["ETag"].endswith('-13"')
    target = tmp_path / "big.out"
    s3.download_file(bucket, "big.bin", str(target))  # ranged GETs in parallel
    assert sha256_of(target) == sha256_of(source)


def test_low_level_multipart_with_composite_checksum(s3: Any, bucket: str) -> None:
    parts_data = [os.urandom(5 * MiB), b"tail bytes"]
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="text/x-parts", Metadata={"m": "1"},
                                         ChecksumAlgorithm="CRC32")
    upload_id = created["UploadId"]
    assert created["ChecksumAlgorithm"] == "CRC32"
    parts = []
    for number, data in enumerate(parts_data, start=1):
        out = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number, Body=data,
                             ChecksumAlgorithm="CRC32")
        assert out["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        parts.append({"PartNumber": number, "ETag": out["ETag"], "ChecksumCRC32": out["ChecksumCRC32"]})
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 5 * MiB), (2, 10)]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp", upload_id)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts})
    md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-2"'
    crcs = b"".join(zlib.crc32(d).to_bytes(4, "big") for d in parts_data)
    assert done["ChecksumCRC32"] == base64.b64encode(zlib.crc32(crcs).to_bytes(4, "big")).decode() + "-2"
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts_data)
    assert got["ContentType"] == "text/x-parts" and got["Metadata"] == {"m": "1"}
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert second["Body"].read() == b"tail bytes" and second["PartsCount"] == 2
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert error_of(s3.list_parts, Bucket=bucket, Key="mp", UploadId=upload_id) == ("NoSuchUpload", 404)


def test_full_object_crc32(s3: Any, bucket: str) -> None:
    data = [os.urandom(5 * MiB), b"end"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="full", ChecksumAlgorithm="CRC32",
                                           ChecksumType="FULL_OBJECT")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="full", UploadId=upload_id, PartNumber=n,
                                                      Body=d, ChecksumAlgorithm="CRC32")["ETag"]}
             for n, d in enumerate(data, start=1)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert done["ChecksumCRC32"] == base64.b64encode(zlib.crc32(b"".join(data)).to_bytes(4, "big")).decode()
    assert done["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")  # botocore validates the CRC
    assert got["Body"].read() == b"".join(data)


def test_multipart_errors(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="e")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="e", UploadId=upload_id, PartNumber=1, Body=b"tiny")["ETag"]
    last = s3.upload_part(Bucket=bucket, Key="e", UploadId=upload_id, PartNumber=2, Body=b"last")["ETag"]
    complete = s3.complete_multipart_upload
    assert error_of(complete, Bucket=bucket, Key="e", UploadId=upload_id, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": small}, {"PartNumber": 2, "ETag": last}]}) == ("EntityTooSmall", 400)
    assert error_of(complete, Bucket=bucket, Key="e", UploadId=upload_id, MultipartUpload={"Parts": [
        {"PartNumber": 2, "ETag": last}, {"PartNumber": 1, "ETag": small}]}) == ("InvalidPartOrder", 400)
    assert error_of(complete, Bucket=bucket, Key="e", UploadId=upload_id, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": '"0123456789abcdef0123456789abcdef"'}]}) == ("InvalidPart", 400)
    assert error_of(complete, Bucket=bucket, Key="e", UploadId=upload_id, MultipartUpload={"Parts": [
        {"PartNumber": 3, "ETag": last}]}) == ("InvalidPart", 400)
    assert error_of(s3.upload_part, Bucket=bucket, Key="e", UploadId="no-such-upload", PartNumber=1,
                    Body=b"x") == ("NoSuchUpload", 404)
    assert error_of(s3.upload_part, Bucket=bucket, Key="e", UploadId=upload_id, PartNumber=10001,
                    Body=b"x") == ("InvalidArgument", 400)
    # a single (last) part may be small
    done = complete(Bucket=bucket, Key="e", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": last}]})
    assert done["ETag"].endswith('-1"') and s3.get_object(Bucket=bucket, Key="e")["Body"].read() == b"last"


def test_abort_removes_the_upload(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="a", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=upload_id)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.abort_multipart_upload, Bucket=bucket, Key="a", UploadId=upload_id) == ("NoSuchUpload", 404)
    assert error_of(s3.head_object, Bucket=bucket, Key="a") == ("404", 404)


def test_upload_part_copy_with_ranges(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    second = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=2,
                                 CopySource=f"{bucket}/src", CopySourceRange="bytes=10-19")
    assert first["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[:5 * MiB]).hexdigest()}"'
    s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=upload_id, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source[:5 * MiB] + source[10:20]


def test_list_multipart_uploads_with_prefix_and_delimiter(s3: Any, bucket: str) -> None:
    ids = {key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in ("logs/a", "logs/b", "top")}
    out = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in out["Uploads"]] == ["top"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["logs/"]
    page = s3.list_multipart_uploads(Bucket=bucket, Prefix="logs/", MaxUploads=1)
    assert page["IsTruncated"] and [u["UploadId"] for u in page["Uploads"]] == [ids["logs/a"]]
    rest = s3.list_multipart_uploads(Bucket=bucket, Prefix="logs/", KeyMarker=page["NextKeyMarker"],
                                     UploadIdMarker=page["NextUploadIdMarker"])
    assert [u["UploadId"] for u in rest["Uploads"]] == [ids["logs/b"]]
