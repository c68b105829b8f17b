"""What recording the audit trail costs on the request path: the same signed requests against a
keyless server with the trail on and one with --no-trail, both up at once and measured in turn.

    .venv/bin/python -m bench.trail_overhead [--seconds 8] [--rounds 3]

Issue 6's target: under 10% fewer requests per second with the trail on.
"""

from __future__ import annotations

import argparse

from botocore.credentials import Credentials

from bench._harness import SERVER_PIDS, cpu_seconds, keyless_server, wrk
from bench.signed_requests import signed
from keyless.server.bootstrap import load_admin_credentials

CALLS = {
    "iam get-user": ("iam", "Action=GetUser&Version=2010-05-08"),
    "sts get-caller-identity": ("sts", "Action=GetCallerIdentity&Version=2011-06-15"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each server keeps its best")
    args = parser.parse_args()
    best = {name: {"on": (0.0, 0.0), "off": (0.0, 0.0)} for name in CALLS}  # (req/s, server CPU µs/req)
    with keyless_server() as (on_url, on_dir), keyless_server("--no-trail") as (off_url, off_dir):
        servers = {"on": (on_url, on_dir), "off": (off_url, off_dir)}
        for _ in range(args.rounds):
            for name, (service, body) in CALLS.items():
                for label, (url, data_dir) in servers.items():
                    admin = load_admin_credentials(data_dir)
                    headers, payload = signed(url, service, body, Credentials(admin.access_key_id, admin.secret_access_key))
                    pid, before = SERVER_PIDS[url], cpu_seconds(SERVER_PIDS[url])
                    rate = wrk(url + "/", "POST", headers, payload, seconds=args.seconds)
                    if rate > best[name][label][0]:
                        best[name][label] = (rate, (cpu_seconds(pid) - before) / (rate * args.seconds) * 1e6)
    print("| request | trail off req/s | trail on req/s | overhead | server CPU µs/req off / on |")
    print("|---|---:|---:|---:|---|")
    for name, r in best.items():
        (off, off_cpu), (on, on_cpu) = r["off"], r["on"]
        print(f"| {name} | {off:.0f} | {on:.0f} | {1 - on / off:.1%} | {off_cpu:.0f} / {on_cpu:.0f} |")


if __name__ == "__main__":
    main()
