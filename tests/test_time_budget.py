"""Time budgets (riskml.budget): past the deadline the work stops and its git processes die.

A git that never finishes is made with a loose object that is a named pipe: git blocks opening
it, as it would on a stuck network file system, until the budget kills it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import gitrepo
import pytest
from gitrepo import git
from procs import git_children

from riskml import budget
from riskml.budget import Budget, BudgetExceeded, within
from riskml.gitio import run_git
from riskml.mine.extract import records_for


def test_without_a_budget_check_does_nothing_and_popen_is_plain():
    assert budget.current() is None
    budget.check()
    proc = budget.popen(["true"])
    assert proc.wait() == 0


def test_a_spent_budget_raises_naming_its_seconds_and_refuses_new_processes():
    spent = Budget(0.5)
    spent.expire()
    assert spent.remaining() == 0.0
    with within(spent):
        with pytest.raises(BudgetExceeded) as info:
            budget.check()
        assert str(info.value) == "stopped after its time budget of 0.5 s"
        with pytest.raises(BudgetExceeded):
            budget.popen(["true"])
    assert budget.current() is None  # the block's budget only


def test_the_deadline_alone_spends_it():
    short = Budget(0.01)
    time.sleep(0.05)
    with within(short), pytest.raises(BudgetExceeded):
        budget.check()


def test_expire_kills_the_processes_started_under_it():
    work = Budget(3600)
    with within(work):
        proc = budget.popen(["sleep", "600"])
    work.expire()
    assert proc.wait(timeout=10) == -9


def test_a_process_adopted_after_expiry_is_killed_at_once():
    work = Budget(3600)
    work.expire()
    proc = subprocess.Popen(["sleep", "600"])
    work.adopt(proc)
    assert proc.wait(timeout=10) == -9


@pytest.fixture
def stuck_repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository whose last commit adds a blob git blocks on reading: (repo, that commit,
    the blob). Its first commit reads normally."""
    repo = gitrepo.init(tmp_path / "r")
    gitrepo.commit(repo, "first", {"a.txt": "one\n"}, when=1_700_000_000)
    stuck = gitrepo.commit(repo, "second", {"b.txt": "two\n"}, when=1_700_000_100)
    blob = git(repo, "rev-parse", f"{stuck}:b.txt")
    loose = repo / ".git" / "objects" / blob[:2] / blob[2:]
    loose.unlink()
    os.mkfifo(loose)
    return repo, stuck, blob


def _run_under(seconds: float, work):
    """``work()`` in a thread under a budget, expired by a timer as the server does; the
    exception it ended with."""
    out: dict = {}
    spent = Budget(seconds)

    def target() -> None:
        with within(spent):
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - what the test inspects
                out["error"] = exc

    thread = threading.Thread(target=target)
    timer = threading.Timer(seconds, spent.expire)
    thread.start()
    timer.start()
    thread.join(timeout=60)
    timer.cancel()
    assert not thread.is_alive(), "the work did not stop"
    return out.get("error")


def test_a_git_call_that_never_ends_is_killed_and_raises(stuck_repo):
    repo, _, blob = stuck_repo
    error = _run_under(0.3, lambda: run_git(repo, "cat-file", "-p", blob))
    assert isinstance(error, BudgetExceeded)
    assert git_children(os.getpid()) == []


def test_reading_records_stops_when_git_is_killed(stuck_repo):
    repo, stuck, _ = stuck_repo
    first = git(repo, "rev-parse", f"{stuck}~1")
    assert [r["commit"] for r in records_for(repo, [first])] == [first]
    error = _run_under(0.3, lambda: records_for(repo, [first, stuck]))
    assert isinstance(error, BudgetExceeded)
    assert git_children(os.getpid()) == []


def test_the_server_answers_503_at_the_deadline_and_stops_the_work(stuck_repo):
    import anyio
    from fastapi import HTTPException

    from riskml.serve import within_budget

    repo, _, blob = stuck_repo
    ended: list[BaseException] = []

    def work() -> bytes:
        try:
            return run_git(repo, "cat-file", "-p", blob)
        except BaseException as exc:
            ended.append(exc)
            raise

    async def request():
        return await within_budget(0.3, work)

    with pytest.raises(HTTPException) as info:
        anyio.run(request)
    assert (info.value.status_code, info.value.detail) == (
        503,
        "scoring ran out of its time budget of 0.3 s ([serve] request_timeout_seconds) "
        "and was stopped",
    )
    deadline = time.monotonic() + 30  # the abandoned thread ends once its git is killed
    while not ended and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [type(e) for e in ended] == [BudgetExceeded]
    assert git_children(os.getpid()) == []


def test_work_within_its_budget_returns_its_result():
    import anyio

    from riskml.serve import within_budget

    async def request():
        return await within_budget(30, lambda: {"ok": budget.current() is not None})

    assert anyio.run(request) == {"ok": True}
