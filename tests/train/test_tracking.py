"""MLflow tracking, the registered pyfunc and the promotion gate, on a real SQLite store.

Two fits on one generated JIT table share the module: ``good`` (real labels) and ``bad``
(training labels shuffled; the test window and its labels unchanged), so both are judged on
the very same test changes. They are registered in the order bad, good, bad, good: first
version, a better one, a worse one, an equal one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from tracking_tables import write_kamei_csv

from riskml.config import Config
from riskml.train.artifact import reasons_json
from riskml.train.gate import _better_or_equal
from riskml.train.plots import capture_curve, importance_frame
from riskml.train.tracking import (
    flatten,
    pip_requirements,
    run_metrics,
    run_params,
)

MODEL_NAME = "gate-test"
EXPERIMENT = "tracking-tests"
EVALUATION_KEYS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "capture_at_5",
    "capture_at_10",
    "capture_at_30",
    "recall_at_20_effort",
    "popt",
)


def _config() -> Config:
    config = Config()
    config.train.model_name = MODEL_NAME
    config.train.experiment = EXPERIMENT
    return config


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    from riskml.train import fit, load_public_dataset

    path = write_kamei_csv(tmp_path_factory.mktemp("jit") / "jit.csv", n=2400, seed=3)
    data = load_public_dataset(path)
    good = fit(data, _config(), label_mode="public")
    test = set(good.split.test_index.tolist())
    shuffled = data.copy()
    rows = np.array([i for i in range(len(data)) if i not in test])
    labels = shuffled["label"].to_numpy().copy()
    labels[rows] = np.random.default_rng(0).permutation(labels[rows])
    shuffled["label"] = labels
    bad = fit(shuffled, _config(), label_mode="public")
    return {"path": path, "data": data, "shuffled": shuffled, "good": good, "bad": bad}


@pytest.fixture(scope="module")
def registry(mlflow_uri, fits):
    """Register bad, good, bad, good (versions 1-4); the alias state after each step."""
    from mlflow import MlflowClient

    from riskml.train.tracking import log_and_register

    client = MlflowClient(tracking_uri=mlflow_uri)
    steps = []
    for step, which in enumerate(("bad", "good", "bad", "good")):
        config = _config()
        if step == 3:
            # the same model under one other setting: not an identical retrain (that registers
            # nothing: test_an_identical_retrain_registers_no_version), so the gate compares
            config.train.max_rounds = 2999
        out = log_and_register(
            fits[which],
            config,
            dataset=fits["data"] if which == "good" else fits["shuffled"],
            dataset_path=fits["path"],
            repo="jit-demo",
            head_sha="0" * 40,
        )
        champion = str(client.get_model_version_by_alias(MODEL_NAME, "champion").version)
        steps.append({"out": out, "champion": champion})
    return {"client": client, "steps": steps}


def _auc(result, model) -> float:
    from riskml.train.metrics import evaluate

    predictions = result.test_predictions
    return evaluate(
        predictions["label"].to_numpy(float),
        model.risk(result.test_frame),
        predictions["effort"].to_numpy(float),
    )["roc_auc"]


# ---------------------------------------------------------------- pure helpers


def test_flatten_nested_settings() -> None:
    tree = {"train": {"seed": 0, "extra": {}}, "globs": ["a", "b"], "x": {"y": {"z": None}}}
    assert flatten(tree) == {
        "train.seed": 0,
        "train.extra": {},
        "globs": ["a", "b"],
        "x.y.z": None,
    }


def test_run_metrics_prefix_each_model_and_flatten_tier_rates() -> None:
    metrics = {
        "riskml": {"roc_auc": 0.8, "tier_rates": {"high": {"n": 3, "incident_rate": 0.5}}},
        "lapredict": {"roc_auc": 0.7, "popt": None},
        "kamei_lr": {"roc_auc": np.float64(0.65)},
        "split": {"n_test": 10},
    }
    assert run_metrics(metrics) == {
        "riskml.roc_auc": 0.8,
        "riskml.tier_rates.high.n": 3.0,
        "riskml.tier_rates.high.incident_rate": 0.5,
        "lapredict.roc_auc": 0.7,
        "kamei_lr.roc_auc": 0.65,
    }


def test_better_or_equal_respects_direction_and_tolerance() -> None:
    assert _better_or_equal(0.70, 0.70, "roc_auc", 0.0)
    assert not _better_or_equal(0.69, 0.70, "roc_auc", 0.0)
    assert _better_or_equal(0.69, 0.70, "roc_auc", 0.02)
    assert _better_or_equal(0.10, 0.12, "brier", 0.0)
    assert not _better_or_equal(0.12, 0.10, "brier", 0.0)
    assert _better_or_equal(0.12, 0.10, "log_loss", 0.05)


def test_capture_curve_small_example() -> None:
    share, caught = capture_curve(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.1, 0.5]))
    assert share.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert caught.tolist() == [0.0, 0.5, 0.5, 0.5, 1.0]


def test_importance_frame_prefers_gain() -> None:
    import pandas as pd

    frame = pd.DataFrame({"feature": ["la", "exp"], "gain": [2.5, 1.0], "split": [1, 9]})
    assert importance_frame(frame).to_dict("list") == {
        "feature": ["la", "exp"],
        "importance": [2.5, 1.0],
    }


def test_reasons_json_is_strict_json() -> None:
    reasons = [{"feature": "la", "value": np.int64(3), "effect": np.float64(0.5), "x": math.nan}]
    assert reasons_json(reasons) == '[{"feature": "la", "value": 3, "effect": 0.5, "x": null}]'


def test_pip_requirements_pin_installed_versions() -> None:
    from importlib.metadata import version

    requirements = pip_requirements()
    assert f"lightgbm=={version('lightgbm')}" in requirements
    assert f"scikit-learn=={version('scikit-learn')}" in requirements
    assert f"mlflow=={version('mlflow')}" in requirements


def test_run_params_flatten_settings_split_and_fit(fits) -> None:
    params = run_params(_config(), fits["good"], {"label_mode": "public"})
    assert params["train.promotion_metric"] == "roc_auc"
    assert params["tiers.shares.high"] == "0.07"
    assert params["label.window_days"] == "90"
    assert params["fit.label_mode"] == "public"
    assert params["split.n_test"] == str(fits["good"].metrics["split"]["n_test"])
    assert params["mine.test_globs"] == json.dumps(Config().mine.test_globs)


# ---------------------------------------------------------------- the gate


def test_same_test_window_for_both_fits(fits) -> None:
    assert fits["good"].split.test_index.tolist() == fits["bad"].split.test_index.tolist()
    assert fits["good"].test_predictions["label"].tolist() == (
        fits["bad"].test_predictions["label"].tolist()
    )


def test_first_version_takes_champion(registry, fits) -> None:
    first = registry["steps"][0]
    assert first["out"]["version"] == "1"
    assert first["out"]["alias"] == "champion"
    assert first["out"]["decision"] == "first"
    assert (
        first["out"]["reason"] == f"no champion for '{MODEL_NAME}' yet: the first version takes it"
    )
    assert first["champion"] == "1"
    assert first["out"]["new_value"] == fits["bad"].metrics["riskml"]["roc_auc"]
    assert first["out"]["champion_value"] is None


def test_better_version_takes_champion(registry, fits) -> None:
    step = registry["steps"][1]["out"]
    bad_auc = _auc(fits["good"], fits["bad"].model)
    good_auc = fits["good"].metrics["riskml"]["roc_auc"]
    assert good_auc > bad_auc
    assert step["decision"] == "promoted"
    assert step["alias"] == "champion"
    assert step["new_value"] == good_auc
    assert step["champion_value"] == bad_auc
    assert step["champion_version"] == "1"
    n = len(fits["good"].test_predictions)
    assert step["reason"] == (
        f"promoted: roc_auc {good_auc:.4f} vs champion v1 {bad_auc:.4f} on the same {n} "
        "test changes (higher is better, tolerance 0); compared on one window, not on folds: "
        "no rolling evaluation ran"
    )
    assert (step["basis"], step["folds"]) == ("window", [])
    assert registry["steps"][1]["champion"] == "2"


def test_worse_version_becomes_challenger_and_champion_stays(registry, fits) -> None:
    client = registry["client"]
    step = registry["steps"][2]["out"]
    good_auc = fits["good"].metrics["riskml"]["roc_auc"]
    bad_auc = fits["bad"].metrics["riskml"]["roc_auc"]
    n = len(fits["good"].test_predictions)
    reason = (
        f"not promoted, champion kept: roc_auc {bad_auc:.4f} vs champion v2 {good_auc:.4f} "
        f"on the same {n} test changes (higher is better, tolerance 0); compared on one "
        "window, not on folds: no rolling evaluation ran"
    )
    assert step["version"] == "3"
    assert step["alias"] == "challenger"
    assert step["decision"] == "kept"
    assert step["reason"] == reason
    assert registry["steps"][2]["champion"] == "2"
    run = client.get_run(step["run_id"])
    assert run.data.tags["promotion.decision"] == "kept"
    assert run.data.tags["promotion.reason"] == reason
    version = client.get_model_version(MODEL_NAME, "3")
    assert version.tags["promotion.reason"] == reason
    assert version.description == reason


def test_equal_version_takes_champion(registry, fits) -> None:
    client = registry["client"]
    step = registry["steps"][3]["out"]
    assert step["decision"] == "promoted"
    assert step["new_value"] == step["champion_value"] == fits["good"].metrics["riskml"]["roc_auc"]
    assert registry["steps"][3]["champion"] == "4"
    assert str(client.get_model_version_by_alias(MODEL_NAME, "challenger").version) == "3"


# ---------------------------------------------------------------- the run


def test_run_has_params_tags_and_all_metrics(registry, fits) -> None:
    client = registry["client"]
    good = fits["good"]
    run = client.get_run(registry["steps"][1]["out"]["run_id"])
    tags = run.data.tags
    assert tags["repo"] == "jit-demo"
    assert tags["head_sha"] == "0" * 40
    assert tags["data_cutoff"] == good.metrics["split"]["cutoff"]
    assert tags["label_mode"] == "public"
    assert tags["promotion.decision"] == "promoted"
    assert run.data.params["train.model_name"] == MODEL_NAME
    assert run.data.params["fit.label_mode"] == "public"
    metrics = run.data.metrics
    for model in ("riskml", "lapredict", "kamei_lr"):
        for key in EVALUATION_KEYS:
            value = good.metrics[model][key]
            assert metrics[f"{model}.{key}"] == pytest.approx(value, abs=0, rel=1e-12), key
    for tier in ("low", "medium", "high", "critical"):
        rates = good.metrics["riskml"]["tier_rates"][tier]
        assert metrics[f"riskml.tier_rates.{tier}.share"] == rates["share"]
        assert metrics[f"riskml.tier_rates.{tier}.n"] == rates["n"]


def test_run_has_plots_and_metrics_json(registry, fits, tmp_path) -> None:
    import mlflow

    run_id = registry["steps"][1]["out"]["run_id"]
    client = registry["client"]
    plots = sorted(f.path for f in client.list_artifacts(run_id, "plots"))
    assert plots == [
        "plots/calibration.png",
        "plots/capture.png",
        "plots/importance.png",
        "plots/pr.png",
        "plots/roc.png",
    ]
    local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path)))
    for plot in plots:
        assert (local / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    logged = json.loads((local / "metrics.json").read_text())
    assert logged["riskml"]["roc_auc"] == fits["good"].metrics["riskml"]["roc_auc"]
    assert set(logged) == set(fits["good"].metrics)


def test_run_has_the_training_rows_and_the_test_window_as_inputs(registry, fits) -> None:
    import mlflow

    good = fits["good"]
    run = registry["client"].get_run(registry["steps"][1]["out"]["run_id"])
    inputs = {
        {t.key: t.value for t in i.tags}["mlflow.data.context"]: i.dataset
        for i in run.inputs.dataset_inputs
    }
    assert sorted(inputs) == ["evaluation", "training"]
    source = str(fits["path"].resolve())
    train_rows = fits["data"].iloc[good.split.train_index].reset_index(drop=True)
    expected = mlflow.data.from_pandas(train_rows, source=source)
    assert inputs["training"].digest == expected.digest
    assert inputs["training"].name == "jit-demo training"
    assert json.loads(inputs["training"].source) == {"uri": source}
    test_rows = mlflow.data.from_pandas(good.test_frame, source=source)
    assert inputs["evaluation"].digest == test_rows.digest
    assert inputs["evaluation"].name == "jit-demo test window"
    assert json.loads(inputs["evaluation"].profile)["num_rows"] == len(good.split.test_index)


def test_run_is_named_for_what_it_trained_and_carries_its_fingerprints(registry, fits) -> None:
    from riskml.train.gate import data_fingerprint, params_fingerprint

    run = registry["client"].get_run(registry["steps"][1]["out"]["run_id"])
    assert run.info.run_name == "jit-demo @ 0000000000 (public)"
    tags = run.data.tags
    assert tags["data_fingerprint"] == data_fingerprint(fits["data"])
    assert tags["params_fingerprint"] == params_fingerprint(
        _config(), "public", fits["good"].model.info["cutoff"]
    )
    version = registry["client"].get_model_version(MODEL_NAME, "2")
    assert version.tags["data_fingerprint"] == tags["data_fingerprint"]
    assert version.tags["params_fingerprint"] == tags["params_fingerprint"]
    # another table, or another setting that makes the model: another fingerprint
    assert data_fingerprint(fits["shuffled"]) != tags["data_fingerprint"]
    other = _config()
    other.train.seed = 7
    assert params_fingerprint(other, "public", None) != params_fingerprint(
        _config(), "public", None
    )
    gate_only = _config()
    gate_only.train.promotion_tolerance = 0.01
    assert params_fingerprint(gate_only, "public", None) == params_fingerprint(
        _config(), "public", None
    )


def test_version_has_signature_tags_and_requirements(registry, fits) -> None:
    import mlflow

    good = fits["good"]
    info = mlflow.models.get_model_info(f"models:/{MODEL_NAME}/2")
    assert info.signature.inputs.input_names() == good.model.feature_columns
    types = {c["name"]: c["type"] for c in info.signature.inputs.to_dict()}
    assert types == {
        c: "boolean" if fits["data"][c].dtype == bool
        else "long" if fits["data"][c].dtype == "int64" else "double"
        for c in good.model.feature_columns
    }  # fmt: skip
    assert all(not c["required"] for c in info.signature.inputs.to_dict())
    assert info.signature.outputs.input_names() == ["risk", "tier", "reasons"]
    assert info.signature.params.to_dict() == [
        {"name": "k", "default": 5, "shape": None, "type": "long"}
    ]
    version = registry["client"].get_model_version(MODEL_NAME, "2")
    assert json.loads(version.tags["thresholds"]) == good.model.thresholds
    assert json.loads(version.tags["metrics"])["roc_auc"] == good.metrics["riskml"]["roc_auc"]
    assert version.tags["promotion.champion_version"] == "1"
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}/2"))
    assert (local / "requirements.txt").read_text().split() == pip_requirements()
    assert (local / "code" / "riskml" / "train" / "model.py").is_file()
    assert not list((local / "code").rglob("__pycache__"))
    assert (local / "input_example.json").is_file()


def test_pyfunc_predicts_exactly_what_the_trained_model_predicts(registry, fits) -> None:
    import mlflow

    from riskml.train.model import TrainedModel

    good = fits["good"]
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    rows = good.test_frame[good.model.feature_columns]
    out = loaded.predict(rows)
    expected = good.model.predict(rows.reset_index(drop=True))
    assert list(out.columns) == ["risk", "tier", "reasons"]
    assert np.array_equal(out["risk"].to_numpy(), expected["risk"].to_numpy())
    assert out["tier"].tolist() == expected["tier"].tolist()
    assert out["reasons"].tolist() == [reasons_json(r) for r in expected["reasons"]]
    inner = loaded.unwrap_python_model().model
    assert isinstance(inner, TrainedModel)
    assert inner.thresholds == good.model.thresholds
    assert inner.info["run_id"] == registry["steps"][3]["out"]["run_id"]


def test_pyfunc_takes_rows_in_their_training_types_and_missing_columns(registry, fits) -> None:
    """Typed inputs: in process, a column comes in its training dtype (here every column is a
    double); a whole-number int64 column for a double is MLflow's refusal (JSON rows through
    the scoring server are read with the schema instead: the test below)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    good = fits["good"]
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    rows = good.test_frame[good.model.feature_columns].head(20).round()
    with pytest.raises(MlflowException, match="Incompatible input types for column ns"):
        loaded.predict(rows.astype("int64"))
    rows = rows.drop(columns=["sexp"])
    out = loaded.predict(rows, params={"k": 2})
    expected = good.model.predict(rows.reset_index(drop=True), k=2)
    assert np.array_equal(out["risk"].to_numpy(), expected["risk"].to_numpy())
    assert [len(json.loads(r)) for r in out["reasons"]] == [2] * 20


def test_experiment_keeps_artifacts_beside_the_store(registry, mlflow_uri) -> None:
    import mlflow

    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    db = Path(mlflow_uri[len("sqlite:///") :])
    assert experiment.artifact_location == (db.parent / "mlruns" / EXPERIMENT).as_uri()


def test_load_trained_model_reads_the_artifact_without_unpickling(registry, fits) -> None:
    from riskml.train.artifact import load_trained_model

    good = fits["good"]
    model = load_trained_model(f"models:/{MODEL_NAME}/2")
    rows = good.test_frame
    assert np.array_equal(model.risk(rows), good.model.risk(rows))
    assert model.info["run_id"] == registry["steps"][1]["out"]["run_id"]
    assert model.info["name"] == MODEL_NAME


def test_scoring_server_serves_json_feature_rows(registry, fits) -> None:
    """What `mlflow models serve` runs: JSON records with whole numbers and absent columns."""
    import mlflow
    import pandas as pd
    from fastapi.testclient import TestClient
    from mlflow.pyfunc import scoring_server

    good = fits["good"]
    app = scoring_server.init(mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion"))
    records = [{"la": 10, "ld": 2, "nf": 1}, {"la": 900, "ld": 300, "nf": 12, "exp": 2}]
    with TestClient(app) as client:
        response = client.post(
            "/invocations", json={"dataframe_records": records, "params": {"k": 2}}
        )
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    expected = good.model.predict(pd.DataFrame(records), k=2)
    assert [p["risk"] for p in predictions] == expected["risk"].tolist()
    assert [p["tier"] for p in predictions] == expected["tier"].tolist()
    assert [json.loads(p["reasons"]) for p in predictions] == [
        json.loads(reasons_json(r)) for r in expected["reasons"]
    ]


def test_unreadable_champion_is_replaced_and_the_reason_says_why(mlflow_uri, fits) -> None:
    import shutil

    from mlflow import MlflowClient

    from riskml.train.tracking import gate, log_and_register

    config = _config()
    config.train.model_name = "gate-unreadable"
    first = log_and_register(fits["bad"], config, dataset=fits["shuffled"])
    client = MlflowClient(tracking_uri=mlflow_uri)
    logged = client.get_logged_model(first["model_uri"].removeprefix("models:/"))
    shutil.rmtree(Path(logged.artifact_location.removeprefix("file://")))
    good = fits["good"]
    decision = gate(client, "gate-unreadable", good.model, good, good.test_frame, config)
    assert decision["alias"] == "champion"
    assert decision["decision"] == "promoted_unreadable"
    assert decision["champion_version"] == "1"
    assert decision["new_value"] == good.metrics["riskml"]["roc_auc"]
    assert decision["reason"].startswith("champion v1 could not be evaluated on this test window (")
    assert decision["reason"].endswith("); the new version replaces it")


def test_unknown_promotion_metric_is_a_user_error_before_any_run(mlflow_uri, fits) -> None:
    import mlflow

    from riskml.errors import RiskmlError
    from riskml.train.tracking import log_and_register

    config = _config()
    config.train.promotion_metric = "auc"
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    before = len(mlflow.search_runs([experiment.experiment_id])) if experiment else 0
    with pytest.raises(RiskmlError, match="promotion_metric must be one of roc_auc, pr_auc"):
        log_and_register(fits["good"], config, dataset=fits["data"])
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    assert len(mlflow.search_runs([experiment.experiment_id])) == before


def test_an_identical_retrain_registers_no_version(mlflow_uri, fits) -> None:
    """The same table and the same settings as the champion: the gate says so, one version."""
    from mlflow import MlflowClient

    from riskml.train.fitting import fit_all
    from riskml.train.tracking import log_and_register

    name = "identical-test"
    first = log_and_register(
        fits["good"], _config(), dataset=fits["data"], model_name=name, repo="jit-demo",
        dataset_path=fits["path"],
    )  # fmt: skip
    again = fit_all(fits["data"], _config(), label_mode="public")  # the retrain, from scratch
    second = log_and_register(
        again, _config(), dataset=fits["data"], model_name=name, repo="jit-demo",
        dataset_path=fits["path"],
    )  # fmt: skip
    client = MlflowClient(tracking_uri=mlflow_uri)
    versions = client.search_model_versions(f"name = '{name}'")
    assert [str(v.version) for v in versions] == ["1"]
    assert first["decision"] == "first" and second["decision"] == "identical"
    assert second["version"] == "1" and second["alias"] == "champion"
    fingerprint = client.get_run(second["run_id"]).data.tags
    assert second["reason"] == (
        f"identical to champion v1: the same data (fingerprint {fingerprint['data_fingerprint']}) "
        f"and the same parameters (fingerprint {fingerprint['params_fingerprint']}); "
        "no new version registered"
    )
    assert fingerprint["promotion.decision"] == "identical"
    assert fingerprint["promotion.identical_to"] == "1"
    assert "registered.version" not in fingerprint
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"


def test_inside_a_callers_run_it_logs_a_child_run(mlflow_uri, fits) -> None:
    import mlflow
    from mlflow import MlflowClient

    from riskml.train.tracking import log_and_register

    outer_experiment = mlflow.set_experiment("tracking-tests-outer").experiment_id
    with mlflow.start_run(experiment_id=outer_experiment) as outer:
        out = log_and_register(fits["good"], _config(), dataset=fits["data"], register=False)
    assert out["decision"] == "not_registered"
    assert out["version"] is None
    run = MlflowClient(tracking_uri=mlflow_uri).get_run(out["run_id"])
    assert run.data.tags["mlflow.parentRunId"] == outer.info.run_id
    assert run.info.experiment_id == mlflow.get_experiment_by_name(EXPERIMENT).experiment_id


def test_test_frame_from_the_split_when_the_fit_kept_none(fits) -> None:
    import types

    from riskml.train.tracking import test_frame

    good = fits["good"]
    bare = types.SimpleNamespace(test_predictions=good.test_predictions, split=good.split)
    rows = test_frame(bare, fits["data"])
    assert rows["commit"].tolist() == good.test_predictions["commit"].tolist()
    assert rows.equals(good.test_frame)
    assert test_frame(bare, None) is None


# ---------------------------------------------------------------- the gate lock

TRY_LOCK = """
import sys
from filelock import FileLock, Timeout
try:
    FileLock(sys.argv[1], timeout=0).acquire()
    print("free")
except Timeout:
    print("busy")
"""


def _try_lock(path: Path) -> str:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_gate_lock_path_is_one_per_registry_file_and_model(tmp_path, monkeypatch) -> None:
    from riskml.train.gate import gate_lock_path

    monkeypatch.chdir(tmp_path)
    absolute = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert gate_lock_path("a", "sqlite:///mlflow.db") == gate_lock_path("a", absolute)
    assert gate_lock_path("a", "sqlite:///./mlflow.db?timeout=5") == gate_lock_path("a", absolute)
    assert gate_lock_path("a", absolute) != gate_lock_path("b", absolute)
    assert gate_lock_path("a", absolute) != gate_lock_path("a", "http://127.0.0.1:5000")
    assert gate_lock_path("a", absolute).name.startswith("riskml-gate-")


def test_gate_reads_the_champion_and_moves_the_alias_under_the_lock(
    mlflow_uri, fits, monkeypatch
) -> None:
    """While the gate decides, another process cannot take the lock; afterwards it can."""
    import riskml.train.tracking as tracking
    from riskml.train.gate import gate_lock_path

    config = _config()
    config.train.model_name = "gate-lock-held"
    path = gate_lock_path("gate-lock-held")
    seen = []
    real_gate = tracking.gate

    def watched_gate(*args, **kwargs):
        seen.append(_try_lock(path))
        return real_gate(*args, **kwargs)

    monkeypatch.setattr(tracking, "gate", watched_gate)
    out = tracking.log_and_register(fits["good"], config, dataset=fits["data"])
    assert seen == ["busy"]
    assert (out["version"], out["decision"]) == ("1", "first")
    assert _try_lock(path) == "free"


def test_a_training_that_cannot_get_the_lock_registers_nothing(
    mlflow_uri, fits, monkeypatch
) -> None:
    from conftest import lock_held_elsewhere
    from mlflow import MlflowClient

    from riskml.errors import RiskmlError
    from riskml.train.gate import gate_lock_path
    from riskml.train.tracking import log_and_register

    config = _config()
    config.train.model_name = "gate-lock-busy"
    path = gate_lock_path("gate-lock-busy")
    with lock_held_elsewhere(path):
        monkeypatch.setenv("RISKML_GATE_LOCK_TIMEOUT", "0.2")
        message = (
            f"another training of 'gate-lock-busy' held the registry lock {path} for 0.2 s; "
            "try again when it has finished"
        )
        with pytest.raises(RiskmlError) as caught:
            log_and_register(fits["good"], config, dataset=fits["data"])
        assert str(caught.value) == message
    client = MlflowClient(tracking_uri=mlflow_uri)
    assert client.search_model_versions("name='gate-lock-busy'") == []
