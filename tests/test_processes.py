"""`riskml.processes`: stopping on a signal, naming a process, workers that die with their parent.

The worker tests start the real CLI (`riskml label --workers 2`, `riskml mine --workers 2`) on
a generated repository, kill it with SIGKILL while its loky workers exist, and check from
/proc that none of its descendants is left a few seconds later.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riskml.processes import (
    HOLD_ENV,
    HOST_TAG,
    PID_TAG,
    START_TAG,
    Interrupted,
    hold,
    identity,
    is_running,
    process_start,
    stop_on_signals,
)

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs /proc")


@linux_only
def test_a_process_is_named_by_host_pid_and_start_time() -> None:
    me = identity()
    assert me == {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        START_TAG: process_start(os.getpid()),
    }
    boot, _, ticks = me[START_TAG].partition(":")
    assert boot == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert ticks.isdigit()
    assert is_running(me[HOST_TAG], me[PID_TAG], me[START_TAG]) is True
    # the same pid with another start time: a later process that reused the pid
    assert is_running(me[HOST_TAG], me[PID_TAG], f"{boot}:0") is False
    # another machine, or no pid recorded: this one cannot tell
    assert is_running("elsewhere.invalid", me[PID_TAG], me[START_TAG]) is None
    assert is_running(me[HOST_TAG], None, me[START_TAG]) is None


@linux_only
def test_a_process_that_ended_or_is_a_zombie_is_not_running() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    start = process_start(child.pid)
    host = socket.gethostname()
    assert is_running(host, child.pid, start) is True
    child.kill()
    deadline = time.monotonic() + 10
    while process_start(child.pid) is not None and time.monotonic() < deadline:
        time.sleep(0.01)  # killed, not yet reaped: a zombie
    assert is_running(host, child.pid, start) is False
    child.wait()
    assert is_running(host, child.pid, start) is False
    assert process_start(child.pid) is None


def test_sigterm_inside_the_block_is_interrupted_and_the_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert isinstance(caught.value, KeyboardInterrupt)
    assert (caught.value.name, caught.value.exit_code) == ("SIGTERM", 143)
    assert signal.getsignal(signal.SIGTERM) is before
    assert Interrupted(signal.SIGINT).exit_code == 130


def test_hold_returns_at_once_unless_its_point_is_named(tmp_path, monkeypatch) -> None:
    marker = tmp_path / "held"
    hold("train.run")  # no variable
    monkeypatch.setenv(HOLD_ENV, f"gate.alias:{marker}")
    hold("train.run")  # another point
    assert not marker.exists()


# --------------------------------------------------------------------------- real processes


def _children() -> dict[int, list[int]]:
    """``{ppid: [pid, …]}`` of every process /proc shows."""
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        out.setdefault(int(fields[1]), []).append(int(entry.name))
    return out


def _descendants(pid: int) -> dict[int, str]:
    """Every living descendant of ``pid`` with its start time (so a reused pid is not it)."""
    children, found, todo = _children(), {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            start = process_start(child)
            if start is not None:
                found[child] = start
                todo.append(child)
    return found


def _python_workers(pid: int) -> int:
    """How many of ``pid``'s descendants are loky workers (python processes it started)."""
    count = 0
    for child in _descendants(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        count += b"loky" in cmdline
    return count


def _kill_with_workers_alive(
    command: list[str], cwd: Path, signum: int = signal.SIGKILL, workers: int = 2
) -> tuple[dict[int, str], int, str]:
    """Start ``command``, send it ``signum`` once ``workers`` loky workers are alive under it;
    return the descendants it had at that moment, its exit code and its stderr."""
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _python_workers(proc.pid) < workers:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no workers started"
            time.sleep(0.01)
        before = _descendants(proc.pid)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return before, proc.returncode, err.decode()


def _left_after(before: dict[int, str], seconds: float = 10.0) -> dict[int, str]:
    """The processes of ``before`` still running (same pid, same start) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        left = {pid: start for pid, start in before.items() if process_start(pid) == start}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    """A generated repository of 2,000 commits and its changes table."""
    from riskml.mine import mine
    from riskml.synth import generate

    root = tmp_path_factory.mktemp("workers")
    made = generate(root / "synth", commits=2000, seed=3)
    mine(made.repo, out=root / "changes.parquet")
    return made.repo, root / "changes.parquet"


def _label(repo: Path, changes: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "riskml", "label", "--repo", str(repo), "--changes", str(changes),
        "--workers", "2", "--cache-dir", str(out / "cache"), "--out", str(out / "labels.parquet"),
    ]  # fmt: skip


@linux_only
@pytest.mark.slow
def test_no_label_worker_outlives_a_sigkill(mined, tmp_path) -> None:
    before, code, _ = _kill_with_workers_alive(_label(*mined, tmp_path), tmp_path)
    assert code == -signal.SIGKILL
    assert len(before) >= 2
    assert _left_after(before) == {}


@linux_only
@pytest.mark.slow
def test_label_stopped_by_sigterm_is_one_line_143_and_no_worker_is_left(mined, tmp_path) -> None:
    before, code, stderr = _kill_with_workers_alive(
        _label(*mined, tmp_path), tmp_path, signal.SIGTERM
    )
    assert (code, stderr) == (143, "riskml: interrupted (SIGTERM)\n")
    assert len(before) >= 2
    assert _left_after(before) == {}
    assert not (tmp_path / "labels.parquet").exists()


@linux_only
@pytest.mark.slow
def test_no_mine_worker_outlives_a_sigkill(mined, tmp_path) -> None:
    repo, _ = mined
    before, code, _ = _kill_with_workers_alive(
        [sys.executable, "-m", "riskml", "mine", "--repo", str(repo), "--workers", "2",
         "--out", str(tmp_path / "changes.parquet")],
        tmp_path,
    )  # fmt: skip
    assert code == -signal.SIGKILL
    assert len(before) >= 2
    assert _left_after(before) == {}
