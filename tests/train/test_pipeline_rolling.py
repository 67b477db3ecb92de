"""train_and_register with ``[evaluate] in_train``: the rolling evaluation inside a training."""

from __future__ import annotations

import contextlib
import json

import pandas as pd
import pytest
from tracking_tables import write_kamei_csv

from riskml.config import Config, EvaluateConfig
from riskml.train.pipeline import train_and_register
from riskml.train.rolling import fold_bounds


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    from riskml.train import load_public_dataset

    return load_public_dataset(write_kamei_csv(tmp_path_factory.mktemp("jit") / "jit.csv", 1500, 8))


def _train(table, tmp_path, evaluate: EvaluateConfig):
    stages: list[str] = []

    @contextlib.contextmanager
    def stage(name: str):
        stages.append(name)
        yield

    trained = train_and_register(
        Config(evaluate=evaluate),
        dataset=table,
        label_mode="public",
        metrics_path=tmp_path / "metrics.json",
        model_dir=tmp_path / "models" / "m",
        mlflow=False,
        stage=stage,
    )
    return trained, json.loads((tmp_path / "metrics.json").read_text()), stages


def test_metrics_json_carries_the_rolling_summary(table, tmp_path) -> None:
    trained, metrics, stages = _train(table, tmp_path, EvaluateConfig(folds=3, bootstrap=20))
    assert stages == ["train", "evaluate"]
    rolling = metrics["rolling"]
    assert rolling == json.loads(json.dumps(trained.rolling.summary()))
    assert rolling["settings"] == {
        "folds": 3,
        "fold_fraction": 0.1,
        "label_mode": "public",
        "bootstrap": 20,
        "seed": 0,
    }
    cutoffs = [cut.isoformat() for cut, _ in fold_bounds(table, 3, 0.1)]
    assert [f["cutoff"] for f in rolling["folds"]] == cutoffs
    # the training itself is the one it would be without the folds
    assert metrics["riskml"] == trained.result.metrics["riskml"]
    assert metrics["split"]["cutoff"] == cutoffs[1]  # test_fraction 0.2: 80 %, fold 2's start


def test_off_the_training_says_so(table, tmp_path) -> None:
    trained, metrics, stages = _train(table, tmp_path, EvaluateConfig(in_train=False))
    assert stages == ["train"]
    assert trained.rolling is None
    assert metrics["rolling"] == {"skipped": "[evaluate] in_train = false"}


def test_a_table_the_folds_cannot_cut_is_trained_all_the_same(table, tmp_path) -> None:
    frame = table.copy()
    cutoff, test_end = fold_bounds(frame, 3, 0.1)[0]
    times = pd.to_datetime(frame["author_time"], utc=True)
    frame.loc[((times >= cutoff) & (times < test_end)).to_numpy(), "label"] = 0.0
    trained, metrics, stages = _train(frame, tmp_path, EvaluateConfig(folds=3))
    assert trained.rolling is None
    skipped = metrics["rolling"]["skipped"]
    assert skipped.startswith(
        f"rolling evaluation skipped: fold 1/3 (test from {cutoff.isoformat()}): the test slice"
    )
    assert metrics["riskml"]["roc_auc"] is not None
