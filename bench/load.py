"""Mixed load against a `keyless server` subprocess: N concurrent clients for a fixed time.

    .venv/bin/python -m bench.load [--seconds 300] [--clients 64] [--processes 4] [--instances 4] [--json FILE]

Each client is a thread (spread over --processes worker processes, so the load generator is not one
GIL) with its own botocore clients, retries off, so every failure counts. A client behaves like an
application on an EC2 instance plus an operator:

    imds_credentials   IMDSv2 token PUT, role listing, role credentials, from its instance's IMDS
    s3_get             GetObject of a seeded object, bytes checked against their MD5
    s3_put             PutObject of 1-128 KiB to the client's own keys (as the instance role)
    s3_list            ListObjectsV2 of the seeded prefix, 100 keys
    iam_get_role       GetRole (admin keys)
    iam_list_roles     ListRoles (admin keys)
    sts_assume_role    AssumeRole into the application role (admin keys)

S3 calls are signed with the role credentials the client got from IMDS, so every one goes through
the session-token and policy path. At the end every client's last acknowledged PutObject per key is
read back and compared (nothing lost). Reported: per operation count, throughput, p50/p99/max
latency and errors; the server's RSS at the start and end of the load (and sampled during it, from
/proc/PID/status), its CPU time and its data dir size. Exit status 1 on any error or lost write.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench._harness import _wait, free_port

BUCKET = "load"
ROLE = "load-app"
SEEDED = 64
KEYS_PER_CLIENT = 8
WEIGHTS = {"imds_credentials": 15, "s3_get": 25, "s3_put": 15, "s3_list": 10, "iam_get_role": 10,
           "iam_list_roles": 5, "sts_assume_role": 10}
RSS_SAMPLE_SECONDS = 5


# --- the server ------------------------------------------------------------------------------------


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    endpoint: str
    data_dir: Path

    def status(self, field_name: str) -> int:
        """A /proc/PID/status field in KiB (VmRSS, VmHWM)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
        raise KeyError(field_name)

    def cpu_seconds(self) -> float:
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def start_server(data_dir: Path) -> ServerProcess:
    port = free_port()
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "keyless", "server", "--port", str(port), "--data-dir", str(data_dir)],
                            env=env)
    _wait(f"http://127.0.0.1:{port}/_keyless/health", proc)
    return ServerProcess(proc, f"http://127.0.0.1:{port}", data_dir)


# --- setup (admin) -------------------------------------------------------------------------------


def botocore_client(service: str, endpoint: str, credentials: dict[str, str], session: Any = None) -> Any:
    import botocore.session
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"},
                    connect_timeout=10, read_timeout=60, max_pool_connections=1)
    return (session or botocore.session.get_session()).create_client(
        service, endpoint_url=endpoint, region_name="us-east-1", config=config, **credentials)


def seeded_body(n: int) -> bytes:
    rng = random.Random(n)
    return rng.randbytes(rng.randrange(1024, 256 * 1024))


def setup(server: ServerProcess, instances: int) -> dict[str, Any]:
    """Bucket with seeded objects, an application role for EC2 (and the admin's account), instances."""
    from keyless.cli.instances import find_instance
    from keyless.server.bootstrap import load_admin_credentials

    admin = load_admin_credentials(server.data_dir)
    creds = {"aws_access_key_id": admin.access_key_id, "aws_secret_access_key": admin.secret_access_key}
    iam, s3, ec2 = (botocore_client(s, server.endpoint, creds) for s in ("iam", "s3", "ec2"))
    s3.create_bucket(Bucket=BUCKET)
    for n in range(SEEDED):
        s3.put_object(Bucket=BUCKET, Key=f"seed/{n:03d}", Body=seeded_body(n))
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{admin.account_id}:root"}, "Action": "sts:AssumeRole"}]}
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{BUCKET}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}]}
    role_arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE, PolicyName="app", PolicyDocument=json.dumps(policy))
    iam.create_instance_profile(InstanceProfileName=ROLE)
    iam.add_role_to_instance_profile(InstanceProfileName=ROLE, RoleName=ROLE)
    reservation = ec2.run_instances(ImageId="ami-12345678", MinCount=instances, MaxCount=instances,
                                    IamInstanceProfile={"Name": ROLE})
    imds = []
    for instance in reservation["Instances"]:
        info = find_instance(server.data_dir, instance["InstanceId"])
        if info is None or info.imds_endpoint is None:
            raise RuntimeError(f"no metadata service for {instance['InstanceId']}")
        imds.append(info.imds_endpoint)
    return {"endpoint": server.endpoint, "admin": creds, "role_arn": role_arn, "imds": imds,
            "seeded": [hashlib.md5(seeded_body(n)).hexdigest() for n in range(SEEDED)]}


# --- one client --------------------------------------------------------------------------------------


class OperationFailed(Exception):
    """A response that came back but was wrong (bad bytes, missing fields)."""


def imds_credentials(url: str) -> dict[str, str]:
    """What an SDK does on a credential refresh: token, role name, credentials, on one connection."""
    host, port = url[len("http://"):].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        def call(method: str, path: str, headers: dict[str, str]) -> bytes:
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise OperationFailed(f"IMDS {method} {path}: HTTP {resp.status}")
            return body

        token = call("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21600"}).decode()
        auth = {"X-aws-ec2-metadata-token": token}
        role = call("GET", "/latest/meta-data/iam/security-credentials/", auth).decode().strip()
        document = json.loads(call("GET", f"/latest/meta-data/iam/security-credentials/{role}", auth))
    finally:
        conn.close()
    if document.get("Code") != "Success" or not document.get("AccessKeyId", "").startswith("ASIA"):
        raise OperationFailed(f"IMDS credentials: {document.get('Code')}")
    return {"aws_access_key_id": document["AccessKeyId"], "aws_secret_access_key": document["SecretAccessKey"],
            "aws_session_token": document["Token"]}


@dataclass
class ClientResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)  # seconds
    errors: Counter[str] = field(default_factory=Counter)  # "op: code"
    samples: list[str] = field(default_factory=list)  # a few error messages
    last_puts: dict[str, str] = field(default_factory=dict)  # key -> MD5 of the last acknowledged body


class Client:
    def __init__(self, number: int, plan: dict[str, Any], session: Any, lock: threading.Lock) -> None:
        self.number, self.plan = number, plan
        self.rng = random.Random(number)
        self.imds = plan["imds"][number % len(plan["imds"])]
        endpoint, admin = plan["endpoint"], plan["admin"]
        role_credentials = imds_credentials(self.imds)
        with lock:  # creating clients from one session is not thread-safe; using them is
            self.s3 = botocore_client("s3", endpoint, role_credentials, session)
            self.iam = botocore_client("iam", endpoint, admin, session)
            self.sts = botocore_client("sts", endpoint, admin, session)
        self.operations: dict[str, Callable[[ClientResult], None]] = {
            "imds_credentials": lambda r: imds_credentials(self.imds), "s3_get": self.s3_get, "s3_put": self.s3_put,
            "s3_list": self.s3_list, "iam_get_role": lambda r: self.iam.get_role(RoleName=ROLE),
            "iam_list_roles": lambda r: self.iam.list_roles(MaxItems=100),
            "sts_assume_role": self.assume_role,
        }

    def s3_get(self, result: ClientResult) -> None:
        n = self.rng.randrange(SEEDED)
        body = self.s3.get_object(Bucket=BUCKET, Key=f"seed/{n:03d}")["Body"].read()
        if hashlib.md5(body).hexdigest() != self.plan["seeded"][n]:
            raise OperationFailed(f"seed/{n:03d}: wrong bytes")

    def s3_put(self, result: ClientResult) -> None:
        key = f"clients/{self.number}/{self.rng.randrange(KEYS_PER_CLIENT)}"
        body = self.rng.randbytes(self.rng.randrange(1024, 128 * 1024))
        etag = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"]
        digest = hashlib.md5(body).hexdigest()
        if etag.strip('"') != digest:
            raise OperationFailed(f"{key}: ETag {etag} is not the body's MD5")
        result.last_puts[key] = digest

    def s3_list(self, result: ClientResult) -> None:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix="seed/", MaxKeys=100)
        if listed.get("KeyCount") != SEEDED:
            raise OperationFailed(f"listing found {listed.get('KeyCount')} seeded objects")

    def assume_role(self, result: ClientResult) -> None:
        creds = self.sts.assume_role(RoleArn=self.plan["role_arn"], RoleSessionName=f"load-{self.number}")["Credentials"]
        if not creds["AccessKeyId"].startswith("ASIA"):
            raise OperationFailed("AssumeRole returned no session credentials")

    def run(self, seconds: float, result: ClientResult) -> None:
        import botocore.exceptions

        names, weights = list(WEIGHTS), list(WEIGHTS.values())
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            name = self.rng.choices(names, weights)[0]
            started = time.perf_counter()
            try:
                self.operations[name](result)
            except botocore.exceptions.ClientError as exc:
                self._error(result, name, exc.response["Error"]["Code"], str(exc))
                continue
            except Exception as exc:  # connection resets, timeouts, wrong answers: all count
                self._error(result, name, type(exc).__name__, str(exc))
                continue
            result.latencies.setdefault(name, []).append(time.perf_counter() - started)

    @staticmethod
    def _error(result: ClientResult, name: str, code: str, message: str) -> None:
        result.errors[f"{name}: {code}"] += 1
        if len(result.samples) < 5:
            result.samples.append(f"{name}: {message[:300]}")


def worker(numbers: list[int], plan: dict[str, Any], seconds: float, barrier: Any, results: Any) -> None:
    """One load process: a thread per client; all processes start together at the barrier."""
    import botocore.session

    session, lock = botocore.session.get_session(), threading.Lock()
    clients = [Client(n, plan, session, lock) for n in numbers]
    outcome = [ClientResult() for _ in clients]
    threads = [threading.Thread(target=c.run, args=(seconds, r)) for c, r in zip(clients, outcome)]
    barrier.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = ClientResult()
    for r in outcome:
        for name, values in r.latencies.items():
            merged.latencies.setdefault(name, []).extend(values)
        merged.errors.update(r.errors)
        merged.samples.extend(r.samples[: max(0, 5 - len(merged.samples))])
        merged.last_puts.update(r.last_puts)
    results.put(merged)


# --- the run -----------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def verify_last_puts(plan: dict[str, Any], last_puts: dict[str, str]) -> list[str]:
    s3 = botocore_client("s3", plan["endpoint"], plan["admin"])
    lost = []
    for key, digest in sorted(last_puts.items()):
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        if hashlib.md5(body).hexdigest() != digest:
            lost.append(key)
    return lost


def run_load(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="keyless-load-"))
    server = start_server(data_dir)
    try:
        plan = setup(server, args.instances)
        processes = max(1, min(args.processes, args.clients))
        groups = [list(range(args.clients))[p::processes] for p in range(processes)]
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(processes + 1), context.Queue()
        workers = [context.Process(target=worker, args=(g, plan, args.seconds, barrier, results)) for g in groups]
        for w in workers:
            w.start()
        barrier.wait(timeout=300)
        started, cpu_start, load_start = time.monotonic(), server.cpu_seconds(), loadavg()
        rss = sample_rss(server, started, args.seconds)
        merged = [results.get(timeout=600) for _ in workers]
        elapsed = time.monotonic() - started
        rss_end, cpu = server.status("VmRSS"), server.cpu_seconds() - cpu_start
        for w in workers:
            w.join()
        result = report(args, plan, merged, elapsed, rss, rss_end, cpu, server)
        result["loadavg"] = {"start": load_start, "end": loadavg()}
        return result
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def loadavg() -> float:
    """The machine's 1-minute load average: how much else was competing for the CPUs."""
    return float(open("/proc/loadavg").read().split()[0])


def sample_rss(server: ServerProcess, started: float, seconds: float) -> list[tuple[float, int]]:
    """The server's RSS (KiB) now and every few seconds until the load's end: (seconds in, KiB)."""
    rss = [(0.0, server.status("VmRSS"))]
    while (left := seconds - (time.monotonic() - started)) > 0:
        time.sleep(min(RSS_SAMPLE_SECONDS, left))
        rss.append((round(time.monotonic() - started, 1), server.status("VmRSS")))
    return rss


def report(args: argparse.Namespace, plan: dict[str, Any], merged: list[ClientResult], elapsed: float,
           rss: list[tuple[float, int]], rss_end: int, cpu: float, server: ServerProcess) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    errors: Counter[str] = Counter()
    samples: list[str] = []
    last_puts: dict[str, str] = {}
    for r in merged:
        for name, values in r.latencies.items():
            latencies.setdefault(name, []).extend(values)
        errors.update(r.errors)
        samples.extend(r.samples)
        last_puts.update(r.last_puts)
    lost = verify_last_puts(plan, last_puts)
    health = json.loads(_get(f"{plan['endpoint']}/_keyless/health"))
    operations = {
        name: {"count": len(latencies.get(name, [])), "per_second": round(len(latencies.get(name, [])) / elapsed, 1),
               "p50_ms": round(percentile(latencies.get(name, []), 0.50) * 1000, 2),
               "p99_ms": round(percentile(latencies.get(name, []), 0.99) * 1000, 2),
               "max_ms": round(max(latencies.get(name, [0.0])) * 1000, 2),
               "errors": sum(n for k, n in errors.items() if k.startswith(name + ":"))}
        for name in WEIGHTS
    }
    total = sum(o["count"] for o in operations.values())
    return {
        "seconds": round(elapsed, 1), "clients": args.clients, "processes": args.processes, "instances": args.instances,
        "cpus": os.cpu_count(), "operations": operations, "total": total, "per_second": round(total / elapsed, 1),
        "errors": sum(errors.values()), "error_kinds": dict(errors), "error_samples": samples[:10],
        "writes_checked": len(last_puts), "writes_lost": lost,
        "rss_kib": {"start": rss[0][1], "end": rss_end, "max": max([v for _, v in rss] + [rss_end]),
                    "samples": rss, "hwm": server.status("VmHWM")},
        "server_cpu_seconds": round(cpu, 1), "server_cpu_ms_per_operation": round(cpu * 1000 / max(total, 1), 2),
        "data_dir_mib": round(sum(p.stat().st_size for p in server.data_dir.rglob("*") if p.is_file()) / 2**20, 1),
        "trail": health.get("trail"),
    }


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())


def markdown(result: dict[str, Any]) -> str:
    lines = [f"{result['clients']} clients ({result['processes']} processes), {result['instances']} instances, "
             f"{result['seconds']} s, {result['cpus']} CPUs shared by server and load",
             "", "| operation | count | per second | p50 ms | p99 ms | max ms | errors |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, o in result["operations"].items():
        lines.append(f"| {name} | {o['count']} | {o['per_second']} | {o['p50_ms']} | {o['p99_ms']} | {o['max_ms']} | {o['errors']} |")
    lines.append(f"| **all** | {result['total']} | {result['per_second']} | | | | {result['errors']} |")
    rss = result["rss_kib"]
    lines += ["", f"server RSS: start {rss['start'] / 1024:.1f} MiB, end {rss['end'] / 1024:.1f} MiB, "
                  f"max {rss['max'] / 1024:.1f} MiB (high-water {rss['hwm'] / 1024:.1f} MiB); "
                  f"server CPU {result['server_cpu_seconds']} s ({result['server_cpu_ms_per_operation']} ms per operation); "
                  f"data dir {result['data_dir_mib']} MiB",
              f"writes read back: {result['writes_checked']}, lost: {len(result['writes_lost'])}; trail: {result['trail']}"]
    if "loadavg" in result:
        lines.append(f"machine load average (1 min): {result['loadavg']['start']} at start, {result['loadavg']['end']} at end")
    if result["errors"]:
        lines += ["", f"errors: {result['error_kinds']}", *(f"  {s}" for s in result["error_samples"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--processes", type=int, default=4, help="load processes the clients are spread over")
    parser.add_argument("--instances", type=int, default=4, help="EC2 instances whose IMDS the clients use")
    parser.add_argument("--json", type=Path, help="also write the full result here")
    args = parser.parse_args(argv)
    result = run_load(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(markdown(result))
    return 1 if result["errors"] or result["writes_lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
