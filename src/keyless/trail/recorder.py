"""The recorder: the request path enqueues, a background thread shapes and writes in batches.

The queue is bounded. When it is full the event is counted in `dropped` (reported by the health
endpoint and logged), never silently lost and never allowed to slow or fail the request.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

from keyless.store import trail as trail_store
from keyless.store.db import Database
from keyless.trail.events import ApiCall, record

log = logging.getLogger("keyless.trail")

QUEUE_LIMIT = 50_000
BATCH = 500
FLUSH_SECONDS = 0.2


class Recorder:
    def __init__(self, db: Database, retention_days: float = 90.0) -> None:
        self._db = db
        self._queue: queue.Queue[ApiCall | dict[str, Any] | None] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        self._flushed = threading.Condition()
        self._pending = 0
        self.retention_days = retention_days
        self.dropped = 0
        self.written = 0

    # --- request path -----------------------------------------------------------------------

    def record_call(self, call: ApiCall) -> None:
        self._put(call)

    def record_event(self, event: dict[str, Any]) -> None:
        """A ready-made record (e.g. an IMDS credential delivery)."""
        self._put(event)

    def _put(self, item: ApiCall | dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(item)
            with self._flushed:
                self._pending += 1
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 100, 10_000) or self.dropped % 100_000 == 0:
                log.warning("trail queue full: %d events not recorded so far", self.dropped)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.start_thread()

    def start_thread(self) -> None:
        if self._thread is None:
            self._prune()
            self._thread = threading.Thread(target=self._run, name="keyless-trail", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written (tests and `keyless trail` use it)."""
        with self._flushed:
            self._flushed.wait_for(lambda: self._pending == 0, timeout=timeout)

    # --- writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[ApiCall | dict[str, Any]] = []
            try:
                item = self._queue.get(timeout=FLUSH_SECONDS)
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
                while len(batch) < BATCH:
                    item = self._queue.get_nowait()
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
            except queue.Empty:
                pass
            if batch:
                self._write(batch)

    def _write(self, batch: list[ApiCall | dict[str, Any]]) -> None:
        rows = []
        for item in batch:
            try:
                rows.append(item if isinstance(item, dict) else record(item))
            except Exception:  # a bad record must not stop the trail
                log.exception("could not build a trail record")
        try:
            with self._db.begin(iam=False) as conn:
                trail_store.insert_records(conn, rows)
            self.written += len(rows)
        except Exception:
            log.exception("could not write %d trail records", len(rows))
            self.dropped += len(rows)
        with self._flushed:
            self._pending -= len(batch)
            self._flushed.notify_all()

    def _prune(self) -> None:
        import time

        with self._db.begin(iam=False) as conn:
            trail_store.delete_before(conn, time.time() - self.retention_days * 86400)


def dumps(rec: dict[str, Any]) -> str:
    return json.dumps(rec, separators=(",", ":"), default=str)
