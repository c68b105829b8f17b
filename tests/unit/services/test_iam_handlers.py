"""IAM handlers called directly over a real store (no HTTP): behaviour, quotas, races, access map."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator
from urllib.parse import unquote

import pytest
from botocore import xform_name

from keyless.auth.principals import Caller
from keyless.clock import Clock
from keyless.credentials import MasterKey, decrypt_secret
from keyless.errors import AccessDenied, AwsError, ValidationError
from keyless.services.base import RequestContext
from keyless.services.iam import handlers
from keyless.services.iam.access import access_map
from keyless.store import iam as iam_store
from keyless.store.db import Database

ACCOUNT = "123456789012"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
S3_READ = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]})

Call = Callable[..., Any]


def _caller(user: dict[str, Any] | None = None) -> Caller:
    if user is None:
        return Caller(type="User", account=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:user/admin", user_id="AIDAADMIN")
    return Caller(type="User", account=ACCOUNT, arn=user["arn"], user_id=user["id"], username=user["name"],
                  owner_kind="user", owner_id=user["id"])


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Any]:
    db = Database.open(tmp_path)
    yield SimpleNamespace(db=db, clock=Clock(), master_key=MasterKey.generate(),
                          settings=SimpleNamespace(account_id=ACCOUNT))
    db.close()


@pytest.fixture
def call(state: Any) -> Call:
    def run(op: str, caller: Caller | None = None, **params: Any) -> Any:
        ctx = RequestContext(state=state, caller=caller or _caller(), request=None, operation=op,  # type: ignore[arg-type]
                             request_id="req", region="us-east-1", service="iam")
        return getattr(handlers, xform_name(op))(ctx, params)
    return run


def _error(fn: Callable[[], Any]) -> AwsError:
    with pytest.raises(AwsError) as info:
        fn()
    return info.value


def test_user_lifecycle_and_case_insensitive_names(call: Call) -> None:
    user = call("CreateUser", UserName="Bob", Path="/eng/", Tags=[{"Key": "team", "Value": "core"}])["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/Bob" and user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    err = _error(lambda: call("CreateUser", UserName="bob"))
    assert (err.code, err.status, err.message) == ("EntityAlreadyExists", 409, "User with name bob already exists.")
    assert call("GetUser", UserName="BOB")["User"]["Tags"] == [{"Key": "team", "Value": "core"}]
    assert [u["UserName"] for u in call("ListUsers", PathPrefix="/eng/")["Users"]] == ["Bob"]
    assert call("ListUsers", PathPrefix="/ops/")["Users"] == []
    call("DeleteUser", UserName="Bob")
    err = _error(lambda: call("GetUser", UserName="Bob"))
    assert (err.code, err.status, err.message) == ("NoSuchEntity", 404, "The user with name Bob cannot be found.")


def test_get_user_without_name_is_the_caller(call: Call) -> None:
    user = call("CreateUser", UserName="carol")["User"]
    row = {"arn": user["Arn"], "id": user["UserId"], "name": "carol"}
    assert call("GetUser", caller=_caller(row))["User"]["UserName"] == "carol"
    err = _error(lambda: call("GetUser", caller=Caller(type="AssumedRole", account=ACCOUNT, arn="a", user_id="AROA:x",
                                                       owner_kind="role", owner_id="AROA")))
    assert isinstance(err, ValidationError) and err.message == "Must specify userName when calling with non-User credentials"


def test_two_access_keys_per_user_and_secrets_encrypted(call: Call, state: Any) -> None:
    call("CreateUser", UserName="dave")
    keys = [call("CreateAccessKey", UserName="dave")["AccessKey"] for _ in range(2)]
    assert all(k["AccessKeyId"].startswith("AKIA") and len(k["SecretAccessKey"]) == 40 for k in keys)
    err = _error(lambda: call("CreateAccessKey", UserName="dave"))
    assert (err.code, err.status, err.message) == ("LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2")
    with state.db.read() as conn:
        stored = iam_store.get_access_key(conn, keys[0]["AccessKeyId"])
    assert stored["secret"] != keys[0]["SecretAccessKey"]
    assert decrypt_secret(stored["secret"], state.master_key) == keys[0]["SecretAccessKey"]
    call("UpdateAccessKey", UserName="dave", AccessKeyId=keys[0]["AccessKeyId"], Status="Inactive")
    listed = call("ListAccessKeys", UserName="dave")["AccessKeyMetadata"]
    assert {k["AccessKeyId"]: k["Status"] for k in listed}[keys[0]["AccessKeyId"]] == "Inactive"
    err = _error(lambda: call("DeleteUser", UserName="dave"))
    assert (err.code, err.message) == ("DeleteConflict", "Cannot delete entity, must delete access keys first.")
    for key in keys:
        call("DeleteAccessKey", UserName="dave", AccessKeyId=key["AccessKeyId"])
    err = _error(lambda: call("DeleteAccessKey", UserName="dave", AccessKeyId=keys[0]["AccessKeyId"]))
    assert err.code == "NoSuchEntity" and err.message == f"The Access Key with id {keys[0]['AccessKeyId']} cannot be found."


def test_concurrent_key_creation_never_exceeds_two(call: Call) -> None:
    call("CreateUser", UserName="racer")
    outcomes: list[str] = []

    def create() -> None:
        try:
            call("CreateAccessKey", UserName="racer")
            outcomes.append("ok")
        except AwsError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["LimitExceeded"] * 4 + ["ok"] * 2
    assert len(call("ListAccessKeys", UserName="racer")["AccessKeyMetadata"]) == 2


def test_role_updates_tags_and_delete_conflicts(call: Call) -> None:
    role = call("CreateRole", RoleName="app", AssumeRolePolicyDocument=TRUST, Description="d")["Role"]
    assert role["RoleId"].startswith("AROA") and json.loads(unquote(role["AssumeRolePolicyDocument"])) == json.loads(TRUST)
    call("UpdateRole", RoleName="app", MaxSessionDuration=7200, Description="new")
    got = call("GetRole", RoleName="app")["Role"]
    assert (got["MaxSessionDuration"], got["Description"]) == (7200, "new")
    assert call("UpdateRoleDescription", RoleName="app", Description="again")["Role"]["Description"] == "again"
    call("TagRole", RoleName="app", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    call("UntagRole", RoleName="app", TagKeys=["A"])
    assert call("ListRoleTags", RoleName="app")["Tags"] == [{"Key": "b", "Value": "2"}]
    call("PutRolePolicy", RoleName="app", PolicyName="p", PolicyDocument=S3_READ)
    err = _error(lambda: call("DeleteRole", RoleName="app"))
    assert (err.code, err.message) == ("DeleteConflict", "Cannot delete entity, must delete policies first.")
    call("DeleteRolePolicy", RoleName="app", PolicyName="p")
    call("AttachRolePolicy", RoleName="app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    err = _error(lambda: call("DeleteRole", RoleName="app"))
    assert err.message == "Cannot delete entity, must detach all policies first."
    call("DetachRolePolicy", RoleName="app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    call("DeleteRole", RoleName="app")


def test_role_inline_policies_total_10240_characters(call: Call) -> None:
    call("CreateRole", RoleName="big", AssumeRolePolicyDocument=TRUST)
    stmt = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "x" * 3000}
    doc = json.dumps({"Version": "2012-10-17", "Statement": [stmt]})
    for i in range(3):
        call("PutRolePolicy", RoleName="big", PolicyName=f"p{i}", PolicyDocument=doc)
    call("PutRolePolicy", RoleName="big", PolicyName="p0", PolicyDocument=doc)  # replacing does not add up
    err = _error(lambda: call("PutRolePolicy", RoleName="big", PolicyName="p3", PolicyDocument=doc))
    assert (err.code, err.status, err.message) == ("LimitExceeded", 409, "Maximum policy size of 10240 bytes exceeded for role big")


def test_second_role_in_a_profile_exceeds_the_quota_and_deletes_conflict(call: Call) -> None:
    for name in ("r1", "r2"):
        call("CreateRole", RoleName=name, AssumeRolePolicyDocument=TRUST)
    profile = call("CreateInstanceProfile", InstanceProfileName="prof")["InstanceProfile"]
    assert profile["InstanceProfileId"].startswith("AIPA") and profile["Roles"] == []
    call("AddRoleToInstanceProfile", InstanceProfileName="prof", RoleName="r1")
    err = _error(lambda: call("AddRoleToInstanceProfile", InstanceProfileName="prof", RoleName="r2"))
    assert (err.code, err.status, err.message) == ("LimitExceeded", 409, "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    assert [r["RoleName"] for r in call("GetInstanceProfile", InstanceProfileName="prof")["InstanceProfile"]["Roles"]] == ["r1"]
    assert [p["InstanceProfileName"] for p in call("ListInstanceProfilesForRole", RoleName="r1")["InstanceProfiles"]] == ["prof"]
    assert _error(lambda: call("DeleteRole", RoleName="r1")).message == "Cannot delete entity, must remove roles from instance profile first."
    assert _error(lambda: call("DeleteInstanceProfile", InstanceProfileName="prof")).code == "DeleteConflict"
    call("RemoveRoleFromInstanceProfile", InstanceProfileName="prof", RoleName="r1")
    call("DeleteInstanceProfile", InstanceProfileName="prof")
    assert _error(lambda: call("GetInstanceProfile", InstanceProfileName="prof")).message == "Instance Profile prof cannot be found."


def test_policy_versions_are_limited_to_five(call: Call) -> None:
    arn = call("CreatePolicy", PolicyName="pol", PolicyDocument=S3_READ)["Policy"]["Arn"]
    for _ in range(4):
        call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=S3_READ)
    err = _error(lambda: call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=S3_READ))
    assert err.code == "LimitExceeded" and err.message.startswith("A managed policy can have up to 5 versions.")
    assert [v["VersionId"] for v in call("ListPolicyVersions", PolicyArn=arn)["Versions"]] == ["v5", "v4", "v3", "v2", "v1"]
    call("DeletePolicyVersion", PolicyArn=arn, VersionId="v2")
    created = call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=S3_READ, SetAsDefault=True)["PolicyVersion"]
    assert (created["VersionId"], created["IsDefaultVersion"], "Document" in created) == ("v6", True, False)
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v6"
    assert _error(lambda: call("DeletePolicyVersion", PolicyArn=arn, VersionId="v6")).message == "Cannot delete the default version of a policy."
    assert _error(lambda: call("DeletePolicy", PolicyArn=arn)).code == "DeleteConflict"


def test_policy_names_are_unique_per_account_across_paths(call: Call) -> None:
    call("CreatePolicy", PolicyName="Dup", PolicyDocument=S3_READ)
    err = _error(lambda: call("CreatePolicy", PolicyName="dup", Path="/other/", PolicyDocument=S3_READ))
    assert (err.code, err.message) == ("EntityAlreadyExists", "A policy called dup already exists. Duplicate names are not allowed.")


def test_aws_managed_policies_are_readable_attachable_not_changeable(call: Call) -> None:
    arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    policy = call("GetPolicy", PolicyArn=arn)["Policy"]
    assert (policy["PolicyId"], policy["DefaultVersionId"], policy["AttachmentCount"]) == ("ANPAIZTJ4DXE7G6AGAE6M", "v3", 0)
    doc = json.loads(unquote(call("GetPolicyVersion", PolicyArn=arn, VersionId="v3")["PolicyVersion"]["Document"]))
    assert doc["Statement"][0]["Action"][:2] == ["s3:Get*", "s3:List*"]
    call("CreateUser", UserName="eve")
    call("AttachUserPolicy", UserName="eve", PolicyArn=arn)
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    entities = call("ListEntitiesForPolicy", PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["eve"] and entities["PolicyRoles"] == []
    err = _error(lambda: call("DeletePolicy", PolicyArn=arn))
    assert isinstance(err, AccessDenied) and err.message == "Cannot delete policies outside your own account."
    err = _error(lambda: call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=S3_READ))
    assert err.message == "Cannot create versions for policies outside your own account."
    attached = call("ListPolicies", Scope="AWS", OnlyAttached=True)["Policies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonS3ReadOnlyAccess"]


def test_eleventh_attached_policy_exceeds_the_quota(call: Call) -> None:
    call("CreateUser", UserName="many")
    for i in range(10):
        arn = call("CreatePolicy", PolicyName=f"m{i}", PolicyDocument=S3_READ)["Policy"]["Arn"]
        call("AttachUserPolicy", UserName="many", PolicyArn=arn)
    call("AttachUserPolicy", UserName="many", PolicyArn=arn)  # attaching again is a no-op
    err = _error(lambda: call("AttachUserPolicy", UserName="many", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"))
    assert (err.code, err.message) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10")


def test_permissions_boundaries_show_in_get_and_count_as_usage(call: Call) -> None:
    boundary = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
    call("CreateRole", RoleName="bounded", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=boundary)
    assert call("GetRole", RoleName="bounded")["Role"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    assert call("GetPolicy", PolicyArn=boundary)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    call("DeleteRolePermissionsBoundary", RoleName="bounded")
    assert "PermissionsBoundary" not in call("GetRole", RoleName="bounded")["Role"]
    err = _error(lambda: call("PutRolePermissionsBoundary", RoleName="bounded", PermissionsBoundary="arn:aws:iam::aws:policy/Nope"))
    assert (err.code, err.message) == ("NoSuchEntity", "Policy arn:aws:iam::aws:policy/Nope does not exist or is not attachable.")


def test_simulate_principal_policy_uses_the_users_policies(call: Call) -> None:
    user = call("CreateUser", UserName="sim")["User"]
    call("PutUserPolicy", UserName="sim", PolicyName="read", PolicyDocument=S3_READ)
    out = call("SimulatePrincipalPolicy", PolicySourceArn=user["Arn"], ActionNames=["s3:GetObject", "s3:PutObject"])
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in out["EvaluationResults"]] == [
        ("s3:GetObject", "allowed"), ("s3:PutObject", "implicitDeny")]
    assert out["EvaluationResults"][0]["MatchedStatements"][0]["SourcePolicyId"] == "read"
    page = call("SimulatePrincipalPolicy", PolicySourceArn=user["Arn"], ActionNames=["s3:GetObject", "s3:PutObject"], MaxItems=1)
    assert page["IsTruncated"] is True and len(page["EvaluationResults"]) == 1


def test_access_map_names_the_entity_arn_with_its_path(call: Call, state: Any) -> None:
    call("CreateRole", RoleName="pathy", Path="/team/", AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "env", "Value": "dev"}])
    access = access_map(state.db)

    def target(op: str, **params: Any) -> Any:
        ctx = RequestContext(state=state, caller=_caller(), request=None, operation=op,  # type: ignore[arg-type]
                             request_id="r", region="us-east-1", service="iam")
        return access(ctx, params)[0]

    got = target("GetRole", RoleName="pathy")
    assert (got.action, got.resource) == ("iam:GetRole", f"arn:aws:iam::{ACCOUNT}:role/team/pathy")
    assert got.context["aws:ResourceTag/env"] == "dev"
    assert target("CreateRole", RoleName="x", Path="/p/").resource == f"arn:aws:iam::{ACCOUNT}:role/p/x"
    assert target("GetRole", RoleName="missing").resource == f"arn:aws:iam::{ACCOUNT}:role/missing"
    assert target("ListRoles").resource == "*"
    attach = target("AttachUserPolicy", UserName="u", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert attach.context["iam:PolicyARN"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert target("GetPolicy", PolicyArn="arn:aws:iam::aws:policy/X").resource == "arn:aws:iam::aws:policy/X"
    assert target("GetInstanceProfile", InstanceProfileName="ip").resource == f"arn:aws:iam::{ACCOUNT}:instance-profile/ip"


def test_concurrent_creates_of_one_name_leave_one_winner(call: Call) -> None:
    outcomes: list[str] = []

    def create(name: str) -> None:
        try:
            call("CreateRole", RoleName=name, AssumeRolePolicyDocument=TRUST)
            outcomes.append("ok")
        except AwsError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=create, args=(n,)) for n in ("Twin", "twin", "TWIN", "twin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["EntityAlreadyExists"] * 3 + ["ok"]
    assert len(call("ListRoles")["Roles"]) == 1
