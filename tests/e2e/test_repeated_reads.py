"""A read sent again gets the answer AWS would give it now. keyless keeps the answers of IAM and
STS reads (see KeylessApp._keep); these tests send the very same input again under conditions a
cached answer must not ignore."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from keyless.cli import main as keyless_main
from keyless.testing import Server

ACCOUNT = "123456789012"


def _denied(call: Any, **kw: Any) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call(**kw)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    return str(exc.value.response["Error"]["Message"])


def _user(server: Server, name: str, statement: dict[str, Any]) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _iam_with_agent(server: Server, creds: dict[str, str], agent: str) -> Any:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, user_agent_extra=agent)
    return server.session(**creds).client("iam", endpoint_url=server.endpoint, config=config)


def test_a_condition_on_the_request_is_checked_on_every_repeat(server: Server) -> None:
    server.client("iam").create_role(RoleName="agent-target", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}))
    creds = _user(server, "agent-bound", {"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
                                          "Condition": {"StringLike": {"aws:UserAgent": "*approved-agent*"}}})
    approved, other = _iam_with_agent(server, creds, "approved-agent"), _iam_with_agent(server, creds, "other-agent")
    # The same keys and the same form each time; only the User-Agent the condition reads differs.
    assert approved.get_role(RoleName="agent-target")["Role"]["RoleName"] == "agent-target"
    message = _denied(other.get_role, RoleName="agent-target")
    assert message.endswith("because no identity-based policy allows the iam:GetRole action")
    assert approved.get_role(RoleName="agent-target")["Role"]["RoleName"] == "agent-target"


def test_sessions_with_one_name_keep_their_own_session_policies(server: Server) -> None:
    iam, sts = server.client("iam"), server.client("sts")
    role = iam.create_role(RoleName="twin-sessions", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}))["Role"]
    iam.put_role_policy(RoleName="twin-sessions", PolicyName="all-iam", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))

    def session(action: str) -> Any:
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
        creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="twin", Policy=policy)["Credentials"]
        return server.client("iam", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                             aws_session_token=creds["SessionToken"])

    # One ARN and one user id for both sessions; only their session policies tell them apart.
    may_get, may_list = session("iam:GetRole"), session("iam:ListRoles")
    assert may_get.get_role(RoleName="twin-sessions")["Role"]["RoleId"] == role["RoleId"]
    assert "session policy" in _denied(may_list.get_role, RoleName="twin-sessions")
    assert any(r["RoleName"] == "twin-sessions" for r in may_list.list_roles()["Roles"])
    assert "session policy" in _denied(may_get.list_roles)


def test_each_repeat_is_its_own_call_in_the_trail(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    creds = _user(server, "repeat-reader", {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"})
    reader = server.client("iam", **creds)
    ids = {reader.get_user(UserName="repeat-reader")["ResponseMetadata"]["RequestId"] for _ in range(3)}
    assert len(ids) == 3
    server.app.state.components["trail"].flush()
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "repeat-reader"}])["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "GetUser"]
    assert {r["requestID"] for r in records} == ids
    assert all(r["requestParameters"] == {"userName": "repeat-reader"} and "errorCode" not in r for r in records)
    # The decision behind each repeat is kept too: least-privilege tooling learns from it.
    assert keyless_main(["trail", "--data-dir", str(server.data_dir), "--json", "--principal", "user/repeat-reader"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    decided = [(d["action"], d["resource"], d["result"]) for r in lines if r["eventName"] == "GetUser"
               for d in r["keyless"]["decisions"]]
    assert decided == [("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/repeat-reader", "allowed")] * 3


def test_kept_answers_stay_within_their_byte_budget(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyless.server import app as app_module

    iam, app = server.client("iam"), server.app
    iam.get_user(UserName="admin")  # kept
    monkeypatch.setattr(app_module, "KEPT_ANSWER_BYTES", app._kept_bytes + 1)  # room for nothing more
    assert any(u["UserName"] == "admin" for u in iam.list_users()["Users"])
    assert len(app._answers) == 1  # keeping the listing forgot every answer before it
    assert iam.get_user(UserName="admin")["User"]["UserName"] == "admin"  # a forgotten answer is made afresh


def test_an_iam_write_changes_the_next_repeat(server: Server) -> None:
    iam = server.client("iam")
    iam.create_role(RoleName="repeat-edited", Description="before", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}))
    assert iam.get_role(RoleName="repeat-edited")["Role"]["Description"] == "before"
    iam.update_role(RoleName="repeat-edited", Description="after")
    assert iam.get_role(RoleName="repeat-edited")["Role"]["Description"] == "after"
