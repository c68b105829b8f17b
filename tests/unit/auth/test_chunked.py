"""aws-chunked decoding: AWS's documented signed uploads, bodies built by botocore itself, and
every failure S3 names."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import os
import zlib
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Iterable

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, Sha1Checksum, Sha256Checksum
from sigv4_oracle import SECRET, capture, make_client

from keyless import errors
from keyless.auth import chunked, sigv4
from keyless.auth.chunked import AwsChunkedDecoder, decoder_for_request
from keyless.protocol.http import HttpRequest

# --- AWS's worked examples (S3 API reference, sigv4-streaming and sigv4-streaming-trailers) -------
DOC_NOW = datetime(2013, 5, 24, tzinfo=timezone.utc).timestamp()
DOC_SIGNED = {
    "seed": "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    "chunks": ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
               "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
               "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"],
}
DOC_TRAILER = {
    "seed": "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    "chunks": ["b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
               "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
               "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"],
    "trailer": "63bddb248ad2590c92712055f51b8e78ab024eead08276b24f010b0efd74843f",
}
DOC_SIZES = (65536, 1024, 0)


def doc_request(trailer: bool) -> HttpRequest:
    example = DOC_TRAILER if trailer else DOC_SIGNED
    signed = ("content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;"
              "x-amz-trailer" if trailer else
              "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
              "x-amz-storage-class")
    headers = [
        ("host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                          f"SignedHeaders={signed},Signature={example['seed']}"),
        ("x-amz-content-sha256", sigv4.STREAMING_SIGNED_TRAILER if trailer else sigv4.STREAMING_SIGNED),
        ("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", "66560"),
        ("x-amz-trailer", "x-amz-checksum-crc32c") if trailer else ("content-length", "66824"),
    ]
    body = b"".join(f"{size:x};chunk-signature={sig}\r\n".encode() + b"a" * size + (b"\r\n" if size else b"")
                    for size, sig in zip(DOC_SIZES, example["chunks"]))
    if trailer:
        body += f"x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:{example['trailer']}\r\n".encode()
    return HttpRequest("PUT", "/examplebucket/chunkObject.txt", "", headers, body + b"\r\n")


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def _drain(decoder: AwsChunkedDecoder) -> bytes:
    return b"".join([piece async for piece in decoder])


def decode(req: HttpRequest, signing: sigv4.SigningContext | None = None, piece: int = 7000) -> tuple[bytes, AwsChunkedDecoder]:
    decoder = decoder_for_request(req, signing, source=_pieces(req.body, piece))
    assert decoder is not None
    return asyncio.run(_drain(decoder)), decoder


def decode_error(req: HttpRequest, signing: sigv4.SigningContext | None = None) -> errors.AwsError:
    with pytest.raises(errors.AwsError) as exc:
        decode(req, signing)
    return exc.value


def seed_of(req: HttpRequest) -> sigv4.SigningContext:
    params = sigv4.parse_authorization(req)
    assert params is not None
    return sigv4.verify(req, params, SECRET, now=DOC_NOW, s3=True)


def with_body(req: HttpRequest, body: bytes) -> HttpRequest:
    return HttpRequest(req.method, req.raw_path, req.query_string, req.headers, body)


@pytest.mark.parametrize("piece", [1, 3, 85, 4096, 100_000])
def test_aws_documented_signed_upload(piece: int) -> None:
    req = doc_request(trailer=False)
    data, decoder = decode(req, seed_of(req), piece)
    assert data == b"a" * 66560 and decoder.done and decoder.trailers == {}


def test_aws_documented_upload_with_signed_trailer() -> None:
    req = doc_request(trailer=True)
    data, decoder = decode(req, seed_of(req))
    assert data == b"a" * 66560
    assert decoder.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    assert decoder.checksums == {"x-amz-checksum-crc32c": "sOO8/Q=="}


def test_signed_chunk_tampering_is_refused() -> None:
    req = doc_request(trailer=False)
    signing = seed_of(req)
    body = req.body
    corrupted = body.replace(b"a" * 10, b"a" * 9 + b"b", 1)
    assert isinstance(decode_error(with_body(req, corrupted), signing), errors.SignatureDoesNotMatch)
    sig1, sig2 = DOC_SIGNED["chunks"][:2]
    swapped = body.replace(sig1.encode(), b"X" * 64).replace(sig2.encode(), sig1.encode()).replace(b"X" * 64, sig2.encode())
    assert isinstance(decode_error(with_body(req, swapped), signing), errors.SignatureDoesNotMatch)
    unsigned = body.replace(f";chunk-signature={sig1}".encode(), b"")
    assert isinstance(decode_error(with_body(req, unsigned), signing), errors.SignatureDoesNotMatch)
    other_seed = sigv4.SigningContext(signing.signing_key, signing.timestamp, signing.scope, "0" * 64)
    assert isinstance(decode_error(req, other_seed), errors.SignatureDoesNotMatch)


def test_signed_trailer_tampering_is_refused() -> None:
    req = doc_request(trailer=True)
    signing = seed_of(req)
    forged = req.body.replace(b"x-amz-trailer-signature:63", b"x-amz-trailer-signature:64")
    assert isinstance(decode_error(with_body(req, forged), signing), errors.SignatureDoesNotMatch)
    missing = req.body.replace(f"x-amz-trailer-signature:{DOC_TRAILER['trailer']}\r\n".encode(), b"")
    assert isinstance(decode_error(with_body(req, missing), signing), errors.SignatureDoesNotMatch)


def test_signed_body_needs_the_signing_context() -> None:
    assert isinstance(decode_error(doc_request(trailer=False), None), errors.SignatureDoesNotMatch)


def test_truncated_and_overlong_bodies_are_incomplete() -> None:
    req = doc_request(trailer=False)
    signing = seed_of(req)
    for cut in (1, 3, 90, 1100, len(req.body) - 10):
        err = decode_error(with_body(req, req.body[:-cut]), signing)
        assert isinstance(err, chunked.IncompleteBody) and err.status == 400, cut
    assert decode_error(with_body(req, b""), signing).code == "IncompleteBody"
    err = decode_error(with_body(req, req.body + b"extra"), signing)
    assert isinstance(err, chunked.MalformedTrailerError)


# --- bodies built by botocore -----------------------------------------------------------------


class _Uneven(io.RawIOBase):
    """A file whose reads return the planned sizes, so AwsChunkedWrapper emits uneven chunks."""

    def __init__(self, data: bytes, sizes: Iterable[int]) -> None:
        self._data, self._sizes, self._pos = data, iter(sizes), 0

    def read(self, size: int = -1) -> bytes:
        step = next(self._sizes, size if size > 0 else len(self._data))
        piece = self._data[self._pos:self._pos + step]
        self._pos += len(piece)
        return piece


def botocore_body(data: bytes, checksum_cls: Any = Crc32Checksum, name: str = "x-amz-checksum-crc32",
                  sizes: Iterable[int] = ()) -> bytes:
    return AwsChunkedWrapper(_Uneven(data, sizes), checksum_cls=checksum_cls, checksum_name=name, chunk_size=1000).read()


def unsigned_request(body: bytes, decoded_length: int, trailer: str | None = "x-amz-checksum-crc32") -> HttpRequest:
    headers = [("x-amz-content-sha256", sigv4.STREAMING_UNSIGNED_TRAILER), ("content-encoding", "aws-chunked"),
               ("x-amz-decoded-content-length", str(decoded_length))]
    if trailer:
        headers.append(("x-amz-trailer", trailer))
    return HttpRequest("PUT", "/b/k", "", headers, body)


@pytest.mark.parametrize("checksum_cls,name", [(Crc32Checksum, "x-amz-checksum-crc32"),
                                               (Sha1Checksum, "x-amz-checksum-sha1"),
                                               (Sha256Checksum, "x-amz-checksum-sha256")])
def test_botocore_aws_chunked_bodies_decode(checksum_cls: Any, name: str) -> None:
    data = os.urandom(5000)
    body = botocore_body(data, checksum_cls, name, sizes=[1, 999, 0 + 17, 2000])
    decoded, decoder = decode(unsigned_request(body, len(data), name), piece=333)
    expected = checksum_cls()
    expected.update(data)
    assert decoded == data
    assert decoder.trailers == {name: expected.b64digest()} == decoder.checksums


def test_empty_botocore_body() -> None:
    body = botocore_body(b"")
    assert body.startswith(b"0\r\nx-amz-checksum-crc32:")
    decoded, decoder = decode(unsigned_request(body, 0))
    assert decoded == b"" and decoder.trailers == {"x-amz-checksum-crc32": "AAAAAA=="}


def test_botocore_put_object_over_https_uses_trailers_and_decodes() -> None:
    client = make_client("s3", endpoint="https://127.0.0.1:5397")
    data = os.urandom(3000)
    req = capture(client, "put_object", Bucket="b", Key="k", Body=io.BytesIO(data))
    assert req.header("x-amz-content-sha256") == sigv4.STREAMING_UNSIGNED_TRAILER
    assert req.header("content-encoding") == "aws-chunked" and req.header("x-amz-trailer") == "x-amz-checksum-crc32"
    params = sigv4.parse_authorization(req)
    assert params is not None
    signing = sigv4.verify(req, params, SECRET, now=params.amz_date.timestamp(), s3=True)
    decoded, decoder = decode(req, signing, piece=100)
    assert decoded == data
    assert decoder.trailers["x-amz-checksum-crc32"] == base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_wrong_trailing_checksum_is_bad_digest() -> None:
    data = b"hello world"
    body = f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    err = decode_error(unsigned_request(body, len(data)))
    assert isinstance(err, chunked.BadDigest) and err.status == 400
    assert err.message == "The CRC32 you specified did not match the calculated checksum."
    not_base64 = body.replace(b"AAAAAA==", b"not-b64!")
    assert isinstance(decode_error(unsigned_request(not_base64, len(data))), sigv4.InvalidRequest)


def test_announced_trailer_must_arrive() -> None:
    body = b"3\r\nabc\r\n0\r\n\r\n"
    err = decode_error(unsigned_request(body, 3))
    assert isinstance(err, chunked.MalformedTrailerError) and err.status == 400
    decoded, decoder = decode(unsigned_request(body, 3, trailer=None))
    assert decoded == b"abc" and decoder.trailers == {}


@pytest.mark.parametrize("body,length", [
    (b"3\r\nabc\r\n0\r\n\r\n", 4),           # fewer bytes than announced
    (b"3\r\nabc\r\n0\r\n\r\n", 2),           # more bytes than announced
    (b"zz\r\nabc\r\n0\r\n\r\n", 3),          # not a hex size
    (b"3\r\nabcX\r\n0\r\n\r\n", 3),          # chunk longer than its size
    (b"3\r\nabc", 3),                        # no final chunk
])
def test_framing_and_length_errors_are_incomplete_body(body: bytes, length: int) -> None:
    err = decode_error(unsigned_request(body, length, trailer=None))
    assert isinstance(err, chunked.IncompleteBody)
    assert err.message == "You did not provide the number of bytes specified by the Content-Length HTTP header"


def test_decoded_length_is_required() -> None:
    req = unsigned_request(b"0\r\n\r\n", 0, trailer=None)
    req.headers = [h for h in req.headers if h[0] != "x-amz-decoded-content-length"]
    with pytest.raises(chunked.MissingContentLength) as exc:
        decoder_for_request(req)
    assert exc.value.status == 411


def test_unsigned_chunks_stream_without_waiting_for_the_whole_chunk() -> None:
    produced = []

    async def source() -> AsyncIterator[bytes]:
        for piece in (b"64\r\n" + b"x" * 10, b"y" * 90 + b"\r\n", b"0\r\n\r\n"):
            produced.append(piece)
            yield piece

    async def first() -> tuple[bytes, int]:
        decoder = AwsChunkedDecoder(source(), decoded_length=100)
        async for piece in decoder:
            return piece, len(produced)
        raise AssertionError("nothing decoded")

    assert asyncio.run(first()) == (b"x" * 10, 1)


def test_signed_chunk_larger_than_the_limit_is_refused() -> None:
    req = doc_request(trailer=False)
    decoder = AwsChunkedDecoder(_pieces(req.body, 4096), decoded_length=66560, signing=seed_of(req), max_signed_chunk=1024)
    with pytest.raises(chunked.IncompleteBody):
        asyncio.run(_drain(decoder))


def test_request_helpers() -> None:
    plain = HttpRequest("PUT", "/b/k", "", [("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], b"data")
    assert decoder_for_request(plain) is None and not chunked.is_aws_chunked(plain)
    assert chunked.is_aws_chunked(unsigned_request(b"", 0))
    assert chunked.stored_content_encoding("gzip,aws-chunked") == "gzip"
    assert chunked.stored_content_encoding("aws-chunked") is None
    assert chunked.stored_content_encoding(None) is None
    assert chunked.stored_content_encoding("aws-chunked, br, gzip") == "br, gzip"


# --- checksums ---------------------------------------------------------------------------------


def _bitwise_crc(data: bytes, poly: int, width: int) -> int:
    """The textbook one-bit-at-a-time reflected CRC, as an independent reference."""
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ mask


@pytest.mark.parametrize("algorithm,check", [
    ("CRC32", "cbf43926"), ("crc32c", "e3069283"), ("CRC64NVME", "ae8b14860a799888"),
    ("SHA1", hashlib.sha1(b"123456789").hexdigest()), ("SHA256", hashlib.sha256(b"123456789").hexdigest()),
])
def test_checksum_check_values(algorithm: str, check: str) -> None:
    checksum = chunked.new_checksum(algorithm)
    checksum.update(b"1234")
    checksum.update(b"56789")
    assert checksum.digest().hex() == check
    assert chunked.checksum_b64(algorithm, b"123456789") == base64.b64encode(bytes.fromhex(check)).decode()


@pytest.mark.parametrize("name", ["CRC32C", "CRC64NVME"])
def test_pure_python_crcs_match_the_bitwise_definition(name: str) -> None:
    poly, width = chunked._CRC_POLYNOMIALS[name]
    for size in (0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000):
        data = os.urandom(size)
        table = chunked._TableCrc(poly, width)
        table.update(data[: size // 3])
        table.update(data[size // 3:])
        assert int.from_bytes(table.digest(), "big") == _bitwise_crc(data, poly, width), size


def test_checksums_match_botocore() -> None:
    data = os.urandom(10_000)
    for algorithm, cls in (("CRC32", Crc32Checksum), ("SHA1", Sha1Checksum), ("SHA256", Sha256Checksum)):
        expected = cls()
        expected.update(data)
        assert chunked.checksum_b64(algorithm, data) == expected.b64digest()
    awscrt = pytest.importorskip("awscrt")  # botocore's CRC32C/CRC64NVME need the CRT
    assert awscrt
    from botocore.httpchecksum import CrtCrc32cChecksum, CrtCrc64NvmeChecksum
    for name, cls in (("CRC32C", CrtCrc32cChecksum), ("CRC64NVME", CrtCrc64NvmeChecksum)):
        expected = cls()
        expected.update(data)
        table = chunked._TableCrc(*chunked._CRC_POLYNOMIALS[name])
        table.update(data)
        assert table.b64digest() == expected.b64digest() == chunked.checksum_b64(name, data)


def test_unknown_checksum_algorithm() -> None:
    with pytest.raises(ValueError):
        chunked.new_checksum("MD5")


def test_signed_chunks_verify_with_the_documented_string_to_sign() -> None:
    # Independent of the decoder: the first chunk signature of AWS's example from its definition.
    key = sigv4.signing_key(SECRET, "20130524", "us-east-1", "s3")
    to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                         DOC_SIGNED["seed"], sigv4.EMPTY_SHA256, hashlib.sha256(b"a" * 65536).hexdigest()])
    assert hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == DOC_SIGNED["chunks"][0]
