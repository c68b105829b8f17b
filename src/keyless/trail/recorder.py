"""The recorder: the request path appends plain data to a queue; a writer process stores it.

Recording must cost the request path almost nothing: the pipeline hands over a tuple of plain
values (no JSON, no I/O). A feeder thread pickles what is queued, in batches, down a pipe to the
writer process (trail/writer.py), which shapes and stores it; the full CloudTrail record is built
only when someone reads it (store/trail.py). Storing in a thread of the server cost a fifth of a
cheap request's CPU, most of it in handing the GIL back and forth with the request path.

The queue is bounded: when it is full the event is counted in `dropped` (reported by the health
endpoint and logged), never silently lost and never allowed to slow or fail the request. If the
writer dies, the events it had not acknowledged are counted the same way and a new one starts.
FLUSH_SECONDS bounds how stale the stored history can be.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

from keyless.store import trail as trail_store
from keyless.store.db import Database
from keyless.trail.events import plain
from keyless.trail.writer import frame

log = logging.getLogger("keyless.trail")

QUEUE_LIMIT = 100_000
BATCH = 1000
FLUSH_SECONDS = 0.2
RESTART_SECONDS = 1.0  # at most one new writer per second, so a writer that cannot start does not spin


class _Writer:
    """One writer process, and what it has been sent and has acknowledged (in events)."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "keyless.trail.writer", str(data_dir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.stdin: IO[bytes] = self.proc.stdin  # type: ignore[assignment]
        self.stdout: IO[bytes] = self.proc.stdout  # type: ignore[assignment]
        self.sent = 0
        self.acked = 0
        self.ended = False


class Recorder:
    def __init__(self, db: Database, data_dir: Path, retention_days: float = 90.0) -> None:
        self._db = db
        self._data_dir = data_dir
        # deque.append and popleft are atomic: the request path takes no lock.
        self._queue: deque[tuple[Any, ...] | dict[str, Any]] = deque()
        self._feeder: threading.Thread | None = None
        self._writer: _Writer | None = None
        self._started_writer_at = 0.0
        self._lock = threading.Lock()  # between the feeder and the thread reading a writer's answers
        self._wake = threading.Event()
        self._stopping = False
        self.retention_days = retention_days
        self.enqueued = 0  # incremented by the request path only
        self.processed = 0  # stored or lost
        self.written = 0
        self.full = 0  # not queued: the queue was full
        self.lost = 0  # queued, but the writer failed to store them

    @property
    def dropped(self) -> int:
        return self.full + self.lost

    # --- request path -----------------------------------------------------------------------

    def record_call(self, call: tuple[Any, ...]) -> None:
        """A pending_call() tuple from the request path."""
        self._put(call)

    def record_event(self, event: dict[str, Any]) -> None:
        """A ready-made record (e.g. an IMDS credential delivery)."""
        self._put(event)

    def _put(self, item: tuple[Any, ...] | dict[str, Any]) -> None:
        if len(self._queue) >= QUEUE_LIMIT:
            self.full += 1
            if self.full in (1, 100, 10_000) or self.full % 100_000 == 0:
                log.warning("trail queue full: %d events not recorded so far", self.full)
            return
        self._queue.append(item)
        self.enqueued += 1

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.start_thread()

    def start_thread(self) -> None:
        if self._feeder is None:
            with self._db.begin(iam=False) as conn:
                trail_store.delete_before(conn, time.time() - self.retention_days * 86400)
            self._stopping = False
            self._feeder = threading.Thread(target=self._feed, name="keyless-trail", daemon=True)
            self._feeder.start()

    async def stop(self) -> None:
        if self._feeder is not None:
            self._stopping = True
            self._wake.set()
            self._feeder.join(timeout=30)
            self._feeder = None

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is stored (LookupEvents and tests use it)."""
        target, deadline = self.enqueued, time.monotonic() + timeout
        self._wake.set()
        while self.processed < target and self._feeder is not None and time.monotonic() < deadline:
            time.sleep(0.002)

    # --- feeder thread ----------------------------------------------------------------------

    def _feed(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            stopping = self._stopping
            while self._queue:
                batch = []
                while self._queue and len(batch) < BATCH:
                    batch.append(self._queue.popleft())
                self._send(batch)
            if stopping:
                self._close_writer()
                return

    def _send(self, batch: list[tuple[Any, ...] | dict[str, Any]]) -> None:
        data = frame(_pickled(batch))
        writer = self._live_writer()
        with self._lock:  # counted as sent before the write: if the writer dies, its reader counts these as lost
            usable = writer is not None and not writer.ended
            if usable:
                writer.sent += len(batch)
        if not usable or writer is None:
            self._lose(len(batch))
            return
        try:
            writer.stdin.write(data)
            writer.stdin.flush()
        except OSError:  # the writer died; its reader thread accounts for what it had not stored
            pass

    def _live_writer(self) -> _Writer | None:
        writer = self._writer
        if writer is not None and not writer.ended:
            return writer
        if writer is not None:
            self._writer = None
            _close(writer)
        if time.monotonic() - self._started_writer_at < RESTART_SECONDS:
            return None
        self._started_writer_at = time.monotonic()
        try:
            writer = _Writer(self._data_dir)
        except OSError:
            log.exception("could not start the trail writer")
            return None
        threading.Thread(target=self._read_answers, args=(writer,), name="keyless-trail-answers", daemon=True).start()
        self._writer = writer
        return writer

    def _read_answers(self, writer: _Writer) -> None:
        for line in writer.stdout:
            stored, failed = map(int, line.split())
            with self._lock:
                writer.acked += stored + failed
                self.written += stored
                self.processed += stored
            if failed:
                self._lose(failed)
        with self._lock:
            writer.ended = True
            unanswered = writer.sent - writer.acked
        if unanswered:
            log.warning("the trail writer ended with %d events not stored", unanswered)
            self._lose(unanswered)

    def _lose(self, count: int) -> None:
        with self._lock:
            self.lost += count
            self.processed += count

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            _close(writer)


def _close(writer: _Writer) -> None:
    """Close the writer's input and wait for it to store what it has and exit."""
    try:
        writer.stdin.close()
    except OSError:
        pass
    try:
        writer.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        log.warning("the trail writer did not finish in 30 s; stopping it")
        writer.proc.kill()
        writer.proc.wait()


def _pickled(batch: list[tuple[Any, ...] | dict[str, Any]]) -> bytes:
    try:
        return pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a request's params can hold what does not pickle (an S3 body stream)
        return pickle.dumps([_portable(item) for item in batch], protocol=pickle.HIGHEST_PROTOCOL)


def _portable(item: tuple[Any, ...] | dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
    """A pending call with its params and output cut down to plain data, as they are stored."""
    if not isinstance(item, tuple):
        return item
    values = list(item)
    values[9] = plain(values[9])
    values[10] = plain(values[10]) if values[10] is not None else None
    return tuple(values)
