"""A stopped `riskml fleet`: SIGTERM is one line and exit 143, and no Dask worker outlives the
command, SIGKILL included. The tasks are parked in their workers with the test hook
(``RISKML_TEST_HOLD=fleet.task:<file>``), so the signal always finds them running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_processes import _descendants, _left_after

# real processes: the CLI, its LocalCluster's workers, signals
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def _held_fleet(tmp_path: Path, synth_small, signum: int):
    """Start `riskml fleet` on two repositories and 2 workers, send ``signum`` once a task is
    parked in a worker; return the descendants it had then, its exit code and stderr."""
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        "".join(f'[[repo]]\nname = "{n}"\npath = "{synth_small.repo}"\n' for n in ("a", "b")),
        encoding="utf-8",
    )
    marker = tmp_path / "held"
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskml", "fleet", "--fleet", str(fleet), "--data-dir",
         str(tmp_path / "data"), "--workers", "2", "--no-progress"],
        env={**os.environ, "RISKML_TEST_HOLD": f"fleet.task:{marker}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no task reached its worker"
            time.sleep(0.05)
        before = _descendants(proc.pid)
        assert int(marker.read_text()) in before  # the worker runs under the command
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return before, proc.returncode, err.decode()


def _staging(data: Path) -> list[str]:
    return sorted(p.name for p in data.iterdir() if p.name.startswith(".fleet.parquet."))


def test_a_fleet_stopped_by_sigterm_is_one_line_143_and_leaves_nothing(tmp_path, synth_small):
    before, code, stderr = _held_fleet(tmp_path, synth_small, signal.SIGTERM)
    assert (code, stderr) == (143, "riskml: interrupted (SIGTERM)\n")
    assert _left_after(before) == {}
    assert _staging(tmp_path / "data") == []
    assert not (tmp_path / "data" / "fleet.parquet").exists()


def test_no_fleet_worker_outlives_a_sigkill(tmp_path, synth_small):
    before, code, _ = _held_fleet(tmp_path, synth_small, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert len(before) >= 2
    assert _left_after(before) == {}
    # a SIGKILL runs no clean-up: the staging folder stays (docs/fleet.md), no dataset appears
    assert len(_staging(tmp_path / "data")) == 1
    assert not (tmp_path / "data" / "fleet.parquet").exists()
