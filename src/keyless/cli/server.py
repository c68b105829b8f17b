"""`keyless server`: run the server in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from keyless.config import DEFAULT_ACCOUNT, DEFAULT_REGION, Settings, default_data_dir


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("server", help="run the keyless server (IAM, STS, EC2, S3, IMDS) in the foreground")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("KEYLESS_PORT", 5397)), help="port (env KEYLESS_PORT, default 5397)")
    p.add_argument("--data-dir", type=Path, default=None, help="state directory (env KEYLESS_DATA_DIR)")
    p.add_argument("--account-id", default=DEFAULT_ACCOUNT, help="account id on first start (default 123456789012)")
    p.add_argument("--region", default=DEFAULT_REGION, help="region (default us-east-1)")
    p.add_argument("--enforce", choices=("on", "learn", "off"), default="on", help="policy enforcement mode")
    p.add_argument("--imds-credential-lifetime", type=int, default=6 * 3600, metavar="SECONDS")
    p.add_argument("--imds-rotation-interval", type=int, default=3600, metavar="SECONDS")
    p.add_argument("--no-trail", dest="trail", action="store_false", help="do not record an audit trail")
    p.add_argument("--trail-retention-days", type=float, default=90.0, help="keep audit events this long (default 90)")
    p.add_argument("--lookup-data-events", action="store_true",
                   help="also return S3 data events from cloudtrail lookup-events (AWS returns management events only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from keyless.imds.rotation import Schedule
    from keyless.server import serve

    try:  # refuse impossible IMDS settings before anything starts
        Schedule(args.imds_credential_lifetime, args.imds_rotation_interval)
    except ValueError as exc:
        print(f"keyless server: {exc}", file=sys.stderr)
        return 2

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(
        data_dir=args.data_dir or default_data_dir(), host=args.host, port=args.port,
        account_id=args.account_id, region=args.region, enforce=args.enforce,
        imds_credential_lifetime=args.imds_credential_lifetime, imds_rotation_interval=args.imds_rotation_interval,
        trail=args.trail, trail_retention_days=args.trail_retention_days, lookup_data_events=args.lookup_data_events,
    )
    serve(settings)
    return 0
