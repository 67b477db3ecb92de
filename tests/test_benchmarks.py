"""The benchmark scripts keep working: each run with tiny settings on the scoring world.

Only that they run and print what they measure; the figures themselves are machine-bound
(docs/scoring.md records them with the command that measured them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_score import World, build_world

# end to end: real servers over a mined, labelled and trained world
pytestmark = pytest.mark.slow

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def world(tmp_path_factory, mlflow_uri) -> World:
    return build_world(tmp_path_factory, mlflow_uri)


def test_serve_concurrency_prints_both_servers_with_1_and_n_clients(world, mlflow_uri):
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "serve_concurrency.py"), "--keep", str(world.root),
         "--reuse", "--tracking-uri", mlflow_uri, "--clients", "3", "--seconds", "0.5",
         "--bodies", "16"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == f"world: reused {world.root}"
    rows = [line.split() for line in lines if line.startswith(("one process", "serve --"))]
    # server, clients, then requests, req/s, p50, p95, p99, answers that were not 200
    assert [(" ".join(row[:-7]), row[-7], row[-1]) for row in rows] == [
        ("one process", "1", "0"),
        ("one process", "3", "0"),
        ("serve --workers 2", "1", "0"),
        ("serve --workers 2", "3", "0"),
    ]
    assert all(int(row[-6]) > 0 for row in rows)
    assert lines[-1].startswith("3 clients: --workers 2 at ")
