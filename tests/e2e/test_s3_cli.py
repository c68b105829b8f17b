"""The real `aws s3` and `aws s3api` commands against keyless, unmodified."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from keyless.testing import Server


def test_mb_cp_ls_mv_rm_rb_round_trip(aws: Any, tmp_path: Path) -> None:
    bucket = f"cli-{uuid.uuid4().hex[:10]}"
    aws("s3", "mb", f"s3://{bucket}")
    tree = tmp_path / "tree"
    (tree / "nested" / "dir").mkdir(parents=True)
    (tree / "data.json").write_text('{"k": 1}')
    (tree / "nested" / "dir" / "copy.json").write_text('{"k": 2}')
    aws("s3", "cp", "--recursive", str(tree), f"s3://{bucket}/")
    listing = aws("s3", "ls", f"s3://{bucket}/").stdout
    assert "data.json" in listing and "PRE nested/" in listing
    assert aws("s3", "cp", f"s3://{bucket}/nested/dir/copy.json", "-").stdout == '{"k": 2}'
    aws("s3", "mv", f"s3://{bucket}/data.json", f"s3://{bucket}/moved.json")  # server-side copy, then delete
    keys = sorted(o["Key"] for o in aws.json("s3api", "list-objects-v2", "--bucket", bucket)["Contents"])
    assert keys == ["moved.json", "nested/dir/copy.json"]
    aws("s3", "rm", "--recursive", f"s3://{bucket}")
    aws("s3", "rb", f"s3://{bucket}")
    assert bucket not in aws("s3", "ls").stdout


def test_sync_both_ways_and_delete(aws: Any, tmp_path: Path) -> None:
    bucket = f"sync-{uuid.uuid4().hex[:10]}"
    aws("s3", "mb", f"s3://{bucket}")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha", "sub/b.bin": os.urandom(10_000), "sub/c d.txt": b"spaces"}
    for name, content in files.items():
        (source / name).write_bytes(content)
    out = aws("s3", "sync", str(source), f"s3://{bucket}/site").stdout
    assert out.count("upload:") == 3
    assert aws("s3", "sync", str(source), f"s3://{bucket}/site").stdout.strip() == ""  # nothing changed
    target = tmp_path / "dst"
    aws("s3", "sync", f"s3://{bucket}/site", str(target))
    assert {p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()} == files
    (source / "a.txt").unlink()
    aws("s3", "sync", "--delete", str(source), f"s3://{bucket}/site")
    keys = aws.json("s3api", "list-objects-v2", "--bucket", bucket)["Contents"]
    assert sorted(k["Key"] for k in keys) == ["site/sub/b.bin", "site/sub/c d.txt"]
    aws("s3", "rb", "--force", f"s3://{bucket}")


def test_s3api_bucket_policy_from_a_file(aws: Any, tmp_path: Path, server: Server) -> None:
    bucket = f"cli-policy-{uuid.uuid4().hex[:8]}"
    aws("s3api", "create-bucket", "--bucket", bucket)
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "ReadOnly", "Effect": "Allow", "Principal": "*",
                                                      "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    (tmp_path / "bucket-policy.json").write_text(json.dumps(policy))
    aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", "file://bucket-policy.json", cwd=tmp_path)
    got = aws.json("s3api", "get-bucket-policy", "--bucket", bucket)
    assert json.loads(got["Policy"]) == policy
    assert aws.json("s3api", "get-bucket-policy-status", "--bucket", bucket)["PolicyStatus"]["IsPublic"] is True
    head = aws("s3api", "head-object", "--bucket", bucket, "--key", "missing", check=False)
    assert head.returncode != 0 and "404" in head.stderr
    aws("s3api", "delete-bucket-policy", "--bucket", bucket)
    aws("s3api", "delete-bucket", "--bucket", bucket)
