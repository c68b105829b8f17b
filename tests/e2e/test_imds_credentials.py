"""Each running instance's metadata service on a real server: the role session it vends (named after
the instance, carrying the EC2 context keys), trust failures, association changes, metadata
options, stop/start, the identity document and the trail's delivery records."""

from __future__ import annotations

import functools
import http.client
import json
import uuid
from typing import Any

import boto3
import botocore.exceptions
import botocore.session
import pytest
from botocore.credentials import CredentialResolver, InstanceMetadataProvider
from botocore.utils import InstanceMetadataFetcher

from keyless.store import trail as trail_store
from keyless.testing import Server

ACCOUNT = "123456789012"
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ACCOUNT_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}


@functools.lru_cache(maxsize=None)
def cached_client(server: Server, service: str) -> Any:
    """The admin's client per service: building boto3 clients is what these tests would spend time on."""
    return server.client(service)


def make_profile(server: Server, name: str, trust: dict[str, Any] = EC2_TRUST, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    iam = cached_client(server, "iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return {"role": role, "profile": profile}


def launch(server: Server, profile: dict[str, Any] | None = None, **kw: Any) -> str:
    params: dict[str, Any] = {"ImageId": "ami-12345678", "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1, **kw}
    if profile is not None:
        params["IamInstanceProfile"] = {"Arn": profile["profile"]["Arn"]}
    return str(cached_client(server, "ec2").run_instances(**params)["Instances"][0]["InstanceId"])


def imds_url(server: Server, instance_id: str) -> str:
    url = server.app.state.components["imds"].endpoint(instance_id)
    assert url is not None and url.startswith("http://127.0.0.1:")
    return str(url)


def get(url: str, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, bytes]:
    host, port = url[len("http://"):].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def token(url: str) -> str:
    status, body = get(url, "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "300"}, method="PUT")
    assert status == 200
    return body.decode()


def imds_session(server: Server, url: str) -> boto3.Session:
    """A boto3 session whose only credential provider is this instance's IMDS, as botocore builds it."""
    core = botocore.session.Session()
    fetcher = InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=url, env={})
    core.register_component("credential_provider", CredentialResolver([InstanceMetadataProvider(fetcher)]))
    return boto3.Session(botocore_session=core, region_name=server.settings.region)


def client(server: Server, session: boto3.Session, service: str) -> Any:
    from botocore.config import Config

    return session.client(service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))


def v1_credentials(url: str, role: str) -> dict[str, str]:
    status, body = get(url, f"/latest/meta-data/iam/security-credentials/{role}")
    assert status == 200
    document = json.loads(body)
    return {"aws_access_key_id": document["AccessKeyId"], "aws_secret_access_key": document["SecretAccessKey"],
            "aws_session_token": document["Token"]}


def error_code(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    return str(info.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def app_role(server: Server) -> dict[str, Any]:
    name = f"app-{uuid.uuid4().hex[:8]}"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*",
         "Condition": {"StringEquals": {"ec2:RoleDelivery": "2.0"}, "ArnLike": {"ec2:SourceInstanceARN": "arn:aws:ec2:*:*:instance/i-*"}}},
        {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
         "Condition": {"StringLike": {"aws:Ec2InstanceSourcePrivateIPv4": "172.31.*"}}},
    ]}
    return make_profile(server, name, policy=policy)


def test_imds_credentials_are_a_role_session_named_after_the_instance(server: Server, app_role: dict[str, Any]) -> None:
    instance_id = launch(server, app_role)
    sts = client(server, imds_session(server, imds_url(server, instance_id)), "sts")
    identity = sts.get_caller_identity()
    role = app_role["role"]
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/{instance_id}"
    assert identity["UserId"] == f"{role['RoleId']}:{instance_id}"


def test_role_policy_sees_the_ec2_context_keys(server: Server, app_role: dict[str, Any]) -> None:
    instance_id = launch(server, app_role)
    url = imds_url(server, instance_id)
    session = imds_session(server, url)
    client(server, session, "s3").list_buckets()  # ec2:RoleDelivery 2.0 and ec2:SourceInstanceARN match
    client(server, session, "iam").get_role(RoleName=app_role["role"]["RoleName"])  # private IPv4 matches
    assert error_code(client(server, session, "iam").list_roles) == "AccessDenied"
    v1 = v1_credentials(url, app_role["role"]["RoleName"])
    assert error_code(server.client("s3", **v1).list_buckets) == "AccessDenied"  # delivered over IMDSv1


def test_denial_names_the_instance_session(server: Server, app_role: dict[str, Any]) -> None:
    instance_id = launch(server, app_role)
    iam = client(server, imds_session(server, imds_url(server, instance_id)), "iam")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        iam.list_users()
    assert info.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{app_role['role']['RoleName']}/{instance_id} is not authorized")


def test_trust_without_ec2_reports_assume_role_unauthorized_until_fixed(server: Server) -> None:
    setup = make_profile(server, f"untrusted-{uuid.uuid4().hex[:8]}", trust=ACCOUNT_TRUST)
    name = setup["role"]["RoleName"]
    url = imds_url(server, launch(server, setup))
    status, body = get(url, f"/latest/meta-data/iam/security-credentials/{name}")
    document = json.loads(body)
    assert status == 200 and document["Code"] == "AssumeRoleUnauthorizedAccess"
    assert document["Message"].startswith(f"EC2 cannot assume the role {name}.")
    assert json.loads(get(url, "/latest/meta-data/iam/info")[1])["Code"] == "Success"
    assert InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=url, env={}).retrieve_iam_role_credentials() == {}
    cached_client(server, "iam").update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(EC2_TRUST))
    assert json.loads(get(url, f"/latest/meta-data/iam/security-credentials/{name}")[1])["Code"] == "Success"


def test_replace_switches_the_role_and_old_credentials_stay_valid(server: Server) -> None:
    suffix = uuid.uuid4().hex[:8]
    first, second = make_profile(server, f"first-{suffix}"), make_profile(server, f"second-{suffix}")
    instance_id = launch(server, first)
    url = imds_url(server, instance_id)
    old = v1_credentials(url, first["role"]["RoleName"])
    ec2 = cached_client(server, "ec2")
    association = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}])["IamInstanceProfileAssociations"][0]
    ec2.replace_iam_instance_profile_association(AssociationId=association["AssociationId"],
                                                 IamInstanceProfile={"Arn": second["profile"]["Arn"]})
    assert get(url, "/latest/meta-data/iam/security-credentials/")[1].decode() == second["role"]["RoleName"]
    assert get(url, f"/latest/meta-data/iam/security-credentials/{first['role']['RoleName']}")[0] == 404
    info = json.loads(get(url, "/latest/meta-data/iam/info")[1])
    assert info["InstanceProfileArn"] == second["profile"]["Arn"]
    identity = client(server, imds_session(server, url), "sts").get_caller_identity()
    assert identity["Arn"].endswith(f":assumed-role/{second['role']['RoleName']}/{instance_id}")
    still = server.client("sts", **old).get_caller_identity()  # issued before the switch: valid until expiry
    assert still["Arn"].endswith(f":assumed-role/{first['role']['RoleName']}/{instance_id}")


def test_disassociate_removes_the_iam_tree(server: Server) -> None:
    setup = make_profile(server, f"gone-{uuid.uuid4().hex[:8]}")
    instance_id = launch(server, setup)
    url = imds_url(server, instance_id)
    old = v1_credentials(url, setup["role"]["RoleName"])
    ec2 = cached_client(server, "ec2")
    association = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}])["IamInstanceProfileAssociations"][0]
    ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])
    for path in ("iam/", "iam/info", "iam/security-credentials/"):
        assert get(url, f"/latest/meta-data/{path}")[0] == 404
    assert "iam/" not in get(url, "/latest/meta-data/")[1].decode().split("\n")
    assert server.client("sts", **old).get_caller_identity()["Arn"].endswith(instance_id)


def test_profile_without_a_role_and_deleted_profile_are_reported_in_info(server: Server) -> None:
    setup = make_profile(server, f"hollow-{uuid.uuid4().hex[:8]}")
    name = setup["role"]["RoleName"]
    url = imds_url(server, launch(server, setup))
    iam = cached_client(server, "iam")
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)
    info = json.loads(get(url, "/latest/meta-data/iam/info")[1])
    assert info["Code"] != "Success" and "does not contain a role" in info["Message"]
    assert get(url, "/latest/meta-data/iam/security-credentials/")[0] == 404
    iam.delete_instance_profile(InstanceProfileName=name)
    assert json.loads(get(url, "/latest/meta-data/iam/info")[1])["Code"] == "InstanceProfileNotFound"


def test_metadata_options_take_effect_on_the_next_request(server: Server) -> None:
    instance_id = launch(server)
    url = imds_url(server, instance_id)
    ec2 = cached_client(server, "ec2")
    assert get(url, "/latest/meta-data/instance-id") == (200, instance_id.encode())
    ec2.modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required")
    assert get(url, "/latest/meta-data/instance-id")[0] == 401
    assert get(url, "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": token(url)}) == (200, instance_id.encode())
    ec2.modify_instance_metadata_options(InstanceId=instance_id, HttpEndpoint="disabled")
    assert get(url, "/latest/meta-data/instance-id")[0] == 403
    assert get(url, "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}, method="PUT")[0] == 403
    ec2.modify_instance_metadata_options(InstanceId=instance_id, HttpEndpoint="enabled", InstanceMetadataTags="enabled")
    assert get(url, "/latest/meta-data/tags/instance", {"X-aws-ec2-metadata-token": token(url)})[0] == 404  # no tags
    tagged = launch(server, MetadataOptions={"InstanceMetadataTags": "enabled"},
                    TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "blue"}]}])
    assert get(imds_url(server, tagged), "/latest/meta-data/tags/instance/team") == (200, b"blue")


def test_stop_closes_the_service_and_start_reopens_it_on_the_same_port(server: Server) -> None:
    instance_id = launch(server)
    url = imds_url(server, instance_id)
    old_token = token(url)
    ec2 = cached_client(server, "ec2")
    ec2.stop_instances(InstanceIds=[instance_id])
    assert server.app.state.components["imds"].endpoint(instance_id) is None
    with pytest.raises(OSError):
        get(url, "/latest/meta-data/instance-id")
    ec2.start_instances(InstanceIds=[instance_id])
    assert imds_url(server, instance_id) == url
    assert get(url, "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": old_token})[0] == 401  # a new boot
    ec2.terminate_instances(InstanceIds=[instance_id])
    assert server.app.state.components["imds"].endpoint(instance_id) is None


def test_instance_facts_match_describe_and_the_identity_document(server: Server) -> None:
    instance_id = launch(server, UserData="echo hello")
    url = imds_url(server, instance_id)
    described = cached_client(server, "ec2").describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert get(url, "/latest/meta-data/local-ipv4")[1].decode() == described["PrivateIpAddress"]
    assert get(url, "/latest/meta-data/mac")[1].decode() == described["NetworkInterfaces"][0]["MacAddress"]
    assert get(url, "/latest/user-data") == (200, b"echo hello")
    document = json.loads(get(url, "/latest/dynamic/instance-identity/document")[1])
    assert (document["instanceId"], document["accountId"], document["privateIp"], document["region"]) == (
        instance_id, ACCOUNT, described["PrivateIpAddress"], "us-east-1")


def test_each_delivery_is_an_assume_role_by_ec2_in_the_trail(server: Server, app_role: dict[str, Any]) -> None:
    instance_id = launch(server, app_role)
    session = imds_session(server, imds_url(server, instance_id))
    client(server, session, "s3").list_buckets()
    key = session.get_credentials().get_frozen_credentials().access_key
    server.app.state.components["trail"].flush()
    trail = server.client("cloudtrail")

    def lookup(key_name: str, value: str) -> list[dict[str, Any]]:
        pages = trail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": key_name, "AttributeValue": value}])
        return [json.loads(e["CloudTrailEvent"]) for page in pages for e in page["Events"]]

    deliveries = [r for r in lookup("EventName", "AssumeRole")
                  if (r.get("requestParameters") or {}).get("roleSessionName") == instance_id]
    assert deliveries and deliveries[0]["userIdentity"] == {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    assert deliveries[0]["requestParameters"]["roleArn"] == app_role["role"]["Arn"]
    assert deliveries[0]["responseElements"]["credentials"]["accessKeyId"] == key
    calls = [r for r in lookup("AccessKeyId", key) if r["eventName"] == "ListBuckets"]
    assert calls and calls[0]["userIdentity"]["sessionContext"]["ec2RoleDelivery"] == "2.0"
