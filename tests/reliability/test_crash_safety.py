"""Crash safety: SIGKILL a `keyless server` in the middle of concurrent S3 and IAM writes, start a
new one on the same data dir, and check that

  * every acknowledged write is there, byte for byte (S3 via GetObject, IAM via Get*), and an
    access key acknowledged before the crash still authenticates after it;
  * a write in flight at the kill is either absent or complete and correct, never half-visible;
  * SQLite's integrity_check passes on the crash image and on the restarted store;
  * temporary files and unreferenced blobs left by the crash are gone once the server is up, and
    every blob a row points at exists.

Bodies are regenerated from (seed, size), so the test keeps hashes, not bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import botocore.exceptions
import pytest

BUCKET = "crash-safety"
PART = 5 * 1024 * 1024  # S3's minimum size of every part but the last
LOAD_SECONDS = 2.5
KINDS = {"single", "multi", "role", "policy", "user", "key"}  # key prefixes in the ledger
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def body_of(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def digest_of(seed: int, size: int) -> str:
    return hashlib.sha256(body_of(seed, size)).hexdigest()


@dataclass
class Attempt:
    """One write as the client saw it: `acked` once the server's success response arrived."""

    key: str
    expected: Any  # what the store must hold if this write took effect
    acked: bool = False


@dataclass
class Ledger:
    """Every write attempted, in order per key (one thread owns each key, so order is known)."""

    attempts: dict[str, list[Attempt]] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)  # an HTTP error answer before the kill: a bug
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, key: str, expected: Any, write: Callable[[], None]) -> None:
        entry = Attempt(key, expected)
        with self.lock:
            self.attempts.setdefault(key, []).append(entry)
        try:
            write()
        except botocore.exceptions.ClientError as exc:
            self.server_errors.append(f"{key}: {exc}")
            raise
        entry.acked = True

    def allowed(self, key: str) -> list[Any]:
        """What the store may hold for `key`: the last acknowledged value, or anything attempted
        after it (in flight at the kill); None (absent) only if nothing was acknowledged."""
        history = self.attempts[key]
        last_acked = max((i for i, a in enumerate(history) if a.acked), default=None)
        if last_acked is None:
            return [None] + [a.expected for a in history]
        return [a.expected for a in history[last_acked:]]

    def acknowledged(self) -> int:
        return sum(a.acked for history in self.attempts.values() for a in history)


def run_until_stopped(work: Callable[[int], None], stop: threading.Event) -> None:
    """Call work(0), work(1), ... until the stop flag, or until the server goes away."""
    i = 0
    while not stop.is_set():
        try:
            work(i)
        except botocore.exceptions.ClientError:
            return  # recorded in server_errors
        except (botocore.exceptions.HTTPClientError, botocore.exceptions.ConnectionError):
            return  # the kill: the request's outcome is unknown, and recorded as unacknowledged
        i += 1


# --- the writers ------------------------------------------------------------------------------


def single_puts(s3: Any, ledger: Ledger, worker: int) -> Callable[[int], None]:
    """PutObject over a few keys, each overwritten in turn; sizes on both sides of the 1 MiB
    boundary where the store switches from one write to streamed batches."""
    rng = random.Random(worker)

    def work(i: int) -> None:
        key = f"single/{worker}/{i % 4}"
        size = rng.choice([0, rng.randrange(1, 64 * 1024), rng.randrange(900_000, 3 * 1024 * 1024)])
        seed = rng.getrandbits(64)
        ledger.attempt(key, (seed, size), lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=body_of(seed, size)))

    return work


def multipart_puts(s3: Any, ledger: Ledger, worker: int) -> Callable[[int], None]:
    rng = random.Random(1000 + worker)

    def work(i: int) -> None:
        key = f"multi/{worker}/{i}"
        sizes = [PART, rng.randrange(1, 1024 * 1024)]
        seeds = [rng.getrandbits(64) for _ in sizes]

        def write() -> None:
            upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
            parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n,
                                                               Body=body_of(seed, size))["ETag"]}
                     for n, (seed, size) in enumerate(zip(seeds, sizes), start=1)]
            s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})

        ledger.attempt(key, tuple(zip(seeds, sizes)), write)

    return work


def iam_writes(iam: Any, ledger: Ledger, worker: int, keys: dict[str, tuple[str, str]]) -> Callable[[int], None]:
    """CreateRole, PutRolePolicy, CreateUser, CreateAccessKey: one transaction each."""

    def work(i: int) -> None:
        role, user = f"crash-role-{worker}-{i}", f"crash-user-{worker}-{i}"
        description = f"role {worker}/{i}"
        policy = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": f"S{worker}x{i}", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{BUCKET}/{worker}/{i}/*"}]})
        ledger.attempt(f"role:{role}", description,
                       lambda: iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST, Description=description))
        ledger.attempt(f"policy:{role}", policy,
                       lambda: iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=policy))
        ledger.attempt(f"user:{user}", user, lambda: iam.create_user(UserName=user))

        def create_key() -> None:
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])

        ledger.attempt(f"key:{user}", user, create_key)

    return work


def acked_kinds(ledger: Ledger) -> set[str]:
    with ledger.lock:
        keys = [key for key, history in ledger.attempts.items() if any(a.acked for a in history)]
    return {key.split("/")[0].split(":")[0] for key in keys}


def wait_for_load(ledger: Ledger) -> None:
    """Let the writers run LOAD_SECONDS, and longer (bounded) on a slow machine until every kind
    of write has been acknowledged at least once; whatever is in flight then gets killed."""
    started = time.monotonic()
    while time.monotonic() - started < LOAD_SECONDS or (
            acked_kinds(ledger) != KINDS and time.monotonic() - started < 60 and not ledger.server_errors):
        time.sleep(0.1)


# --- checks -----------------------------------------------------------------------------------


def integrity(db_path: Path) -> str:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def crash_image_integrity(data_dir: Path, scratch: Path) -> str:
    """integrity_check on a copy of the files exactly as the kill left them (db, WAL, shm)."""
    scratch.mkdir()
    for suffix in ("", "-wal", "-shm"):
        source = data_dir / f"keyless.db{suffix}"
        if source.exists():
            shutil.copy2(source, scratch / source.name)
    conn = sqlite3.connect(scratch / "keyless.db")  # read-write, so SQLite can replay the WAL
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def referenced_blobs(db_path: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT blob FROM s3_objects UNION SELECT blob FROM s3_parts").fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows if r[0]}


def stored_object(s3: Any, key: str) -> str | None:
    try:
        return hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).hexdigest()
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchKey":
            return None
        raise


def expected_object(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value[0], tuple):  # multipart: the parts' bodies in order
        return hashlib.sha256(b"".join(body_of(seed, size) for seed, size in value)).hexdigest()
    return digest_of(*value)


def iam_state(iam: Any, key: str) -> Any:
    kind, name = key.split(":", 1)
    try:
        if kind == "role":
            return iam.get_role(RoleName=name)["Role"].get("Description")
        if kind == "policy":
            return json.dumps(iam.get_role_policy(RoleName=name, PolicyName="inline")["PolicyDocument"])
        if kind == "user":
            return iam.get_user(UserName=name)["User"]["UserName"]
        return name if iam.list_access_keys(UserName=name)["AccessKeyMetadata"] else None
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchEntity":
            return None
        raise


def same_iam_value(key: str, stored: Any, expected: Any) -> bool:
    if key.startswith("policy:") and stored is not None and expected is not None:
        return bool(json.loads(stored) == json.loads(expected))
    return bool(stored == expected)


# --- the test ---------------------------------------------------------------------------------


def test_sigkill_during_concurrent_writes_loses_nothing_acknowledged(keyless_process: Any, tmp_path: Path) -> None:
    server = keyless_process()
    server.client("s3").create_bucket(Bucket=BUCKET)
    ledger, keys, stop = Ledger(), {}, threading.Event()
    workloads = [single_puts(server.client("s3"), ledger, w) for w in range(4)]
    workloads += [multipart_puts(server.client("s3"), ledger, w) for w in range(2)]
    workloads += [iam_writes(server.client("iam"), ledger, w, keys) for w in range(2)]
    threads = [threading.Thread(target=run_until_stopped, args=(work, stop), daemon=True) for work in workloads]
    for thread in threads:
        thread.start()
    wait_for_load(ledger)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not ledger.server_errors, ledger.server_errors
    assert acked_kinds(ledger) == KINDS

    data_dir = server.data_dir
    assert crash_image_integrity(data_dir, tmp_path / "crash-image") == "ok"
    debris = [data_dir / "s3" / "tmp" / ("0" * 32), data_dir / "s3" / "blobs" / ("f" * 32)]
    for path in debris:  # what a crash between write and rename, or rename and commit, leaves
        path.write_bytes(b"debris")

    server.restart()
    s3, iam = server.client("s3"), server.client("iam")
    assert list((data_dir / "s3" / "tmp").iterdir()) == []
    blobs = {p.name for p in (data_dir / "s3" / "blobs").iterdir()}
    referenced = referenced_blobs(data_dir / "keyless.db")
    assert referenced <= blobs, f"rows point at missing blobs: {referenced - blobs}"
    assert blobs <= referenced, f"unreferenced blobs survived the start-up sweep: {blobs - referenced}"

    object_keys = [k for k in ledger.attempts if k.startswith(("single/", "multi/"))]
    for key in object_keys:
        allowed = [expected_object(v) for v in ledger.allowed(key)]
        assert stored_object(s3, key) in allowed, f"{key}: not the last acknowledged body nor one in flight"
    listed = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for o in page.get("Contents", [])}
    assert listed <= set(object_keys)
    for key in (k for k in ledger.attempts if not k.startswith(("single/", "multi/"))):
        stored = iam_state(iam, key)
        assert any(same_iam_value(key, stored, v) for v in ledger.allowed(key)), f"{key}: {stored!r}"
    for user, (key_id, secret) in keys.items():  # acknowledged keys still sign requests
        sts = server.client("sts", aws_access_key_id=key_id, aws_secret_access_key=secret)
        assert sts.get_caller_identity()["Arn"].endswith(f":user/{user}")

    assert ledger.acknowledged() > 20
    assert integrity(data_dir / "keyless.db") == "ok"
