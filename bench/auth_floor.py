"""What authenticating and recording a call cost under uvicorn: the floor under issue 2's throughput target.

    .venv/bin/python -m bench.auth_floor [--seconds 5] [--rounds 3]

Four ASGI apps under the uvicorn settings keyless runs with, up at once and measured in turn
with the same once-signed GetCallerIdentity replayed by wrk:

- **bare**: bench/bare_app.py, a fixed 200;
- **request id**: reads the body and answers a GetCallerIdentity document carrying a fresh
  request id (keyless.ids), as every keyless answer does;
- **+ SigV4**: the same, after building keyless's HttpRequest and verifying the signature with
  keyless.auth.sigv4 (parse_authorization + verify, the signing key cached as in the server);
- **+ trail**: the same, and the call queued on keyless's own trail recorder (keyless.trail:
  the tuple keyless queues, its feeder thread, its writer process storing into SQLite), as
  issue 6 requires of every call.

keyless itself must do all of "+ trail" and then route, parse and validate the form, decide
with the policy engine, run the handler and serialize; so the "+ trail" share of the bare rate
bounds what keyless can reach with this SigV4 and trail code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials

from bench._harness import SERVER_PIDS, asgi_server, bare_server, cpu_seconds, wrk
from bench.signed_requests import signed
from keyless import ids
from keyless.auth import sigv4
from keyless.auth.principals import Caller
from keyless.protocol.http import HttpRequest
from keyless.store.db import Database
from keyless.trail.events import pending_call
from keyless.trail.recorder import Recorder

CREDENTIALS = Credentials("AKIAEXAMPLEEXAMPLE12", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
_ANSWER = ('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
           "<Arn>arn:aws:iam::123456789012:user/admin</Arn><UserId>AIDAEXAMPLEEXAMPLE123</UserId>"
           "<Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>{}</RequestId>"
           "</ResponseMetadata></GetCallerIdentityResponse>")
_STEPS = os.environ.get("AUTH_FLOOR_STEPS", "id")  # id | sigv4 | trail
_CALLER = Caller(type="User", account="123456789012", arn="arn:aws:iam::123456789012:user/admin",
                 user_id="AIDAEXAMPLEEXAMPLE123", username="admin", access_key_id=CREDENTIALS.access_key,
                 owner_kind="user", owner_id="AIDAEXAMPLEEXAMPLE123")
_DECISIONS = (("sts:GetCallerIdentity", "*", "allowed", "allowed by AdministratorAccess"),)
_RECORDER: Recorder | None = None  # the + trail app's: keyless's trail recorder over a data dir of its own


async def _lifespan(receive: Any, send: Any) -> None:
    global _RECORDER
    data_dir = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if _STEPS == "trail":
                data_dir = Path(tempfile.mkdtemp(prefix="keyless-floor-"))
                _RECORDER = Recorder(Database.open(data_dir), data_dir)
                await _RECORDER.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _RECORDER is not None and data_dir is not None:
                await _RECORDER.stop()  # the writer stores what it was sent and exits
                shutil.rmtree(data_dir, ignore_errors=True)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The request-id app, or the one AUTH_FLOOR_STEPS names (each runs in its own server)."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    request_id = ids.request_id()
    if _STEPS != "id":
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        req = HttpRequest(scope["method"], scope["path"], "", headers, b"".join(chunks))
        params = sigv4.parse_authorization(req, s3=False)
        if params is not None:  # the harness's readiness probe is unsigned
            sigv4.verify(req, params, CREDENTIALS.secret_key, now=time.time(), s3=False)
            if _RECORDER is not None:
                _RECORDER.record_call(pending_call(time.time(), "sts", "GetCallerIdentity", "us-east-1", "123456789012",
                                                   request_id, _CALLER, req, {}, None, None, _DECISIONS, "on"))
    body = _ANSWER.format(request_id).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/xml"), (b"x-amzn-requestid", request_id.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each app keeps its best")
    args = parser.parse_args()
    with ExitStack() as stack:
        urls = {"bare": stack.enter_context(bare_server()),
                "request id": stack.enter_context(asgi_server("bench.auth_floor:app", {"AUTH_FLOOR_STEPS": "id"})),
                "+ SigV4": stack.enter_context(asgi_server("bench.auth_floor:app", {"AUTH_FLOOR_STEPS": "sigv4"})),
                "+ trail": stack.enter_context(asgi_server("bench.auth_floor:app", {"AUTH_FLOOR_STEPS": "trail"}))}
        best = {name: (0.0, 0.0) for name in urls}  # (req/s, CPU µs per request)
        for _ in range(args.rounds):
            for name, url in urls.items():
                headers, payload = signed(url, "sts", "Action=GetCallerIdentity&Version=2011-06-15", CREDENTIALS)
                pid, before = SERVER_PIDS[url], cpu_seconds(SERVER_PIDS[url])
                rate = wrk(url + "/", "POST", headers, payload, seconds=args.seconds)
                if rate > best[name][0]:
                    best[name] = (rate, (cpu_seconds(pid) - before) / (rate * args.seconds) * 1e6)
    bare = best["bare"][0]
    print("| app | req/s | of bare | server CPU µs/req |")
    print("|---|---:|---:|---:|")
    for name, (rate, cpu) in best.items():
        print(f"| {name} | {rate:.0f} | {rate / bare:.0%} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
