"""STS through boto3 and the real aws CLI: identity, sessions, AssumeRole and its trust checks."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import botocore.auth
import botocore.exceptions
import pytest

from keyless.testing import Server

ACCOUNT = "123456789012"


def _trust(principal: dict[str, Any], condition: dict[str, Any] | None = None) -> str:
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def _make_role(server: Server, name: str, trust: str, **kw: Any) -> dict[str, Any]:
    iam = server.client("iam")
    try:
        iam.delete_role(RoleName=name)
    except botocore.exceptions.ClientError:
        pass
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, **kw)["Role"]


def _session_client(server: Server, service: str, creds: dict[str, Any]) -> Any:
    return server.client(service, aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"])


def _make_user(server: Server, name: str, policy: dict[str, Any] | None = None) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def test_get_caller_identity_for_admin(server: Server) -> None:
    out = server.client("sts").get_caller_identity()
    assert out["Account"] == ACCOUNT
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert out["UserId"].startswith("AIDA") and len(out["UserId"]) == 21


def test_assume_role_with_cli_prints_aws_fields(server: Server, aws: Any) -> None:
    role = _make_role(server, "some-role", _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    out = aws.json("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/some-role", "--role-session-name", "dev")
    creds, user = out["Credentials"], out["AssumedRoleUser"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40 and len(creds["SessionToken"]) > 100
    expires = datetime.fromisoformat(creds["Expiration"].replace("Z", "+00:00"))
    assert 3500 < (expires - datetime.now(timezone.utc)).total_seconds() <= 3600
    assert user["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/some-role/dev"
    assert user["AssumedRoleId"] == f"{role['RoleId']}:dev"


def test_session_credentials_identify_as_assumed_role(server: Server) -> None:
    role = _make_role(server, "identity-role", _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="who")["Credentials"]
    out = _session_client(server, "sts", creds).get_caller_identity()
    assert out["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/identity-role/who"
    assert out["UserId"] == f"{role['RoleId']}:who"


def test_assumed_role_ARN_omits_role_path(server: Server) -> None:
    role = _make_role(server, "pathy", _trust({"AWS": ACCOUNT}), Path="/team/app/")
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/team/app/pathy"
    out = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ss")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/pathy/ss"


def test_assume_role_denied_without_trust(server: Server) -> None:
    _make_role(server, "ec2-only", _trust({"Service": "ec2.amazonaws.com"}))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/ec2-only", RoleSessionName="xx")
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDenied"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Message"].startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/admin is not authorized to perform: sts:AssumeRole on resource: "
        f"arn:aws:iam::{ACCOUNT}:role/ec2-only")


def test_assume_missing_role_is_access_denied(server: Server) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nope", RoleSessionName="xx")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_trust_naming_the_user_suffices_without_identity_allow(server: Server) -> None:
    creds = _make_user(server, "trusted-user")
    _make_role(server, "names-user", _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/trusted-user"}))
    out = server.client("sts", **creds).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/names-user", RoleSessionName="uu")
    assert out["AssumedRoleUser"]["Arn"].endswith(":assumed-role/names-user/uu")


def test_trust_naming_the_account_needs_an_identity_allow(server: Server) -> None:
    creds = _make_user(server, "no-perms-user")
    _make_role(server, "names-account", _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts", **creds).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/names-account", RoleSessionName="uu")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_external_id_condition(server: Server) -> None:
    _make_role(server, "needs-external-id", _trust({"AWS": ACCOUNT}, {"StringEquals": {"sts:ExternalId": "s3cret-id"}}))
    sts = server.client("sts")
    arn = f"arn:aws:iam::{ACCOUNT}:role/needs-external-id"
    with pytest.raises(botocore.exceptions.ClientError):
        sts.assume_role(RoleArn=arn, RoleSessionName="xx")
    with pytest.raises(botocore.exceptions.ClientError):
        sts.assume_role(RoleArn=arn, RoleSessionName="xx", ExternalId="wrong-id")
    assert sts.assume_role(RoleArn=arn, RoleSessionName="xx", ExternalId="s3cret-id")["Credentials"]


def test_duration_limits(server: Server) -> None:
    role = _make_role(server, "short", _trust({"AWS": ACCOUNT}))
    sts = server.client("sts")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="xx", DurationSeconds=7200)
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    assert "MaxSessionDuration" in exc.value.response["Error"]["Message"]


def test_role_chaining_is_capped_at_one_hour(server: Server) -> None:
    role = _make_role(server, "chain", _trust({"AWS": ACCOUNT}), MaxSessionDuration=7200)
    server.client("iam").put_role_policy(RoleName="chain", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    first = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="aa", DurationSeconds=7200)["Credentials"]
    chained = _session_client(server, "sts", first)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        chained.assume_role(RoleArn=role["Arn"], RoleSessionName="bb", DurationSeconds=7200)
    assert "role chaining" in exc.value.response["Error"]["Message"]
    assert chained.assume_role(RoleArn=role["Arn"], RoleSessionName="bb")["AssumedRoleUser"]["Arn"].endswith("/chain/bb")


def test_invalid_session_name_is_validation_error(server: Server) -> None:
    role = _make_role(server, "named", _trust({"AWS": ACCOUNT}))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="bad name!")
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    assert "roleSessionName" in exc.value.response["Error"]["Message"]


def test_session_policy_narrows_the_role(server: Server) -> None:
    role = _all_iam_role(server, "wide")
    narrow = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]})
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="nn", Policy=narrow)["Credentials"]
    _assert_only_get_role(_session_client(server, "iam", creds), "wide")


def _all_iam_role(server: Server, name: str) -> dict[str, Any]:
    role = _make_role(server, name, _trust({"AWS": ACCOUNT}))
    server.client("iam").put_role_policy(RoleName=name, PolicyName="all-iam", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
    return role


def _assert_only_get_role(session_iam: Any, role_name: str) -> None:
    """The session may GetRole and nothing else: ListRoles is denied by its session policy."""
    assert session_iam.get_role(RoleName=role_name)["Role"]["RoleName"] == role_name
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        session_iam.list_roles()
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert "session policy" in exc.value.response["Error"]["Message"]


def test_malformed_session_policy(server: Server) -> None:
    role = _make_role(server, "sp", _trust({"AWS": ACCOUNT}))
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="nn", Policy='{"Version": "2012-10-17"}')
    assert exc.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_expired_session_is_rejected_at_the_second(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # The client signs on the server's clock, as one whose clock agrees with AWS's: signed on the
    # real clock, a request 899 s behind the server sat on the 15-minute skew limit, and failed
    # with SignatureDoesNotMatch whenever signing and checking fell in different seconds.
    def now(remove_tzinfo: bool = True) -> datetime:
        moment = server.clock.now()
        return moment.replace(tzinfo=None) if remove_tzinfo else moment

    monkeypatch.setattr(botocore.auth, "get_current_datetime", now)
    role = _make_role(server, "brief", _trust({"AWS": ACCOUNT}))
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="bb", DurationSeconds=900)["Credentials"]
    sts = _session_client(server, "sts", creds)
    server.clock.advance(899)
    try:
        assert sts.get_caller_identity()["Arn"].endswith("/brief/bb")
        server.clock.advance(1)
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            sts.get_caller_identity()
    finally:
        server.clock.reset()
    assert exc.value.response["Error"]["Code"] == "ExpiredToken"


def test_tampered_session_token_is_rejected(server: Server) -> None:
    role = _make_role(server, "tamper", _trust({"AWS": ACCOUNT}))
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="tt")["Credentials"]
    token = creds["SessionToken"]
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        _session_client(server, "sts", {**creds, "SessionToken": flipped}).get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_get_session_token(server: Server) -> None:
    creds = server.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    out = _session_client(server, "sts", creds).get_caller_identity()
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"


def test_source_identity_and_tags_are_kept(server: Server) -> None:
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
    role = _make_role(server, "tagged", trust)
    server.client("iam").put_role_policy(RoleName="tagged", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
                       "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]}))
    out = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="tt", SourceIdentity="alice",
                                           Tags=[{"Key": "team", "Value": "blue"}])
    assert out["SourceIdentity"] == "alice"
    assert "PackedPolicySize" in out
    assert _session_client(server, "iam", out["Credentials"]).get_role(RoleName="tagged")
    other = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="tt", Tags=[{"Key": "team", "Value": "red"}])
    with pytest.raises(botocore.exceptions.ClientError):
        _session_client(server, "iam", other["Credentials"]).get_role(RoleName="tagged")


def test_decode_authorization_message_of_an_ec2_denial(server: Server) -> None:
    creds = _make_user(server, "no-ec2-user")
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        server.client("ec2", **creds).run_instances(ImageId="ami-12345678", InstanceType="t3.micro", MinCount=1, MaxCount=1)
    assert exc.value.response["Error"]["Code"] == "UnauthorizedOperation"
    encoded = exc.value.response["Error"]["Message"].rsplit("Encoded authorization failure message: ", 1)[1]
    decoded = json.loads(server.client("sts").decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert "ec2:RunInstances" in json.dumps(decoded)
    with pytest.raises(botocore.exceptions.ClientError) as bad:
        server.client("sts").decode_authorization_message(EncodedMessage="bm90LW91cnM")
    assert bad.value.response["Error"]["Code"] == "InvalidAuthorizationMessageException"
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        server.client("sts", **creds).decode_authorization_message(EncodedMessage=encoded)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_get_caller_identity_answers_each_session_as_itself(server: Server) -> None:
    # GetCallerIdentity is a cached read: two sessions of one role must not share an answer.
    role = _make_role(server, "twins", _trust({"AWS": ACCOUNT}))
    sts = server.client("sts")
    for session in ("first", "second", "first"):
        creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName=session)["Credentials"]
        out = _session_client(server, "sts", creds).get_caller_identity()
        assert out["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/twins/{session}"
        assert out["UserId"] == f"{role['RoleId']}:{session}"
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"


def test_managed_session_policy_follows_its_default_version(server: Server) -> None:
    # A session's PolicyArns are resolved once per IAM generation: a new default version applies
    # to the next request of a session issued before it.
    iam = server.client("iam")
    role = _all_iam_role(server, "scoped")
    limit = iam.create_policy(PolicyName="session-limit", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]}))["Policy"]
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ss",
                                             PolicyArns=[{"arn": limit["Arn"]}])["Credentials"]
    session = _session_client(server, "iam", creds)
    _assert_only_get_role(session, "scoped")
    iam.create_policy_version(PolicyArn=limit["Arn"], SetAsDefault=True, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:GetRole", "iam:ListRoles"], "Resource": "*"}]}))
    assert any(r["RoleName"] == "scoped" for r in session.list_roles()["Roles"])
