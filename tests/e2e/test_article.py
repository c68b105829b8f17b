"""The acceptance story: every aws command of the article (shared/seed/), with the real aws CLI.

Two of the article's commands are not valid aws CLI commands (`ec2 replace-iam-instance-profile`
and `describe-iam-instance-profile-associations --instance-id`): the CLI rejects them before
sending anything, exactly as it would against AWS. The tests check that, and run the valid forms.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from keyless.cli.instances import find_instance
from keyless.testing import Server

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
PERMISSIONS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
               "Resource": ["arn:aws:s3:::my-specific-bucket", "arn:aws:s3:::my-specific-bucket/*"]}]}


def _imds_get(endpoint: str, path: str) -> str:
    put = urllib.request.Request(endpoint + "latest/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
    token = urllib.request.urlopen(put, timeout=5).read().decode()
    req = urllib.request.Request(endpoint + path, headers={"X-aws-ec2-metadata-token": token})
    return urllib.request.urlopen(req, timeout=5).read().decode()


def _keyless_run(server: Server, instance_id: str, *cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    from tests.conftest import AWS_CLI

    return subprocess.run([sys.executable, "-m", "keyless", "run", "--instance-id", instance_id, "--data-dir", str(server.data_dir),
                           "--endpoint", server.endpoint, "--", AWS_CLI, *cmd], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env={**server.cli_env(), "AWS_EC2_METADATA_DISABLED": "true"})


def test_the_article_end_to_end(server: Server, aws: Any, tmp_path: Path) -> None:
    (tmp_path / "trust-policy.json").write_text(json.dumps(TRUST, indent=2))
    (tmp_path / "permission-policy.json").write_text(json.dumps(PERMISSIONS, indent=2))
    (tmp_path / "data.json").write_text('{"hello": "from s3"}')

    role = aws.json("iam", "create-role", "--role-name", "ec2-s3-access-role",
                    "--assume-role-policy-document", "file://trust-policy.json", cwd=tmp_path)["Role"]
    assert role["Arn"] == "arn:aws:iam::123456789012:role/ec2-s3-access-role"
    assert role["AssumeRolePolicyDocument"] == TRUST
    aws("iam", "put-role-policy", "--role-name", "ec2-s3-access-role", "--policy-name", "s3-read-policy",
        "--policy-document", "file://permission-policy.json", cwd=tmp_path)
    profile = aws.json("iam", "create-instance-profile", "--instance-profile-name", "ec2-s3-access-profile")["InstanceProfile"]
    assert profile["Arn"] == "arn:aws:iam::123456789012:instance-profile/ec2-s3-access-profile"
    assert profile["InstanceProfileId"].startswith("AIPA") and profile["Roles"] == []
    aws("iam", "add-role-to-instance-profile", "--instance-profile-name", "ec2-s3-access-profile",
        "--role-name", "ec2-s3-access-role")
    aws("s3", "mb", "s3://my-specific-bucket")
    aws("s3", "cp", "data.json", "s3://my-specific-bucket/", cwd=tmp_path)

    run = aws.json("ec2", "run-instances", "--image-id", "ami-12345678", "--instance-type", "t3.micro",
                   "--iam-instance-profile", "Name=ec2-s3-access-profile", "--key-name", "my-key-pair")
    instance = run["Instances"][0]
    instance_id = instance["InstanceId"]
    assert instance["IamInstanceProfile"]["Arn"] == profile["Arn"]
    assert instance["KeyName"] == "my-key-pair" and instance["ImageId"] == "ami-12345678"

    # The article's troubleshooting: is a profile attached? (the valid form of its command)
    assoc = aws.json("ec2", "describe-iam-instance-profile-associations",
                     "--filters", f"Name=instance-id,Values={instance_id}")["IamInstanceProfileAssociations"]
    assert len(assoc) == 1 and assoc[0]["IamInstanceProfile"]["Arn"] == profile["Arn"]
    assert assoc[0]["State"] == "associated" and assoc[0]["AssociationId"].startswith("iip-assoc-")
    written = aws("ec2", "describe-iam-instance-profile-associations", "--instance-id", instance_id, check=False)
    assert written.returncode != 0 and "Unknown options: --instance-id" in written.stderr  # as against AWS

    # ... is IMDS reachable, and which role does it serve?
    info = find_instance(server.data_dir, instance_id)
    assert info is not None and info.imds_endpoint
    assert _imds_get(info.imds_endpoint, "latest/meta-data/iam/security-credentials/") == "ec2-s3-access-role"
    creds = json.loads(_imds_get(info.imds_endpoint, "latest/meta-data/iam/security-credentials/ec2-s3-access-role"))
    assert creds["Code"] == "Success" and creds["AccessKeyId"].startswith("ASIA")
    assert {"SecretAccessKey", "Token", "Expiration", "LastUpdated", "Type"} <= set(creds)

    # ... and what does the role allow?
    policy = aws.json("iam", "get-role-policy", "--role-name", "ec2-s3-access-role", "--policy-name", "s3-read-policy")
    assert policy["PolicyDocument"] == PERMISSIONS and policy["RoleName"] == "ec2-s3-access-role"

    # Code on the instance: no keys; the SDK's chain finds IMDS; least privilege holds.
    who = _keyless_run(server, instance_id, "sts", "get-caller-identity", "--output", "json", cwd=tmp_path)
    assert json.loads(who.stdout)["Arn"] == f"arn:aws:sts::123456789012:assumed-role/ec2-s3-access-role/{instance_id}"
    read = _keyless_run(server, instance_id, "s3", "cp", "s3://my-specific-bucket/data.json", "-", cwd=tmp_path)
    assert read.returncode == 0 and read.stdout == '{"hello": "from s3"}', read.stderr
    listing = _keyless_run(server, instance_id, "s3", "ls", "s3://my-specific-bucket/", cwd=tmp_path)
    assert "data.json" in listing.stdout
    write = _keyless_run(server, instance_id, "s3", "cp", "data.json", "s3://my-specific-bucket/x", cwd=tmp_path)
    assert write.returncode != 0 and "AccessDenied" in write.stderr
    other = _keyless_run(server, instance_id, "iam", "list-roles", cwd=tmp_path)
    assert other.returncode != 0 and "AccessDenied" in other.stderr

    # Managing profiles on running instances: replace (the valid command) and associate.
    aws("iam", "create-instance-profile", "--instance-profile-name", "new-instance-profile")
    aws("iam", "add-role-to-instance-profile", "--instance-profile-name", "new-instance-profile", "--role-name", "ec2-s3-access-role")
    typo = aws("ec2", "replace-iam-instance-profile", "--association-id", assoc[0]["AssociationId"],
               "--iam-instance-profile", "Name=new-instance-profile", check=False)
    assert typo.returncode != 0 and "Invalid choice" in typo.stderr  # the article's command, rejected by the CLI
    replaced = aws.json("ec2", "replace-iam-instance-profile-association", "--association-id", assoc[0]["AssociationId"],
                        "--iam-instance-profile", "Name=new-instance-profile")["IamInstanceProfileAssociation"]
    assert replaced["AssociationId"] != assoc[0]["AssociationId"] and replaced["State"] == "associating"

    bare = aws.json("ec2", "run-instances", "--image-id", "ami-12345678", "--instance-type", "t3.micro")["Instances"][0]
    associated = aws.json("ec2", "associate-iam-instance-profile", "--iam-instance-profile", "Name=ec2-s3-access-profile",
                          "--instance-id", bare["InstanceId"])["IamInstanceProfileAssociation"]
    assert associated["InstanceId"] == bare["InstanceId"] and associated["State"] == "associating"
    again = aws("ec2", "associate-iam-instance-profile", "--iam-instance-profile", "Name=ec2-s3-access-profile",
                "--instance-id", bare["InstanceId"], check=False)
    assert again.returncode != 0 and "IncorrectState" in again.stderr
