"""botocore as the oracle: sign requests with botocore's own clients and signers at a fixed time,
and hand them over as keyless HttpRequests exactly as they would arrive on the wire."""

from __future__ import annotations

import importlib.util
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any, Iterator
from unittest import mock
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import _host_from_url
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config

from keyless.protocol.http import HttpRequest

SIGNED_AT = datetime(2026, 11, 28, 10, 35, 10)  # naive UTC, as botocore's clock returns it
NOW = SIGNED_AT.replace(tzinfo=timezone.utc).timestamp()
AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENDPOINT = "http://127.0.0.1:5397"


class _Sent(Exception):
    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


@contextmanager
def signing_time(when: datetime = SIGNED_AT) -> Iterator[None]:
    """Freeze botocore's signing clock (and the CRT signer's, when awscrt is installed)."""

    def clock(remove_tzinfo: bool = True) -> datetime:
        return when if remove_tzinfo else when.replace(tzinfo=timezone.utc)

    with mock.patch("botocore.auth.get_current_datetime", clock), ExitStack() as stack:
        if importlib.util.find_spec("awscrt") is not None:
            stack.enter_context(mock.patch("botocore.crt.auth.get_current_datetime", clock))
        yield


@lru_cache(maxsize=None)  # building a botocore client costs ~100 ms; they are reusable
def make_client(service: str, *, token: str | None = None, akid: str = AKID, secret: str = SECRET,
                endpoint: str = ENDPOINT, **config: Any) -> Any:
    session = botocore.session.get_session()
    client = session.create_client(
        service, region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id=akid,
        aws_secret_access_key=secret, aws_session_token=token,
        config=Config(retries={"max_attempts": 0}, s3={"addressing_style": "path"}, **config))

    def stop(request: AWSPreparedRequest, **_: Any) -> None:
        raise _Sent(request)

    client.meta.events.register("before-send", stop)
    return client


def capture(client: Any, operation: str, when: datetime = SIGNED_AT, **params: Any) -> HttpRequest:
    """Call `operation` and return the request botocore would have sent."""
    with signing_time(when):
        try:
            getattr(client, operation)(**params)
        except _Sent as sent:
            return to_http_request(sent.request)
    raise AssertionError("botocore sent nothing")


def presigned(client: Any, operation: str, *, when: datetime = SIGNED_AT, method: str | None = None,
              expires: int = 3600, headers: dict[str, str] | None = None, **params: Any) -> HttpRequest:
    with signing_time(when):
        url = client.generate_presigned_url(operation, Params=params, ExpiresIn=expires, HttpMethod=method)
    return request_from_url(method or "GET", url, headers=headers)


def request_from_url(method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes = b"") -> HttpRequest:
    parts = urlsplit(url)
    all_headers = [("host", _host_from_url(url))] + [(k.lower(), v) for k, v in (headers or {}).items()]
    return HttpRequest(method=method, raw_path=parts.path or "/", query_string=parts.query,
                       headers=all_headers, body=body)


def to_http_request(prepared: AWSPreparedRequest) -> HttpRequest:
    parts = urlsplit(prepared.url)
    headers = [(name.lower(), value.decode("utf-8") if isinstance(value, bytes) else value)
               for name, value in prepared.headers.items()]
    if not any(name == "host" for name, _ in headers):
        headers.insert(0, ("host", _host_from_url(prepared.url)))
    body = prepared.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    return HttpRequest(method=prepared.method, raw_path=parts.path or "/", query_string=parts.query,
                       headers=headers, body=body)


def with_header(req: HttpRequest, name: str, value: str) -> HttpRequest:
    """A copy of `req` with one header's value replaced."""
    headers = [(k, value if k == name else v) for k, v in req.headers]
    return HttpRequest(req.method, req.raw_path, req.query_string, headers, req.body)


def replace_request(req: HttpRequest, **changes: Any) -> HttpRequest:
    fields = {"method": req.method, "raw_path": req.raw_path, "query_string": req.query_string,
              "headers": list(req.headers), "body": req.body}
    fields.update(changes)
    return HttpRequest(**fields)
