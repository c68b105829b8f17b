"""Shared benchmark plumbing: start servers as subprocesses, replay once-signed requests with wrk.

A SigV4 signature stays valid for 15 minutes, so requests are signed once with botocore and
replayed by wrk (a C load generator); a Python client would saturate long before the server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
SERVER_PIDS: dict[str, int] = {}  # endpoint -> PID of the server subprocess behind it


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process and its live child processes (keyless's trail writer) have used
    so far (Linux /proc), all their threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up")


@contextmanager
def keyless_server(*extra: str) -> Iterator[tuple[str, Path]]:
    """A `keyless server` subprocess on a free port over a temporary data dir."""
    data_dir = Path(tempfile.mkdtemp(prefix="keyless-bench-"))
    port = free_port()
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "keyless", "server", "--port", str(port), "--data-dir", str(data_dir), *extra], env=env)
    try:
        _wait(f"http://127.0.0.1:{port}/_keyless/health", proc)
        SERVER_PIDS[f"http://127.0.0.1:{port}"] = proc.pid
        yield f"http://127.0.0.1:{port}", data_dir
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def bare_server() -> Iterator[str]:
    """The baseline: a bare ASGI app answering a fixed 200."""
    with asgi_server("bench.bare_app:app") as url:
        yield url


@contextmanager
def asgi_server(app: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """An ASGI app ("module:attribute") under the uvicorn settings keyless runs with
    (keyless.server.uvicorn_config: httptools, uvloop, no access log, no proxy headers, no server header)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--port", str(port), "--http", "httptools",
                             "--loop", "uvloop", "--no-access-log", "--log-level", "warning", "--no-proxy-headers",
                             "--no-server-header"], cwd=ROOT, env={**os.environ, **(env or {})})
    try:
        _wait(f"http://127.0.0.1:{port}/", proc)
        SERVER_PIDS[f"http://127.0.0.1:{port}"] = proc.pid
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def wrk(url: str, method: str, headers: dict[str, str], body: bytes = b"", *, seconds: int = 10, connections: int = 16) -> float:
    """Requests per second wrk achieves replaying one request; fails if any response is not 2xx."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    lines = [f"wrk.method = {json.dumps(method)}", f"wrk.body = {json.dumps(body.decode('latin-1'))}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items() if k.lower() != "host"]
    lines.append("done = function(summary, latency, requests) io.write(string.format('NON2XX %d\\n', summary.errors.status)) end")
    script.write("\n".join(lines) + "\n")
    script.close()
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    bad = int(re.search(r"NON2XX (\d+)", out).group(1))  # type: ignore[union-attr]
    if bad:
        raise RuntimeError(f"{bad} non-2xx responses from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
