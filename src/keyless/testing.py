"""Run a real keyless server for tests: `with keyless.testing.Server() as srv: srv.client("s3")`.

The server runs in a background thread on a free loopback port over a temporary data dir.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from keyless.clock import Clock
from keyless.config import Settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path | None = None, *, clock: Clock | None = None, **settings: Any) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="keyless-"))
        self.port = settings.pop("port", None) or free_port()
        self.settings = Settings(data_dir=self.data_dir, port=self.port, **settings)
        self.clock = clock or Clock()
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self.app: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        import uvicorn

        from keyless.server import build_app, uvicorn_config

        self.app = build_app(self.settings, self.clock)
        self._server = uvicorn.Server(uvicorn_config(self.app, self.app.state.settings))
        self._server.install_signal_handlers = lambda: None  # not the main thread
        self._thread = threading.Thread(target=self._server.run, name=f"keyless-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("keyless server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=20)
        if self.app is not None:
            self.app.state.db.close()
        self._server = self._thread = None

    def cleanup(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cleanup()

    # --- clients --------------------------------------------------------------------------

    def admin_credentials(self) -> dict[str, str]:
        from keyless.server.bootstrap import load_admin_credentials

        creds = load_admin_credentials(self.data_dir)
        return {"aws_access_key_id": creds.access_key_id, "aws_secret_access_key": creds.secret_access_key}

    def session(self, **credentials: str) -> Any:
        """A boto3 Session with the given (default: admin) credentials, pointed at this server."""
        import boto3

        return boto3.Session(region_name=self.settings.region, **(credentials or self.admin_credentials()))

    def client(self, service: str, **credentials: str) -> Any:
        from botocore.config import Config

        config = Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"})
        return self.session(**credentials).client(service, endpoint_url=self.endpoint, config=config)

    def cli_env(self, **credentials: str) -> dict[str, str]:
        """Environment for the real `aws` CLI: this server, these keys, no ambient config, no real IMDS."""
        creds = credentials or self.admin_credentials()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        empty = self.data_dir / "empty-aws-config"
        empty.touch(exist_ok=True)
        env.update({
            "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": self.settings.region,
            "AWS_DEFAULT_REGION": self.settings.region, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(empty), "AWS_SHARED_CREDENTIALS_FILE": str(empty),
            "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": "",
        })
        if "aws_session_token" in creds:
            env["AWS_SESSION_TOKEN"] = creds["aws_session_token"]
        return env
