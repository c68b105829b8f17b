"""`keyless demo`: the article's scenario, end to end, with the aws CLI command for every step.

An instance role that may read one bucket reads it through IMDS and the SDK's default chain, is
denied the write it should not make (AWS's message), gets a writer profile in place, writes, and
the trail shows what happened and why. Exit 0 only if every step behaved as expected.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from keyless.config import default_data_dir

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}

# Runs "on the instance": no keys anywhere, the SDK's default chain must find IMDS by itself.
APP = """
import sys, boto3, botocore.exceptions
s3 = boto3.client("s3")
op, bucket, key = sys.argv[1:4]
try:
    if op == "get":
        print(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
    else:
        s3.put_object(Bucket=bucket, Key=key, Body=b"written from the instance")
        print("written")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"])
    sys.exit(3)
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run the article's instance-profile scenario end to end (a smoke test)")
    p.add_argument("--endpoint", help="use a running server (default: an embedded one in a temporary data dir)")
    p.add_argument("--data-dir", type=Path, default=None, help="with --endpoint: that server's data dir")
    p.set_defaults(func=run)


@dataclass
class Step:
    title: str
    command: str
    action: Callable[[], str]


class Demo:
    def __init__(self, endpoint: str, data_dir: Path) -> None:
        from keyless.server.bootstrap import load_admin_credentials

        self.endpoint, self.data_dir = endpoint, data_dir
        creds = load_admin_credentials(data_dir)
        self.keys = {"aws_access_key_id": creds.access_key_id, "aws_secret_access_key": creds.secret_access_key}
        self.region = creds.region
        suffix = uuid.uuid4().hex[:6]
        self.role, self.profile = f"ec2-s3-access-role-{suffix}", f"ec2-s3-access-profile-{suffix}"
        self.writer_role, self.writer_profile = f"ec2-s3-writer-role-{suffix}", f"ec2-s3-writer-profile-{suffix}"
        self.bucket = f"my-specific-bucket-{suffix}"
        self.instance_id = ""
        self.association_id = ""

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}), **self.keys)

    # --- the steps ------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        read_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                       "Resource": [f"arn:aws:s3:::{self.bucket}", f"arn:aws:s3:::{self.bucket}/*"]}]}
        write_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                        "Resource": [f"arn:aws:s3:::{self.bucket}/*"]}]}
        return [
            Step("Create the role EC2 may assume", f"aws iam create-role --role-name {self.role} --assume-role-policy-document file://trust-policy.json",
                 lambda: self._role(self.role, read_policy, "s3-read-policy")),
            Step("Wrap it in an instance profile", f"aws iam create-instance-profile --instance-profile-name {self.profile} && "
                 f"aws iam add-role-to-instance-profile --instance-profile-name {self.profile} --role-name {self.role}",
                 lambda: self._profile(self.profile, self.role)),
            Step("Create the bucket and an object", f"aws s3 mb s3://{self.bucket} && aws s3 cp data.json s3://{self.bucket}/",
                 self._bucket),
            Step("Launch an instance with the profile", f"aws ec2 run-instances --image-id ami-12345678 --instance-type t3.micro "
                 f"--iam-instance-profile Name={self.profile} --key-name my-key-pair", self._launch),
            Step("Ask the instance's IMDS for its role (IMDSv2)", "curl -s -H \"X-aws-ec2-metadata-token: $TOKEN\" "
                 "$AWS_EC2_METADATA_SERVICE_ENDPOINT/latest/meta-data/iam/security-credentials/", self._imds),
            Step("Read the object through the SDK's default chain", f"keyless run --instance-id {{id}} -- python app.py get {self.bucket} data.json",
                 lambda: self._app("get", "data.json", expect_ok=True)),
            Step("Try the write the role must not do", f"keyless run --instance-id {{id}} -- python app.py put {self.bucket} out.json",
                 lambda: self._app("put", "out.json", expect_ok=False)),
            Step("Replace the profile with a writer profile", f"aws ec2 replace-iam-instance-profile-association --association-id {{assoc}} "
                 f"--iam-instance-profile Name={self.writer_profile}", lambda: self._replace(write_policy)),
            Step("Write again, with the new role's credentials", f"keyless run --instance-id {{id}} -- python app.py put {self.bucket} out.json",
                 lambda: self._app("put", "out.json", expect_ok=True)),
            Step("Show the trail of what happened", f"keyless trail --principal {{id}}", self._trail),
        ]

    def _role(self, name: str, policy: dict[str, Any], policy_name: str) -> str:
        iam = self.client("iam")
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
        return role["Arn"]

    def _profile(self, profile: str, role: str) -> str:
        iam = self.client("iam")
        arn = iam.create_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Arn"]
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
        return arn

    def _bucket(self) -> str:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=self.bucket)
        s3.put_object(Bucket=self.bucket, Key="data.json", Body=b'{"hello": "from s3"}')
        return f"s3://{self.bucket}/data.json"

    def _launch(self) -> str:
        ec2 = self.client("ec2")
        out = ec2.run_instances(ImageId="ami-12345678", InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                KeyName="my-key-pair", IamInstanceProfile={"Name": self.profile})
        self.instance_id = out["Instances"][0]["InstanceId"]
        assoc = ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [self.instance_id]}])["IamInstanceProfileAssociations"]
        self.association_id = assoc[0]["AssociationId"]
        return f"{self.instance_id} ({self.association_id})"

    def _imds_endpoint(self) -> str:
        from keyless.cli.instances import find_instance

        info = find_instance(self.data_dir, self.instance_id)
        if info is None or info.imds_endpoint is None:
            raise RuntimeError(f"{self.instance_id} has no metadata service")
        return info.imds_endpoint

    def _imds(self) -> str:
        base = self._imds_endpoint()
        put = urllib.request.Request(base + "latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
        token = urllib.request.urlopen(put, timeout=5).read().decode()

        def get(path: str) -> str:
            req = urllib.request.Request(base + path, headers={"X-aws-ec2-metadata-token": token})
            return urllib.request.urlopen(req, timeout=5).read().decode()

        role = get("latest/meta-data/iam/security-credentials/").strip()
        doc = json.loads(get(f"latest/meta-data/iam/security-credentials/{role}"))
        shown = {k: (v[:4] + "…" if k in ("SecretAccessKey", "Token") else v) for k, v in doc.items()}
        if role != self.role or doc.get("Code") != "Success":
            raise RuntimeError(f"IMDS served {role!r}: {doc.get('Code')}")
        return f"role {role}\n{json.dumps(shown, indent=2, ensure_ascii=False)}"

    def _app(self, op: str, key: str, *, expect_ok: bool) -> str:
        from keyless.cli.run import instance_environment

        with tempfile.TemporaryDirectory(prefix="keyless-demo-") as scratch:
            env = instance_environment(os.environ, imds_endpoint=self._imds_endpoint(), server=self.endpoint,
                                       region=self.region, scratch=Path(scratch))
            proc = subprocess.run([sys.executable, "-c", APP, op, self.bucket, key], env=env, capture_output=True,
                                  text=True, timeout=60)
        out = (proc.stdout + proc.stderr).strip()
        if expect_ok and proc.returncode != 0:
            raise RuntimeError(out)
        if not expect_ok and not out.startswith("AccessDenied"):
            raise RuntimeError(f"expected AccessDenied, got: {out}")
        return out

    def _replace(self, write_policy: dict[str, Any]) -> str:
        self._role(self.writer_role, write_policy, "s3-write-policy")
        self._profile(self.writer_profile, self.writer_role)
        out = self.client("ec2").replace_iam_instance_profile_association(
            AssociationId=self.association_id, IamInstanceProfile={"Name": self.writer_profile})
        self.association_id = out["IamInstanceProfileAssociation"]["AssociationId"]
        return f"new association {self.association_id}"

    def _trail(self) -> str:
        import time

        from keyless.cli.trail import summarize
        from keyless.store import trail as trail_store
        from keyless.store.db import Database

        time.sleep(0.5)  # the recorder writes in batches every 0.2 s
        db = Database.open(self.data_dir)
        try:
            with db.read() as conn:
                rows = trail_store.query(conn, limit=200)
        finally:
            db.close()
        lines = []
        for row in reversed(rows):
            line = summarize(json.loads(row["record"]))
            if self.instance_id in line["principal"]:
                lines.append(f"{line['time']}  {line['principal']}  {line['action']}  {line['resource']}  {line['decision']}")
        if not any("PutObject" in l and "Deny" in l for l in lines):
            raise RuntimeError("the denied write is missing from the trail")
        return "\n".join(lines)

    def cleanup(self) -> None:
        if self.instance_id:
            self.client("ec2").terminate_instances(InstanceIds=[self.instance_id])


def run(args: argparse.Namespace) -> int:
    if args.endpoint:
        return _run_demo(args.endpoint, args.data_dir or default_data_dir())
    from keyless.testing import Server

    with Server() as server:
        return _run_demo(server.endpoint, server.data_dir)


def _run_demo(endpoint: str, data_dir: Path) -> int:
    from rich.console import Console
    from rich.panel import Panel

    console = Console()
    demo = Demo(endpoint, data_dir)
    steps = demo.steps()
    failed = False
    try:
        for number, step in enumerate(steps, 1):
            command = step.command.format(id=demo.instance_id or "i-…", assoc=demo.association_id or "iip-assoc-…")
            console.print(f"[bold]{number}/{len(steps)} {step.title}[/bold]\n  [dim]$ {command}[/dim]")
            try:
                with console.status("working…"):
                    result = step.action()
            except Exception as exc:  # every failure is reported, then the demo stops
                console.print(Panel(str(exc), title="[red]failed[/red]", border_style="red"))
                failed = True
                break
            console.print(Panel(result, border_style="green"))
    finally:
        demo.cleanup()
    console.print("[red]demo failed[/red]" if failed else "[green]every step behaved as on AWS[/green]")
    return 1 if failed else 0
