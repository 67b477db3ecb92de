"""Inter-process file locks (``filelock``) that give up with a one-line reason."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from riskml.errors import RiskmlError


@contextlib.contextmanager
def file_lock(path: str | Path, timeout: float, busy: str) -> Iterator[Path]:
    """Hold the file lock ``path`` for the block; wait up to ``timeout`` seconds for it.

    When another process still holds it after that, raise :class:`RiskmlError` with ``busy``
    (one line: what is locked and what to do). The lock file stays; it is reused, not a sign
    of a lock held.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise RiskmlError(busy) from None
    try:
        yield Path(path)
    finally:
        lock.release()
