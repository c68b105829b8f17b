"""IMDS: how long boto3 takes to resolve credentials from a keyless instance metadata service
(token PUT + role listing + credentials), and IMDS requests per second, each against bare HTTP
servers answering the same paths in the same run.

    .venv/bin/python -m bench.imds [--rounds 300] [--seconds 5] [--repeats 3]

Baselines (subprocesses, like keyless):
  * bare listener: keyless's own IMDS HTTP layer (keyless.imds.listener) answering canned bytes
    for the same paths: what the metadata logic (tokens, options, tree, vendor) costs on top;
  * bare uvicorn: a fixed 200 from the cheapest ASGI app under uvicorn/httptools/uvloop (the
    server stack keyless's API port uses).
Latency is measured with botocore's own fetcher (InstanceMetadataFetcher, one per round, as
each credential refresh builds its requests) and with a whole botocore default chain
(Session().get_credentials() with AWS_EC2_METADATA_SERVICE_ENDPOINT set). Throughput is wrk
with 16 keep-alive connections on one path. The three servers run side by side and are measured
in turn, --repeats times; the table shows each one's best round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import botocore.session
from botocore.utils import InstanceMetadataFetcher

from bench._harness import ROOT, _wait, bare_server, free_port, keyless_server, wrk

ROLE = "bench-imds-role"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
CANNED_CREDENTIALS = json.dumps({
    "Code": "Success", "LastUpdated": "2024-05-16T16:25:16Z", "Type": "AWS-HMAC",
    "AccessKeyId": "ASIA" + "A" * 16, "SecretAccessKey": "s" * 40, "Token": "t" * 900,
    "Expiration": "2099-01-01T00:00:00Z"}, indent=2, separators=(",", " : ")).encode()


# --- the bare listener (run as a subprocess: `python -m bench.imds --serve-bare PORT`) --------------


def serve_bare(port: int) -> None:
    from keyless.imds.listener import Listener
    from keyless.imds.model import Answer

    answers = {
        ("PUT", "/latest/api/token"): Answer(200, b"A" * 56, headers=(("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600"),)),
        ("GET", "/latest/meta-data/iam/security-credentials/"): Answer(200, ROLE.encode()),
        ("GET", f"/latest/meta-data/iam/security-credentials/{ROLE}"): Answer(200, CANNED_CREDENTIALS),
        ("GET", "/latest/meta-data/instance-id"): Answer(200, b"i-0123456789abcdef0"),
    }
    missing = Answer(404, b"")

    async def main() -> None:
        listener = Listener(port, lambda req: answers.get((req.method, req.path), missing))
        await listener.start()
        await asyncio.Event().wait()

    asyncio.run(main())


@contextmanager
def bare_listener() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.imds", "--serve-bare", str(port)], cwd=ROOT)
    try:
        _wait(f"http://127.0.0.1:{port}/latest/meta-data/instance-id", proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# --- keyless with one instance -----------------------------------------------------------------------


@contextmanager
def keyless_instance() -> Iterator[str]:
    """A keyless server subprocess with one running instance whose profile's role EC2 may assume."""
    from keyless.cli.instances import find_instance
    from keyless.server.bootstrap import load_admin_credentials

    with keyless_server() as (endpoint, data_dir):
        admin = load_admin_credentials(data_dir)
        session = botocore.session.get_session()
        kw: dict[str, Any] = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=admin.access_key_id,
                                  aws_secret_access_key=admin.secret_access_key)
        iam, ec2 = session.create_client("iam", **kw), session.create_client("ec2", **kw)
        iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.create_instance_profile(InstanceProfileName=ROLE)
        iam.add_role_to_instance_profile(InstanceProfileName=ROLE, RoleName=ROLE)
        instance_id = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                        IamInstanceProfile={"Name": ROLE})["Instances"][0]["InstanceId"]
        info = find_instance(data_dir, instance_id)
        if info is None or info.imds_endpoint is None:
            raise RuntimeError("the instance's metadata service did not start")
        yield info.imds_endpoint


# --- measurements ------------------------------------------------------------------------------------


def fetcher_resolve(url: str) -> Callable[[], None]:
    def resolve() -> None:
        creds = InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=url, env={}).retrieve_iam_role_credentials()
        if not creds:
            raise RuntimeError(f"no credentials from {url}")
    return resolve


def chain_resolve(url: str) -> Callable[[], None]:
    """botocore's whole default chain, finding nothing before IMDS (as under `keyless run`)."""
    os.environ.update({"AWS_EC2_METADATA_SERVICE_ENDPOINT": url, "AWS_CONFIG_FILE": os.devnull,
                       "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_EC2_METADATA_DISABLED", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        os.environ.pop(name, None)

    def resolve() -> None:
        creds = botocore.session.Session().get_credentials()
        if creds is None or creds.method != "iam-role":
            raise RuntimeError(f"the chain did not resolve through IMDS at {url}")
    return resolve


def timed(call: Callable[[], None], rounds: int) -> tuple[float, float]:
    """(median, p95) in milliseconds, after a few warm-up rounds."""
    for _ in range(5):
        call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def token(url: str) -> str:
    req = urllib.request.Request(url + "latest/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=5) as resp:
        return str(resp.read().decode())


CREDENTIALS_PATH = f"latest/meta-data/iam/security-credentials/{ROLE}"
INSTANCE_ID_PATH = "latest/meta-data/instance-id"


def measure_once(url: str, args: argparse.Namespace, *, imds: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if imds:
        out["fetcher"] = timed(fetcher_resolve(url), args.rounds)
        out["chain"] = timed(chain_resolve(url), args.rounds)
    headers = {"X-aws-ec2-metadata-token": token(url)} if imds else {}
    base = url if url.endswith("/") else url + "/"
    for name, path in (("credentials", CREDENTIALS_PATH), ("instance-id", INSTANCE_ID_PATH)):
        out[name] = wrk(base + path, "GET", headers, seconds=args.seconds)
    return out


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best of the repeats: lowest latency medians, highest rates (the machine is shared)."""
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        out[key] = min(values) if isinstance(values[0], tuple) else max(values)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve-bare", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare)
        return
    for name in ("HTTP_PROXY", "http_proxy"):
        os.environ.pop(name, None)
    names = ("keyless IMDS", "bare listener (same HTTP layer, canned answers)", "bare uvicorn (fixed 200)")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    # All three up at once and measured in turn, repeatedly: load from elsewhere hits them alike.
    with keyless_instance() as keyless_url, bare_listener() as listener_url, bare_server() as uvicorn_url:
        for _ in range(args.repeats):
            runs[names[0]].append(measure_once(keyless_url, args, imds=True))
            runs[names[1]].append(measure_once(listener_url, args, imds=True))
            runs[names[2]].append(measure_once(uvicorn_url, args, imds=False))
    print("| server | botocore fetcher, median / p95 ms | default chain, median / p95 ms | "
          "credentials GET req/s | instance-id GET req/s |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        r = best(runs[name])
        fetch = f"{r['fetcher'][0]:.2f} / {r['fetcher'][1]:.2f}" if "fetcher" in r else "-"
        chain = f"{r['chain'][0]:.2f} / {r['chain'][1]:.2f}" if "chain" in r else "-"
        print(f"| {name} | {fetch} | {chain} | {r['credentials']:,.0f} | {r['instance-id']:,.0f} |")


if __name__ == "__main__":
    main()
