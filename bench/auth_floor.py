"""What SigV4 verification alone costs under uvicorn: the floor under issue 2's throughput target.

    .venv/bin/python -m bench.auth_floor [--seconds 5] [--rounds 3]

Three ASGI apps under the uvicorn settings keyless runs with, up at once and measured in turn
with the same once-signed GetCallerIdentity replayed by wrk:

- **bare**: bench/bare_app.py, a fixed 200;
- **request id**: reads the body and answers a GetCallerIdentity document carrying a fresh
  request id (keyless.ids), as every keyless answer does;
- **+ SigV4**: the same, after building keyless's HttpRequest and verifying the signature with
  keyless.auth.sigv4 (parse_authorization + verify, the signing key cached as in the server).

keyless itself must do all of "+ SigV4" and then route, parse and validate the form, decide
with the policy engine, run the handler, serialize and record the trail; so the "+ SigV4" share
of the bare rate bounds what keyless can reach with this SigV4 code.
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import ExitStack
from typing import Any

from botocore.credentials import Credentials

from bench._harness import SERVER_PIDS, asgi_server, bare_server, cpu_seconds, wrk
from bench.signed_requests import signed
from keyless import ids
from keyless.auth import sigv4
from keyless.protocol.http import HttpRequest

CREDENTIALS = Credentials("AKIAEXAMPLEEXAMPLE12", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
_ANSWER = ('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
           "<Arn>arn:aws:iam::123456789012:user/admin</Arn><UserId>AIDAEXAMPLEEXAMPLE123</UserId>"
           "<Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>{}</RequestId>"
           "</ResponseMetadata></GetCallerIdentityResponse>")
_VERIFY = os.environ.get("AUTH_FLOOR_VERIFY") == "1"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The request-id app, or the + SigV4 app when AUTH_FLOOR_VERIFY=1 (each runs in its own server)."""
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    request_id = ids.request_id()
    if _VERIFY:
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        req = HttpRequest(scope["method"], scope["path"], "", headers, b"".join(chunks))
        params = sigv4.parse_authorization(req, s3=False)
        if params is not None:  # the harness's readiness probe is unsigned
            sigv4.verify(req, params, CREDENTIALS.secret_key, now=time.time(), s3=False)
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
                "request id": stack.enter_context(asgi_server("bench.auth_floor:app", {"AUTH_FLOOR_VERIFY": "0"})),
                "+ SigV4": stack.enter_context(asgi_server("bench.auth_floor:app", {"AUTH_FLOOR_VERIFY": "1"}))}
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
