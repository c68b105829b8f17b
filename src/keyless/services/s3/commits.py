"""Commits of small bodies, in batches: each body written and fsynced to its blob, one directory
fsync and one transaction for every row of the batch, then the replaced blobs unlinked.

A small PutObject or UploadPart costs little besides its commit, and a commit alone (SQLAlchemy's
begin and commit, SQLite's locks and WAL frames, the directory fsync, the thread hand-offs around
each) costs more than the row it writes. Two threads take whatever commits are queued, up to
MAX_BATCH at a time, so under load the fixed costs are shared and with one upload in flight
nothing waits for company.

Every guarantee of a single commit holds per job: a row is committed only after its blob and the
directory entry are fsynced; a job that fails leaves no blob and does not fail the others. For
that, a job's `rows(conn, *args)` may read and then make **one** write statement: SQLite undoes
a failing statement on its own and the transaction carries on with the rest of the batch.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from keyless.services.s3.iothreads import settle_from_thread

if TYPE_CHECKING:
    from keyless.services.s3.storage import BlobStore
    from keyless.store.db import Database

MAX_BATCH = 32
Rows = Callable[..., Iterable[str | None]]  # writes the row; returns the blobs it replaced


@dataclass(slots=True)
class _Job:
    db: Database
    blob: str
    data: bytes
    rows: Rows
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    replaced: Iterable[str | None] = ()
    error: BaseException | None = None


class SmallCommits:
    def __init__(self, store: BlobStore, threads: int) -> None:
        self.store = store
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._max_threads = threads
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    async def commit(self, db: Database, blob: str, data: bytes, rows: Rows, *args: Any) -> None:
        loop = asyncio.get_running_loop()
        job = _Job(db, blob, data, rows, args, loop, loop.create_future())
        with self._lock:
            if self._closed:
                raise RuntimeError("the S3 commit threads are shut down")
            if len(self._threads) < self._max_threads:
                thread = threading.Thread(target=self._work, name=f"s3-commit_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)
        await job.future

    def shutdown(self) -> None:
        """Finish the queued commits, then stop the threads."""
        with self._lock:
            threads, self._closed = list(self._threads), True
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join()

    def _work(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch, stop = [first], False
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            try:
                self._run(batch)
            except BaseException as exc:  # a bug here must not leave uploads waiting forever
                _fail(batch, exc)
            finally:
                for job in batch:
                    settle_from_thread(job.loop, job.future, None, job.error)
            if stop:
                return

    def _run(self, batch: list[_Job]) -> None:
        stored = [job for job in batch if self._store(job)]
        if stored:
            try:
                self.store.sync_directory()  # one fsync covers every name the batch created
            except BaseException as exc:
                _fail(stored, exc)
        for db in {id(job.db): job.db for job in stored if job.error is None}.values():
            _transaction(db, [job for job in stored if job.db is db and job.error is None])
        for job in batch:
            if job.error is not None:
                self.store.delete_now([job.blob])
            else:
                self.store.delete_now(job.replaced)

    def _store(self, job: _Job) -> bool:
        try:
            self.store.write_file(job.blob, job.data)
        except BaseException as exc:
            job.error = exc
            return False
        return True


def _transaction(db: Database, jobs: list[_Job]) -> None:
    try:
        with db.begin(iam=False) as conn:
            for job in jobs:
                try:
                    job.replaced = list(job.rows(conn, *job.args))
                except Exception as exc:  # this job's one statement was undone; the rest commit
                    job.error = exc
    except BaseException as exc:  # the commit itself failed: nothing of the batch is in
        _fail(jobs, exc)


def _fail(jobs: list[_Job], exc: BaseException) -> None:
    for job in jobs:
        if job.error is None:
            job.error, job.replaced = exc, ()
