"""`keyless doctor`: the article's troubleshooting section as a command.

Walks the credential chain in botocore's order and reports what it finds: environment keys
(which shadow an instance profile), shared files and profile, container credentials, the
instance's metadata service (reachable, v2 token, role attached, trust allows EC2, credentials
and expiry), then who the resolved credentials are (sts get-caller-identity). With --action and
--resource it simulates the request for that principal and names the statement that would allow it.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from keyless.config import default_data_dir


@dataclass
class Finding:
    check: str
    level: str  # ok | info | warn | error
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("doctor", help="diagnose where credentials come from and why a request is allowed or denied")
    p.add_argument("--instance-id", help="diagnose as code on this instance (its IMDS)")
    p.add_argument("--action", help="simulate this action for the resolved principal, e.g. s3:GetObject")
    p.add_argument("--resource", default="*", help="with --action: the resource ARN")
    p.add_argument("--json", action="store_true")
    p.add_argument("--data-dir", type=Path, default=None, help="state directory (env KEYLESS_DATA_DIR)")
    p.add_argument("--endpoint", default=None, help="server URL (env KEYLESS_ENDPOINT)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from keyless.cli.env import server_endpoint

    data_dir = args.data_dir or default_data_dir()
    server, region = server_endpoint(data_dir, args.endpoint)
    env = dict(os.environ)
    if args.instance_id:
        from keyless.cli.instances import find_instance

        info = find_instance(data_dir, args.instance_id)
        if info is None:
            findings = [Finding("instance", "error", f"no instance {args.instance_id} in {data_dir}")]
            return _report(findings, args.json)
        if info.imds_endpoint:  # diagnose as code on the instance would see it (as `keyless run` sets it up)
            env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = info.imds_endpoint
            env.pop("AWS_EC2_METADATA_DISABLED", None)
    findings = diagnose(env, server=server, region=region, data_dir=data_dir, instance_id=args.instance_id,
                        action=args.action, resource=args.resource)
    return _report(findings, args.json)


def diagnose(env: dict[str, str], *, server: str, region: str, data_dir: Path, instance_id: str | None = None,
             action: str | None = None, resource: str = "*") -> list[Finding]:
    findings = _environment(env) + _shared_files(env) + _container(env)
    imds_findings, imds_creds, role_name = _imds(env)
    findings += imds_findings
    if instance_id:
        findings += _instance(data_dir, server, region, instance_id)
    creds = _env_credentials(env) or imds_creds
    identity = None
    if creds:
        identity, finding = _caller_identity(creds, server, region)
        findings.append(finding)
    if action and identity:
        findings.append(_simulate(data_dir, server, region, identity, action, resource))
    return findings


def _environment(env: dict[str, str]) -> list[Finding]:
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return [Finding("env", "warn", "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are set: they take precedence over the "
                        "instance profile, so IMDS credentials will not be used", {"access_key_id": env["AWS_ACCESS_KEY_ID"]})]
    return [Finding("env", "ok", "no credentials in the environment")]


def _shared_files(env: dict[str, str]) -> list[Finding]:
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    path = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials")
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except configparser.Error:
        return [Finding("shared-files", "warn", f"{path} cannot be parsed")]
    if parser.has_section(profile) and parser.has_option(profile, "aws_access_key_id"):
        return [Finding("shared-files", "warn", f"profile [{profile}] in {path} has keys: they take precedence over the "
                        "instance profile", {"file": str(path), "profile": profile})]
    return [Finding("shared-files", "ok", f"no keys for profile {profile!r} in {path}")]


def _container(env: dict[str, str]) -> list[Finding]:
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        if env.get(name):
            return [Finding("container", "warn", f"{name} is set: container credentials come before IMDS")]
    return [Finding("container", "ok", "no container credential endpoint")]


def _imds(env: dict[str, str]) -> tuple[list[Finding], dict[str, str] | None, str | None]:
    if env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        return [Finding("imds", "warn", "AWS_EC2_METADATA_DISABLED=true: the SDK will not ask IMDS")], None, None
    base = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
    if not base:
        return [Finding("imds", "error", "no metadata endpoint configured: run `eval \"$(keyless env --instance-id I)\"` "
                        "or pass --instance-id (keyless never contacts the link-local address)")], None, None
    base = base.rstrip("/") + "/"
    try:
        put = urllib.request.Request(base + "latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        token = urllib.request.urlopen(put, timeout=2).read().decode()
    except urllib.error.HTTPError as exc:
        return [Finding("imds", "error", f"IMDS at {base} refused a token: HTTP {exc.code}")], None, None
    except OSError as exc:
        return [Finding("imds", "error", f"IMDS at {base} is unreachable: {exc}")], None, None
    findings = [Finding("imds", "ok", f"IMDS at {base} answers; IMDSv2 token issued")]

    def get(path: str) -> str:
        req = urllib.request.Request(base + path, headers={"X-aws-ec2-metadata-token": token})
        return urllib.request.urlopen(req, timeout=2).read().decode()

    try:
        role = get("latest/meta-data/iam/security-credentials/").strip().splitlines()[0]
    except (urllib.error.HTTPError, IndexError):
        findings.append(Finding("imds-role", "error", "no instance profile is associated with the instance "
                                "(aws ec2 associate-iam-instance-profile)"))
        return findings, None, None
    doc = json.loads(get(f"latest/meta-data/iam/security-credentials/{role}"))
    if doc.get("Code") != "Success":
        info = {}
        try:
            info = json.loads(get("latest/meta-data/iam/info"))
        except (urllib.error.HTTPError, ValueError):
            pass
        findings.append(Finding("imds-credentials", "error", f"role {role}: IMDS cannot get credentials ({doc.get('Code')}): "
                                f"{doc.get('Message') or info.get('Message', '')} — does the trust policy allow ec2.amazonaws.com "
                                "to sts:AssumeRole?", {"role": role}))
        return findings, None, role
    findings.append(Finding("imds-credentials", "ok", f"role {role}: credentials {doc['AccessKeyId']} expire {doc['Expiration']}",
                            {"role": role, "expiration": doc["Expiration"]}))
    creds = {"aws_access_key_id": doc["AccessKeyId"], "aws_secret_access_key": doc["SecretAccessKey"],
             "aws_session_token": doc["Token"]}
    return findings, creds, role


def _env_credentials(env: dict[str, str]) -> dict[str, str] | None:
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        creds = {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}
        if env.get("AWS_SESSION_TOKEN"):
            creds["aws_session_token"] = env["AWS_SESSION_TOKEN"]
        return creds
    return None


def _client(service: str, server: str, region: str, **creds: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=server, region_name=region, config=Config(retries={"max_attempts": 1}), **creds)


def _admin(data_dir: Path) -> dict[str, str]:
    from keyless.server.bootstrap import load_admin_credentials

    admin = load_admin_credentials(data_dir)
    return {"aws_access_key_id": admin.access_key_id, "aws_secret_access_key": admin.secret_access_key}


def _instance(data_dir: Path, server: str, region: str, instance_id: str) -> list[Finding]:
    ec2 = _client("ec2", server, region, **_admin(data_dir))
    assoc = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}])["IamInstanceProfileAssociations"]
    if not assoc:
        return [Finding("association", "error", f"{instance_id} has no instance profile: "
                        f"aws ec2 associate-iam-instance-profile --instance-id {instance_id} --iam-instance-profile Name=PROFILE")]
    return [Finding("association", "ok", f"{instance_id} has {assoc[0]['IamInstanceProfile']['Arn']} ({assoc[0]['State']})")]


def _caller_identity(creds: dict[str, str], server: str, region: str) -> tuple[dict[str, str] | None, Finding]:
    import botocore.exceptions

    try:
        ident = _client("sts", server, region, **creds).get_caller_identity()
    except botocore.exceptions.ClientError as exc:
        return None, Finding("identity", "error", f"sts get-caller-identity failed: {exc.response['Error']['Code']}")
    return ident, Finding("identity", "ok", f"the SDK would call AWS as {ident['Arn']}", {"arn": ident["Arn"]})


def _simulate(data_dir: Path, server: str, region: str, identity: dict[str, str], action: str, resource: str) -> Finding:
    arn = identity["Arn"]
    if ":assumed-role/" in arn:  # simulate the role the session belongs to
        account, rest = arn.split(":")[4], arn.split(":assumed-role/", 1)[1]
        arn = f"arn:aws:iam::{account}:role/{rest.split('/')[0]}"
    iam = _client("iam", server, region, **_admin(data_dir))
    result = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=[action], ResourceArns=[resource])
    evaluation = result["EvaluationResults"][0]
    decision = evaluation["EvalDecision"]
    if decision == "allowed":
        sources = [m["SourcePolicyId"] for m in evaluation.get("MatchedStatements", [])]
        return Finding("simulate", "ok", f"{action} on {resource} is allowed for {arn} by {', '.join(sources) or 'a policy'}")
    if decision == "explicitDeny":
        sources = [m["SourcePolicyId"] for m in evaluation.get("MatchedStatements", [])]
        return Finding("simulate", "error", f"{action} on {resource} is explicitly denied for {arn} by {', '.join(sources)}: "
                       "remove or narrow that Deny statement")
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return Finding("simulate", "error", f"{action} on {resource} is denied for {arn}: no policy allows it. Add this statement "
                   f"to one of its policies: {json.dumps(statement)}", {"missing_statement": statement})


_MARKS = {"ok": "✔", "info": "·", "warn": "!", "error": "✘"}


def _report(findings: list[Finding], as_json: bool) -> int:
    if as_json:
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        for f in findings:
            print(f"{_MARKS[f.level]} {f.check:<17} {f.message}")
    return 1 if any(f.level == "error" for f in findings) else 0
