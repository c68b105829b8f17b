"""A `keyless server` run as a real subprocess (its own PID, its own data dir), so a test can
SIGKILL exactly that process and start another one on the same data dir."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KeylessProcess:
    """`python -m keyless server` on a free loopback port over `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}-server.log"
        self._admin: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("not started")
        return self.proc.pid

    def start(self) -> KeylessProcess:
        env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
        with open(self.log, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "keyless", "server", "--port", str(self.port), "--data-dir", str(self.data_dir)],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_healthy()
        return self

    def _wait_healthy(self, timeout: float = 30) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"keyless server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/_keyless/health", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"keyless server did not come up:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL this server's PID only: no shutdown hook, no flush, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> KeylessProcess:
        """A new server on the same data dir (and port)."""
        self.stop()
        return self.start()

    def credentials(self) -> dict[str, str]:
        from keyless.server.bootstrap import load_admin_credentials

        if self._admin is None:
            self._admin = load_admin_credentials(self.data_dir)
        admin = self._admin
        return {"aws_access_key_id": admin.access_key_id, "aws_secret_access_key": admin.secret_access_key}

    def client(self, service: str, **credentials: str) -> Any:
        """A botocore client with retries off: every failure is seen, none is papered over."""
        from botocore.config import Config

        config = Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"},
                        connect_timeout=5, read_timeout=30)
        return _botocore_session().create_client(
            service, endpoint_url=self.endpoint, region_name="us-east-1", config=config,
            **(credentials or self.credentials()))


@functools.lru_cache(maxsize=None)
def _botocore_session() -> Any:
    """One botocore session for the whole run: each new one loads the service models again."""
    import botocore.session

    return botocore.session.get_session()


@pytest.fixture
def keyless_process(tmp_path: Path) -> Iterator[Callable[[], KeylessProcess]]:
    """Factory: each call starts one server subprocess; all of them are stopped afterwards."""
    started: list[KeylessProcess] = []

    def start() -> KeylessProcess:
        process = KeylessProcess(tmp_path / f"data-{len(started)}")
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
