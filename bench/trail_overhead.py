"""What recording the audit trail costs on the request path: the same signed requests against a
keyless server with the trail on and one with --no-trail, both up at once and measured in turn.

    .venv/bin/python -m bench.trail_overhead [--seconds 5] [--rounds 8]

Each round starts a fresh pair of servers, warms both up, and measures them back to back in
alternating order (the one measured second would otherwise inherit the first one's leftover
work, such as the trail writer's last batch). Fresh processes each round because two identical
servers differ by several percent from one process to the next (hash seeds, memory layout:
measured up to 7% between two trail-on servers), which only averaging over processes removes.
The overhead is the median over rounds of 1 - (on / off). The CPU column is per request and
counts the server with its trail writer process.

Issue 6's target: under 10% fewer requests per second with the trail on.
"""

from __future__ import annotations

import argparse
import statistics

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
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {name: {"on": [], "off": []} for name in CALLS}  # (req/s, CPU µs/req)
    for round_ in range(args.rounds):
        with keyless_server() as (on_url, on_dir), keyless_server("--no-trail") as (off_url, off_dir):
            servers = {"on": on_url, "off": off_url}
            requests = {}
            for label, (url, data_dir) in {"on": (on_url, on_dir), "off": (off_url, off_dir)}.items():
                admin = load_admin_credentials(data_dir)
                for name, (service, body) in CALLS.items():
                    requests[name, label] = signed(url, service, body, Credentials(admin.access_key_id, admin.secret_access_key))
                    wrk(url + "/", "POST", *requests[name, label], seconds=1)  # warm-up
            for name in CALLS:
                for label in (("on", "off") if round_ % 2 == 0 else ("off", "on")):
                    url = servers[label]
                    pid, before = SERVER_PIDS[url], cpu_seconds(SERVER_PIDS[url])
                    rate = wrk(url + "/", "POST", *requests[name, label], seconds=args.seconds)
                    runs[name][label].append((rate, (cpu_seconds(pid) - before) / (rate * args.seconds) * 1e6))
    print("| request | trail off req/s (median, best) | trail on req/s (median, best) | overhead (median of rounds) "
          "| rounds over 10% | server CPU µs/req off / on (median) |")
    print("|---|---:|---:|---:|---:|---|")
    for name, r in runs.items():
        off, on = r["off"], r["on"]
        overheads = [1 - a[0] / b[0] for a, b in zip(on, off)]
        print(f"| {name} | {statistics.median(x[0] for x in off):.0f}, {max(x[0] for x in off):.0f} "
              f"| {statistics.median(x[0] for x in on):.0f}, {max(x[0] for x in on):.0f} | {statistics.median(overheads):.1%} "
              f"| {sum(o > 0.10 for o in overheads)} of {len(overheads)} "
              f"| {statistics.median(x[1] for x in off):.0f} / {statistics.median(x[1] for x in on):.0f} |")


if __name__ == "__main__":
    main()
