"""Blob storage: streamed writes, atomic publication, crash debris, ranges and safe names."""

from __future__ import annotations

import asyncio
import hashlib
import os
import zlib
from pathlib import Path
from contextlib import contextmanager
from typing import Any, AsyncIterator, Iterator

import pytest

from keyless.services.s3 import dirsync, storage
from keyless.services.s3.checksums import new_digest
from keyless.services.s3.errors import EntityTooLarge


class _NoDb:
    """Stands in for the Database when a test has no row to write."""

    @contextmanager
    def begin(self, *, iam: bool = True) -> Iterator[None]:
        yield None


NO_DB: Any = _NoDb()


@pytest.fixture()
def store(tmp_path: Path) -> storage.BlobStore:
    blobs = storage.BlobStore(tmp_path / "s3")
    blobs.prepare()
    return blobs


async def stream(data: bytes, chunk: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i:i + chunk]


def save(store: storage.BlobStore, body: AsyncIterator[bytes] | bytes, digests: list[Any] | None = None,
         **options: Any) -> storage.Written:
    """Write a body and commit it (a staged small body reaches the disk in the commit)."""
    async def go() -> storage.Written:
        written = await store.write(body, digests or [], **options)
        await store.commit(NO_DB, written.blob, written.staged, lambda conn: [])
        return written
    return asyncio.run(go())


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


@pytest.mark.parametrize("size", [0, 1, storage.SPILL - 1, storage.SPILL, 3 * storage.SPILL + 17])
def test_write_streams_bytes_and_digests(store: storage.BlobStore, size: int) -> None:
    data = os.urandom(size)
    crc = new_digest("CRC32")
    written = save(store, stream(data), [crc])
    assert written.size == size
    assert written.md5 == hashlib.md5(data).digest()
    assert crc.digest() == zlib.crc32(data).to_bytes(4, "big")
    assert store.path(written.blob).read_bytes() == data
    assert files_under(store.tmp) == []


def test_blob_names_are_random_hex_never_keys(store: storage.BlobStore) -> None:
    written = save(store, b"x")
    path = store.path(written.blob)
    assert path.parent == store.blobs and len(path.name) == 32
    for bad in ["../../etc/passwd", "a" * 31, "A" * 32, "/" + "a" * 31]:
        with pytest.raises(ValueError):
            store.path(bad)


def test_a_failed_stream_leaves_nothing_behind(store: storage.BlobStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(storage.SPILL + 5)
        yield b"more"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        save(store, broken())
    assert files_under(store.root) == []


def test_size_limit_is_enforced_while_streaming(store: storage.BlobStore) -> None:
    with pytest.raises(EntityTooLarge):
        save(store, stream(b"x" * 5000, 1000), max_size=4096)
    assert files_under(store.root) == []


def test_prepare_removes_temporary_debris_and_sweep_removes_orphans(tmp_path: Path) -> None:
    blobs = storage.BlobStore(tmp_path / "s3")
    blobs.prepare()
    kept = save(blobs, b"kept").blob
    orphan = save(blobs, b"orphan").blob
    (blobs.tmp / "half-written").write_bytes(b"partial")
    again = storage.BlobStore(tmp_path / "s3")
    assert again.prepare() == 1
    assert again.sweep({kept}) == 1
    assert again.path(kept).read_bytes() == b"kept" and not again.path(orphan).exists()


def test_reader_ranges_and_survives_deletion(store: storage.BlobStore) -> None:
    data = os.urandom(3 * storage.READ_CHUNK + 10)
    blob = save(store, data).blob
    reader = store.open(blob, 5, 2 * storage.READ_CHUNK)
    store.delete([blob])  # an overwrite deletes the old blob while a download is in flight

    async def collect() -> bytes:
        return b"".join([c async for c in reader.chunks()])

    assert asyncio.run(collect()) == data[5:5 + 2 * storage.READ_CHUNK]
    assert not store.path(blob).exists()
    small = save(store, b"hello world").blob
    assert store.open(small, 6).read_all() == b"world"


def test_link_and_compose(store: storage.BlobStore) -> None:
    a = save(store, b"abcdef").blob
    b = save(store, b"ghij").blob
    copy = store.link(a)
    store.delete([a])
    assert store.path(copy).read_bytes() == b"abcdef"
    crc = new_digest("CRC32")
    sources = [storage.Source(copy, 0, 6), storage.Source(b, 1, 2)]
    written = asyncio.run(store.compose(sources, [crc], md5=True))
    assert store.path(written.blob).read_bytes() == b"abcdefhi"
    assert written.md5 == hashlib.md5(b"abcdefhi").digest() and written.size == 8
    assert crc.digest() == zlib.crc32(b"abcdefhi").to_bytes(4, "big")
    plain = asyncio.run(store.compose([storage.Source(b, 0, 4), storage.Source(copy, 2, 2)]))
    assert store.path(plain.blob).read_bytes() == b"ghijcd"


def test_group_sync_covers_every_change_with_shared_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    changes = 0
    lock = threading.Lock()
    fsync_started_after: list[int] = []  # how many changes had been made when each fsync began

    def fake_fsync(fd: int) -> None:
        with lock:
            fsync_started_after.append(changes)
        threading.Event().wait(0.02)  # a slow disk, so that other threads arrive meanwhile

    monkeypatch.setattr(dirsync, "_fsync_dir", fake_fsync)
    group = dirsync.GroupSync(tmp_path)
    start = threading.Barrier(8)
    covered: list[bool] = []

    def change() -> None:
        nonlocal changes
        start.wait()
        with lock:
            changes += 1
            mine = changes
        group.after_change()
        covered.append(any(seen >= mine for seen in fsync_started_after))

    threads = [threading.Thread(target=change) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert covered == [True] * 8  # nobody returned before an fsync that began after its change
    assert len(fsync_started_after) < 8  # and they shared them


@pytest.mark.parametrize("size", [10, storage.HASH_ON_LOOP + 1, storage.SPILL + 1])
def test_commit_writes_a_staged_body_then_runs_the_transaction(store: storage.BlobStore, size: int) -> None:
    data = os.urandom(size)
    seen: list[bytes] = []

    async def go() -> storage.Written:
        written = await store.write(stream(data))
        assert (written.staged is not None) == (size < storage.SPILL)  # small bodies wait for their commit
        if written.staged is not None:
            assert files_under(store.root) == []
        await store.commit(NO_DB, written.blob, written.staged,
                           lambda conn: seen.append(store.path(written.blob).read_bytes()) or [])
        return written

    written = asyncio.run(go())
    assert seen == [data]  # the transaction ran with the blob already complete on disk
    assert store.path(written.blob).read_bytes() == data
    assert written.md5 == hashlib.md5(data).digest()


@pytest.mark.parametrize("size", [10, storage.SPILL + 1])
def test_a_failed_commit_leaves_no_blob(store: storage.BlobStore, size: int) -> None:
    def refuse(conn: object) -> list[str]:
        raise RuntimeError("row refused")

    async def go() -> None:
        written = await store.write(os.urandom(size))
        await store.commit(NO_DB, written.blob, written.staged, refuse)

    with pytest.raises(RuntimeError):
        asyncio.run(go())
    assert files_under(store.root) == []


def test_a_refused_body_is_never_written(store: storage.BlobStore) -> None:
    def refuse() -> None:
        raise ValueError("payload hash mismatch")

    for size in (10, storage.HASH_ON_LOOP + 1, storage.SPILL + 1):
        with pytest.raises(ValueError):
            asyncio.run(store.write(os.urandom(size), before_publish=refuse))
    assert files_under(store.root) == []
