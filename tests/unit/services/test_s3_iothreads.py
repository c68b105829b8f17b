"""The S3 store's I/O threads: results and errors reach the awaiting coroutine, the pool stays
within its size, fire-and-forget jobs can be waited for, and shutdown finishes queued work."""

from __future__ import annotations

import asyncio
import threading

import pytest

from keyless.services.s3.iothreads import IoThreads


def test_results_and_errors_come_back_to_the_awaiting_coroutine() -> None:
    pool = IoThreads(2, "test-io")

    def fail() -> None:
        raise ValueError("from the thread")

    async def go() -> tuple[int, str]:
        total = await pool.run(sum, [1, 2, 3])
        with pytest.raises(ValueError, match="from the thread"):
            await pool.run(fail)
        return total, await pool.run(lambda: threading.current_thread().name)

    total, name = asyncio.run(go())
    assert total == 6 and name.startswith("test-io_")
    pool.shutdown()


def test_never_more_threads_than_its_size_and_every_job_runs() -> None:
    pool = IoThreads(3, "test-io")
    release = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def job(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait()
        with lock:
            running -= 1
        return n

    async def go() -> list[int]:
        tasks = [asyncio.ensure_future(pool.run(job, n)) for n in range(10)]
        await asyncio.sleep(0.05)
        release.set()
        return list(await asyncio.gather(*tasks))

    assert asyncio.run(go()) == list(range(10))
    assert most <= 3 and len(pool._threads) <= 3
    pool.shutdown()


def test_settle_waits_for_submitted_jobs_and_shutdown_finishes_the_queue() -> None:
    pool = IoThreads(1, "test-io")
    done: list[int] = []
    gate = threading.Event()
    pool.submit(gate.wait)
    for n in range(5):
        pool.submit(done.append, n)
    gate.set()
    pool.settle()
    assert done == [0, 1, 2, 3, 4]
    pool.submit(done.append, 5)
    pool.shutdown()
    assert done[-1] == 5
    with pytest.raises(RuntimeError):
        pool.submit(done.append, 6)


def test_a_cancelled_caller_does_not_stop_its_job() -> None:
    pool = IoThreads(1, "test-io")
    gate = threading.Event()
    ran = threading.Event()

    async def go() -> None:
        task = asyncio.ensure_future(pool.run(lambda: (gate.wait(), ran.set())))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()

    asyncio.run(go())
    pool.settle()
    assert ran.is_set()  # cleanup belongs inside the job, which always runs
    pool.shutdown()
