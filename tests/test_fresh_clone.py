"""The README's main command from a fresh clone: `riskml demo` on a generated repository.

One demo run (module fixture) serves both tests: it must end with the scored pending changes
and how to open MLflow, register a `champion`, and log one trends point per week of history.
It runs with a PATH that holds git but neither `riskml` nor `mlflow` (the venv's interpreter is
called by its absolute path), as on a fresh machine where they exist only in the venv: a step
that shells out to a tool by name fails here instead of passing on a machine that has it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import SYSTEM_PATH

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    clone = tmp_path_factory.mktemp("fresh") / "riskml"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(clone)
    env["PATH"] = SYSTEM_PATH
    assert [shutil.which(tool, path=SYSTEM_PATH) for tool in ("riskml", "mlflow", "uvicorn")] == [
        None,
        None,
        None,
    ], "this machine has the tools outside the venv: the test would prove nothing"
    where = subprocess.run(
        [sys.executable, "-c", "import riskml; print(riskml.__file__)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "riskml", "demo"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return clone, proc, Path(where.stdout.strip())


def test_demo_runs_from_a_fresh_clone(demo_run):
    clone, proc, imported = demo_run
    assert imported.is_relative_to(clone), "the clone's own code must run, not the work tree"
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    repo = clone / "data" / "demo-source" / "repo"
    pending = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--no-merges", "HEAD~5..HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert (
        f"pending  {len(pending)} commit(s): HEAD~5..HEAD (the last 5 first-parent commits and what they merged)"
        in out
    )
    assert "mlflow ui --backend-store-uri sqlite:///mlflow.db" in out
    assert out.rstrip().splitlines()[-1].strip().startswith("open MLflow:")
    # The pending table: the branch as one change, then each of its commits.
    rows = [line for line in out.splitlines() if line.startswith("  ") and " reviewer" in line]
    assert sorted(row.split()[0] for row in rows[1:]) == sorted(sha[:10] for sha in pending)
    assert ".." in rows[0].split()[0]
    assert {line.split()[2] for line in rows} <= {"low", "medium", "high", "critical"}
    assert (clone / "data" / "demo" / "changes.parquet").is_file()
    assert (clone / "models" / "change-risk").is_dir()
    assert (clone / "mlflow.db").is_file()


def test_demo_registers_a_champion_and_one_trends_point_per_week(demo_run):
    from mlflow.tracking import MlflowClient

    clone, proc, _ = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = f"sqlite:///{clone / 'mlflow.db'}"
    # registry_uri too: the session's MLFLOW_REGISTRY_URI must not redirect the registry.
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    champion = client.get_model_version_by_alias("change-risk", "champion")
    assert str(champion.version) == "1"

    changes = pd.read_parquet(clone / "data" / "demo" / "changes.parquet")
    times = pd.to_datetime(changes["author_time"], utc=True).dt.tz_convert(None)
    weeks = pd.period_range(times.min().to_period("W"), times.max().to_period("W"), freq="W")
    experiment = client.get_experiment_by_name("riskml-trends")
    (run,) = client.search_runs([experiment.experiment_id])
    history = sorted(client.get_metric_history(run.info.run_id, "changes"), key=lambda m: m.step)
    assert [m.step for m in history] == list(range(len(weeks)))
    assert [m.timestamp for m in history] == [int(w.start_time.value // 1_000_000) for w in weeks]
    assert sum(m.value for m in history) == len(changes)
    assert run.data.tags["riskml.model.version"] == "1"
