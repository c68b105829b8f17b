"""Raw HTTP against a real keyless server: requests built byte by byte (signed by botocore when they
must get past authentication), one exchange per socket with a timeout, and the checks every hostile
input must pass: a well-formed AWS error with a 4xx status, or a clean close -- never a 5xx, a
traceback, a hang or a changed state.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import ResponseParserError, create_parser
from sqlalchemy import select

from keyless.store import schema
from keyless.testing import Server

HOSTILE_BUCKET = "hostile-bucket"  # made by the suite's server fixture, for requests to aim at
HOSTILE_ROLE = "hostile-role"
TIMEOUT = 10.0  # seconds a hostile request may take before we call it a hang
PROTOCOLS = {"iam": "query", "sts": "query", "ec2": "ec2", "cloudtrail": "json", "s3": "rest-xml"}
TRACEBACK_MARKERS = (b"Traceback (most recent call last)", b'File "/', b"Exception in ASGI application")


# --- one exchange -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: the server closed the connection without an answer
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""


class Hang(AssertionError):
    pass


def exchange(port: int, data: bytes, *, half_close: bool = False, timeout: float = TIMEOUT) -> Reply:
    """Send `data` as is and read one response (or the server's close) within `timeout`."""
    method = data.split(b" ", 1)[0].decode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close early on a request it refused; its answer is still readable
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
            body = response.read()
        except socket.timeout:
            raise Hang(f"no answer within {timeout} s to {data[:120]!r}") from None
        except (http.client.RemoteDisconnected, ConnectionResetError, http.client.IncompleteRead):
            return Reply(None)
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def wire(method: str, target: str, headers: list[tuple[str, str]] | list[tuple[bytes, bytes]], body: bytes = b"",
         *, length: bool = True) -> bytes:
    """An HTTP/1.1 request exactly as given (`length` adds a matching Content-Length)."""
    lines = [f"{method} {target} HTTP/1.1".encode("latin-1")]
    for name, value in headers:
        lines.append((name.encode("latin-1") if isinstance(name, str) else name) + b": "
                     + (value.encode("latin-1") if isinstance(value, str) else value))
    if length and body and not any(_lower(name) == b"content-length" for name, _ in headers):
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _lower(name: str | bytes) -> bytes:
    return (name.encode("latin-1") if isinstance(name, str) else name).lower()


# --- botocore as the signer ---------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # hypothesis prints failing examples field by field otherwise
        return f"Keys({self.access_key_id!r}, ***)"

    @classmethod
    def of(cls, creds: dict[str, Any]) -> Keys:
        """From boto3-style kwargs or an STS/IMDS Credentials dict."""
        return cls(creds.get("aws_access_key_id") or creds["AccessKeyId"],
                   creds.get("aws_secret_access_key") or creds["SecretAccessKey"],
                   creds.get("aws_session_token") or creds.get("SessionToken") or creds.get("Token"))

    def botocore(self) -> Credentials:
        return Credentials(self.access_key_id, self.secret_access_key, self.session_token)


def signed(server: Server, keys: Keys, service: str, method: str, target: str, *, body: bytes = b"",
           headers: dict[str, str] | None = None, when: datetime | None = None, presign: int | None = None) -> bytes:
    """The raw request botocore's signer makes for `target` ("/path?query"); `presign` = X-Amz-Expires."""
    url = server.endpoint + target
    # A presigned URL covers no body: sign without one, send it after (botocore's query signer
    # would otherwise try to read the body as parameters).
    request = AWSRequest(method, url, data=b"" if presign is not None else body, headers=dict(headers or {}))
    if service == "s3":
        signer: Any = (S3SigV4QueryAuth(keys.botocore(), "s3", server.settings.region, expires=presign)
                       if presign is not None else S3SigV4Auth(keys.botocore(), "s3", server.settings.region))
    else:
        signer = (SigV4QueryAuth(keys.botocore(), service, server.settings.region, expires=presign)
                  if presign is not None else SigV4Auth(keys.botocore(), service, server.settings.region))
    with signing_clock(when):
        signer.add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    dropped = ("host", "content-length") if presign is not None else ("host",)  # wire() counts the body sent
    sent = [("Host", f"127.0.0.1:{server.port}")] + [(k, v) for k, v in prepared.headers.items() if k.lower() not in dropped]
    payload = body if presign is not None else prepared.body or b""
    return wire(method, path, sent, payload.encode() if isinstance(payload, str) else payload)


@contextmanager
def signing_clock(when: datetime | None) -> Iterator[None]:
    """Sign as of `when` (naive UTC, as botocore's clock returns it); None: now."""
    if when is None:
        yield
        return
    with mock.patch("botocore.auth.get_current_datetime", lambda remove_tzinfo=True: when):
        yield


def form(action: str, version: str, **params: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"Action": action, "Version": version, **params}).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15", "ec2": "2016-11-15"}


# --- what every hostile answer must look like ---------------------------------------------------


def aws_error(reply: Reply, service: str, *, head: bool = False) -> str:
    """The error code of a well-formed AWS error with a 4xx status (botocore's parser is the judge)."""
    assert reply.status is not None, "the server closed the connection instead of answering"
    assert 400 <= reply.status < 500, f"status {reply.status}: {reply.body[:300]!r}"
    assert_no_traceback(reply.body)
    parser = create_parser(PROTOCOLS[service])
    try:
        parsed = parser.parse({"status_code": reply.status, "headers": reply.headers, "body": reply.body}, None)
    except ResponseParserError as exc:
        raise AssertionError(f"not an AWS error envelope: {exc}") from None
    code = parsed.get("Error", {}).get("Code")
    if head:
        return str(code or reply.status)
    assert code, f"no AWS error code in {reply.body[:300]!r}"
    assert reply.headers.get("x-amzn-requestid") or reply.headers.get("x-amz-request-id"), reply.headers
    return str(code)


def envelope_service(reply: Reply) -> str:
    """Which protocol's error envelope the body is in (for requests whose service is unclear)."""
    body = reply.body.lstrip()
    if body.startswith(b"{"):
        return "cloudtrail"
    if b"<ErrorResponse" in body[:200]:
        return "iam"
    if b"<Response><Errors>" in body[:200]:
        return "ec2"
    return "s3"


def refused_or_closed(reply: Reply, service: str | None = None) -> str | None:
    """Broken HTTP: either a clean close, a plain 4xx from the HTTP layer, or an AWS 4xx error."""
    if reply.status is None:
        return None
    assert 400 <= reply.status < 500, f"status {reply.status}: {reply.body[:300]!r}"
    assert_no_traceback(reply.body)
    if reply.headers.get("content-type", "").startswith("text/plain"):
        return str(reply.status)  # the HTTP parser's own refusal, before any AWS code ran
    return aws_error(reply, service or envelope_service(reply))


def assert_no_traceback(text: bytes | str) -> None:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    for marker in TRACEBACK_MARKERS:
        assert marker not in data, data[:2000]


# --- the server's log ---------------------------------------------------------------------------


class LogCapture(logging.Handler):
    """Every record of the keyless and uvicorn loggers, formatted with any traceback."""

    LOGGERS = ("keyless", "uvicorn", "uvicorn.error", "asyncio")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self._levels: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    def __enter__(self) -> LogCapture:
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.DEBUG)
            logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(self)
            logger.setLevel(self._levels[name])

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def assert_no_tracebacks(self) -> None:
        with_traces = [line for record, line in zip(self.records, self.lines) if record.exc_info or "Traceback" in line]
        assert not with_traces, "\n".join(with_traces)[:4000]
        errors = [line for record, line in zip(self.records, self.lines) if record.levelno >= logging.ERROR]
        assert not errors, "\n".join(errors)[:4000]


# --- state ----------------------------------------------------------------------------------------

_VOLATILE = ("last_used", "last_used_service", "last_used_region")


def state_digest(server: Server) -> str:
    """A hash of everything the server stores except the trail and last-used stamps: IAM, S3, EC2,
    and the names and sizes of the files in the data dir."""
    digest = hashlib.sha256()
    with server.app.state.db.read() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name.startswith("trail"):
                continue
            columns = [c for c in table.columns if c.name not in _VOLATILE]
            rows = sorted(repr(tuple(row)) for row in conn.execute(select(*columns)))
            digest.update(f"{table.name}:{len(rows)}".encode())
            for row in rows:
                digest.update(row.encode())
    for path in sorted(server.data_dir.rglob("*")):
        name = path.relative_to(server.data_dir).as_posix()
        if path.is_file() and not name.startswith("keyless.db"):
            digest.update(f"{name}:{path.stat().st_size}".encode())
    return digest.hexdigest()
