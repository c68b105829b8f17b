"""Who may do what in S3: the article's least-privilege role, bucket policies as resource policies
(Principal "*", anonymous callers, explicit Deny over the admin, a grant to a second role), the
s3:prefix condition, and presigned URLs used by a plain HTTP client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import botocore.exceptions
import pytest
from botocore.config import Config

from keyless.testing import Server

ACCOUNT = "123456789012"
AWS_CLI = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Message", "")


def make_role(server: Server, name: str, permissions: dict[str, Any] | None = None) -> str:
    iam = server.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": "ec2.amazonaws.com", "AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if permissions:
        iam.put_role_policy(RoleName=name, PolicyName="s3-read-policy", PolicyDocument=json.dumps(permissions))
    return str(arn)


def session_s3(server: Server, role_arn: str, session_name: str = "i-0abc123def4567890") -> tuple[Any, dict[str, str]]:
    creds = server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}
    return server.client("s3", **keys), keys


def presigner(server: Server, **credentials: str) -> Any:
    """botocore presigns S3 URLs with SigV2 unless told otherwise; keyless verifies SigV4."""
    session = server.session(**credentials)
    return session.client("s3", endpoint_url=server.endpoint,
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def http(method: str, url: str, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def s3(server: Server) -> Any:
    return server.client("s3")


@pytest.fixture(scope="module")
def article(server: Server, s3: Any) -> Iterator[dict[str, Any]]:
    """The article's setup: a bucket, another bucket, and ec2-s3-access-role with its least-privilege policy."""
    suffix = uuid.uuid4().hex[:8]
    bucket, other = f"my-specific-bucket-{suffix}", f"other-bucket-{suffix}"
    for name in (bucket, other):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="data.json", Body=b'{"hello": "world"}')
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
    role_arn = make_role(server, f"ec2-s3-access-role-{suffix}", policy)
    client, keys = session_s3(server, role_arn)
    yield {"bucket": bucket, "other": other, "role_arn": role_arn, "role": client, "keys": keys,
           "session_arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ec2-s3-access-role-{suffix}/i-0abc123def4567890"}


# --- the article's least-privilege role ---------------------------------------------------------


def test_role_can_get_and_list_its_bucket(article: dict[str, Any]) -> None:
    role, bucket = article["role"], article["bucket"]
    assert role.get_object(Bucket=bucket, Key="data.json")["Body"].read() == b'{"hello": "world"}'
    assert role.head_object(Bucket=bucket, Key="data.json")["ContentLength"] == 18
    assert [o["Key"] for o in role.list_objects_v2(Bucket=bucket)["Contents"]] == ["data.json"]
    assert error_of(role.get_object, Bucket=bucket, Key="missing")[:2] == ("NoSuchKey", 404)  # it may list


def test_role_is_denied_put_with_s3s_message(article: dict[str, Any]) -> None:
    code, status, message = error_of(article["role"].put_object, Bucket=article["bucket"], Key="x", Body=b"no")
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: {article['session_arn']} is not authorized to perform: s3:PutObject on resource: "
                       f'"arn:aws:s3:::{article["bucket"]}/x" because no identity-based policy allows the '
                       "s3:PutObject action")


@pytest.mark.parametrize("call", ["get", "list", "delete", "list_buckets", "create_bucket", "head"])
def test_role_is_denied_everything_else(article: dict[str, Any], call: str) -> None:
    role, bucket, other = article["role"], article["bucket"], article["other"]
    calls = {
        "get": lambda: role.get_object(Bucket=other, Key="data.json"),
        "list": lambda: role.list_objects_v2(Bucket=other),
        "delete": lambda: role.delete_object(Bucket=bucket, Key="data.json"),
        "list_buckets": lambda: role.list_buckets(),
        "create_bucket": lambda: role.create_bucket(Bucket=f"new-{uuid.uuid4().hex[:8]}"),
        "head": lambda: role.head_object(Bucket=other, Key="data.json"),
    }
    code, status, _ = error_of(calls[call])
    assert status == 403 and code in ("AccessDenied", "403")


def test_role_delete_objects_reports_denials_per_key(article: dict[str, Any]) -> None:
    out = article["role"].delete_objects(Bucket=article["bucket"], Delete={"Objects": [{"Key": "data.json"}]})
    assert out["Errors"] == [{"Key": "data.json", "Code": "AccessDenied", "Message": "Access Denied"}]
    assert "Deleted" not in out or out["Deleted"] == []


def test_cli_with_the_role_session(server: Server, aws: Any, article: dict[str, Any], tmp_path: Any) -> None:
    role_cli = aws.as_(article["keys"])
    out = role_cli("s3", "cp", f"s3://{article['bucket']}/data.json", "-")
    assert out.stdout == '{"hello": "world"}'
    assert "data.json" in role_cli("s3", "ls", f"s3://{article['bucket']}/").stdout
    upload = tmp_path / "data.json"
    upload.write_text("{}")
    denied = role_cli("s3", "cp", str(upload), f"s3://{article['bucket']}/x", check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr


def test_article_scenario_on_an_instance_with_keyless_run(server: Server, article: dict[str, Any],
                                                         tmp_path: Path) -> None:
    """The issue's own commands: the instance profile's role, its credentials from the instance's IMDS."""
    iam = server.client("iam")
    profile = f"ec2-s3-access-profile-{uuid.uuid4().hex[:8]}"
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=article["role_arn"].rsplit("/", 1)[-1])
    upload = tmp_path / "data.json"
    upload.write_text("{}")

    script = (f'"$AWS" s3 cp s3://{article["bucket"]}/data.json - && echo; '
              f'"$AWS" s3 cp --no-progress {upload} s3://{article["bucket"]}/x || echo PUT-REFUSED')
    run = subprocess.run([sys.executable, "-m", "keyless", "run", "--instance-profile", profile,
                          "--data-dir", str(server.data_dir), "--endpoint", server.endpoint, "--", "sh", "-c", script],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "AWS": AWS_CLI})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ['{"hello": "world"}', "PUT-REFUSED"]
    assert "AccessDenied" in run.stderr
    assert ":assumed-role/ec2-s3-access-role-" in run.stderr and "/i-" in run.stderr


def test_missing_key_without_list_permission_is_access_denied(server: Server, s3: Any, article: dict[str, Any]) -> None:
    bucket = article["bucket"]
    role_arn = make_role(server, f"getter-{uuid.uuid4().hex[:8]}", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    getter, _ = session_s3(server, role_arn)
    assert getter.get_object(Bucket=bucket, Key="data.json")["Body"].read()
    code, status, message = error_of(getter.get_object, Bucket=bucket, Key="missing")
    assert (code, status) == ("AccessDenied", 403) and "s3:ListBucket" in message


# --- bucket policies ----------------------------------------------------------------------------


@pytest.fixture()
def policy_bucket(s3: Any) -> Iterator[str]:
    name = f"policy-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    for key in ("public/page.html", "private/secret.txt", "locked/vault.bin", "home/me/notes.txt", "etc/conf"):
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    yield name
    s3.delete_bucket_policy(Bucket=name)
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def put_policy(s3: Any, bucket: str, *statements: dict[str, Any]) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def test_bucket_policy_api_and_validation(s3: Any, policy_bucket: str) -> None:
    assert error_of(s3.get_bucket_policy, Bucket=policy_bucket)[:2] == ("NoSuchBucketPolicy", 404)
    statement = {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{policy_bucket}/public/*"}
    put_policy(s3, policy_bucket, statement)
    assert json.loads(s3.get_bucket_policy(Bucket=policy_bucket)["Policy"])["Statement"] == [statement]
    assert s3.get_bucket_policy_status(Bucket=policy_bucket)["PolicyStatus"]["IsPublic"] is True
    code, status, message = error_of(s3.put_bucket_policy, Bucket=policy_bucket, Policy='{"Statement": [{"Effect": '
                                     '"Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}]}')
    assert (code, status, message) == ("MalformedPolicy", 400, "Missing required field Principal")
    assert error_of(s3.put_bucket_policy, Bucket=policy_bucket, Policy="not json")[0] == "MalformedPolicy"
    s3.delete_bucket_policy(Bucket=policy_bucket)
    assert error_of(s3.get_bucket_policy, Bucket=policy_bucket)[0] == "NoSuchBucketPolicy"


def test_anonymous_get_allowed_by_bucket_policy(server: Server, s3: Any, policy_bucket: str) -> None:
    base = f"{server.endpoint}/{policy_bucket}"
    status, body = http("GET", f"{base}/public/page.html")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"<Message>Access Denied</Message>" in body
    put_policy(s3, policy_bucket, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                   "Resource": f"arn:aws:s3:::{policy_bucket}/public/*"})
    assert http("GET", f"{base}/public/page.html") == (200, b"public/page.html")
    status, body = http("GET", f"{base}/private/secret.txt")
    assert status == 403 and b"AccessDenied" in body and b"<RequestId>" in body
    assert http("PUT", f"{base}/public/new", data=b"x")[0] == 403
    assert http("GET", f"{base}?list-type=2")[0] == 403


def test_deny_in_bucket_policy_overrides_the_admin(s3: Any, policy_bucket: str) -> None:
    put_policy(s3, policy_bucket, {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                                   "Resource": f"arn:aws:s3:::{policy_bucket}/locked/*"})
    code, status, message = error_of(s3.get_object, Bucket=policy_bucket, Key="locked/vault.bin")
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/admin is not authorized to perform: s3:GetObject on "
                       f'resource: "arn:aws:s3:::{policy_bucket}/locked/vault.bin" with an explicit deny in a '
                       "resource-based policy")
    assert s3.get_object(Bucket=policy_bucket, Key="public/page.html")["Body"].read() == b"public/page.html"


def test_bucket_policy_grants_a_second_role_what_its_identity_lacks(server: Server, s3: Any, policy_bucket: str) -> None:
    role_arn = make_role(server, f"second-role-{uuid.uuid4().hex[:8]}")
    second, _ = session_s3(server, role_arn, "analyst")
    assert error_of(second.get_object, Bucket=policy_bucket, Key="private/secret.txt")[:2] == ("AccessDenied", 403)
    put_policy(s3, policy_bucket, {"Effect": "Allow", "Principal": {"AWS": role_arn},
                                   "Action": ["s3:GetObject", "s3:ListBucket"],
                                   "Resource": [f"arn:aws:s3:::{policy_bucket}", f"arn:aws:s3:::{policy_bucket}/*"]})
    assert second.get_object(Bucket=policy_bucket, Key="private/secret.txt")["Body"].read() == b"private/secret.txt"
    assert second.list_objects_v2(Bucket=policy_bucket)["KeyCount"] == 5
    assert error_of(second.put_object, Bucket=policy_bucket, Key="x", Body=b"")[:2] == ("AccessDenied", 403)


def test_prefix_condition_limits_listing(server: Server, s3: Any, policy_bucket: str) -> None:
    role_arn = make_role(server, f"lister-{uuid.uuid4().hex[:8]}", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{policy_bucket}",
        "Condition": {"StringLike": {"s3:prefix": ["home/*"]}}}]})
    lister, _ = session_s3(server, role_arn, "lister")
    out = lister.list_objects_v2(Bucket=policy_bucket, Prefix="home/")
    assert [o["Key"] for o in out["Contents"]] == ["home/me/notes.txt"]
    assert error_of(lister.list_objects_v2, Bucket=policy_bucket, Prefix="etc/")[:2] == ("AccessDenied", 403)
    assert error_of(lister.list_objects_v2, Bucket=policy_bucket)[:2] == ("AccessDenied", 403)


# --- presigned URLs -----------------------------------------------------------------------------


def test_presigned_get_and_put_with_urllib(server: Server, policy_bucket: str) -> None:
    s3 = presigner(server)
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": policy_bucket, "Key": "private/secret.txt"},
                                        ExpiresIn=604800)
    assert http("GET", get_url) == (200, b"private/secret.txt")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": policy_bucket, "Key": "uploads/via-url.bin"})
    assert http("PUT", put_url, data=b"presigned bytes")[0] == 200
    assert s3.get_object(Bucket=policy_bucket, Key="uploads/via-url.bin")["Body"].read() == b"presigned bytes"
    s3.delete_object(Bucket=policy_bucket, Key="uploads/via-url.bin")


def test_tampered_and_expired_presigned_urls_fail(server: Server, policy_bucket: str) -> None:
    s3 = presigner(server)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": policy_bucket, "Key": "private/secret.txt"},
                                    ExpiresIn=60)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["X-Amz-Signature"] = ("0" if query["X-Amz-Signature"][0] != "0" else "1") + query["X-Amz-Signature"][1:]
    status, body = http("GET", urlunsplit(parts._replace(query=urlencode(query))))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    other_key = url.replace("private/secret.txt", "private/other.txt")
    assert b"SignatureDoesNotMatch" in http("GET", other_key)[1]
    server.clock.advance(120)
    try:
        status, body = http("GET", url)
    finally:
        server.clock.advance(-120)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body
    too_long = s3.generate_presigned_url("get_object", Params={"Bucket": policy_bucket, "Key": "etc/conf"},
                                         ExpiresIn=604801)
    status, body = http("GET", too_long)
    assert status == 400 and b"AuthorizationQueryParametersError" in body


def test_presigned_url_with_a_session_token(server: Server, article: dict[str, Any]) -> None:
    role = presigner(server, **article["keys"])
    url = role.generate_presigned_url("get_object", Params={"Bucket": article["bucket"], "Key": "data.json"})
    assert "X-Amz-Security-Token" in url
    assert http("GET", url) == (200, b'{"hello": "world"}')
    put_url = role.generate_presigned_url("put_object", Params={"Bucket": article["bucket"], "Key": "nope"})
    status, body = http("PUT", put_url, data=b"x")
    assert status == 403 and b"AccessDenied" in body
