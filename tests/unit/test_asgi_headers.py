"""The ASGI app called directly, as any ASGI server may call it: the spec asks servers to lower-case
header names but does not require it, so keyless must read them in any case."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keyless.config import Settings
from keyless.server import build_app
from keyless.server.bootstrap import load_admin_credentials


def _call(app: Any, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    scope = {"type": "http", "method": "POST", "path": "/", "raw_path": b"/", "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 50000)}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_header_names_in_any_case_are_read(tmp_path: Path) -> None:
    app = build_app(dataclasses.replace(Settings(data_dir=tmp_path), trail=False))
    admin = load_admin_credentials(tmp_path)
    request = AWSRequest("POST", "http://127.0.0.1:5397/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(admin.access_key_id, admin.secret_access_key), "sts", "us-east-1").add_auth(request)
    headers = [(name.encode(), value.encode()) for name, value in request.headers.items()]  # as signed: Mixed-Case
    assert any(name != name.lower() for name, _ in headers)
    status, body = _call(app, headers + [(b"Host", b"127.0.0.1:5397")], request.body)
    assert status == 200, body
    assert b"<Arn>arn:aws:iam::123456789012:user/admin</Arn>" in body
