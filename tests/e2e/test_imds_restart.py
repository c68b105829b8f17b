"""Instances, associations and metadata ports survive a server restart: the same endpoint answers
for the same instance, with the same role, and a stopped instance stays stopped (and silent)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from keyless.testing import Server

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def fetch(url: str) -> str:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as resp:
        return str(resp.read().decode())


def test_state_and_imds_ports_survive_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with_profile_url = stopped_url = ""
    first = Server(data).start()
    try:
        iam = first.client("iam")
        iam.create_role(RoleName="durable", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.create_instance_profile(InstanceProfileName="durable")
        iam.add_role_to_instance_profile(InstanceProfileName="durable", RoleName="durable")
        ec2 = first.client("ec2")
        running = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                    IamInstanceProfile={"Name": "durable"})["Instances"][0]["InstanceId"]
        stopped = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        imds = first.app.state.components["imds"]
        with_profile_url, stopped_url = imds.endpoint(running), imds.endpoint(stopped)
        ec2.stop_instances(InstanceIds=[stopped])
        assert fetch(with_profile_url + "latest/meta-data/instance-id") == running
    finally:
        first.stop()

    second = Server(data, port=first.port).start()
    try:
        imds = second.app.state.components["imds"]
        assert imds.endpoint(running) == with_profile_url
        assert imds.endpoint(stopped) is None
        assert fetch(with_profile_url + "latest/meta-data/instance-id") == running
        assert fetch(with_profile_url + "latest/meta-data/iam/security-credentials/") == "durable"
        ec2 = second.client("ec2")
        states = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=[running, stopped])["Reservations"]
                  for i in r["Instances"]}
        assert states == {running: "running", stopped: "stopped"}
        ec2.start_instances(InstanceIds=[stopped])
        assert imds.endpoint(stopped) == stopped_url
        associations = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
        assert [a["InstanceId"] for a in associations] == [running]
    finally:
        second.stop()
        second.cleanup()
