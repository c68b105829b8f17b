"""`keyless env --instance-id I`: shell lines that make this shell "code on that instance".

    eval "$(keyless env --instance-id i-0abc...)"

Prints nothing secret: the instance's metadata endpoint (with its trailing slash), the server as
AWS_ENDPOINT_URL, the region under both names (the JavaScript SDK reads only AWS_REGION, botocore
only AWS_DEFAULT_REGION), and `unset`s for every variable that would let credentials come from
anywhere but IMDS. Unless --keep-config, the shared config and credentials files are pointed at
/dev/null, which both SDK families read as empty (a profile in ~/.aws would otherwise win over IMDS).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from keyless.config import default_data_dir, default_endpoint

# reference/credential-chain.md §3: everything that would win over IMDS or switch it off.
SCRUBBED = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CREDENTIAL_FILE", "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
LOOPBACK_NO_PROXY = "127.0.0.1,localhost"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("env", help="print shell lines pointing the SDKs at an instance's IMDS (eval-able, no secrets)")
    p.add_argument("--instance-id", required=True)
    p.add_argument("--keep-config", action="store_true",
                   help="leave AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE alone")
    p.add_argument("--data-dir", type=Path, default=None, help="state directory (env KEYLESS_DATA_DIR)")
    p.add_argument("--endpoint", default=None, help="server URL (env KEYLESS_ENDPOINT; default: where the server last listened)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from keyless.cli.instances import find_instance

    data_dir = args.data_dir or default_data_dir()
    info = find_instance(data_dir, args.instance_id)
    if info is None:
        print(f"keyless env: no instance {args.instance_id} in {data_dir}", file=sys.stderr)
        return 1
    if info.imds_endpoint is None:
        print(f"keyless env: instance {args.instance_id} is {info.state}; its metadata service runs only while it runs",
              file=sys.stderr)
        return 1
    server, region = server_endpoint(data_dir, args.endpoint)
    print(shell_lines(info.imds_endpoint, server, region, keep_config=args.keep_config))
    return 0


def server_endpoint(data_dir: Path, explicit: str | None) -> tuple[str, str]:
    """(server URL, region): flag, KEYLESS_ENDPOINT, where the server last listened, the default."""
    from keyless.store.db import Database, get_meta

    db = Database.open(data_dir)
    try:
        with db.read() as conn:
            stored, region = get_meta(conn, "endpoint"), get_meta(conn, "region")
    finally:
        db.close()
    return explicit or os.environ.get("KEYLESS_ENDPOINT") or stored or default_endpoint(), region or "us-east-1"


def shell_lines(imds_endpoint: str, server: str, region: str, *, keep_config: bool = False) -> str:
    values = {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds_endpoint,
        "AWS_ENDPOINT_URL": server,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    if not keep_config:
        values.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    lines = [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    # IMDS calls honour proxy variables: keep loopback out of any proxy.
    lines.append(f'export NO_PROXY="{LOOPBACK_NO_PROXY}${{NO_PROXY:+,$NO_PROXY}}" '
                 f'no_proxy="{LOOPBACK_NO_PROXY}${{no_proxy:+,$no_proxy}}"')
    lines.append("unset " + " ".join(SCRUBBED))
    return "\n".join(lines)
