"""`keyless credentials`: print the admin user's keys for the aws CLI and SDKs."""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path

from keyless.config import default_data_dir, default_endpoint


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("credentials", help="print the admin access key (eval-able with --format env)")
    p.add_argument("--format", choices=("env", "json", "ini"), default="env")
    p.add_argument("--data-dir", type=Path, default=None, help="state directory (env KEYLESS_DATA_DIR)")
    p.add_argument("--endpoint", default=None, help="server URL (env KEYLESS_ENDPOINT; default: where the server last listened)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from keyless.server.bootstrap import load_admin_credentials

    creds = load_admin_credentials(args.data_dir or default_data_dir())
    endpoint = args.endpoint or os.environ.get("KEYLESS_ENDPOINT") or creds.endpoint or default_endpoint()
    if args.format == "json":
        print(json.dumps({
            "AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key,
            "AccountId": creds.account_id, "Region": creds.region, "EndpointUrl": endpoint,
        }, indent=2))
    elif args.format == "ini":
        print("[keyless]")
        print(f"aws_access_key_id = {creds.access_key_id}")
        print(f"aws_secret_access_key = {creds.secret_access_key}")
        print(f"region = {creds.region}")
        print(f"endpoint_url = {endpoint}")
    else:
        values = {
            "AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": creds.region, "AWS_DEFAULT_REGION": creds.region,
        }
        for name, value in values.items():
            print(f"export {name}={shlex.quote(value)}")
        print("unset AWS_SESSION_TOKEN AWS_PROFILE")
    return 0
