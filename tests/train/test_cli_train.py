"""`riskml train` end to end: the real CLI in a subprocess, a real MLflow SQLite store."""

from __future__ import annotations

import json
import subprocess

import pytest
from tracking_tables import write_kamei_csv

# end to end: the real CLI trains and registers on a real MLflow store
pytestmark = pytest.mark.slow

HEADER = "model          roc_auc      pr_auc       brier     capt@10  rec@20%eff        popt"


def _cell(value) -> str:
    return "nan" if value is None else f"{value:.3f}"


def test_train_on_a_public_table(cli, mlflow_uri, tmp_path) -> None:
    from mlflow import MlflowClient

    from riskml.train.model import TrainedModel

    data = write_kamei_csv(tmp_path / "jit.csv", n=1500, seed=5)
    out = tmp_path / "out"
    result = cli(
        "train",
        "--dataset",
        str(data),
        "--out-dir",
        str(out),
        "--model-name",
        "cli-public",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"riskml", "lapredict", "kamei_lr", "split", "labels", "registry"}
    registry = metrics["registry"]
    assert registry["name"] == "cli-public"
    assert registry["version"] == "1"
    assert registry["alias"] == "champion"
    assert registry["decision"] == "first"

    lines = result.stdout.splitlines()
    assert lines[0] == HEADER
    for line, model in zip(lines[1:4], ("riskml", "lapredict", "kamei_lr"), strict=True):
        m = metrics[model]
        keys = ("roc_auc", "pr_auc", "brier", "capture_at_10", "recall_at_20_effort", "popt")
        assert line == f"{model:<10}" + "".join(f"{_cell(m[k]):>12}" for k in keys)
    assert (
        f"registered cli-public v1 -> champion (run {registry['run_id']}): "
        "no champion for 'cli-public' yet: the first version takes it"
    ) in lines
    assert lines[-1] == f"wrote {out / 'metrics.json'} and {out / 'models' / 'cli-public'}"
    # [evaluate] in_train: the rolling evaluation's 5 folds, their means in one line
    rolling = metrics["rolling"]
    assert [f["fold"] for f in rolling["folds"]] == [1, 2, 3, 4, 5]
    means = ", ".join(
        f"{model} {_cell(rolling['mean'][model]['roc_auc'])}"
        for model in ("riskml", "lapredict", "kamei_lr")
    )
    assert f"rolling evaluation (5 folds): mean roc_auc {means}" in lines

    local = TrainedModel.load(out / "models" / "cli-public")
    assert local.info["version"] == "1"
    assert local.info["alias"] == "champion"
    assert local.info["run_id"] == registry["run_id"]
    assert local.metrics["roc_auc"] == metrics["riskml"]["roc_auc"]

    client = MlflowClient(tracking_uri=mlflow_uri)
    assert str(client.get_model_version_by_alias("cli-public", "champion").version) == "1"
    run = client.get_run(registry["run_id"])
    assert run.data.tags["repo"] == "jit"
    assert run.data.tags["label_mode"] == "public"
    assert run.data.metrics["kamei_lr.roc_auc"] == metrics["kamei_lr"]["roc_auc"]
    # artifacts live beside the store, not in the working directory
    assert not (tmp_path / "mlruns").exists()
    assert run.info.run_name == "jit (public)"
    riskml = metrics["riskml"]
    for key in ("roc_auc", "pr_auc", "capture_at_10"):
        assert riskml[f"{key}_ci_low"] <= riskml[key] <= riskml[f"{key}_ci_high"]
        assert run.data.metrics[f"riskml.{key}_ci_low"] == riskml[f"{key}_ci_low"]
    assert (
        f"riskml 95 % bootstrap intervals (test): roc_auc [{_cell(riskml['roc_auc_ci_low'])}, "
        f"{_cell(riskml['roc_auc_ci_high'])}]"
    ) in result.stdout

    # the same table and settings again: the gate says so and registers nothing
    again = cli(
        "train", "--dataset", str(data), "--out-dir", str(tmp_path / "again"),
        "--model-name", "cli-public", cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "again" / "metrics.json").read_text())["registry"]
    assert second["decision"] == "identical" and second["version"] == "1"
    assert f"not registered: {second['reason']} (run {second['run_id']})" in again.stdout
    assert second["reason"].startswith("identical to champion v1: the same data (fingerprint ")
    versions = client.search_model_versions("name = 'cli-public'")
    assert [str(v.version) for v in versions] == ["1"]


SHORT_WINDOW = "[label]\nwindow_days = 30\n\n[train]\ngap_days = 14\n"


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    """A generated repository of 1,200 commits (~18 months), mined and labelled with its
    incidents file under a 30-day label window (the config the CLI is given too)."""
    from riskml.config import load_config
    from riskml.label import label, load_incidents, write_report
    from riskml.label.report import report_path
    from riskml.mine import mine
    from riskml.synth import generate

    out = tmp_path_factory.mktemp("mined")
    synth = generate(out / "synth", commits=1200, seed=11)
    (out / "riskml.toml").write_text(SHORT_WINDOW)
    config = load_config(out / "riskml.toml")
    changes = mine(synth.repo, out=out / "changes.parquet", repo_name="synth")
    incidents, _ = load_incidents(synth.incidents, synth.repo)
    labelled = label(synth.repo, changes, incidents, config=config)
    labelled.labels.to_parquet(out / "labels.parquet", index=False)
    write_report(labelled.report, report_path(out / "labels.parquet"))
    return {"dir": out, "repo": synth.repo}


def test_train_on_mined_changes_and_labels(cli, mlflow_uri, mined, tmp_path) -> None:
    from mlflow import MlflowClient

    out = tmp_path / "out"
    result = cli(
        "train",
        "--changes", str(mined["dir"] / "changes.parquet"),
        "--labels", str(mined["dir"] / "labels.parquet"),
        "--repo", str(mined["repo"]),
        "--config", str(mined["dir"] / "riskml.toml"),
        "--out-dir", str(out),
        "--model-name", "cli-mined",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["labels"]["mode"] == "incidents"
    assert metrics["registry"]["version"] == "1"
    head = subprocess.run(
        ["git", "-C", str(mined["repo"]), "rev-parse", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    run = MlflowClient(tracking_uri=mlflow_uri).get_run(metrics["registry"]["run_id"])
    assert run.data.tags["head_sha"] == head
    assert run.data.tags["repo"] == mined["repo"].name
    assert run.data.tags["label_mode"] == "incidents"
    assert run.data.tags["data_cutoff"] == metrics["split"]["cutoff"]
    assert run.data.params["label.window_days"] == "30"
    assert run.data.params["train.gap_days"] == "14"
    assert metrics["split"]["gap_days"] == 14
    assert float(run.data.params["split.n_test"]) == metrics["split"]["n_test"]
    assert run.info.run_name == f"{mined['repo'].name} @ {head[:10]} (incidents)"
    contexts = sorted(
        {t.key: t.value for t in i.tags}["mlflow.data.context"] for i in run.inputs.dataset_inputs
    )
    assert contexts == ["evaluation", "training"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "riskml: error: give --dataset, or --changes (and --labels), or --repo"),
        (("--dataset", "missing.csv"), "riskml: error: dataset file not found: missing.csv"),
        (
            ("--dataset", "a.csv", "--changes", "b.parquet"),
            "riskml: error: give either --dataset or --changes/--labels, not both",
        ),
        (
            ("--changes", "missing.parquet"),
            "riskml: error: changes table not found: missing.parquet",
        ),
        (
            ("--dataset", "a.csv", "--test-start", "someday"),
            "riskml: error: invalid --test-start: 'someday' (expected an ISO-8601 date/time)",
        ),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(cli, tmp_path, args, message) -> None:
    result = cli("train", *args, "--no-mlflow", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in result.stderr


def test_train_modules_import_no_heavy_library() -> None:
    import sys

    code = (
        "import sys, riskml.cli.train, riskml.train.pyfunc, riskml.train.tracking, "
        "riskml.train.from_files, riskml.train.plots; "
        "print(sorted(m for m in ('mlflow', 'lightgbm', 'sklearn', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_repo_without_mined_tables_says_what_to_run(cli, tmp_path) -> None:
    repo = tmp_path / "app"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "init"], check=True
    )
    result = cli("train", "--repo", str(repo), "--no-mlflow", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "riskml: error: table not found: data/app/changes.parquet (run `riskml mine` first)"
    )


def test_exclude_features_naming_no_feature_column_is_one_line_before_the_fit(cli, tmp_path):
    data = write_kamei_csv(tmp_path / "jit.csv", n=300, seed=5)
    (tmp_path / "riskml.toml").write_text('[train]\nexclude_features = ["nosuch", "la", "zz"]\n')
    out = tmp_path / "out"
    result = cli("train", "--dataset", str(data), "--config", str(tmp_path / "riskml.toml"),
                 "--out-dir", str(out), "--no-mlflow", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "riskml: error: [train] exclude_features: not feature columns: 'nosuch', 'zz' "
        "(docs/features.md lists them)"
    )
    assert "Traceback" not in result.stderr
    assert not (out / "metrics.json").exists() and not (out / "models").exists()
