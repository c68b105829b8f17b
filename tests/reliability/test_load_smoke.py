"""bench/load.py works: a short run (4 clients, 5 seconds) exercises every operation of the mixed
workload against a real server subprocess, with no errors and every write read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_load_tool_short_run_has_every_operation_and_no_errors(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    proc = subprocess.run([sys.executable, "-m", "bench.load", "--seconds", "5", "--clients", "4", "--processes", "2",
                           "--instances", "2", "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["errors"] == 0 and result["writes_lost"] == []
    assert {name for name, op in result["operations"].items() if op["count"] > 0} == {
        "imds_credentials", "s3_get", "s3_put", "s3_list", "iam_get_role", "iam_list_roles", "sts_assume_role"}
    for op in result["operations"].values():
        assert 0 < op["p50_ms"] <= op["p99_ms"] <= op["max_ms"]
    assert result["writes_checked"] > 0
    assert result["rss_kib"]["start"] > 0 and result["rss_kib"]["end"] > 0
    assert "| s3_get |" in proc.stdout
