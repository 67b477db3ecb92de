"""Processes: stopping on a signal, who a process is, and worker processes that die with it.

- :func:`stop_on_signals` turns SIGTERM (and SIGINT) into :class:`Interrupted`, an exception,
  so a stopped command unwinds like Ctrl-C: ``with`` blocks close (an MLflow run is ended as
  KILLED, temporary files are removed) before the CLI prints one line and exits 128 + signal.
- :func:`identity` and :func:`is_running` name a process by host, pid and start time, so a
  record it left (an MLflow run still RUNNING after a SIGKILL, which nothing can catch) can be
  told apart from the work of a live process, even when the pid has been reused since.
- :func:`parallel` is joblib's loky ``Parallel`` whose workers exit when the process that
  started them dies, SIGKILL included: on Linux the kernel sends them SIGKILL
  (``prctl(PR_SET_PDEATHSIG)``); elsewhere, and as a fallback, a thread in each worker
  watches its parent's pid.
- :func:`hold` is the one test hook: it parks the process at a named point so a test can
  signal it there (``RISKML_TEST_HOLD``; nothing happens without that variable).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# the tags that name the process that created an MLflow run (riskml.train.tracking)
HOST_TAG, PID_TAG, START_TAG = "riskml.host", "riskml.pid", "riskml.pid_start"
# how often a worker without PR_SET_PDEATHSIG looks at its parent's pid
WATCH_SECONDS = 1.0
# the test hook's variable: "<point>:<marker file>"; its longest wait
HOLD_ENV = "RISKML_TEST_HOLD"
HOLD_SECONDS = 300.0


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal (SIGINT or SIGTERM). A :class:`KeyboardInterrupt`,
    so everything that cleans up after Ctrl-C (``with`` blocks, joblib's worker shutdown)
    does so after SIGTERM too; ``exit_code`` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def name(self) -> str:
        """``SIGINT`` or ``SIGTERM``."""
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """For the block, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread; the
    previous handlers come back afterwards. Outside the main thread (a test runner's thread)
    nothing changes: only the main thread may set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --------------------------------------------------------------------------- identity


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return text.rpartition(")")[2].split()


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as text that a later process with the same pid cannot
    share (Linux: the boot's id and the start time in clock ticks since boot); None when the
    process does not exist, is a zombie, or the system has no ``/proc``."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return f"{_boot_id()}:{fields[19]}"


def identity() -> dict[str, str]:
    """This process as ``{HOST_TAG, PID_TAG, START_TAG}`` (the start empty without /proc)."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), START_TAG: process_start(pid) or ""}


def is_running(host: str | None, pid: str | int | None, start: str | None) -> bool | None:
    """Is the process named by ``host``, ``pid`` and ``start`` (:func:`identity`) still
    running? None when this machine cannot tell (another host, no pid recorded). A pid that
    now belongs to a process with another start time counts as gone."""
    if not host or host != socket.gethostname():
        return None
    try:
        number = int(pid)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if start and Path("/proc").is_dir():
        return process_start(number) == start
    try:
        os.kill(number, 0)  # no /proc: whether the pid exists at all
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- workers


def _die_with(parent: int) -> None:
    """In a worker: exit when ``parent`` does (loky's initializer, see :func:`parallel`)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="riskml-parent-watch", daemon=True).start()


def parallel(workers: int, **kwargs: Any):
    """``joblib.Parallel(n_jobs=workers, backend="loky", **kwargs)`` whose worker processes
    exit when this process dies, however it dies (:func:`_die_with` runs first in each)."""
    from joblib import Parallel

    return Parallel(
        n_jobs=workers,
        backend="loky",
        initializer=_die_with,
        initargs=(os.getpid(),),
        **kwargs,
    )


# --------------------------------------------------------------------------- test hook


def hold(point: str) -> None:
    """The test hook: with ``RISKML_TEST_HOLD=<point>:<file>`` set, reaching ``point`` writes
    this process's pid to ``file`` and waits there (up to :data:`HOLD_SECONDS`) for the test
    to signal it. Points: ``train.run`` (inside a training's MLflow run, before the gate),
    ``gate.alias`` (a version registered, its alias not moved yet), ``fleet.task`` (a fleet's
    task in its Dask worker, before it mines). Without the variable,
    or at another point, it returns at once."""
    spec = os.environ.get(HOLD_ENV, "")
    name, _, marker = spec.partition(":")
    if not spec or name != point or not marker:
        return
    tmp = Path(f"{marker}.tmp")
    tmp.write_text(str(os.getpid()))
    os.replace(tmp, marker)  # whole when the test sees it
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
