"""What recording the audit trail costs on the request path: the same signed request against
keyless with the trail on and with --no-trail, in one run.

    .venv/bin/python -m bench.trail_overhead [--seconds 10]

Issue 6's target: under 10% fewer requests per second with the trail on.
"""

from __future__ import annotations

import argparse

from botocore.credentials import Credentials

from bench._harness import keyless_server, wrk
from bench.signed_requests import signed
from keyless.server.bootstrap import load_admin_credentials


def rate(seconds: int, *flags: str) -> float:
    with keyless_server(*flags) as (endpoint, data_dir):
        admin = load_admin_credentials(data_dir)
        creds = Credentials(admin.access_key_id, admin.secret_access_key)
        headers, body = signed(endpoint, "iam", "Action=GetUser&Version=2010-05-08", creds)
        wrk(endpoint + "/", "POST", headers, body, seconds=2)  # warm up
        return wrk(endpoint + "/", "POST", headers, body, seconds=seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    on, off = rate(args.seconds), rate(args.seconds, "--no-trail")
    print("| iam get-user | req/s |")
    print("|---|---|")
    print(f"| trail off | {off:.0f} |")
    print(f"| trail on | {on:.0f} |")
    print(f"| overhead | {1 - on / off:.1%} |")


if __name__ == "__main__":
    main()
