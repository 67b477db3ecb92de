"""benchmarks/real_history.py with ``--fleet``: riskml's risk from the fleet model of the listed
projects, the baselines each project's own, on the project's own folds (generated tables)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from riskml.synth import generate

# end to end: the real mine and label CLI, then the benchmark as a script
pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "real_history.py"


def write_project(data: Path, name: str, commits: int, seed: int) -> None:
    """A generated repository mined and labelled by the real CLI into ``data/<name>/``."""
    gen = generate(data.parent / "repos" / name, commits=commits, seed=seed)
    out = data / name
    mined = run_cli("mine", "--repo", str(gen.repo), "--out", str(out / "changes.parquet"),
                    "--no-progress")  # fmt: skip
    assert mined.returncode == 0, mined.stderr[-2000:]
    labelled = run_cli("label", "--repo", str(gen.repo), "--changes", str(out / "changes.parquet"),
                       "--incidents", str(gen.incidents), "--out", str(out / "labels.parquet"))  # fmt: skip
    assert labelled.returncode == 0, labelled.stderr[-2000:]


def run_bench(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH), "--data", str(data), "--project", "big", "--project",
         "small", "--period", "final", "--folds", "2", "--bootstrap", "50", "--json", str(out),
         *extra],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("real-history") / "DATA"
    write_project(data, "big", 1500, 0)
    write_project(data, "small", 700, 1)
    return data


def test_fleet_keeps_the_projects_own_baselines_and_rows(data, tmp_path):
    own = run_bench(data, tmp_path / "own.json")
    fleet = run_bench(data, tmp_path / "fleet.json", "--fleet")
    assert own.returncode == 0, own.stderr[-2000:]
    assert fleet.returncode == 0, fleet.stderr[-2000:]
    assert "== small (final, 700 changes; riskml: the fleet model of 2 projects)" in fleet.stdout
    a = json.loads((tmp_path / "own.json").read_text())
    b = json.loads((tmp_path / "fleet.json").read_text())
    assert (a["fleet"], b["fleet"]) == (False, True)
    for name in ("big", "small"):
        fa, fb = a["projects"][name]["variants"]["all"], b["projects"][name]["variants"]["all"]
        # the same folds and test rows, the same baselines: only riskml's risk changes
        assert [f["cutoff"] for f in fa["folds"]] == [f["cutoff"] for f in fb["folds"]]
        for base in ("lapredict", "kamei_lr"):
            assert fa["mean"][base] == fb["mean"][base]
        assert fa["mean"]["riskml"]["n"] == fb["mean"]["riskml"]["n"]
        assert fa["mean"]["riskml"]["roc_auc"] != fb["mean"]["riskml"]["roc_auc"]
        assert set(fb["intervals"]) == set(fa["intervals"])


def test_fleet_and_ablation_are_one_at_a_time(data, tmp_path):
    done = run_bench(data, tmp_path / "x.json", "--fleet", "--ablation")
    assert (done.returncode, done.stdout) == (2, "")
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("error: --fleet and --ablation: one at a time")
    )
