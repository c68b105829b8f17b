"""`keyless instances`: the account's instances with state, profile, role and metadata endpoint.

Reads the data dir's store directly (SQLite in WAL mode lets a reader in beside the running
server), the way `keyless credentials` does; `keyless env` and `keyless run` use the same reads.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from keyless.config import default_data_dir


@dataclass(frozen=True)
class InstanceInfo:
    instance_id: str
    state: str
    instance_type: str
    private_ip: str
    launch_time: str
    profile_arn: str | None
    role_name: str | None
    imds_endpoint: str | None  # only while running
    tags: dict[str, str]

    @property
    def profile_name(self) -> str | None:
        return self.profile_arn.rsplit("/", 1)[-1] if self.profile_arn else None


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("instances", help="list instances with their state, instance profile, role and IMDS endpoint")
    p.add_argument("--all", action="store_true", help="include terminated instances")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--identity-certificate", action="store_true",
                   help="print the certificate that verifies instance identity documents, and exit")
    p.add_argument("--data-dir", type=Path, default=None, help="state directory (env KEYLESS_DATA_DIR)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    if args.identity_certificate:
        return _print_certificate(data_dir)
    infos = load_instances(data_dir, include_terminated=args.all)
    if args.format == "json":
        print(json.dumps([{**asdict(i), "profile_name": i.profile_name} for i in infos], indent=2))
        return 0
    rows = [("INSTANCE", "STATE", "TYPE", "PRIVATE-IP", "PROFILE", "ROLE", "IMDS-ENDPOINT")]
    rows += [(i.instance_id, i.state, i.instance_type, i.private_ip, i.profile_name or "-", i.role_name or "-",
              i.imds_endpoint or "-") for i in infos]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def load_instances(data_dir: Path, *, include_terminated: bool = False, instance_id: str | None = None) -> list[InstanceInfo]:
    from keyless.store import ec2 as ec2_store
    from keyless.store import iam as iam_store
    from keyless.store.db import Database, get_meta

    db = Database.open(data_dir)
    try:
        with db.read() as conn:
            account = get_meta(conn, "account_id") or ""
            rows = ec2_store.list_instances(conn, account, ids=[instance_id] if instance_id else None)
            if not include_terminated and instance_id is None:
                rows = [r for r in rows if r["state"] != "terminated"]
            associations = ec2_store.current_associations(conn, [r["id"] for r in rows])
            infos = []
            for row in rows:
                association = associations.get(row["id"])
                role_name = None
                if association is not None:
                    profile = iam_store.get_instance_profile_by_arn(conn, association["profile_arn"])
                    role = iam_store.instance_profile_role(conn, profile["id"]) if profile else None
                    role_name = role["name"] if role else None
                infos.append(_info(row, association, role_name))
        return infos
    finally:
        db.close()


def find_instance(data_dir: Path, instance_id: str) -> InstanceInfo | None:
    found = load_instances(data_dir, instance_id=instance_id)
    return found[0] if found else None


def _info(row: dict, association: dict | None, role_name: str | None) -> InstanceInfo:  # type: ignore[type-arg]
    serving = row["state"] in ("pending", "running") and row["imds_port"]
    return InstanceInfo(
        instance_id=row["id"], state=row["state"], instance_type=row["instance_type"], private_ip=row["private_ip"],
        launch_time=datetime.fromtimestamp(row["launch_time"], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        profile_arn=association["profile_arn"] if association else None, role_name=role_name,
        imds_endpoint=f"http://127.0.0.1:{row['imds_port']}/" if serving else None,
        tags={t["Key"]: t["Value"] for t in json.loads(row["tags"] or "[]")},
    )


def _print_certificate(data_dir: Path) -> int:
    from keyless.imds.identity import IdentitySigner
    from keyless.store.db import Database, get_meta

    db = Database.open(data_dir)
    try:
        with db.read() as conn:
            account = get_meta(conn, "account_id")
    finally:
        db.close()
    if not account:
        raise SystemExit(f"keyless instances: no keyless account in {data_dir}: start `keyless server` once first")
    print(IdentitySigner(data_dir, account).certificate_pem, end="")
    return 0
