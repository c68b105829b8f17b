"""Hostile inputs that still get a 5xx, in code other engineers own (services/ec2, services/s3).
Strict xfails: each turns into a failure the day it is fixed, so the mark comes off with the fix.
No `unharmed` guard here: these requests do log a traceback today."""

from __future__ import annotations

import base64

import pytest

from security_wire import FORM, Keys, VERSIONS, aws_error, exchange, form, signed
from keyless.testing import Server


@pytest.mark.xfail(strict=True, reason="services/ec2/filters.py _offset: json.loads of a NextToken that decodes to "
                                       "deeply nested JSON raises RecursionError (not caught), answered 500 InternalFailure "
                                       "instead of InvalidParameterValue")
def test_a_deeply_nested_ec2_next_token_is_invalid_parameter_value(secure_server: Server, admin_keys: Keys) -> None:
    token = base64.urlsafe_b64encode(b"[" * 3000).decode()
    request = signed(secure_server, admin_keys, "ec2", "POST", "/", headers=FORM,
                     body=form("DescribeInstances", VERSIONS["ec2"], NextToken=token))
    assert aws_error(exchange(secure_server.port, request), "ec2") == "InvalidParameterValue"


@pytest.mark.xfail(strict=True, reason="services/s3/policy.py validate_bucket_policy: json.loads of a deeply nested "
                                       "policy raises RecursionError (only ValueError is caught), answered 500 "
                                       "InternalFailure instead of MalformedPolicy")
def test_a_deeply_nested_bucket_policy_is_malformed_policy(secure_server: Server, admin_keys: Keys) -> None:
    request = signed(secure_server, admin_keys, "s3", "PUT", "/hostile-bucket?policy", body=b'{"a":' + b"[" * 15000)
    assert aws_error(exchange(secure_server.port, request), "s3") == "MalformedPolicy"
