"""`keyless policy simulate`, driven through keyless.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from policy_helpers import allow, deny, doc

from keyless.cli import main


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "read": doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
        "no-secret": doc(deny("s3:GetObject", "arn:aws:s3:::b/secret")),
        "boundary": doc(allow("ec2:*")),
        "bucket": doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/bob"},
                       "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}),
        "broken": '{"Version": "2012-10-17"',
    }
    for name, text in paths.items():
        (tmp_path / f"{name}.json").write_text(text)
    return {name: tmp_path / f"{name}.json" for name in paths}


def simulate(*args: str) -> int:
    return main(["policy", "simulate", *args])


def test_allowed_prints_decision_and_exits_0(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = simulate("--policy", str(files["read"]), "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k",
                    "--context", "aws:SourceIp=ip:10.1.2.3")
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("allowed: s3:GetObject on arn:aws:s3:::b/k")
    assert "statement #1 (Allow): applies" in out


def test_denied_explains_and_exits_1(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = simulate("--policy", str(files["read"]), "--policy", str(files["no-secret"]), "--action", "s3:GetObject",
                    "--resource", "arn:aws:s3:::b/secret", "--context", "aws:SourceIp=ip:10.1.2.3")
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("explicitDeny: s3:GetObject on arn:aws:s3:::b/secret")
    assert "with an explicit deny in an identity-based policy" in out


def test_condition_failure_is_explained(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = simulate("--policy", str(files["read"]), "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k",
                    "--context", "aws:SourceIp=ip:192.0.2.1")
    assert code == 1
    assert "condition not met: IpAddress" in capsys.readouterr().out


def test_boundary_and_json(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = simulate("--policy", str(files["read"]), "--boundary", str(files["boundary"]), "--action", "s3:GetObject",
                    "--action", "ec2:RunInstances", "--context", "aws:SourceIp=10.1.2.3", "--json")
    results = json.loads(capsys.readouterr().out)["EvaluationResults"]
    assert code == 1
    assert [r["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"] for r in results] == [False, True]


def test_resource_policy_with_caller(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = simulate("--resource-policy", str(files["bucket"]), "--caller", "arn:aws:iam::123456789012:user/bob",
                    "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k")
    assert code == 0
    assert "bucket.json statement #1 (Allow): applies" in capsys.readouterr().out


def test_list_context_values(files: dict[str, Path], tmp_path: Path) -> None:
    tagged = tmp_path / "tags.json"
    tagged.write_text(doc(allow("ec2:CreateTags", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}})))
    assert simulate("--policy", str(tagged), "--action", "ec2:CreateTags", "--context", "aws:TagKeys=stringList:a,b") == 0
    assert simulate("--policy", str(tagged), "--action", "ec2:CreateTags", "--context", "aws:TagKeys=stringList:a,z") == 1


def test_malformed_policy_exits_2(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert simulate("--policy", str(files["broken"]), "--action", "s3:GetObject") == 2
    assert "MalformedPolicyDocument: Syntax errors in policy." in capsys.readouterr().err
