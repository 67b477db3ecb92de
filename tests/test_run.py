"""`riskml run` end to end through the real CLI on a small generated repository.

The first run mines, labels, trains, registers, logs trends and scores the last 3 commits;
after one more commit the second run mines only that commit and reuses the SZZ cache.
`riskml trends` and `pipelines/retrain.py` then run on the outputs left behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from gitrepo import git

# end to end: the whole pipeline through the real CLI
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
MODEL = "run-test"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "riskml", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def cache_files(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mlflow_uri):
    from riskml.synth import generate

    work = tmp_path_factory.mktemp("run")
    # 800 commits: about 14 months, enough for the default 90-day window, gap and split.
    sample = generate(work / "sample", commits=800, seed=7)
    repo = work / "small"
    subprocess.run(["git", "clone", "-q", str(sample.repo), str(repo)], check=True)
    config = work / "riskml.toml"
    config.write_text(f'[train]\nmodel_name = "{MODEL}"\n')
    incidents = work / "incidents.csv"  # the sample's, plus one record naming no known commit
    incidents.write_text(
        sample.incidents.read_text() + "INC-BAD,2021-02-01T00:00:00Z,SEV2,deadbeef,,bad,x\n"
    )
    args = ("run", "--repo", str(repo), "--incidents", str(incidents))
    args += ("--pending", "3", "--config", str(config), "--quiet")
    base1 = git(repo, "rev-parse", "HEAD~3")
    head1 = git(repo, "rev-parse", "HEAD")
    pending1 = git(repo, "rev-list", "--reverse", "--no-merges", "HEAD~3..HEAD").split()
    first = run_cli(*args, "--json", str(work / "pending1.json"), cwd=work)
    assert first.returncode == 0, first.stderr[-3000:]
    changes1 = pd.read_parquet(work / "data" / "small" / "changes.parquet")
    cache1 = cache_files(work / "data" / "small" / "szz-cache")
    # One more commit: the next run's base (HEAD~3) moves forward by exactly one commit.
    (repo / "NEWS.md").write_text("one more change\n")
    git(repo, "add", "NEWS.md")
    git(repo, "commit", "-q", "-m", "docs: news")
    second = run_cli(*args, "--json", str(work / "pending2.json"), cwd=work)
    assert second.returncode == 0, second.stderr[-3000:]
    return {
        "work": work,
        "repo": repo,
        "config": config,
        "first": first,
        "second": second,
        "changes1": changes1,
        "cache1": cache1,
        "base1": base1,
        "pending1": pending1,
        "head1": head1,
    }


def test_first_run_summary_and_outputs(runs):
    work, changes = runs["work"], runs["changes1"]
    out = runs["first"].stdout
    n = len(changes)
    assert f"  mine     {n} changes ({n} new)" in out
    assert f"model    {MODEL} v1 -> champion" in out
    assert "; 1 bad incident record(s) skipped (see warnings)" in out
    warning = [line for line in runs["first"].stderr.splitlines() if "deadbeef" in line]
    assert len(warning) == 1 and warning[0].startswith("riskml: warning: ")
    n_pending = len(runs["pending1"])
    assert (
        f"pending  {n_pending} commit(s): HEAD~3..HEAD (the last 3 first-parent commits and what they merged)"
        in out
    )
    assert "mlflow ui --backend-store-uri sqlite:///" in out
    data = work / "data" / "small"
    for name in ("changes.state.joblib", "labels.parquet", "labels.report.json"):
        assert (data / name).is_file(), name
    assert (data / "trends" / "table" / "trends.csv").is_file()
    assert (work / "models" / MODEL).is_dir()
    # The pending changes were not trained on: the history stops at HEAD~3.
    mined = set(changes["commit"])
    assert runs["base1"] in mined and not mined & set(runs["pending1"])
    scored = json.loads((work / "pending1.json").read_text())
    ids = [c["id"] for c in scored["changes"]]
    assert ids == [f"{runs['base1']}..{runs['head1']}", *runs["pending1"]]
    assert scored["model"]["name"] == MODEL and scored["model"]["version"] == "1"


def test_second_run_is_incremental(runs):
    work, n = runs["work"], len(runs["changes1"])
    out = runs["second"].stdout
    assert f"  mine     {n + 1} changes (1 new)" in out
    changes = pd.read_parquet(work / "data" / "small" / "changes.parquet")
    assert changes["commit"].tolist()[:n] == runs["changes1"]["commit"].tolist()
    # Every SZZ result of the first run is still there, untouched: the cache was reused.
    cache2 = cache_files(work / "data" / "small" / "szz-cache")
    assert runs["cache1"] and all(cache2.get(k) == v for k, v in runs["cache1"].items())
    # metrics.json beside the tables describes the latest version and the gate's decision.
    metrics = json.loads((work / "data" / "small" / "metrics.json").read_text())
    assert set(metrics) >= {"riskml", "lapredict", "kamei_lr", "split", "registry"}
    alias = metrics["registry"]["alias"]
    assert metrics["registry"]["version"] == "2" and alias in ("champion", "challenger")
    assert f"model    {MODEL} v2 -> {alias}: {metrics['registry']['reason']}" in out


def test_trends_of_the_run_read_back_from_mlflow(runs, mlflow_uri):
    from mlflow.tracking import MlflowClient

    work = runs["work"]
    table = pd.read_csv(work / "data" / "small" / "trends" / "table" / "trends.csv")
    client = MlflowClient(tracking_uri=mlflow_uri)
    exp = client.get_experiment_by_name("riskml-trends")
    latest = client.search_runs(
        [exp.experiment_id],
        filter_string="tags.`riskml.repo` = 'small'",
        order_by=["attributes.start_time DESC"],
    )[0]
    for key in ("changes", "mean_risk", "tier.critical.share", "incidents_linked"):
        history = sorted(client.get_metric_history(latest.info.run_id, key), key=lambda m: m.step)
        expected = table.dropna(subset=[key])
        assert [m.step for m in history] == expected["step"].tolist(), key
        assert [m.timestamp for m in history] == expected["timestamp"].tolist(), key
        assert [m.value for m in history] == pytest.approx(expected[key].tolist(), rel=1e-12)
    assert table["changes"].sum() == len(runs["changes1"]) + 1


def test_both_experiments_open_in_mlflow_s_training_view_with_a_description(runs, mlflow_uri):
    from mlflow.tracking import MlflowClient

    from riskml.train.tracking import TRAINING_DESCRIPTION
    from riskml.trends import EXPERIMENT_DESCRIPTION

    client = MlflowClient(tracking_uri=mlflow_uri)
    for name, description in (
        ("riskml", TRAINING_DESCRIPTION),
        ("riskml-trends", EXPERIMENT_DESCRIPTION),
    ):
        tags = client.get_experiment_by_name(name).tags
        assert tags["mlflow.experimentKind"] == "custom_model_development", name
        assert tags["mlflow.note.content"] == description, name


def test_trends_cli_with_a_local_model(runs, cli):
    work = runs["work"]
    proc = cli(
        "trends",
        "--repo-name",
        "small",
        "--model",
        str(work / "models" / MODEL),
        "--period",
        "M",
        "--out",
        str(work / "monthly"),
        cwd=work,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_parquet(work / "monthly" / "table" / "trends.parquet")
    assert proc.stdout.splitlines()[0].startswith(
        f"trends: {len(runs['changes1']) + 1} changes, {len(table)} periods"
    )
    assert all(len(p) == 7 for p in table["period"])  # 2021-01
    # the manager's summary, then the run's link in MLflow's training view
    lines = proc.stdout.splitlines()
    assert lines[3].startswith("riskml trends: small, ") and lines[4].startswith("Risk now: mean ")
    assert max(len(line) for line in lines[3 : lines.index("", 3)]) <= 80
    assert lines[-1].startswith("the run: http://127.0.0.1:5000/#/experiments/")
    assert lines[-1].endswith("?workflowType=machine_learning")


def test_budget_cli_on_the_run_s_tables(runs, cli):
    from riskml.jsonvalue import plain
    from riskml.trends import scored_history
    from riskml.trends.budget import budget_text, review_budget

    work = runs["work"]
    model = str(work / "models" / MODEL)
    data = work / "data" / "small"
    proc = cli(
        "budget", "--repo-name", "small", "--model", model, "--weeks", "8", "--json", cwd=work
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    history = scored_history(
        data / "changes.parquet", data / "labels.parquet", model=model, repo_name="small"
    )
    expected = json.loads(json.dumps(plain(review_budget(history.scored, window_days=90, weeks=8))))
    assert {k: v for k, v in out.items() if k not in ("repo", "model")} == expected
    assert (out["repo"], out["model"]["name"], out["weeks"]) == ("small", MODEL, 8)
    assert [g["tier"] for g in out["gates"]] == ["low", "medium", "high", "critical"]
    text = cli("budget", "--repo-name", "small", "--model", model, cwd=work)
    assert text.returncode == 0, text.stderr[-3000:]
    quarter = review_budget(history.scored, window_days=90)
    assert text.stdout.startswith(budget_text(quarter, "small") + "\nmodel: ")


def test_run_bad_input_is_one_line(cli, tmp_path):
    proc = cli("run", "--repo", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"riskml: error: not a git repository: {tmp_path}"


def test_retrain_pipeline_exit_codes(runs, tmp_path):
    script = ROOT / "pipelines" / "retrain.py"
    work = runs["work"]

    def retrain(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(script), *args, "--quiet"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
        )

    bad = retrain("--repo", str(tmp_path / "nope"))
    assert bad.returncode == 2
    assert json.loads(bad.stdout.splitlines()[-1])["status"] == "bad_input"
    # A model name with no champion yet: the first version takes it.
    fresh = tmp_path / "fresh.toml"
    fresh.write_text('[train]\nmodel_name = "retrain-first"\n')
    incidents = str(work / "incidents.csv")
    args = ("--repo", str(runs["repo"]), "--rev", "HEAD~3", "--incidents", incidents)
    first = retrain(*args, "--config", str(fresh))
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout.splitlines()[-1])
    assert (summary["status"], summary["model"]["alias"]) == ("promoted", "champion")
    assert (summary["model"]["name"], summary["model"]["version"]) == ("retrain-first", "1")
    assert summary["proxy_labels"] is False
    # A gate no new version can pass (must beat the champion by 1.0 ROC-AUC): challenger.
    strict = tmp_path / "strict.toml"
    strict.write_text(runs["config"].read_text() + "promotion_tolerance = -1.0\n")
    proc = retrain("--repo", str(runs["repo"]), "--rev", "HEAD~3", "--config", str(strict))
    assert proc.returncode == 10, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["status"] == "challenger"
    assert summary["new_changes"] == 0
    assert summary["proxy_labels"] is True  # no --incidents: bug-fix SZZ and reverts
    assert summary["model"]["alias"] == "challenger"


def _unreachable_store() -> tuple[dict[str, str], str]:
    """The environment of a process whose MLflow store nobody listens on, tried once (MLflow's
    default retries with back-off take minutes), and that store's URI."""
    import os
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": closed,
        "MLFLOW_REGISTRY_URI": closed,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    }
    return env, closed


def _assert_files_written_without_registry(root: Path) -> None:
    # the copied metrics.json had a "registry" section: it was rewritten before MLflow failed
    metrics = json.loads((root / "data" / "small" / "metrics.json").read_text())
    assert set(metrics) >= {"riskml", "lapredict", "kamei_lr", "split"}
    assert "registry" not in metrics
    assert (root / "models" / MODEL).is_dir()


def _against_unreachable_store(runs, tmp_path, command: list[str]):
    """``command`` (+ the runs' config, quiet) on a copy of the mined data, MLflow unreachable."""
    import shutil

    shutil.copytree(runs["work"] / "data", tmp_path / "data")
    env, closed = _unreachable_store()
    proc = subprocess.run(
        [*command, "--config", str(runs["config"]), "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return proc, closed


def test_run_with_an_unreachable_store_is_one_line_after_the_files(runs, tmp_path):
    proc, closed = _against_unreachable_store(
        runs, tmp_path,
        [sys.executable, "-m", "riskml", "run", "--repo", str(runs["repo"]), "--pending", "3"],
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("riskml: error: ")]
    assert errors == [proc.stderr.strip().splitlines()[-1]]
    assert errors[0].startswith(
        f"riskml: error: MLflow logging failed ({closed}): MlflowException: "
        f"API request to {closed}/api/2.0/mlflow/"
    )
    assert errors[0].endswith("; metrics.json and the local model copy were written")
    _assert_files_written_without_registry(tmp_path)


def test_retrain_pipeline_with_an_unreachable_store_is_a_failure_in_one_line(runs, tmp_path):
    script = ROOT / "pipelines" / "retrain.py"
    proc, closed = _against_unreachable_store(
        runs, tmp_path,
        [sys.executable, str(script), "--repo", str(runs["repo"]), "--rev", "HEAD~3"],
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("retrain: error: ")]
    assert errors == [proc.stderr.strip().splitlines()[-1]]
    assert errors[0].startswith(
        f"retrain: error: MLflow logging failed ({closed}): MlflowException: "
        f"API request to {closed}/api/2.0/mlflow/"
    )
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary == {"status": "failed", "error": errors[0].removeprefix("retrain: error: ")}
    _assert_files_written_without_registry(tmp_path)
