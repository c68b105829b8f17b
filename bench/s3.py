"""S3 object throughput and server memory: keyless (enforcement on) vs moto's server (no enforcement)
vs a bare ASGI app streaming the same bytes, all in one run.

    .venv/bin/python -m bench.s3 [--seconds 10] [--memory-gib 1] [--skip-memory]

Load comes from wrk replaying requests signed once with botocore (a signature stays valid for 15
minutes; a boto3 loop saturates the client long before the server). PutObject is header-signed
with the body's SHA-256, as botocore signs over http, so keyless hashes and checks every body.
Memory: one object of --memory-gib GiB is uploaded (presigned PUT, streamed from disk) and
downloaded (presigned GET) while the server's resident set is sampled from /proc.

Issue 5's targets: keyless at least 3x moto's small-object request rate; large-object throughput
within 2x of the bare server streaming the same bytes.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench._harness import ROOT, cpu_seconds, free_port  # cpu_seconds counts the trail writer with the server

KiB, MiB = 1024, 1024 * 1024
SIZES = {"1 KiB": KiB, "8 MiB": 8 * MiB}
BUCKET = "bench-bucket"

# --- the baseline: a bare ASGI app that streams the same bytes --------------------------------

_PAYLOADS = {size: os.urandom(size) for size in SIZES.values()}


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """GET /<bucket>/<size> streams <size> bytes in 1 MiB chunks; PUT reads and drops the body."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if scope["method"] == "PUT":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    payload = _PAYLOADS.get(int(scope["path"].rsplit("/", 1)[-1] or 0), b"")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(payload)).encode())]})
    for start in range(0, len(payload), MiB):
        await send({"type": "http.response.body", "body": payload[start:start + MiB], "more_body": True})
    await send({"type": "http.response.body", "body": b""})


# --- servers ----------------------------------------------------------------------------------


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", urlsplit(url).port or 80), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def serve(kind: str) -> Iterator[tuple[str, subprocess.Popen[bytes], Path | None]]:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-s3-{kind}-"))
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    commands = {
        "keyless": [sys.executable, "-m", "keyless", "server", "--port", str(port), "--data-dir", str(data_dir)],
        "moto": [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        "bare": [sys.executable, "-m", "uvicorn", "bench.s3:bare_app", "--port", str(port), "--http", "httptools",
                 "--loop", "uvloop", "--no-access-log", "--log-level", "warning"],
    }
    proc = subprocess.Popen(commands[kind], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait(endpoint, proc)
        yield endpoint, proc, data_dir if kind == "keyless" else None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def credentials(kind: str, data_dir: Path | None) -> Credentials:
    if kind == "keyless" and data_dir is not None:
        from keyless.server.bootstrap import load_admin_credentials

        admin = load_admin_credentials(data_dir)
        return Credentials(admin.access_key_id, admin.secret_access_key)
    return Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def client(endpoint: str, creds: Credentials) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=creds.access_key,
                        aws_secret_access_key=creds.secret_key,
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def signed(method: str, url: str, creds: Credentials, body: bytes = b"") -> dict[str, str]:
    import hashlib

    request = AWSRequest(method, url, data=body, headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


# --- load -------------------------------------------------------------------------------------


def wrk(url: str, method: str, headers: dict[str, str], body: bytes, *, seconds: int, connections: int,
        strict: bool = True) -> float:
    """Successful (2xx) requests per second wrk achieves replaying one request, and how many there
    were. `strict`: any other answer is an error (keyless, bare); otherwise failures are reported
    and not counted (moto)."""
    work = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    (work / "body").write_bytes(body)
    lines = [f'wrk.method = "{method}"', f'local f = io.open("{work / "body"}", "rb"); wrk.body = f:read("*a"); f:close()']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lines.append("done = function(s, l, r) io.write(string.format('NON2XX %d\\n', s.errors.status)) end")
    (work / "s.lua").write_text("\n".join(lines) + "\n")
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(work / "s.lua"), url],
                             capture_output=True, text=True, check=True).stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bad = int(re.search(r"NON2XX (\d+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    elapsed = float(re.search(r"requests in ([\d.]+)(m?s)", out).group(1))  # type: ignore[union-attr]
    unit = re.search(r"requests in [\d.]+(m?s)", out).group(1)  # type: ignore[union-attr]
    elapsed = elapsed / 1000 if unit == "ms" else elapsed
    if bad and strict:
        raise RuntimeError(f"{bad} non-2xx responses from {url}:\n{out}")
    if bad:
        print(f"  ({bad} of {total} requests to {url} failed)", file=sys.stderr)
    return (total - bad) / elapsed, total - bad


Result = tuple[float, float]  # (requests/s, server CPU microseconds per request)


def measured(pid: int, run: Any) -> Result:
    before = cpu_seconds(pid)
    rate, count = run()
    return rate, (cpu_seconds(pid) - before) / max(count, 1) * 1e6


KINDS = ("keyless", "moto", "bare")


def throughput(seconds: int) -> dict[str, dict[tuple[str, str], Result]]:
    """All three servers up at once and measured back to back per case, so that a neighbour's load
    on this shared machine lands on all of them alike rather than on whichever ran last."""
    results: dict[str, dict[tuple[str, str], Result]] = {kind: {} for kind in KINDS}
    with ExitStack() as stack:
        servers = {kind: stack.enter_context(serve(kind)) for kind in KINDS}
        creds = {kind: credentials(kind, data_dir) for kind, (_e, _p, data_dir) in servers.items()}
        for kind in ("keyless", "moto"):
            s3 = client(servers[kind][0], creds[kind])
            s3.create_bucket(Bucket=BUCKET)
            for size in SIZES.values():
                s3.put_object(Bucket=BUCKET, Key=str(size), Body=_PAYLOADS[size])
        for label, size in SIZES.items():
            body = _PAYLOADS[size]
            for operation in ("GetObject", "PutObject"):
                for kind in KINDS:
                    endpoint, proc, _ = servers[kind]
                    options = {"seconds": seconds, "connections": 16 if size <= KiB else 4, "strict": kind != "moto"}
                    if operation == "GetObject":
                        url, method, payload = f"{endpoint}/{BUCKET}/{size}", "GET", b""
                    else:
                        url, method, payload = f"{endpoint}/{BUCKET}/put-{size}", "PUT", body
                    headers = signed(method, url, creds[kind], payload)
                    results[kind][(operation, label)] = measured(
                        proc.pid, lambda: wrk(url, method, headers, payload, **options))
    return results


# --- memory -----------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def memory(gib: int) -> dict[str, float]:
    size = gib * 1024 * MiB
    source = Path(tempfile.mkdtemp(prefix="bench-mem-")) / "object.bin"
    with open(source, "wb") as handle:
        for _ in range(size // MiB):
            handle.write(os.urandom(MiB))
    out: dict[str, float] = {}
    try:
        with serve("keyless") as (endpoint, proc, data_dir):
            s3 = client(endpoint, credentials("keyless", data_dir))
            s3.create_bucket(Bucket=BUCKET)
            s3.put_object(Bucket=BUCKET, Key="warm", Body=b"x")
            s3.get_object(Bucket=BUCKET, Key="warm")["Body"].read()
            out["idle MiB"] = rss_kib(proc.pid) / 1024
            put_url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "big"})
            with Sampler(proc.pid) as sampler:
                started = time.monotonic()
                _stream_put(put_url, source, size)
                out["upload s"] = time.monotonic() - started
            out["peak during upload MiB"] = sampler.peak / 1024
            get_url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "big"})
            with Sampler(proc.pid) as sampler:
                started = time.monotonic()
                received = _stream_get(get_url)
                out["download s"] = time.monotonic() - started
            out["peak during download MiB"] = sampler.peak / 1024
            if received != size:
                raise RuntimeError(f"downloaded {received} bytes, expected {size}")
            with Sampler(proc.pid) as sampler:  # boto3's managed transfer: 8 MiB parts, 10 threads, CRC32
                started = time.monotonic()
                s3.upload_file(str(source), BUCKET, "big-multipart")
                out["upload_file (multipart) s"] = time.monotonic() - started
            out["peak during upload_file MiB"] = sampler.peak / 1024
            with Sampler(proc.pid) as sampler:
                started = time.monotonic()
                s3.download_file(BUCKET, "big-multipart", str(source) + ".back")
                out["download_file (ranged GETs) s"] = time.monotonic() - started
            out["peak during download_file MiB"] = sampler.peak / 1024
    finally:
        shutil.rmtree(source.parent, ignore_errors=True)
    return out


def _stream_put(url: str, path: Path, size: int) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            conn.send(block)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"PUT answered {response.status}")


def _stream_get(url: str) -> int:
    received = 0
    with urllib.request.urlopen(url, timeout=600) as response:
        for block in iter(lambda: response.read(MiB), b""):
            received += len(block)
    return received


# --- report -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--memory-gib", type=int, default=1)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        report_throughput(args.seconds)
    if not args.skip_memory:
        print()
        for name, value in memory(args.memory_gib).items():
            print(f"- {name}: {value:.1f}")


def report_throughput(seconds: int) -> None:
    runs = throughput(seconds)
    print("| operation | size | keyless req/s | keyless MB/s | moto req/s | bare ASGI req/s | bare MB/s "
          "| keyless/moto | keyless/bare | CPU µs/req keyless / moto / bare |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for (operation, label), (rate, cpu) in runs["keyless"].items():
        size = SIZES[label]
        (moto, moto_cpu), (bare, bare_cpu) = runs["moto"][(operation, label)], runs["bare"][(operation, label)]
        print(f"| {operation} | {label} | {rate:.0f} | {rate * size / 1e6:.1f} | {moto:.0f} | {bare:.0f} "
              f"| {bare * size / 1e6:.1f} | {rate / moto:.1f}x | {rate / bare:.0%} | {cpu:.0f} / {moto_cpu:.0f} / {bare_cpu:.0f} |")


if __name__ == "__main__":
    main()
