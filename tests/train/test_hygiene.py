"""For data scientists: bootstrap intervals beside the metrics, tier thresholds that collapse
said out loud (log, MLflow tag, printed line), typed signature inputs, runs named for what
they trained."""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest

from riskml.config import Config
from riskml.synth.tables import synthetic_tables
from riskml.train import build_dataset, fit
from riskml.train.metrics import CI_METRICS, MODELS, bootstrap_intervals, evaluate


@pytest.fixture(scope="module")
def dataset():
    changes, labels = synthetic_tables(3000, seed=3, per_day=10)
    return build_dataset(changes, labels, Config())


@pytest.fixture(scope="module")
def trained(dataset):
    return fit(dataset, Config())


def _collapsing() -> Config:
    config = Config()
    config.tiers.mode = "rate"  # incident rates no set of changes reaches: every tier empty
    config.tiers.rates = {"medium": 0.97, "high": 0.98, "critical": 0.99}
    return config


# --------------------------------------------------------------------------- intervals


def test_intervals_with_every_count_one_are_evaluate_itself():
    rng = np.random.default_rng(1)
    y = (rng.random(600) < 0.1).astype(float)
    risk = np.round(np.clip(0.1 + 0.2 * y + rng.normal(0, 0.1, 600), 0.001, 0.999), 2)
    effort = np.maximum(rng.integers(0, 300, 600), 1).astype(float)
    from riskml.train.metrics import _Weighted

    point = evaluate(y, risk, effort)
    scored = _Weighted(y, risk, effort).scores(np.ones((1, 600)))
    for name in CI_METRICS:
        assert scored[name][0] == pytest.approx(point[name], rel=1e-12, abs=1e-15), name
    ci = bootstrap_intervals(y, risk, effort, resamples=200, seed=4, point=point)
    assert list(ci) == [f"{m}_ci_{end}" for m in CI_METRICS for end in ("low", "high")]
    for name in CI_METRICS:
        assert ci[f"{name}_ci_low"] <= point[name] <= ci[f"{name}_ci_high"], name
    assert ci == bootstrap_intervals(y, risk, effort, resamples=200, seed=4, point=point)
    assert ci != bootstrap_intervals(y, risk, effort, resamples=200, seed=5, point=point)
    none = bootstrap_intervals(y, risk, effort, resamples=0)
    assert set(none.values()) == {None}


def test_headline_metrics_carry_their_intervals(trained, dataset):
    for model in MODELS:
        metrics = trained.metrics[model]
        for name in CI_METRICS:
            low, value, high = (metrics[f"{name}_ci_low"], metrics[name],
                                metrics[f"{name}_ci_high"])  # fmt: skip
            assert low <= value <= high, (model, name)
            assert low < high, (model, name)
    assert trained.model.metrics["roc_auc_ci_low"] == trained.metrics["riskml"]["roc_auc_ci_low"]
    again = fit(dataset, Config())  # seeded by [train] seed: the same intervals
    assert again.metrics["riskml"]["roc_auc_ci_low"] == trained.metrics["riskml"]["roc_auc_ci_low"]
    assert (
        again.metrics["kamei_lr"]["pr_auc_ci_high"]
        == (trained.metrics["kamei_lr"]["pr_auc_ci_high"])
    )


def test_run_metrics_hold_the_intervals(trained):
    from riskml.train.tracking import run_metrics

    logged = run_metrics(trained.metrics)
    for model in MODELS:
        for name in ("roc_auc", "pr_auc", "capture_at_10"):
            for end in ("low", "high"):
                key = f"{model}.{name}_ci_{end}"
                assert logged[key] == trained.metrics[model][f"{name}_ci_{end}"]


# --------------------------------------------------------------------------- collapse


def test_collapsed_tiers_warn_in_the_log_and_the_metrics(dataset, caplog):
    from riskml.train.fitting import TierWarning

    with caplog.at_level(logging.WARNING, "riskml.train.fitting"), pytest.warns(TierWarning):
        result = fit(dataset, _collapsing())
    thresholds = result.model.thresholds
    assert thresholds["medium"] == thresholds["high"] == thresholds["critical"]
    t = f"{thresholds['critical']:.4g}"
    warnings = result.metrics["model"]["tier_reference"]["warnings"]
    assert warnings[:4] == [
        f"tiers medium and high share one threshold ({t}): no change can be medium",
        f"tiers high and critical share one threshold ({t}): no change can be high",
        "tier medium holds 0.0% of the reference changes (configured share 20%)",
        "tier high holds 0.0% of the reference changes (configured share 7%)",
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "riskml.train.fitting"]
    assert logged == [f"tier thresholds: {w}" for w in warnings]


def test_tier_warnings_name_a_tier_no_validation_change_reaches():
    from riskml.train.fitting import tier_warnings

    shares = {"critical": 0.03, "high": 0.07, "medium": 0.20}
    risk = np.linspace(0.0, 1.0, 101)
    thresholds = {"medium": 0.7, "high": 0.9, "critical": 0.97}
    assert tier_warnings(thresholds, risk, shares, valid_risk=[0.1, 0.95]) == [
        "no validation change reaches tier critical (threshold 0.97, highest validation risk 0.95)"
    ]
    assert tier_warnings(thresholds, risk, shares, valid_risk=[0.99]) == []


def test_the_printed_summary_says_the_warning_and_the_intervals(trained):
    from riskml.cli.train import format_summary

    metrics = copy.deepcopy(trained.metrics)
    metrics["model"]["tier_reference"]["warnings"] = ["tiers high and critical share one x"]
    lines = format_summary(
        {"metrics": metrics, "registry": None, "metrics_path": "m.json", "model_dir": "d"}
    ).splitlines()
    assert "riskml: warning: tier thresholds: tiers high and critical share one x" in lines
    m = metrics["riskml"]
    assert (
        "riskml 95 % bootstrap intervals (test): "
        f"roc_auc [{m['roc_auc_ci_low']:.3f}, {m['roc_auc_ci_high']:.3f}], "
        f"pr_auc [{m['pr_auc_ci_low']:.3f}, {m['pr_auc_ci_high']:.3f}], "
        f"brier [{m['brier_ci_low']:.3f}, {m['brier_ci_high']:.3f}], "
        f"capt@10 [{m['capture_at_10_ci_low']:.3f}, {m['capture_at_10_ci_high']:.3f}], "
        f"rec@20%eff [{m['recall_at_20_effort_ci_low']:.3f}, "
        f"{m['recall_at_20_effort_ci_high']:.3f}]"
    ) in lines


def test_the_run_is_tagged_with_the_tier_warnings(mlflow_uri, dataset):
    from mlflow import MlflowClient

    from riskml.train.tracking import TIER_WARNINGS_TAG, log_and_register

    with pytest.warns(UserWarning):
        result = fit(dataset, _collapsing())
    config = _collapsing()
    config.train.experiment = "hygiene-tests"
    out = log_and_register(result, config, dataset=dataset, register=False, repo="shop")
    tags = MlflowClient(tracking_uri=mlflow_uri).get_run(out["run_id"]).data.tags
    warnings = result.metrics["model"]["tier_reference"]["warnings"]
    assert tags[TIER_WARNINGS_TAG] == "; ".join(warnings)


# --------------------------------------------------------------------------- names, types


def test_training_runs_are_named_for_what_they_trained():
    from riskml.train.tracking import training_run_name

    assert training_run_name("shop", "0123456789abcdef" * 2 + "01234567", "incidents") == (
        "shop @ 0123456789 (incidents)"
    )
    assert training_run_name("jit", None, "public") == "jit (public)"
    assert training_run_name(None, None, None) == "riskml"


def test_signature_types_follow_the_training_columns(trained, dataset):
    from riskml.train.tracking import column_types

    model = trained.model
    types = column_types(model.input_columns, trained.test_frame, model.categorical_columns)
    assert types["la"] == "long" and types["nf"] == "long"
    assert types["entropy"] == "double" and types["age"] == "double"
    assert types["fix"] == "boolean" and types["touches_critical"] == "boolean"
    assert types["ai_provenance"] == "string" and types["critical_areas"] == "string"
    assert types["author_time"] == "string"  # a time travels as ISO-8601 text
    assert set(types.values()) == {"long", "double", "boolean", "string"}
    assert column_types(["not_in_the_rows"], trained.test_frame) == {"not_in_the_rows": "double"}
