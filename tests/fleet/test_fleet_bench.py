"""benchmarks/fleet_bench.py runs end to end (--small): every row printed, tables identical."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# the benchmark starts two Dask clusters and a loop of CLI processes
pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "fleet_bench.py"


def test_the_fleet_benchmark_runs_small():
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--small"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("fleet: 3 repositories of 150 commits (450 in all, seeds 0..2,")
    assert [re.split(r"\s{2,}", line.strip())[0] for line in lines[2:6]] == [
        "riskml fleet, 2 workers",
        "riskml fleet, 1 worker",
        "loop: riskml mine + label (CLI)",
        "loop: mine_file + label_file (in process)",
    ]
    assert re.fullmatch(r"  riskml fleet, 1 worker\s+\d+\.\ds\s+\d+\.\ds\s+\d\.\d\d\s+\d+\s+1\.00x\s+\d+\.\d\dx\s+[\d.]+",
                        lines[3])  # fmt: skip
    assert re.fullmatch(
        r"2 workers vs 1: \d+\.\d\dx \(target >= 1\.7x: (met|not met)\); vs the CLI loop: "
        r"\d+\.\d\dx; tables identical to the CLI loop's: yes",
        lines[-1],
    )
