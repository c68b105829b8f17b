"""The trail's writer process: what the server queues is stored by it; if it dies, a new one
takes over and what was lost is counted; if the server dies, what it handed over is stored."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from keyless.store import trail as trail_store
from keyless.store.db import Database
from keyless.trail.recorder import Recorder

CALLER = ("User", "123456789012", "arn:aws:iam::123456789012:user/admin", "AIDAX", "arn:aws:iam::123456789012:user/admin",
          "admin", "AKIAX", "AIDAX")


def pending(n: int) -> tuple[object, ...]:
    return (time.time(), "iam", "GetUser", "us-east-1", "123456789012", f"req-{n}", CALLER, "127.0.0.1", "ua", {}, None,
            None, None, (), "on")


def stored_request_ids(db: Database) -> list[str]:
    import json

    with db.read() as conn:
        return sorted(json.loads(r["record"])["requestID"] for r in trail_store.query(conn, limit=100_000))


def test_queued_events_are_stored_by_the_writer_process(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    recorder = Recorder(db, tmp_path)
    recorder.start_thread()
    try:
        for n in range(500):
            recorder.record_call(pending(n))
        recorder.flush()
        assert recorder._writer is not None and recorder._writer.proc.pid != os.getpid()
        assert (recorder.written, recorder.dropped) == (500, 0)
        assert stored_request_ids(db) == sorted(f"req-{n}" for n in range(500))
    finally:
        asyncio.run(recorder.stop())
    assert recorder._writer is None  # stopped with the recorder


def test_a_writer_that_dies_is_replaced_and_its_losses_are_counted(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    recorder = Recorder(db, tmp_path)
    recorder.start_thread()
    try:
        recorder.record_call(pending(0))
        recorder.flush()
        first = recorder._writer
        assert first is not None
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait()
        time.sleep(1.1)  # the recorder starts at most one writer a second
        for n in range(1, 50):
            recorder.record_call(pending(n))
        recorder.flush()
        assert recorder._writer is not None and recorder._writer is not first
        assert recorder.processed == recorder.enqueued == 50
        assert recorder.written + recorder.lost == 50
        assert len(stored_request_ids(db)) == recorder.written >= 49 - recorder.lost
    finally:
        asyncio.run(recorder.stop())


def test_events_handed_to_the_writer_survive_the_server_being_killed(tmp_path: Path) -> None:
    Database.open(tmp_path).close()
    server = textwrap.dedent(f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_trail_writer import pending
        from keyless.store.db import Database
        from keyless.trail.recorder import Recorder
        recorder = Recorder(Database.open(__import__("pathlib").Path({str(tmp_path)!r})), __import__("pathlib").Path({str(tmp_path)!r}))
        recorder.start_thread()
        for n in range(300):
            recorder.record_call(pending(n))
        recorder._wake.set()
        while recorder._queue or recorder._writer is None or recorder._writer.sent < 300:
            time.sleep(0.01)
        print(recorder._writer.proc.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no shutdown: the writer only sees its input close
    """)
    proc = subprocess.run([sys.executable, "-c", server], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    writer_pid = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 30
    while _running(writer_pid) and time.monotonic() < deadline:  # it stores what it has, then exits
        time.sleep(0.05)
    assert stored_request_ids(Database.open(tmp_path)) == sorted(f"req-{n}" for n in range(300))


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
