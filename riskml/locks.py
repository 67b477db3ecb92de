"""Inter-process file locks (``filelock``) that give up with a one-line reason."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from riskml.errors import RiskmlError


def _check_creatable(path: Path) -> None:
    """Open (creating it when missing) the lock file once, without locking it, so a location
    where no lock can ever be taken (a read-only file system, a file where a folder should
    be, no permission, a full disk) fails now with its reason instead of being retried until
    the timeout, whatever filelock's version does with such an error."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RiskmlError(f"cannot create the lock file {path}: {reason}") from None
    os.close(fd)


@contextlib.contextmanager
def file_lock(path: str | Path, timeout: float, busy: str) -> Iterator[Path]:
    """Hold the file lock ``path`` for the block; wait up to ``timeout`` seconds for it.

    When another process still holds it after that, raise :class:`RiskmlError` with ``busy``
    (one line: what is locked and what to do). A lock file that cannot be created at all
    (read-only or full file system, a path under a file, no permission) is a
    :class:`RiskmlError` at once, naming the file and the reason. The lock file stays; it is
    reused, not a sign of a lock held.
    """
    from filelock import FileLock, Timeout

    path = Path(path)
    _check_creatable(path)
    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise RiskmlError(busy) from None
    except OSError as exc:  # not contention: retrying would never succeed
        reason = exc.strerror or type(exc).__name__
        raise RiskmlError(f"cannot take the lock {path}: {reason}") from None
    try:
        yield path
    finally:
        lock.release()
