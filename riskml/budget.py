"""Time budgets: a deadline for one piece of work, and the child processes started under it.

`riskml serve` gives each scoring request ``[serve] request_timeout_seconds``. The request's
work runs in a worker thread :func:`within` a :class:`Budget`; every git process riskml starts
goes through :func:`popen`, which registers it with the budget of the work that started it, and
the loops of reading and scoring call :func:`check` between commits and batches. When the
budget runs out, :meth:`Budget.expire` (called by the server at the deadline, or by the first
check past it) kills those processes, and the next check raises :class:`BudgetExceeded`: the
work stops instead of running on after the request was answered.

Without a budget (the CLI, ``mine``, ``label``), :func:`check` does nothing and :func:`popen` is
:class:`subprocess.Popen`.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar


class BudgetExceeded(Exception):
    """The work ran past its time budget and was stopped.

    Not a :class:`riskml.errors.RiskmlError`: nothing that handles a user's mistake (or retries
    after a git failure) may catch it; it ends the work it interrupts.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"stopped after its time budget of {seconds:g} s")


class Budget:
    """``seconds`` from now: :meth:`check` raises past it; :meth:`expire` kills what it started.

    Safe to share between the thread doing the work and the one enforcing the deadline.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.deadline = time.monotonic() + self.seconds
        self._expired = False
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen] = set()

    def remaining(self) -> float:
        """Seconds left (0 once spent)."""
        return 0.0 if self._expired else max(0.0, self.deadline - time.monotonic())

    @property
    def spent(self) -> bool:
        return self._expired or time.monotonic() >= self.deadline

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` once the budget is spent (killing what it started)."""
        if self.spent:
            self.expire()
            raise BudgetExceeded(self.seconds)

    def expire(self) -> None:
        """Spend the budget now: kill every process started under it that still runs."""
        with self._lock:
            self._expired = True
            processes, self._processes = list(self._processes), set()
        for proc in processes:
            with contextlib.suppress(OSError):
                proc.kill()  # a no-op for a process that already ended

    def adopt(self, proc: subprocess.Popen) -> None:
        """Register ``proc`` to be killed when the budget runs out (at once if it has)."""
        with self._lock:
            if not self._expired:
                # forget those that ended (waited for), so a long request's set stays small
                self._processes = {p for p in self._processes if p.returncode is None}
                self._processes.add(proc)
                return
        with contextlib.suppress(OSError):
            proc.kill()


_CURRENT: ContextVar[Budget | None] = ContextVar("riskml_budget", default=None)


@contextlib.contextmanager
def within(budget: Budget | None) -> Iterator[Budget | None]:
    """Run the block under ``budget`` (None: no budget), in this thread's context."""
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def current() -> Budget | None:
    """The budget the running work is under, or None."""
    return _CURRENT.get()


def check() -> None:
    """Raise :class:`BudgetExceeded` if the running work's budget is spent; else nothing."""
    budget = _CURRENT.get()
    if budget is not None:
        budget.check()


def popen(args: list[str], **kwargs) -> subprocess.Popen:
    """:class:`subprocess.Popen`, killed when the running work's budget runs out; refused
    (:class:`BudgetExceeded`) once it has."""
    budget = _CURRENT.get()
    if budget is None:
        return subprocess.Popen(args, **kwargs)
    budget.check()
    proc = subprocess.Popen(args, **kwargs)
    budget.adopt(proc)
    return proc
