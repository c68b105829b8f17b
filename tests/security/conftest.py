"""Fixtures of the security suite: one server of its own (so that nothing another suite does in the
background can change the state these tests prove unchanged), its admin's keys, and the guard
that every hostile-input test runs under."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from security_wire import HOSTILE_BUCKET, HOSTILE_ROLE, Keys, LogCapture, state_digest
from keyless.testing import Server


@pytest.fixture(scope="package")
def secure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("keyless-security"))
    srv.start()
    srv.client("s3").create_bucket(Bucket=HOSTILE_BUCKET)  # hostile requests aim at a real bucket and role
    srv.client("iam").create_role(RoleName=HOSTILE_ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}))
    yield srv
    srv.stop()


@pytest.fixture(scope="package")
def admin_keys(secure_server: Server) -> Keys:
    return Keys.of(secure_server.admin_credentials())


@pytest.fixture(scope="package")
def admin_client(secure_server: Server) -> Any:
    """boto3 clients of the admin, built once per service."""
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            cache[service] = secure_server.client(service)
        return cache[service]

    return client


@pytest.fixture
def server_log() -> Iterator[LogCapture]:
    with LogCapture() as capture:
        yield capture


@pytest.fixture
def unharmed(secure_server: Server, server_log: LogCapture) -> Iterator[None]:
    """The test's requests leave the stored state exactly as it was, and log no traceback."""
    before = state_digest(secure_server)
    yield
    server_log.assert_no_tracebacks()
    assert state_digest(secure_server) == before, "a hostile request changed the stored state"
