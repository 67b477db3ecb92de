"""riskml.train.gate on the folds of a rolling evaluation: which folds, which values, which words.

The champion is a stand-in whose risk is the ``score`` column of the rows it is given, so every
value below is computed by hand; the last tests run the same gate through a real MLflow store.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from riskml.config import Config, TrainConfig
from riskml.train import gate as gate_module
from riskml.train.gate import gate, unseen_folds
from riskml.train.metrics import evaluate
from riskml.train.rolling import combine_folds

DAY0 = pd.Timestamp("2024-01-01", tz="UTC")


def day(n: float) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=n)


class Champion:
    """A registered model's stand-in: its risk is the rows' ``score`` column."""

    def __init__(self, info: dict, columns=("score",)) -> None:
        self.info = info
        self.feature_columns = list(columns)

    def risk(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["score"].to_numpy(dtype=float)


class Client:
    """The registry's answer for ``champion``: version 7."""

    def get_model_version_by_alias(self, name: str, alias: str):
        return SimpleNamespace(version=7)


LABELS = [1, 1, 0, 0]
# champion's scores per fold: ROC-AUC 1.0, 0.75, 0.5 (positives first in LABELS)
CHAMPION_SCORES = ([0.9, 0.8, 0.2, 0.1], [0.9, 0.4, 0.5, 0.1], [0.6, 0.2, 0.5, 0.3])


def _rolling(new_risk: list[float], labels=(LABELS, LABELS, LABELS)):
    """Three folds of four changes from days 0, 4 and 8; riskml's risk ``new_risk`` in each."""
    metrics, preds, rows = [], [], []
    for k, (scores, y) in enumerate(zip(CHAMPION_SCORES, labels, strict=True)):
        start = 4 * k
        frame = pd.DataFrame(
            {
                "commit": [f"c{start + i}" for i in range(4)],
                "author_time": [day(start + i) for i in range(4)],
                "label": np.asarray(y, dtype=float),
                "effort": np.ones(4),
                "risk_riskml": new_risk,
                "risk_lapredict": [0.5] * 4,
                "risk_kamei_lr": [0.5] * 4,
                "tier": ["low"] * 4,
            }
        )
        evaluated = {
            name: evaluate(frame["label"], frame[f"risk_{name}"], frame["effort"])
            for name in ("riskml", "lapredict", "kamei_lr")
        }
        split = {"cutoff": day(start).isoformat(), "test_end": day(start + 4).isoformat()}
        metrics.append({**evaluated, "split": split})
        preds.append(frame)
        rows.append(pd.DataFrame({"commit": frame["commit"], "score": scores}))
    return combine_folds(metrics, preds, bootstrap=0, test_frames=rows)


def _window():
    """This training's own test window: four changes, the champion's score AUC 0.5."""
    predictions = pd.DataFrame({"label": [1.0, 1.0, 0.0, 0.0], "effort": np.ones(4)})
    frame = pd.DataFrame({"score": [0.6, 0.2, 0.5, 0.3], "mine": [0.9, 0.8, 0.2, 0.1]})
    new_model = SimpleNamespace(risk=lambda rows: rows["mine"].to_numpy(dtype=float))
    return new_model, SimpleNamespace(test_predictions=predictions), frame


def _gate(monkeypatch, champion, rolling, config=None, **kwargs):
    monkeypatch.setattr(gate_module, "load_trained_model", lambda uri: champion)
    new_model, result, frame = _window()
    return gate(Client(), "m", new_model, result, frame, config or Config(), rolling, **kwargs)


# ---------------------------------------------------------------- which folds


def test_unseen_folds_are_those_starting_after_the_training_data_ended() -> None:
    folds = _rolling([0.9, 0.8, 0.2, 0.1]).folds
    assert unseen_folds({"train_end": day(3.5).isoformat()}, folds) == (
        [2, 3],
        day(3.5).isoformat(),
    )
    # a fold starting at the very moment of the last training change is not unseen
    assert unseen_folds({"train_end": day(4).isoformat()}, folds)[0] == [3]
    # a model saved before train_end was recorded: nothing from its cut-off on was trained on
    assert unseen_folds({"cutoff": day(4).isoformat()}, folds) == ([2, 3], day(4).isoformat())
    assert unseen_folds({}, folds) == ([], "")


# ---------------------------------------------------------------- the decision and its reason


def test_promoted_on_the_mean_over_the_folds_the_champion_never_saw(monkeypatch) -> None:
    champion = Champion({"train_end": day(3.5).isoformat()})
    out = _gate(monkeypatch, champion, _rolling([0.9, 0.8, 0.2, 0.1]))
    # folds 2 and 3: riskml 1.0 and 1.0, the champion 0.75 and 0.5 (fold 1 it may have seen)
    assert (out["basis"], out["folds"]) == ("folds", [2, 3])
    assert (out["new_value"], out["champion_value"]) == (1.0, 0.625)
    assert (out["decision"], out["alias"]) == ("promoted", "champion")
    assert out["reason"] == (
        "promoted: mean roc_auc over 2 folds 1.0000 vs champion v7 0.6250 (folds 2-3 of 3, "
        "each tested after the champion's training data ended; higher is better, tolerance 0)"
    )


def test_kept_when_the_new_recipe_is_worse_on_the_same_folds(monkeypatch) -> None:
    champion = Champion({"cutoff": day(0).isoformat()})
    out = _gate(monkeypatch, champion, _rolling([0.1, 0.2, 0.8, 0.9]))
    assert out["folds"] == [1, 2, 3]
    assert out["champion_value"] == pytest.approx(0.75, abs=1e-12)
    assert (out["decision"], out["alias"]) == ("kept", "challenger")
    assert out["reason"] == (
        "not promoted, champion kept: mean roc_auc over 3 folds 0.0000 vs champion v7 0.7500 "
        "(folds 1-3 of 3, each tested after the champion's training data ended; higher is "
        "better, tolerance 0)"
    )


def test_the_tolerance_applies_to_the_means(monkeypatch) -> None:
    champion = Champion({"train_end": day(3.5).isoformat()})
    config = Config(train=TrainConfig(promotion_tolerance=-0.4))  # must win by 0.4
    out = _gate(monkeypatch, champion, _rolling([0.9, 0.8, 0.2, 0.1]), config)
    assert out["decision"] == "kept"
    assert out["reason"].endswith("higher is better, tolerance -0.4)")


def test_fewer_than_two_unseen_folds_fall_back_to_one_window_and_say_so(monkeypatch) -> None:
    champion = Champion({"train_end": day(5).isoformat()})
    out = _gate(monkeypatch, champion, _rolling([0.9, 0.8, 0.2, 0.1]))
    assert (out["basis"], out["folds"]) == ("window", [])
    assert (out["new_value"], out["champion_value"]) == (1.0, 0.5)
    assert out["reason"] == (
        "promoted: roc_auc 1.0000 vs champion v7 0.5000 on the same 4 test changes (higher is "
        "better, tolerance 0); compared on one window, not on folds: only 1 of 3 folds tested "
        "after champion v7's training data ended (2024-01-06T00:00:00+00:00)"
    )


def test_folds_where_the_metric_is_undefined_do_not_count(monkeypatch) -> None:
    champion = Champion({"train_end": day(3.5).isoformat()})
    one_class = [0, 0, 0, 0]
    rolling = _rolling([0.9, 0.8, 0.2, 0.1], labels=(LABELS, one_class, LABELS))
    out = _gate(monkeypatch, champion, rolling)
    assert out["basis"] == "window"
    assert out["reason"].endswith(
        "compared on one window, not on folds: roc_auc is defined on only 1 of the 2 folds "
        "tested after champion v7's training data ended (2024-01-04T12:00:00+00:00)"
    )


def test_without_a_rolling_evaluation_the_reason_says_why(monkeypatch) -> None:
    champion = Champion({"train_end": day(3.5).isoformat()})
    out = _gate(monkeypatch, champion, None, no_rolling="[evaluate] in_train = false")
    assert out["reason"].endswith(
        "(higher is better, tolerance 0); compared on one window, not on folds: "
        "[evaluate] in_train = false"
    )
    default = _gate(monkeypatch, champion, None)
    assert default["reason"].endswith("not on folds: no rolling evaluation ran")


def test_the_champions_missing_columns_are_counted_on_the_folds_too(monkeypatch) -> None:
    champion = Champion({"train_end": day(3.5).isoformat()}, columns=("score", "gone"))
    out = _gate(monkeypatch, champion, _rolling([0.9, 0.8, 0.2, 0.1]))
    assert out["reason"].endswith(
        "tolerance 0) (champion's columns missing here, read as missing values: 1)"
    )


def test_a_champion_that_cannot_be_scored_on_the_folds_is_replaced(monkeypatch) -> None:
    class Broken(Champion):
        def risk(self, frame):
            raise ValueError("feature mismatch")

    out = _gate(monkeypatch, Broken({"train_end": day(3.5).isoformat()}), _rolling([0.5] * 4))
    assert (out["decision"], out["alias"]) == ("promoted_unreadable", "champion")
    assert out["reason"] == (
        "champion v7 could not be evaluated on this test window (ValueError: feature mismatch); "
        "the new version replaces it"
    )
