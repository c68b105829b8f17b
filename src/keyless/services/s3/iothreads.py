"""The S3 store's I/O threads: blocking file and database work handed off the event loop.

`loop.run_in_executor` on a ThreadPoolExecutor costs about 40 microseconds of interpreter time
per call (a concurrent Future chained to an asyncio one, the executor's idle-thread semaphore),
which was a tenth of a small PutObject. These threads take jobs from one queue and hand each
result back with a single `call_soon_threadsafe`.

A job always runs once submitted, even if the coroutine awaiting it is cancelled meanwhile (its
result is then dropped): callers put their cleanup inside the job (BlobStore.commit), not after
the await.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any, Callable, TypeVar

T = TypeVar("T")
_STOP = None


class IoThreads:
    def __init__(self, max_threads: int, name: str) -> None:
        self.max_threads = max_threads
        self.name = name
        self._jobs: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a job; a new one starts only when none is
        self._unfinished = 0
        self._finished = threading.Condition(self._lock)
        self._closed = False

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._put((loop, future, function, args))
        return await future

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        """Fire and forget (deletions); `settle` waits for such jobs."""
        self._put((None, None, function, args))

    def settle(self) -> None:
        """Wait until every job submitted so far has finished."""
        with self._finished:
            self._finished.wait_for(lambda: self._unfinished == 0)

    def shutdown(self) -> None:
        """Finish the queued jobs, then stop the threads."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(_STOP)
        for thread in threads:
            thread.join()

    def _put(self, job: tuple[Any, ...]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the S3 I/O threads are shut down")
            self._unfinished += 1
            if self._idle > 0:
                self._idle -= 1  # claimed: the next job must not count on the same idle thread
            elif len(self._threads) < self.max_threads:
                thread = threading.Thread(target=self._work, name=f"{self.name}_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            # else every thread is busy and the job waits in the queue
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            loop, future, function, args = job
            try:
                result, error = function(*args), None
            except BaseException as exc:  # handed to the awaiting coroutine
                result, error = None, exc
            if loop is not None:
                settle_from_thread(loop, future, result, error)
            with self._lock:
                self._unfinished -= 1
                self._idle += 1
                if self._unfinished == 0:
                    self._finished.notify_all()


def settle_from_thread(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any,
                       error: BaseException | None) -> None:
    """Settle an event-loop future from a worker thread (nothing to do once the loop has closed)."""
    try:
        loop.call_soon_threadsafe(_resolve, future, result, error)
    except RuntimeError:  # the loop has closed: nobody is waiting any more
        pass


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
