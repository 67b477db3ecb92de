"""`riskml mine` killed with SIGKILL (a real process) anywhere in a run: the changes table,
its tokens and its mining state are the old set or the new one, never a mix, and the next run
ends byte for byte where a run never killed ends."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli
from test_mine_history import _histories

from riskml import snapshot
from riskml.mine import load_state
from riskml.tables import read_changes, read_tokens

pytestmark = pytest.mark.slow

TABLE = "changes.parquet"


@pytest.fixture(scope="module")
def mined(synth_small, tmp_path_factory: pytest.TempPathFactory):
    """(repo, the first half of its history mined, the whole of it mined from there, seconds
    that second run took)."""
    from riskml.mine import mine

    repo = synth_small.repo
    root = tmp_path_factory.mktemp("kill")
    main_line = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--first-parent", "--reverse", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    half = root / "half"
    mine(repo, rev=main_line[len(main_line) // 2], out=half / TABLE)
    whole = root / "whole"
    shutil.copytree(half, whole)
    start = time.perf_counter()
    done = run_cli("mine", "--repo", str(repo), "--out", str(whole / TABLE), "--no-progress")
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return repo, half, whole, seconds


def _the_set(directory: Path):
    """The table's bytes, its tokens and its state, after checking they are one set: the
    companions of exactly these bytes, one tokens row and one state row per table row."""
    out = directory / TABLE
    snap = snapshot.read(out)
    assert snap.companions is not None, "a table without its companions"
    table = read_changes(out)
    tokens = read_tokens(snap.companion("tokens.parquet"))
    state = load_state(snap.companions)
    assert tokens["commit"].tolist() == table["commit"].tolist()
    assert state.n_rows == len(table) and state.last_commit == table["commit"].iloc[-1]
    assert snap.meta["rows"] == len(table)
    return snap.data, snap.companion("tokens.parquet").read_bytes(), _histories(state)


def _left_behind(directory: Path) -> list[str]:
    """Temporary files and directories, and companions of other versions of the table."""
    stray = [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]
    versions = sorted(p.name for p in snapshot.state_dir(directory / TABLE).iterdir())
    return stray + (versions if len(versions) != 1 else [])


def _mine(repo: Path, directory: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "riskml", "mine", "--repo", str(repo), "--out",
         str(directory / TABLE), "--no-progress"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _rerun_ends_as_the_clean_run(repo: Path, work: Path, whole: Path) -> None:
    done = run_cli("mine", "--repo", str(repo), "--out", str(work / TABLE), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert _the_set(work) == _the_set(whole)  # table and tokens byte for byte, the same state
    assert _left_behind(work) == []


@pytest.mark.parametrize("point", snapshot.KILL_POINTS)
def test_killed_at_each_step_of_the_commit(mined, tmp_path: Path, point):
    """Killed after writing the new table to its temporary file, after filling the new
    companions, after renaming them into place, and after renaming the table (before the
    clean-up): up to the table's rename readers see the old set, from it the new one."""
    repo, half, whole, _ = mined
    work = tmp_path / "work"
    shutil.copytree(half, work)
    proc = _mine(repo, work, **{snapshot.KILL_ENV: point})
    assert proc.wait(timeout=600) == -signal.SIGKILL, proc.stderr.read()
    expected = whole if point == "table-renamed" else half
    assert _the_set(work) == _the_set(expected)
    _rerun_ends_as_the_clean_run(repo, work, whole)


def test_killed_after_random_delays(mined, tmp_path: Path):
    """Killed at moments spread over a whole run (start-up, mining, writing): each time the
    old set or the new one, and the rerun ends as the clean run does."""
    repo, half, whole, seconds = mined
    old, new = _the_set(half), _the_set(whole)
    draws = random.Random(12).sample(range(5, 100), 6)  # percent of a clean run's time
    seen = []
    for percent in sorted(draws):
        work = tmp_path / f"work{percent}"
        shutil.copytree(half, work)
        proc = _mine(repo, work)
        time.sleep(seconds * percent / 100)
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=600)
        found = _the_set(work)
        assert found in (old, new), f"killed at {percent} %: neither the old set nor the new"
        seen.append((percent, code, "new" if found == new else "old"))
        _rerun_ends_as_the_clean_run(repo, work, whole)
    assert len(seen) == len(draws)
