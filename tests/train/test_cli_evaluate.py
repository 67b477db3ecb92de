"""`riskml evaluate`: the venv's console script in a subprocess, a real MLflow SQLite store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import VENV_BIN, venv_env
from tracking_tables import write_kamei_csv

# the real CLI in subprocesses, end to end
pytestmark = pytest.mark.slow


SHORT_WINDOW = "[label]\nwindow_days = 30\n\n[train]\ngap_days = 14\n"
HEADER = "fold    model            n   pos   roc_auc    pr_auc   capt@10      popt"
TABLE_KEYS = ("roc_auc", "pr_auc", "capture_at_10", "popt")


def riskml(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The venv's own ``riskml`` (PATH: the venv, then the system), output as text."""
    return subprocess.run(
        [str(VENV_BIN / "riskml"), *args],
        cwd=cwd, env=venv_env(), capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    """A generated repository of 1,200 commits mined and labelled into data/synth/."""
    from riskml.config import data_paths, load_config
    from riskml.label import label, load_incidents, write_report
    from riskml.label.report import report_path
    from riskml.mine import mine
    from riskml.synth import generate

    root = tmp_path_factory.mktemp("evaluate")
    synth = generate(root / "synth", commits=1200, seed=11)
    (root / "riskml.toml").write_text(SHORT_WINDOW)
    config = load_config(root / "riskml.toml")
    paths = data_paths("synth", root / "data")
    paths.root.mkdir(parents=True)
    changes = mine(synth.repo, out=paths.changes, repo_name="synth")
    incidents, _ = load_incidents(synth.incidents, synth.repo)
    labelled = label(synth.repo, changes, incidents, config=config)
    labelled.labels.to_parquet(paths.labels, index=False)
    write_report(labelled.report, report_path(paths.labels))
    return root


def _cells(m: dict) -> list[str]:
    return [f"{m[k]:.4f}" for k in TABLE_KEYS]


@pytest.mark.slow
def test_evaluate_end_to_end(mined, mlflow_uri) -> None:
    from mlflow import MlflowClient

    done = riskml(
        "evaluate", "--repo-name", "synth", "--data-dir", "data", "--config", "riskml.toml",
        "--folds", "3", "--bootstrap", "100", "--out-dir", "out", "--json", "rolling-copy.json",
        cwd=mined,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((mined / "out" / "rolling.json").read_text())
    assert json.loads((mined / "rolling-copy.json").read_text()) == summary
    assert summary["settings"] == {
        "folds": 3,
        "fold_fraction": 0.1,
        "label_mode": "incidents",
        "bootstrap": 100,
        "seed": 0,
    }

    lines = done.stdout.splitlines()
    assert lines[0] == HEADER
    rows = [line.split() for line in lines[1:16]]
    expected = []
    for fold in summary["folds"]:
        for model in ("riskml", "lapredict", "kamei_lr"):
            m = fold["metrics"][model]
            expected.append(
                [str(fold["fold"]), model, str(m["n"]), str(m["positives"])] + _cells(m)
            )
    for part in ("mean", "pooled"):
        for model in ("riskml", "lapredict", "kamei_lr"):
            pooled = summary["pooled"][model]
            counts = [str(pooled["n"]), str(pooled["positives"])]
            expected.append([part, model, *counts, *_cells(summary[part][model])])
    assert rows == expected
    interval = summary["intervals"]["pooled"]["roc_auc:riskml-kamei_lr"]
    assert (
        f"pooled roc_auc:riskml-kamei_lr: {interval['diff']:+.4f} [{interval['low']:+.4f}, "
        f"{interval['high']:+.4f}] (95 %, paired bootstrap)"
    ) in lines

    run_line = next(line for line in lines if line.startswith("MLflow: run "))
    run_id = run_line.split()[2]
    assert run_line.startswith(f"MLflow: run {run_id} with 3 fold runs (experiment ")
    charts = ["roc_auc", "pr_auc", "capture_at_10", "recall_at_20_effort", "popt"]
    assert lines[-7:] == ["wrote rolling-copy.json", "wrote out/rolling.json"] + [
        f"wrote out/plots/rolling_{m}.png" for m in charts
    ]
    for m in charts:
        assert (mined / "out" / "plots" / f"rolling_{m}.png").read_bytes()[:4] == b"\x89PNG"
    # progress on stderr, one line per fold
    assert [line for line in done.stderr.splitlines() if line.startswith("fold ")] == [
        f"fold {f['fold']}/3: test from {f['cutoff']}" for f in summary["folds"]
    ]

    client = MlflowClient(tracking_uri=mlflow_uri)
    run = client.get_run(run_id)
    assert run.data.tags["repo"] == "synth"
    assert run.data.tags["label_mode"] == "incidents"
    assert run.data.metrics["rolling.mean.riskml.roc_auc"] == summary["mean"]["riskml"]["roc_auc"]
    children = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
    )
    assert sorted(c.info.run_name for c in children) == ["fold 1/3", "fold 2/3", "fold 3/3"]
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert plots == {f"plots/rolling_{m}.png" for m in charts}


# ---------------------------------------------------------------- bad input: one line, exit 2


@pytest.fixture(scope="module")
def public(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("evaluate_errors")
    (root / "bad.toml").write_text("[evaluate]\nbootstrap = -1\n")
    return {
        "root": root,
        "table": write_kamei_csv(root / "jit.csv", n=400, seed=2),
        "tiny": write_kamei_csv(root / "tiny.csv", n=30, seed=2),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--repo-name", "nope", "--data-dir", "data"),
            "table not found: data/nope/changes.parquet (run `riskml mine` first)",
        ),
        ((), "give --dataset, or --changes (and --labels), or --repo"),
        (
            ("--dataset", "jit.csv", "--changes", "jit.csv"),
            "give either --dataset or --changes/--labels, not both",
        ),
        (
            ("--dataset", "jit.csv", "--folds", "0"),
            "--folds 0: [evaluate] folds: must be >= 1, got 0",
        ),
        (
            ("--dataset", "jit.csv", "--fold-fraction", "0.3"),
            "--fold-fraction 0.3: [evaluate] folds × fold_fraction: must be below 1 (the first "
            "fold trains on the rest), got 5 × 0.3 = 1.5",
        ),
        (
            ("--dataset", "jit.csv", "--bootstrap", "-5"),
            "--bootstrap -5: [evaluate] bootstrap: must be >= 0, got -5",
        ),
        (
            ("--dataset", "jit.csv", "--config", "bad.toml"),
            "bad.toml: [evaluate] bootstrap: must be >= 0, got -1",
        ),
        (
            ("--dataset", "tiny.csv", "--no-mlflow"),
            "only 30 changes with a known label: too few for 5 folds",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(public, args, message) -> None:
    done = riskml("evaluate", *args, cwd=public["root"])
    assert done.returncode == 2
    assert done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if line.startswith("riskml: ")]
    assert errors == [f"riskml: error: {message}"]
    assert done.stderr.endswith(f"riskml: error: {message}\n")
    assert "Traceback" not in done.stderr
