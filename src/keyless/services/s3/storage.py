"""Object bytes on disk: immutable blob files under DATA_DIR/s3/, never named after a key.

    DATA_DIR/s3/tmp/<id>      a large body being written; anything here at start-up is debris
    DATA_DIR/s3/blobs/<id>    fsynced, immutable (one directory: ext4 indexes large directories,
                              and concurrent fsyncs of one directory share a commit)

A blob id is 32 hex digits (random per process, then counted), so no object key (arbitrary
UTF-8, `../`, NUL, 1 KiB long) ever becomes part of a path. What makes an object visible is the metadata row that points at its
blob, so a blob is on disk and fsynced (file and directory) before that row is committed, and
the blob the row used to point at is deleted only after the commit. A crash therefore leaves at
worst a temporary file or an unreferenced blob, which `prepare` and `sweep` remove at the next
start, and never a half-written object that a reader could see. Readers open a blob before
streaming it, so an overwrite or delete during a download leaves the reader's bytes intact.

Bodies are never held whole in memory beyond SPILL bytes. A small body (under SPILL) is hashed
and kept in memory (`Written.staged`): `commit` writes it straight to blobs/, fsyncs it and
commits its row on a commit thread, batched with whatever other small commits are queued
(commits.py), so a small PutObject costs one hand-off and a share of a transaction. A larger body is
hashed and written to tmp/ in ~1 MiB batches by a worker thread while the event loop receives
the next batch, then fsynced and renamed into blobs/ before its row is committed. The store has
its own I/O threads (iothreads.py): a wide pool where large uploads wait on their fsyncs side by
side, and two threads for the batched commits of small bodies (see SMALL_COMMIT_THREADS).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, Sequence, TypeVar

from keyless.services.s3.checksums import Digest
from keyless.services.s3.errors import EntityTooLarge
from keyless.services.s3.commits import Rows, SmallCommits
from keyless.services.s3.dirsync import GroupSync
from keyless.services.s3.iothreads import IoThreads

if TYPE_CHECKING:
    from keyless.store.db import Database

SPILL = 1024 * 1024  # bodies up to this size are staged in memory and written by `commit`
HASH_ON_LOOP = 64 * 1024  # staged bodies up to this size are hashed on the event loop (< 0.1 ms)
BATCH = 1024 * 1024  # larger ones are handed to the writer thread in batches of about this size
READ_CHUNK = 1024 * 1024
MAX_OBJECT_SIZE = 5 * 1024**3  # a single PUT or part; bigger objects go through multipart
IO_THREADS = 16  # uploads in flight that can wait on fsync at once
# Small bodies are written, fsynced and committed on threads of their own, only two: measured
# with wrk (16 connections of 1 KiB PUTs), two spend ~15% less CPU per request than sixteen at the
# same rate (fewer creates, fsyncs and unlinks racing in one directory, fewer GIL hand-offs);
# four were no better than sixteen. With two, commits queue and are batched (commits.py). Large
# bodies keep the wide pool, so a slow copy or fsync of a big blob never holds up small writes.
SMALL_COMMIT_THREADS = 2
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Written:
    blob: str
    size: int
    md5: bytes  # raw digest; the ETag of a single-part object is its hex form
    staged: bytes | None = None  # a small body not on disk yet: `BlobStore.commit` writes it


@dataclass(frozen=True, slots=True)
class Source:
    """A byte range of an existing blob, for concatenation (CompleteMultipartUpload, UploadPartCopy)."""

    blob: str
    start: int
    length: int


# Blob ids: 16 random hex digits drawn once per process, then a counter. Unique without a
# syscall per upload: os.urandom releases the GIL, and on the event loop each release lets a busy
# I/O thread take the interpreter (profiles of 1 KiB PUTs showed the loop waiting there).
_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count()


def new_blob_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):016x}"  # next() on a count is atomic under the GIL


_BLOB_ID = re.compile(r"[0-9a-f]{32}")


def _valid_id(blob_id: str) -> bool:
    return _BLOB_ID.fullmatch(blob_id) is not None


class BlobStore:
    def __init__(self, root: Path, io_threads: int = IO_THREADS) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.blobs = root / "blobs"
        self.threads = IoThreads(io_threads, "s3-io")
        self.small_commits = SmallCommits(self, SMALL_COMMIT_THREADS)
        self._dir_sync = GroupSync(self.blobs)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Blocking file work (writes, fsyncs, copies) on the store's I/O threads."""
        return await self.threads.run(function, *args)

    # --- start-up -------------------------------------------------------------------------

    def ensure_dirs(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def prepare(self) -> int:
        """Create the directories and delete temporary files a crash left behind; return how many."""
        self.ensure_dirs()
        removed = 0
        for entry in os.scandir(self.tmp):
            _unlink(entry.path)
            removed += 1
        return removed

    def sweep(self, referenced: set[str]) -> int:
        """Delete blobs no metadata row points at (a crash between rename and commit, or before
        an overwritten blob was deleted). Call before serving: a write in flight looks orphaned."""
        removed = 0
        for entry in os.scandir(self.blobs):
            if entry.name not in referenced:
                _unlink(entry.path)
                removed += 1
        return removed

    # --- paths ----------------------------------------------------------------------------

    def path(self, blob_id: str) -> Path:
        if not _valid_id(blob_id):  # ids come from our own rows; refuse anything else outright
            raise ValueError(f"not a blob id: {blob_id!r}")
        return self.blobs / blob_id

    # --- writing --------------------------------------------------------------------------

    async def write(self, body: AsyncIterator[bytes] | bytes, digests: Sequence[Digest] = (),
                    *, max_size: int = MAX_OBJECT_SIZE, before_publish: Callable[[], None] | None = None) -> Written:
        """Receive a body for a new blob, feeding every byte to `digests` (and MD5). A large body is
        on disk when this returns; a small one is staged (`Written.staged`) for `commit` to write.
        `before_publish` runs once every byte is hashed and before the blob can become visible:
        it may raise to refuse the body (a payload hash that does not match)."""
        writer = _Writer(self, [hashlib.md5(), *digests], before_publish)
        try:
            if isinstance(body, (bytes, bytearray, memoryview)):
                writer.check_size(len(body), max_size)
                await writer.feed([bytes(body)])
            else:
                batch: list[bytes] = []
                batched = 0
                async for chunk in body:
                    writer.check_size(writer.received + batched + len(chunk), max_size)
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= (BATCH if writer.spilled else SPILL):
                        await writer.feed(batch)
                        batch, batched = [], 0
                await writer.feed(batch)
            return await writer.finish()
        except BaseException:
            await writer.abandon()
            raise

    async def commit(self, db: Database, blob: str, staged: bytes | None, rows: Rows, *args: Any) -> None:
        """Point a row at the new `blob`: `rows(conn, *args)` writes it in a transaction and returns
        the blobs it replaced, which are unlinked after the commit. A staged body is first written
        and fsynced under that name (commits.py batches these; `rows` must then make one write).
        All on an I/O thread; if anything fails the new blob is removed there too. A cancelled
        caller leaves the outcome to the thread: the row is committed or the blob removed (or,
        killed in between, swept at the next start)."""
        if staged is not None:
            await self.small_commits.commit(db, blob, staged, rows, *args)
        else:
            await self.threads.run(self._commit, db, blob, rows, args)

    def _commit(self, db: Database, blob: str, rows: Rows, args: tuple[Any, ...]) -> None:
        try:
            with db.begin(iam=False) as conn:
                replaced = list(rows(conn, *args))
        except BaseException:
            _unlink(self.path(blob))
            raise
        paths = [self.path(old) for old in replaced if old]
        if paths:  # big blobs take milliseconds to unlink: the response need not wait for them
            self.threads.submit(_unlink_all, paths)

    def write_file(self, blob: str, data: bytes) -> None:
        """A staged body straight to its final name, fsynced (the directory is not: see
        `sync_directory`). Nothing points at it until its row commits, and a crash before then
        leaves an orphan for `sweep`, so it needs no temporary name."""
        fd = os.open(self.path(blob), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            _unlink(self.path(blob))
            raise
        os.close(fd)

    def sync_directory(self) -> None:
        """Make every name created in blobs/ so far durable (a shared fsync of the directory)."""
        self._dir_sync.after_change()

    def discard(self, written: Written) -> None:
        """Drop a body whose checks failed before its commit (a staged one was never on disk)."""
        if written.staged is None:
            self.delete([written.blob])

    def link(self, blob_id: str) -> str:
        """A second name for an immutable blob: CopyObject without copying bytes."""
        new_id = new_blob_id()
        final = self.path(new_id)
        os.link(self.path(blob_id), final)
        self._dir_sync.after_change()
        return new_id

    async def compose(self, sources: Sequence[Source], digests: Sequence[Digest] = (), *, md5: bool = False) -> Written:
        """A new blob made of byte ranges of existing blobs, copied in a worker thread."""
        return await self.run(self._compose, list(sources), list(digests), md5)

    def _compose(self, sources: list[Source], digests: list[Digest], want_md5: bool) -> Written:
        md5 = hashlib.md5()
        every = [md5, *digests] if want_md5 else digests
        blob_id = new_blob_id()
        tmp = self.tmp / blob_id
        size = 0
        try:
            with open(tmp, "wb", buffering=0, opener=_private) as out:
                for source in sources:
                    with open(self.path(source.blob), "rb", buffering=0) as src:
                        size += _copy_range(src.fileno(), out.fileno(), source.start, source.length, every)
                os.fsync(out.fileno())
            self._publish(tmp, blob_id)
        except BaseException:
            _unlink(tmp)
            raise
        return Written(blob_id, size, md5.digest())

    def _publish(self, tmp: Path, blob_id: str) -> None:
        final = self.path(blob_id)
        os.rename(tmp, final)
        self._dir_sync.after_change()

    # --- reading and deleting -------------------------------------------------------------

    def open(self, blob_id: str, start: int = 0, length: int | None = None) -> BlobReader:
        """Open now (so a concurrent overwrite cannot pull the bytes away), stream later."""
        handle = open(self.path(blob_id), "rb", buffering=0)
        if length is None:
            length = os.fstat(handle.fileno()).st_size - start
        return BlobReader(handle, start, length)

    def delete(self, blob_ids: Iterable[str | None]) -> None:
        """Remove blobs no row points at any more. Unlinking costs milliseconds on ext4 (more for big
        files), so inside the event loop it runs on a worker thread and the request does not wait;
        a crash before it runs leaves an orphan that the next start's sweep removes."""
        paths = [self.path(blob_id) for blob_id in blob_ids if blob_id]
        if not paths:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            _unlink_all(paths)
            return
        self.threads.submit(_unlink_all, paths)

    def delete_now(self, blob_ids: Iterable[str | None]) -> None:
        """Unlink on the calling thread (already an I/O thread)."""
        _unlink_all([self.path(blob_id) for blob_id in blob_ids if blob_id])

    def shutdown(self) -> None:
        """Finish the queued work, stop the I/O threads and release the directory handle."""
        self.small_commits.shutdown()
        self.threads.shutdown()
        self._dir_sync.close()

    def settle(self) -> None:
        """Wait for deletions in flight (tests, and shutdown)."""
        self.threads.settle()


class BlobReader:
    """One open blob range: read whole (small objects) or iterate in chunks (large ones)."""

    def __init__(self, handle: IO[bytes], start: int, length: int) -> None:
        self._handle = handle
        self.start = start
        self.length = length

    def read_all(self) -> bytes:
        try:
            return os.pread(self._handle.fileno(), self.length, self.start) if self.length else b""
        finally:
            self.close()

    async def chunks(self) -> AsyncIterator[bytes]:
        fd = self._handle.fileno()
        offset, remaining = self.start, self.length
        try:
            while remaining > 0:
                data = os.pread(fd, min(READ_CHUNK, remaining), offset)
                if not data:  # the file is shorter than its row says: end rather than loop
                    return
                offset += len(data)
                remaining -= len(data)
                yield data
        finally:
            self.close()

    def close(self) -> None:
        self._handle.close()


class _Writer:
    """The write side of one upload: a temporary file filled by a worker thread, batch by batch."""

    def __init__(self, store: BlobStore, digests: list[Digest], before_publish: Callable[[], None] | None) -> None:
        self.store = store
        self.digests = digests
        self.before_publish = before_publish
        self.blob_id = new_blob_id()
        self.tmp: Path | None = None  # named once the body turns out large (pathlib is not free)
        self.received = 0
        self.spilled = False
        self._file: IO[bytes] | None = None
        self._pending: asyncio.Future[None] | None = None
        self._small: list[bytes] = []

    @staticmethod
    def check_size(size: int, max_size: int) -> None:
        if size > max_size:
            raise EntityTooLarge(ProposedSize=str(size), MaxSizeAllowed=str(max_size))

    async def feed(self, batch: list[bytes]) -> None:
        if not batch:
            return
        self.received += sum(len(c) for c in batch)
        if not self.spilled and self.received < SPILL:
            self._small.extend(batch)  # may still finish as a small body
            return
        if not self.spilled:
            self.spilled = True
            batch = self._small + batch
            self._small = []
            self.tmp = self.store.tmp / self.blob_id
            self._file = open(self.tmp, "wb", opener=_private)
        await self._drain()
        self._pending = asyncio.ensure_future(self.store.run(self._absorb, batch))

    def _absorb(self, batch: list[bytes]) -> None:
        assert self._file is not None  # internal invariant: feed() opened it
        for chunk in batch:
            for digest in self.digests:
                digest.update(chunk)
            self._file.write(chunk)

    async def _drain(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await pending

    async def finish(self) -> Written:
        await self._drain()
        if self.spilled:
            await self.store.run(self._close_and_publish)
            return Written(self.blob_id, self.received, self.digests[0].digest())
        data = b"".join(self._small)
        if len(data) <= HASH_ON_LOOP:
            self._hash_staged(data)  # cheaper than a thread hop
        else:
            await self.store.run(self._hash_staged, data)  # hashlib releases the GIL meanwhile
        return Written(self.blob_id, self.received, self.digests[0].digest(), staged=data)

    def _hash_staged(self, data: bytes) -> None:
        for digest in self.digests:
            digest.update(data)
        if self.before_publish is not None:
            self.before_publish()

    def _close_and_publish(self) -> None:
        assert self._file is not None and self.tmp is not None
        if self.before_publish is not None:
            self.before_publish()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.store._publish(self.tmp, self.blob_id)

    async def abandon(self) -> None:
        try:
            await self._drain()
        except BaseException:
            pass
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.tmp is not None:
            _unlink(self.tmp)


def _copy_range(src: int, out: int, start: int, length: int, digests: list[Digest]) -> int:
    """Append [start, start+length) of file src to file out (raw fds); in the kernel when no
    digest needs to see the bytes."""
    copied = 0
    if not digests and hasattr(os, "copy_file_range"):
        try:
            while copied < length:
                n = os.copy_file_range(src, out, length - copied, start + copied)
                if n == 0:
                    return copied
                copied += n
            return copied
        except OSError:  # a filesystem without it: carry on in user space from where it stopped
            pass
    while copied < length:
        data = os.pread(src, min(READ_CHUNK, length - copied), start + copied)
        if not data:
            break
        for digest in digests:
            digest.update(data)
        _write_all(out, data)
        copied += len(data)
    return copied


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        _unlink(path)


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _private(path: str, flags: int) -> int:
    """open()'s opener for object bytes: the owner only (0600), whatever the umask."""
    return os.open(path, flags, 0o600)
