"""Hostile inputs that once got a 5xx in service code, kept as regression tests. A gap found and not
yet fixed goes here as a strict xfail, which turns into a failure the day it is fixed."""

from __future__ import annotations

import base64
from typing import Any, Callable

import pytest

from security_wire import FORM, Keys, VERSIONS, aws_error, exchange, form, signed
from keyless.testing import Server


def test_a_deeply_nested_bucket_policy_is_malformed_policy(secure_server: Server, admin_keys: Keys) -> None:
    request = signed(secure_server, admin_keys, "s3", "PUT", "/hostile-bucket?policy", body=b'{"a":' + b"[" * 15000)
    assert aws_error(exchange(secure_server.port, request), "s3") == "MalformedPolicy"


def test_a_deeply_nested_ec2_next_token_is_invalid_parameter_value(secure_server: Server, admin_keys: Keys) -> None:
    token = base64.urlsafe_b64encode(b"[" * 3000).decode()
    request = signed(secure_server, admin_keys, "ec2", "POST", "/", headers=FORM,
                     body=form("DescribeInstances", VERSIONS["ec2"], NextToken=token))
    assert aws_error(exchange(secure_server.port, request), "ec2") == "InvalidParameterValue"


def test_every_session_sts_issues_can_sign_a_request(secure_server: Server, admin_client: Callable[[str], Any]) -> None:
    import botocore.exceptions

    import random

    rng = random.Random(8)  # incompressible tag text: the token carries the tags zlib-compressed
    text = lambda n: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))  # noqa: E731
    tags = [{"Key": f"k{i:02d}" + text(125), "Value": text(256)} for i in range(50)]
    try:
        creds = admin_client("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/hostile-role",
                                                RoleSessionName="tagged", Tags=tags)["Credentials"]
    except botocore.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "PackedPolicyTooLarge"
        return
    sts = secure_server.client("sts", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                               aws_session_token=creds["SessionToken"])
    assert sts.get_caller_identity()["Arn"].endswith("/tagged")


def test_session_tags_need_sts_tag_session_in_the_trust_policy(admin_client: Callable[[str], Any]) -> None:
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as exc:
        admin_client("sts").assume_role(RoleArn="arn:aws:iam::123456789012:role/hostile-role", RoleSessionName="tags",
                                        Tags=[{"Key": "team", "Value": "blue"}])
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
