"""Shared fixtures: a real keyless server on a free port, boto3 clients and the real aws CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Nothing in the suite may reach a real metadata service or ambient credentials.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)

from keyless.testing import Server  # noqa: E402

AWS_CLI = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"


@pytest.fixture(scope="session")
def server(keyless_server: Server) -> Server:
    """The session's real server: the pytest plugin's own fixture (keyless.pytest_plugin), as users get it."""
    return keyless_server


@pytest.fixture(scope="session")
def admin(server: Server) -> Any:
    """A boto3 Session with the bootstrap admin's keys."""
    return server.session()


class AwsCli:
    def __init__(self, server: Server, credentials: dict[str, str] | None = None) -> None:
        self.server = server
        self.env = server.cli_env(**(credentials or {}))

    def __call__(self, *args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([AWS_CLI, *args], env=self.env, capture_output=True, text=True, cwd=cwd, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def json(self, *args: str, cwd: Path | None = None) -> Any:
        out = self(*args, "--output", "json", cwd=cwd).stdout
        return json.loads(out) if out.strip() else None

    def as_(self, credentials: dict[str, str]) -> AwsCli:
        return AwsCli(self.server, credentials)


@pytest.fixture(scope="session")
def aws(server: Server) -> AwsCli:
    """The real aws CLI, pointed at the server with the admin's keys."""
    return AwsCli(server)
