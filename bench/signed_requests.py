"""Signed request throughput: keyless (SigV4 + policy evaluation + handler) vs a bare ASGI app.

    .venv/bin/python -m bench.signed_requests [--seconds 8] [--rounds 3]

Issue 2's target: keyless keeps at least 50% of the bare server's request rate, single process.
"""

from __future__ import annotations

import argparse
import json

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench._harness import SERVER_PIDS, bare_server, cpu_seconds, keyless_server, wrk
from keyless.server.bootstrap import load_admin_credentials


def signed(endpoint: str, service: str, body: str, creds: Credentials) -> tuple[dict[str, str], bytes]:
    req = AWSRequest("POST", endpoint + "/", data=body.encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds, service, "us-east-1").add_auth(req)
    return dict(req.headers.items()), req.body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each server keeps its best")
    args = parser.parse_args()
    calls = {
        "sts get-caller-identity": ("sts", "Action=GetCallerIdentity&Version=2011-06-15"),
        "iam get-role": ("iam", "Action=GetRole&RoleName=bench-role&Version=2010-05-08"),
    }
    best: dict[str, dict[str, float]] = {name: {"keyless": 0.0, "bare": 0.0} for name in calls}
    cpu: dict[str, dict[str, float]] = {name: {"keyless": 0.0, "bare": 0.0} for name in calls}  # µs per request, best round
    # Both servers stay up and are measured in turn, so load from elsewhere hits both alike.
    with keyless_server() as (endpoint, data_dir), bare_server() as bare:
        admin = load_admin_credentials(data_dir)
        creds = Credentials(admin.access_key_id, admin.secret_access_key)
        iam = botocore.session.get_session().create_client(
            "iam", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id=admin.access_key_id, aws_secret_access_key=admin.secret_access_key)
        iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
        for _ in range(args.rounds):
            for name, (service, body) in calls.items():
                for label, url in (("keyless", endpoint), ("bare", bare)):
                    headers, payload = signed(url, service, body, creds)
                    pid, before = SERVER_PIDS[url], cpu_seconds(SERVER_PIDS[url])
                    rate = wrk(url + "/", "POST", headers, payload, seconds=args.seconds)
                    if rate > best[name][label]:
                        best[name][label] = rate
                        cpu[name][label] = (cpu_seconds(pid) - before) / (rate * args.seconds) * 1e6
    # The CPU column is the server's own (all threads), per request: it stays comparable when
    # other load on the machine moves the rates.
    print("| request | keyless req/s | bare ASGI req/s | ratio | server CPU µs/req keyless / bare |")
    print("|---|---:|---:|---:|---|")
    for name, r in best.items():
        print(f"| {name} | {r['keyless']:.0f} | {r['bare']:.0f} | {r['keyless'] / r['bare']:.0%} "
              f"| {cpu[name]['keyless']:.0f} / {cpu[name]['bare']:.0f} |")


if __name__ == "__main__":
    main()
