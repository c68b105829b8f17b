"""The recorder: the request path appends plain data to a queue; a writer thread stores batches.

Recording must cost the request path almost nothing: the pipeline hands over a tuple of plain
values (no JSON, no I/O), and the writer thread redacts and stores it compactly; the full
CloudTrail record is built only when someone reads it (store/trail.py). The queue is bounded:
when it is full the event is counted in `dropped` (reported by the health endpoint and logged),
never silently lost and never allowed to slow or fail the request. FLUSH_SECONDS bounds how
stale the stored history can be.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from keyless.store import trail as trail_store
from keyless.store.db import Database

log = logging.getLogger("keyless.trail")

QUEUE_LIMIT = 100_000
BATCH = 1000
FLUSH_SECONDS = 0.2


class Recorder:
    def __init__(self, db: Database, retention_days: float = 90.0) -> None:
        self._db = db
        # deque.append and popleft are atomic: the request path takes no lock.
        self._queue: deque[tuple[Any, ...] | dict[str, Any]] = deque()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.retention_days = retention_days
        self.enqueued = 0  # incremented by the request path only
        self.processed = 0  # incremented by the writer thread only
        self.written = 0
        self.dropped = 0

    # --- request path -----------------------------------------------------------------------

    def record_call(self, call: tuple[Any, ...]) -> None:
        """A pending_call() tuple from the request path."""
        self._put(call)

    def record_event(self, event: dict[str, Any]) -> None:
        """A ready-made record (e.g. an IMDS credential delivery)."""
        self._put(event)

    def _put(self, item: tuple[Any, ...] | dict[str, Any]) -> None:
        if len(self._queue) >= QUEUE_LIMIT:
            self.dropped += 1
            if self.dropped in (1, 100, 10_000) or self.dropped % 100_000 == 0:
                log.warning("trail queue full: %d events not recorded so far", self.dropped)
            return
        self._queue.append(item)
        self.enqueued += 1

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.start_thread()

    def start_thread(self) -> None:
        if self._thread is None:
            with self._db.begin(iam=False) as conn:
                trail_store.delete_before(conn, time.time() - self.retention_days * 86400)
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="keyless-trail", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=30)
            self._thread = None

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is stored (LookupEvents and tests use it)."""
        target, deadline = self.enqueued, time.monotonic() + timeout
        while self.processed < target and self._thread is not None and time.monotonic() < deadline:
            time.sleep(0.002)

    # --- writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(FLUSH_SECONDS)
            while self._queue:
                batch = []
                while self._queue and len(batch) < BATCH:
                    batch.append(self._queue.popleft())
                self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[tuple[Any, ...] | dict[str, Any]]) -> None:
        try:
            with self._db.begin(iam=False) as conn:
                self.written += trail_store.insert(conn, batch)
        except Exception:  # the trail must never take the server down; the loss is counted
            log.exception("could not store %d trail events", len(batch))
            self.dropped += len(batch)
        self.processed += len(batch)
