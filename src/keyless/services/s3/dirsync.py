"""Group-committed fsyncs of the blobs directory: a new name in it is durable only once a
directory fsync that started after its creation has returned (POSIX asks for it; some
filesystems persist the name with the file's own fsync, but keyless does not rely on that)."""

from __future__ import annotations

import os
import threading
from pathlib import Path


class GroupSync:
    """fsync of one directory, shared by every thread that changed it before the sync began: a
    new name is durable once a directory fsync *started after it* returns, so concurrent uploads
    take turns leading one fsync for everyone waiting instead of issuing one each. The directory
    stays open: opening and closing it for every upload cost two more syscalls, each a round of
    GIL hand-offs between the I/O threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cond = threading.Condition()
        self._requested = 0  # changes announced
        self._synced = 0  # changes covered by a finished fsync
        self._syncing = False
        self._fd: int | None = None  # opened by the first leader; only a leader touches it

    def after_change(self) -> None:
        with self._cond:
            self._requested += 1
            ticket = self._requested
            while self._synced < ticket:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing, target = True, self._requested
                self._cond.release()
                try:
                    if self._fd is None:
                        self._fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                    _fsync_dir(self._fd)
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                self._synced = max(self._synced, target)

    def close(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: not self._syncing)
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _fsync_dir(fd: int) -> None:
    os.fsync(fd)
