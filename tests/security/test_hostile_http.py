"""Broken and hostile HTTP against a real server, byte by byte: oversized headers, bodies longer or
shorter than announced, truncated and malformed framing, invalid UTF-8 and header injection. Every
answer is a well-formed AWS 4xx error or a clean close, within a socket timeout; nothing is logged
with a traceback and the stored state does not change (the `unharmed` fixture)."""

from __future__ import annotations

import re
import socket
from typing import Any, Callable

import pytest

from security_wire import FORM, Keys, assert_no_traceback, aws_error, exchange, form, refused_or_closed, signed, wire
from keyless.testing import Server

pytestmark = pytest.mark.usefixtures("unharmed")

HOST = ("Host", "127.0.0.1")
CLOSE = ("Connection", "close")
LIST_USERS = b"Action=ListUsers&Version=2010-05-08"


def _form_post(body: bytes, *extra: tuple[str, str], length: str | None = None) -> bytes:
    headers = [HOST, ("Content-Type", FORM["Content-Type"]), *extra]
    headers.append(("Content-Length", length if length is not None else str(len(body))))
    return wire("POST", "/", headers, body)


# --- header size limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["s3", "iam", "ec2", "cloudtrail"])
def test_a_header_line_over_8_kib_is_request_header_section_too_large(secure_server: Server, admin_keys: Keys,
                                                                      service: str) -> None:
    request = signed(secure_server, admin_keys, service, "GET", "/", headers={"X-Padding": "a" * 8200})
    reply = exchange(secure_server.port, request)
    assert aws_error(reply, service) == "RequestHeaderSectionTooLarge"
    assert reply.status == 400 and reply.headers.get("connection") == "close"
    if service == "s3":
        assert b"<MaxSizeAllowed>8192</MaxSizeAllowed>" in reply.body


def test_a_header_line_of_exactly_8_kib_is_served(secure_server: Server, admin_keys: Keys) -> None:
    padding = 8192 - len("x-padding: ")
    reply = exchange(secure_server.port, signed(secure_server, admin_keys, "s3", "GET", "/", headers={"X-Padding": "a" * padding}))
    assert reply.status == 200, reply.body[:300]


@pytest.mark.parametrize("size", [70_000, 1_000_000])
def test_huge_unsigned_header_is_refused(secure_server: Server, size: int) -> None:
    reply = exchange(secure_server.port, wire("GET", "/", [HOST, ("X-A", "a" * size), CLOSE]))
    assert refused_or_closed(reply) in (None, "RequestHeaderSectionTooLarge", "400", "431")


def test_thousands_of_small_headers_are_refused(secure_server: Server) -> None:
    headers = [HOST, *((f"X-H{i}", "v" * 20) for i in range(4000)), CLOSE]
    assert refused_or_closed(exchange(secure_server.port, wire("GET", "/", headers))) in (None, "RequestHeaderSectionTooLarge")


# --- bodies that do not match their framing ---------------------------------------------------------


def test_body_longer_than_content_length_leaves_the_rest_unserved(secure_server: Server) -> None:
    # What follows the announced body is read as the next request (HTTP/1.1 pipelining); a
    # body's continuation is no request, so it is refused, and the first answer stands alone.
    extra = b"&Action=CreateUser&UserName=smuggled" * 20
    with socket.create_connection(("127.0.0.1", secure_server.port), timeout=10) as sock:
        sock.sendall(_form_post(LIST_USERS + extra, length=str(len(LIST_USERS))))
        sock.shutdown(socket.SHUT_WR)
        replies = sock.makefile("rb").read()
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", replies)
    # httptools may refuse the garbage before the first answer is written: then only the 400 is seen.
    assert statuses in ([b"403", b"400"], [b"400"]), replies[:600]
    assert_no_traceback(replies)


def test_body_shorter_than_content_length_then_close_is_not_served(secure_server: Server, admin_keys: Keys) -> None:
    request = signed(secure_server, admin_keys, "iam", "POST", "/", body=form("CreateUser", "2010-05-08", UserName="cut"),
                     headers=FORM)
    reply = exchange(secure_server.port, request[:-5], half_close=True)
    assert reply.status is None  # the client left before its body was complete: no answer, nothing done


@pytest.mark.parametrize("presign", [None, 300], ids=["header-signed", "presigned-unsigned-payload"])
def test_truncated_s3_upload_is_not_stored(secure_server: Server, admin_keys: Keys, admin_client: Callable[[str], Any],
                                           presign: int | None) -> None:
    # A presigned PUT leaves the body out of the signature: only the framing says it is incomplete.
    request = signed(secure_server, admin_keys, "s3", "PUT", "/hostile-bucket/truncated", body=b"x" * 4096, presign=presign)
    reply = exchange(secure_server.port, request[:-1000], half_close=True)
    assert refused_or_closed(reply) in (None, "IncompleteBody")
    listed = admin_client("s3").list_objects_v2(Bucket="hostile-bucket").get("Contents", [])
    assert "truncated" not in {o["Key"] for o in listed}


@pytest.mark.parametrize("framing", [
    [("Transfer-Encoding", "chunked"), ("Content-Length", "3")],  # both: a smuggling classic
    [("Content-Length", "-1")],
    [("Content-Length", "99999999999999999999999")],
    [("Content-Length", "5"), ("Content-Length", "6")],
    [("Transfer-Encoding", "gzip, chunked, identity")],
], ids=["cl-and-te", "negative-cl", "huge-cl", "two-cl", "te-list"])
def test_contradictory_framing_is_refused_or_closed(secure_server: Server, framing: list[tuple[str, str]]) -> None:
    request = wire("POST", "/", [HOST, ("Content-Type", FORM["Content-Type"]), *framing], b"0\r\n\r\n", length=False)
    refused_or_closed(exchange(secure_server.port, request, half_close=True), "iam")


@pytest.mark.parametrize("chunks", [b"zz\r\nabc\r\n0\r\n\r\n", b"5\r\nab", b"ffffffffffffffffff\r\n", b"3\r\nabcde\r\n0\r\n\r\n"],
                         ids=["bad-size", "truncated", "huge-size", "overlong-chunk"])
def test_broken_http_chunking_is_refused_or_closed(secure_server: Server, chunks: bytes) -> None:
    request = wire("POST", "/", [HOST, ("Content-Type", FORM["Content-Type"]), ("Transfer-Encoding", "chunked")], chunks,
                   length=False)
    refused_or_closed(exchange(secure_server.port, request, half_close=True), "iam")


def test_control_body_over_8_mib_is_request_entity_too_large(secure_server: Server) -> None:
    reply = exchange(secure_server.port, _form_post(LIST_USERS + b"&Pad=" + b"a" * (8 * 1024 * 1024)))
    assert aws_error(reply, "s3") == "RequestEntityTooLarge" and reply.status == 413


# --- malformed request lines and headers ------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b"GET /b HTTP/1.1\r\nHost: x\r\nX-A: a\rX-B: b\r\n\r\n",  # bare CR: header injection
    b"GET /b HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",  # NUL in a value
    b"GET /b HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n",  # obsolete line folding
    b"GET /b HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",  # space in a name
    b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",  # invalid UTF-8 in the target
    b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",  # space in the target
    b"GET http://169.254.169.254/latest/ HTTP/1.1\r\nHost: x\r\n\r\n",  # absolute form
    b" / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)),  # a TLS ClientHello
    b"\r\n\r\n\r\n",
], ids=["bare-cr", "nul", "folding", "space-name", "utf8-target", "space-target", "absolute-form", "no-method",
        "http-9", "tls", "empty"])
def test_malformed_request_is_refused_or_closed(secure_server: Server, raw: bytes) -> None:
    refused_or_closed(exchange(secure_server.port, raw, half_close=True))


def test_invalid_utf8_in_s3_headers_and_query_gets_an_aws_error(secure_server: Server) -> None:
    request = wire("GET", "/hostile-bucket/k?prefix=%ff%fe&x=%C3",
                   [HOST, (b"X-Amz-Meta-A", b"\xff\xfe\xc3"), (b"Authorization", b"AWS4-HMAC-SHA256 Credential=\xff/"), CLOSE])
    aws_error(exchange(secure_server.port, request), "s3")


def test_invalid_utf8_in_a_signed_form_body_is_malformed_query_string(secure_server: Server, admin_keys: Keys) -> None:
    request = signed(secure_server, admin_keys, "iam", "POST", "/", body=LIST_USERS + b"&PathPrefix=\xff\xfe", headers=FORM)
    assert aws_error(exchange(secure_server.port, request), "iam") == "MalformedQueryString"


def test_response_headers_cannot_be_injected_through_the_key(secure_server: Server, admin_keys: Keys) -> None:
    # %0d%0a in a key must not become a CR LF in any response header (e.g. an echoed Location).
    reply = exchange(secure_server.port, signed(secure_server, admin_keys, "s3", "GET",
                                                "/hostile-bucket/a%0d%0aSet-Cookie:%20x=1"))
    assert aws_error(reply, "s3") == "NoSuchKey"
    assert "set-cookie" not in reply.headers


# --- aws-chunked uploads ------------------------------------------------------------------------------

GOOD_CHUNKS = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"


@pytest.fixture(scope="module")
def chunked_headers(secure_server: Server, admin_keys: Keys, admin_client: Callable[[str], Any]) -> dict[str, str]:
    """The framing botocore uses over https and the JS SDK for streams; checked to work once, well formed
    (the object stays, so the stored state is the same before and after every test)."""
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
               "X-Amz-Decoded-Content-Length": "5", "X-Amz-Trailer": "x-amz-checksum-crc32"}
    good = exchange(secure_server.port, signed(secure_server, admin_keys, "s3", "PUT", "/hostile-bucket/chunked-good",
                                               body=GOOD_CHUNKS, headers=headers))
    assert good.status == 200, good.body[:300]
    assert admin_client("s3").get_object(Bucket="hostile-bucket", Key="chunked-good")["Body"].read() == b"hello"
    return headers


@pytest.mark.parametrize("chunks", [
    b"zz\r\nhello\r\n0\r\n\r\n",  # size not hex
    b"-5\r\nhello\r\n0\r\n\r\n",
    b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",  # absurd size
    b"9\r\nhello\r\n0\r\n\r\n",  # size larger than the data
    b"5\r\nhello\r\n",  # no final chunk
    b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",  # wrong trailer checksum
    b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:" + b"A" * 20_000 + b"\r\n\r\n",  # oversized trailer
    b"5;chunk-signature=" + b"0" * 64 + b"\r\nhello\r\n0\r\n\r\n",  # a signature on an unsigned stream
    b"5\r\nhelloXX0\r\n\r\n",  # no CRLF after the data
    b"3\r\nhel\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",  # shorter than the decoded length
], ids=["not-hex", "negative", "absurd", "too-big", "no-final", "bad-checksum", "big-trailer", "stray-signature",
        "no-crlf", "short"])
def test_broken_aws_chunked_uploads_are_refused_and_not_stored(secure_server: Server, admin_keys: Keys,
                                                               chunked_headers: dict[str, str], chunks: bytes) -> None:
    reply = exchange(secure_server.port, signed(secure_server, admin_keys, "s3", "PUT", "/hostile-bucket/chunked",
                                                body=chunks, headers=chunked_headers), half_close=True)
    assert refused_or_closed(reply, "s3") not in (None, "400")  # an S3 error, with its code
