"""Hostile inputs that got a 5xx in service code: fixed ones stay as regression tests; strict xfails
mark those still open, and turn into failures the day they are fixed, so the mark comes off with the fix.
No `unharmed` guard here: these requests do log a traceback today."""

from __future__ import annotations

import base64

import pytest

from security_wire import FORM, Keys, VERSIONS, aws_error, exchange, form, signed
from keyless.testing import Server


@pytest.mark.xfail(strict=True, reason="services/s3/policy.py validate_bucket_policy: json.loads of a deeply nested "
                                       "policy raises RecursionError (only ValueError is caught), answered 500 "
                                       "InternalFailure instead of MalformedPolicy")
def test_a_deeply_nested_bucket_policy_is_malformed_policy(secure_server: Server, admin_keys: Keys) -> None:
    request = signed(secure_server, admin_keys, "s3", "PUT", "/hostile-bucket?policy", body=b'{"a":' + b"[" * 15000)
    assert aws_error(exchange(secure_server.port, request), "s3") == "MalformedPolicy"


def test_a_deeply_nested_ec2_next_token_is_invalid_parameter_value(secure_server: Server, admin_keys: Keys) -> None:
    token = base64.urlsafe_b64encode(b"[" * 3000).decode()
    request = signed(secure_server, admin_keys, "ec2", "POST", "/", headers=FORM,
                     body=form("DescribeInstances", VERSIONS["ec2"], NextToken=token))
    assert aws_error(exchange(secure_server.port, request), "ec2") == "InvalidParameterValue"
