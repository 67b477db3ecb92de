"""The rolling evaluation in MLflow (a real SQLite store): child runs per fold, the parent's
figures and files, and the promotion gate comparing on the folds.

One generated public table; three registrations of model ``rolling-gate``:

1. ``narrow``: trained on 90 % (test_fraction 0.1), the first version;
2. ``wide`` (80 %) with its rolling evaluation (3 folds of 10 %, from 70 %): only fold 3 was
   tested after v1's training data ended, so the gate compares on one window and says so
   (tolerance 1 makes it promote, so v2 is champion);
3. ``wide`` again: v2's training data ended before folds 2 and 3, so the gate compares on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tracking_tables import write_kamei_csv

from riskml.config import Config, TrainConfig
from riskml.train.metrics import evaluate
from riskml.train.plots import ROLLING_PLOT_METRICS

# rolling evaluations logged to a real MLflow store, end to end
pytestmark = pytest.mark.slow


MODEL_NAME = "rolling-gate"
EXPERIMENT = "rolling-tests"


def _config(**train) -> Config:
    return Config(train=TrainConfig(model_name=MODEL_NAME, experiment=EXPERIMENT, **train))


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    from riskml.train import fit, load_public_dataset
    from riskml.train.rolling import rolling_evaluate

    path = write_kamei_csv(tmp_path_factory.mktemp("jit") / "jit.csv", n=1500, seed=6)
    data = load_public_dataset(path)
    narrow = fit(data, _config(test_fraction=0.1), label_mode="public")
    wide = fit(data, _config(), label_mode="public")
    rolling = rolling_evaluate(
        data, _config(), folds=3, fold_fraction=0.1, label_mode="public", bootstrap=50
    )
    return {"path": path, "data": data, "narrow": narrow, "wide": wide, "rolling": rolling}


@pytest.fixture(scope="module")
def steps(mlflow_uri, fits):
    from mlflow import MlflowClient

    from riskml.train.tracking import log_and_register

    def register(which: str, config: Config, rolling=None) -> dict:
        return log_and_register(
            fits[which], config, dataset=fits["data"], dataset_path=fits["path"],
            repo="jit-rolling", rolling=rolling,
        )  # fmt: skip

    first = register("narrow", _config())
    second = register("wide", _config(promotion_tolerance=1.0), fits["rolling"])
    # the same fit under one other model setting: not an identical retrain of v2 (that would
    # register nothing), so the gate compares it with v2 on the folds
    third = register("wide", _config(max_rounds=2999), fits["rolling"])
    return {"client": MlflowClient(tracking_uri=mlflow_uri), "out": [first, second, third]}


def _auc(model, rows, predictions) -> float:
    return evaluate(
        predictions["label"].to_numpy(float),
        model.risk(rows),
        predictions["effort"].to_numpy(float),
    )["roc_auc"]


# ---------------------------------------------------------------- the gate


def test_the_first_version_takes_champion(steps) -> None:
    assert steps["out"][0]["decision"] == "first"
    assert steps["out"][0]["basis"] == "window"


def test_one_unseen_fold_is_too_few_so_one_window_is_compared(steps, fits) -> None:
    step = steps["out"][1]
    wide, narrow = fits["wide"], fits["narrow"]
    new = wide.metrics["riskml"]["roc_auc"]
    old = _auc(narrow.model, wide.test_frame, wide.test_predictions)
    ended = narrow.model.info["train_end"]
    # v1 trained up to 90 %: fold 2 (80-90 %) overlaps its training data, fold 3 does not
    assert fits["rolling"].folds[1]["cutoff"] < ended < fits["rolling"].folds[2]["cutoff"]
    assert (step["version"], step["decision"], step["basis"]) == ("2", "promoted", "window")
    assert step["reason"] == (
        f"promoted: roc_auc {new:.4f} vs champion v1 {old:.4f} on the same "
        f"{len(wide.test_predictions)} test changes (higher is better, tolerance 1); compared "
        "on one window, not on folds: only 1 of 3 folds tested after champion v1's training "
        f"data ended ({ended})"
    )


def test_the_champion_is_judged_on_the_folds_after_its_training_data(steps, fits) -> None:
    step = steps["out"][2]
    rolling, champion = fits["rolling"], fits["wide"].model
    preds, rows = rolling.predictions, rolling.test_rows
    new, old = [], []
    for fold in (2, 3):
        inside = (preds["fold"] == fold).to_numpy()
        new.append(rolling.folds[fold - 1]["metrics"]["riskml"]["roc_auc"])
        old.append(_auc(champion, rows[inside], preds[inside]))
    new_mean, old_mean = float(np.mean(new)), float(np.mean(old))
    promoted = new_mean >= old_mean
    assert step["basis"] == "folds"
    assert step["folds"] == [2, 3]
    assert step["new_value"] == pytest.approx(new_mean, abs=1e-12)
    assert step["champion_value"] == pytest.approx(old_mean, abs=1e-12)
    assert step["decision"] == ("promoted" if promoted else "kept")
    prefix = "promoted" if promoted else "not promoted, champion kept"
    assert step["reason"] == (
        f"{prefix}: mean roc_auc over 2 folds {new_mean:.4f} vs champion v2 {old_mean:.4f} "
        "(folds 2-3 of 3, each tested after the champion's training data ended; higher is "
        "better, tolerance 0)"
    )
    version = steps["client"].get_model_version(MODEL_NAME, "3")
    assert version.tags["promotion.basis"] == "folds"
    assert version.tags["promotion.folds"] == "2,3"
    assert steps["client"].get_run(step["run_id"]).data.tags["promotion.basis"] == "folds"


# ---------------------------------------------------------------- the runs


def _children(client, run_id: str):
    runs = client.search_runs(
        [client.get_run(run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
    )
    return sorted(runs, key=lambda r: int(r.data.tags["fold"]))


def test_each_fold_is_a_child_run_of_the_training_run(steps, fits) -> None:
    client = steps["client"]
    step = steps["out"][2]
    summary = fits["rolling"].summary()
    children = _children(client, step["run_id"])
    assert [c.info.run_id for c in children] == step["fold_run_ids"]
    assert [c.info.run_name for c in children] == ["fold 1/3", "fold 2/3", "fold 3/3"]
    for child, fold in zip(children, summary["folds"], strict=True):
        assert child.data.tags["fold.cutoff"] == fold["cutoff"]
        assert child.data.tags.get("fold.test_end") == fold["test_end"]  # the last: open-ended
        assert child.data.tags["repo"] == "jit-rolling"
        assert child.data.params["split.n_test"] == str(fold["split"]["n_test"])
        for model in ("riskml", "lapredict", "kamei_lr"):
            assert child.data.metrics[f"{model}.roc_auc"] == fold["metrics"][model]["roc_auc"]
    assert summary["folds"][-1]["test_end"] is None


def test_the_training_run_holds_the_means_pooled_intervals_charts_and_json(
    steps, fits, tmp_path
) -> None:
    from mlflow.artifacts import download_artifacts

    client = steps["client"]
    run_id = steps["out"][2]["run_id"]
    run = client.get_run(run_id)
    summary = fits["rolling"].summary()
    metrics = run.data.metrics
    assert metrics["rolling.mean.riskml.roc_auc"] == summary["mean"]["riskml"]["roc_auc"]
    assert metrics["rolling.pooled.kamei_lr.popt"] == summary["pooled"]["kamei_lr"]["popt"]
    interval = summary["intervals"]["pooled"]["capture_at_10:riskml-lapredict"]
    for end in ("diff", "low", "high"):
        name = f"rolling.interval.pooled.capture_at_10.riskml-lapredict.{end}"
        assert metrics[name] == interval[end]
    # the training run's own metrics stay as they were; the rolling block is not a param
    assert metrics["riskml.roc_auc"] == fits["wide"].metrics["riskml"]["roc_auc"]
    assert not [k for k in run.data.params if k.startswith("rolling")]
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {f"plots/rolling_{m}.png" for m in ROLLING_PLOT_METRICS} <= plots
    assert "plots/roc.png" in plots
    local = download_artifacts(run_id=run_id, artifact_path="rolling.json", dst_path=tmp_path)
    assert json.loads(Path(local).read_text()) == json.loads(json.dumps(summary))


def test_an_evaluation_run_is_a_parent_of_its_folds(mlflow_uri, fits) -> None:
    from mlflow import MlflowClient

    from riskml.train.tracking import log_evaluation

    client = MlflowClient(tracking_uri=mlflow_uri)
    out = log_evaluation(
        fits["rolling"], _config(), repo="jit-rolling", dataset_path=fits["path"],
        label_mode="public",
    )  # fmt: skip
    run = client.get_run(out["run_id"])
    assert run.info.run_name == "rolling evaluation jit-rolling"
    assert run.data.tags["riskml.run"] == "evaluate"
    assert run.data.params["rolling.folds"] == "3"
    assert run.data.params["rolling.bootstrap"] == "50"
    assert run.data.params["evaluate.in_train"] == "True"
    summary = fits["rolling"].summary()
    assert (
        run.data.metrics["rolling.mean.lapredict.pr_auc"] == summary["mean"]["lapredict"]["pr_auc"]
    )
    children = _children(client, out["run_id"])
    assert [c.info.run_id for c in children] == out["fold_run_ids"]
    assert len(children) == 3
    artifacts = {a.path for a in client.list_artifacts(out["run_id"])}
    assert artifacts == {"plots", "rolling.json"}
