"""One writer per run folder: an OS file lock held for a whole command, released on exit or death."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from activekd.layout import RunLayout

from ._errors import StoreError


class RunLock:
    """An exclusive ``flock`` on ``RUN/session.lock``; the file names the holder (pid and start time).

    The kernel drops the lock when the process ends, however it ends, so a killed command never
    leaves a stale lock behind.
    """

    FILENAME = RunLayout.LOCK

    def __init__(self, out: str | Path) -> None:
        self.path = RunLayout(out).lock
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreError(f"cannot lock {self.path.parent}: {e.strerror}; check the folder's permissions") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StoreError(f"{self.path.parent} is in use by {holder}; wait for it to finish or stop it") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} (started {time.strftime('%Y-%m-%d %H:%M:%S')})".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
