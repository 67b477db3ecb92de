"""riskml.train.rolling: fold bounds, per-fold / mean / pooled metrics, paired bootstrap intervals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tracking_tables import write_kamei_csv

from riskml.config import Config, EvaluateConfig
from riskml.errors import RiskmlError
from riskml.train.metrics import evaluate
from riskml.train.rolling import (
    _counts,
    _Ranked,
    _roc_auc,
    combine_folds,
    fold_bounds,
    format_rolling,
    paired_intervals,
    rolling_evaluate,
)

DAY0 = pd.Timestamp("2024-01-01", tz="UTC")


def day(n: float) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=n)


# ---------------------------------------------------------------- fold bounds


def _sixty_six_days() -> pd.DataFrame:
    """One change a day for 66 days; days 10-15 have no label yet, so 60 are labelled."""
    label = [float(i % 3 == 0) for i in range(66)]
    for i in range(10, 16):
        label[i] = np.nan
    return pd.DataFrame({"author_time": [day(i) for i in range(66)], "label": label})


def test_fold_bounds_cut_the_newest_labelled_changes_into_equal_windows() -> None:
    # 3 folds x 10 % of 60 labelled changes: windows start at labelled positions 42, 48, 54,
    # which are days 48, 54 and 60 (the six unlabelled days 10-15 are not counted)
    bounds = fold_bounds(_sixty_six_days(), folds=3, fold_fraction=0.1)
    assert bounds == [(day(48), day(54)), (day(54), day(60)), (day(60), None)]


def test_fold_bounds_positions_are_exact_where_floating_point_is_not() -> None:
    # n x (1 - 2 x 0.1) is 47.999... in floating point for n = 60; the window must still start
    # at position 48, not 47
    frame = pd.DataFrame({"author_time": [day(i) for i in range(60)], "label": [0.0, 1.0] * 30})
    assert [cut for cut, _ in fold_bounds(frame, folds=3, fold_fraction=0.1)] == [
        day(42),
        day(48),
        day(54),
    ]
    five = fold_bounds(frame, folds=5, fold_fraction=0.1)
    assert [cut for cut, _ in five] == [day(30), day(36), day(42), day(48), day(54)]


def test_fold_bounds_are_given_in_the_frames_order_or_not() -> None:
    frame = _sixty_six_days()
    shuffled = frame.sample(frac=1.0, random_state=0)
    assert fold_bounds(shuffled, 3, 0.1) == fold_bounds(frame, 3, 0.1)


@pytest.mark.parametrize(
    ("folds", "fraction", "message"),
    [
        (0, 0.1, "folds must be at least 1, got 0"),
        (5, 0.2, "folds × fold_fraction must lie in (0, 1) (training needs the rest), got 5 × 0.2"),
        (2, 0.0, "folds × fold_fraction must lie in (0, 1) (training needs the rest), got 2 × 0"),
        (7, 0.1, "only 60 changes with a known label: too few for 7 folds"),
    ],
)
def test_fold_bounds_refuse_what_cannot_be_cut(folds, fraction, message) -> None:
    with pytest.raises(RiskmlError) as info:
        fold_bounds(_sixty_six_days(), folds=folds, fold_fraction=fraction)
    assert str(info.value) == message


def test_fold_bounds_refuse_two_folds_starting_at_one_time() -> None:
    frame = pd.DataFrame({"author_time": [day(0)] * 40 + [day(1)] * 20, "label": [0.0, 1.0] * 30})
    with pytest.raises(RiskmlError, match="two folds share a cut-off time: use fewer folds"):
        fold_bounds(frame, folds=3, fold_fraction=0.1)


# ---------------------------------------------------------------- combining folds by hand


def _fold(labels, riskml, lapredict, kamei_lr, start: int) -> tuple[dict, pd.DataFrame]:
    """One fold's (metrics, test_predictions) as fit() returns them."""
    n = len(labels)
    preds = pd.DataFrame(
        {
            "commit": [f"c{start + i}" for i in range(n)],
            "author_time": [day(start + i) for i in range(n)],
            "label": np.asarray(labels, dtype=float),
            "effort": np.ones(n),
            "risk_riskml": riskml,
            "risk_lapredict": lapredict,
            "risk_kamei_lr": kamei_lr,
            "tier": ["high" if r >= 0.5 else "low" for r in riskml],
        }
    )
    y = preds["label"].to_numpy()
    metrics = {
        "riskml": evaluate(y, np.asarray(riskml), preds["effort"], preds["tier"].to_list()),
        "lapredict": evaluate(y, np.asarray(lapredict), preds["effort"]),
        "kamei_lr": evaluate(y, np.asarray(kamei_lr), preds["effort"]),
        "split": {"cutoff": day(start).isoformat(), "test_end": day(start + n).isoformat()},
    }
    return metrics, preds


def _two_folds():
    """riskml ranks every positive first, lapredict every positive last, kamei_lr ties all."""
    first = _fold([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.2], [0.1, 0.9, 0.2, 0.8], [0.5] * 4, 0)
    second = _fold([0, 1, 0, 1], [0.3, 0.7, 0.4, 0.6], [0.7, 0.3, 0.6, 0.4], [0.5] * 4, 4)
    return [first[0], second[0]], [first[1], second[1]]


def test_combine_folds_numbers_folds_from_one_and_pools_their_windows() -> None:
    metrics, preds = _two_folds()
    result = combine_folds(metrics, preds, bootstrap=0)
    assert [f["fold"] for f in result.folds] == [1, 2]
    assert [f["cutoff"] for f in result.folds] == [day(0).isoformat(), day(4).isoformat()]
    assert result.predictions["fold"].tolist() == [1, 1, 1, 1, 2, 2, 2, 2]
    assert result.predictions["commit"].tolist() == [f"c{i}" for i in range(8)]
    assert result.folds[0]["metrics"]["riskml"]["roc_auc"] == 1.0
    assert result.folds[0]["metrics"]["lapredict"]["roc_auc"] == 0.0
    assert result.pooled["riskml"]["roc_auc"] == 1.0
    assert result.pooled["lapredict"]["roc_auc"] == 0.0
    assert result.pooled["kamei_lr"]["roc_auc"] == 0.5
    assert result.pooled["riskml"]["n"] == 8
    assert result.pooled["riskml"]["positives"] == 4
    # capture@10 %: the top ceil(0.4) = 1 change of each fold, one of its two positives
    assert result.mean["riskml"]["capture_at_10"] == 0.5
    assert result.mean["lapredict"]["capture_at_10"] == 0.0
    assert result.test_rows is None


def test_intervals_have_one_key_per_metric_and_baseline() -> None:
    metrics, preds = _two_folds()
    intervals = combine_folds(metrics, preds, bootstrap=50, seed=1).intervals
    keys = [
        "roc_auc:riskml-lapredict",
        "roc_auc:riskml-kamei_lr",
        "capture_at_10:riskml-lapredict",
        "capture_at_10:riskml-kamei_lr",
    ]
    assert list(intervals) == ["mean", "pooled", "bootstrap"]
    assert list(intervals["mean"]) == keys
    assert list(intervals["pooled"]) == keys
    assert intervals["bootstrap"] == 50
    # every resample keeps riskml perfect and lapredict reversed (or leaves the fold undefined)
    assert intervals["mean"]["roc_auc:riskml-lapredict"] == {"diff": 1.0, "low": 1.0, "high": 1.0}
    assert intervals["pooled"]["roc_auc:riskml-kamei_lr"] == {"diff": 0.5, "low": 0.5, "high": 0.5}
    assert intervals["mean"]["capture_at_10:riskml-lapredict"]["diff"] == 0.5


def test_without_resamples_the_intervals_have_no_bounds() -> None:
    metrics, preds = _two_folds()
    intervals = combine_folds(metrics, preds, bootstrap=0).intervals
    assert intervals["mean"]["roc_auc:riskml-lapredict"] == {"diff": 1.0, "low": None, "high": None}
    assert intervals["bootstrap"] == 0


def _noisy_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 300
    label = (rng.random(n) < 0.2).astype(float)
    return pd.DataFrame(
        {
            "fold": np.repeat([1, 2, 3], n // 3),
            "label": label,
            "risk_riskml": label * 0.3 + rng.random(n),
            "risk_lapredict": label * 0.1 + rng.random(n),
            "risk_kamei_lr": rng.random(n),
        }
    )


def test_the_bootstrap_is_reproducible_with_its_seed() -> None:
    frame = _noisy_frame()
    models = ["riskml", "lapredict", "kamei_lr"]
    one = paired_intervals(frame, models, bootstrap=200, seed=7)
    again = paired_intervals(frame, models, bootstrap=200, seed=7)
    other = paired_intervals(frame, models, bootstrap=200, seed=8)
    assert one == again
    assert one["mean"]["roc_auc:riskml-lapredict"] != other["mean"]["roc_auc:riskml-lapredict"]
    # the observed difference does not depend on the draws
    key = "roc_auc:riskml-lapredict"
    assert one["pooled"][key]["diff"] == other["pooled"][key]["diff"]
    low, high = one["pooled"][key]["low"], one["pooled"][key]["high"]
    assert low < one["pooled"][key]["diff"] < high


def test_the_bootstraps_auc_is_sklearns_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    y = np.array([0, 1, 1, 0, 1, 0, 0])
    score = np.array([0.2, 0.5, 0.5, 0.5, 0.9, 0.1, 0.2])
    assert _roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert np.isnan(_roc_auc(np.zeros(3), np.arange(3.0)))


def test_a_resample_is_scored_from_its_counts_as_its_drawn_changes_would_be() -> None:
    from sklearn.metrics import roc_auc_score

    from riskml.train.metrics import capture_at

    rng = np.random.default_rng(5)
    y = (rng.random(200) < 0.2).astype(float)
    risk = rng.random(200) + 0.3 * y
    draws = rng.integers(0, 200, (3, 200))
    counts = _counts(draws, 200)
    ranked = _Ranked(y, risk)
    for row, drawn in enumerate(draws):
        assert ranked.roc_auc(counts)[row] == pytest.approx(
            roc_auc_score(y[drawn], risk[drawn]), abs=1e-12
        )
        assert ranked.capture_at_10(counts)[row] == pytest.approx(
            capture_at(y[drawn], risk[drawn], 10), abs=1e-12
        )


def test_format_rolling_prints_each_fold_the_mean_and_the_pooled_windows() -> None:
    metrics, preds = _two_folds()
    lines = format_rolling(combine_folds(metrics, preds, bootstrap=0)).splitlines()
    assert lines[0] == ("fold    model            n   pos   roc_auc    pr_auc   capt@10      popt")
    assert lines[1].split() == ["1", "riskml", "4", "2", "1.0000", "1.0000", "0.5000", "1.0000"]
    assert [line.split()[0] for line in lines[1:13]] == ["1"] * 3 + ["2"] * 3 + ["mean"] * 3 + [
        "pooled"
    ] * 3
    assert lines[7].split()[:4] == ["mean", "riskml", "8", "4"]
    assert lines[13] == (
        "mean roc_auc:riskml-lapredict: +1.0000 [n/a, n/a] (95 %, paired bootstrap)"
    )


# ---------------------------------------------------------------- real folds


@pytest.fixture(scope="module")
def public_table(tmp_path_factory):
    from riskml.train import load_public_dataset

    return load_public_dataset(write_kamei_csv(tmp_path_factory.mktemp("jit") / "jit.csv", 1500, 4))


@pytest.fixture(scope="module")
def rolled(public_table):
    return rolling_evaluate(
        public_table, Config(), folds=3, fold_fraction=0.1, label_mode="public", bootstrap=20
    )


def test_each_fold_tests_only_its_window_after_training_before_it(public_table, rolled) -> None:
    bounds = fold_bounds(public_table, 3, 0.1)
    preds = rolled.predictions
    times = pd.to_datetime(preds["author_time"], utc=True)
    for fold, (cutoff, test_end) in zip(rolled.folds, bounds, strict=True):
        assert fold["cutoff"] == cutoff.isoformat()
        assert fold["test_end"] == (None if test_end is None else test_end.isoformat())
        inside = (preds["fold"] == fold["fold"]).to_numpy()
        assert times[inside].min() == cutoff
        if test_end is not None:
            assert times[inside].max() < test_end
        # public tables: no gap, so training ends right before the window
        split = fold["split"]
        assert pd.Timestamp(split["valid_span"][1]) < cutoff
        assert split["n_test"] == int(inside.sum())
        y = preds.loc[inside, "label"].to_numpy(float)
        risk = preds.loc[inside, "risk_riskml"].to_numpy(float)
        effort = preds.loc[inside, "effort"].to_numpy(float)
        assert fold["metrics"]["riskml"]["roc_auc"] == evaluate(y, risk, effort)["roc_auc"]
    labelled = int(public_table["label"].notna().sum())
    assert len(preds) == labelled - int(np.floor(labelled * 0.7 + 1e-9))


def test_the_summary_is_strict_json_with_its_settings(rolled) -> None:
    summary = rolled.summary()
    json.dumps(summary, allow_nan=False)
    assert list(summary) == ["settings", "folds", "mean", "pooled", "intervals", "provenance"]
    assert summary["provenance"] is None  # the public table has no provenance column
    assert summary["settings"] == {
        "folds": 3,
        "fold_fraction": 0.1,
        "label_mode": "public",
        "bootstrap": 20,
        "seed": 0,
    }
    values = [f["metrics"]["riskml"]["roc_auc"] for f in summary["folds"]]
    assert summary["mean"]["riskml"]["roc_auc"] == pytest.approx(np.mean(values), abs=1e-12)


def test_the_folds_test_rows_are_kept_in_prediction_order(rolled) -> None:
    assert rolled.test_rows is not None
    assert rolled.test_rows["commit"].tolist() == rolled.predictions["commit"].tolist()


def test_a_fold_that_cannot_be_tested_is_named_and_the_config_gives_the_folds(public_table):
    # no incident in the oldest window (70-80 %): fold 1 of the config's 3 cannot be judged
    frame = public_table.copy()
    cutoff, test_end = fold_bounds(frame, 3, 0.1)[0]
    times = pd.to_datetime(frame["author_time"], utc=True)
    frame.loc[((times >= cutoff) & (times < test_end)).to_numpy(), "label"] = 0.0
    config = Config(evaluate=EvaluateConfig(folds=3, fold_fraction=0.1))
    with pytest.raises(RiskmlError) as info:
        rolling_evaluate(frame, config, label_mode="public")
    assert str(info.value).startswith(f"fold 1/3 (test from {cutoff.isoformat()}): the test slice")
