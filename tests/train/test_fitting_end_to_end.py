"""fit() on a generated git repository, mined and labelled by the real stages."""

from __future__ import annotations

import pandas as pd
import pytest

from riskml.config import Config
from riskml.train import build_dataset, fit
from riskml.train.dataset import LABEL_HISTORY_COLUMNS, feature_columns

# end to end: mine, label and fit a generated repository
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from riskml.label import label, load_incidents
    from riskml.mine import mine
    from riskml.synth import generate

    root = tmp_path_factory.mktemp("train_pipeline")
    generated = generate(root, commits=1500, seed=7)
    # an explicit table path: mine's default (data/<repo>/) is shared state in the working tree
    changes = mine(generated.repo, out=root / "changes.parquet")
    incidents, problems = load_incidents(generated.incidents, generated.repo)
    assert problems == []
    labels = label(generated.repo, changes, incidents).labels
    dataset = build_dataset(changes, labels, Config())
    return changes, labels, dataset, fit(dataset, Config())


def test_riskml_beats_lapredict_on_a_generated_repository(pipeline):
    metrics = pipeline[3].metrics
    assert metrics["riskml"]["roc_auc"] > metrics["lapredict"]["roc_auc"]
    assert metrics["riskml"]["pr_auc"] > metrics["lapredict"]["pr_auc"]
    assert metrics["split"]["gap_days"] == 90.0 and metrics["labels"]["proxy"] is False


def test_every_mined_feature_is_used_and_nothing_else(pipeline):
    changes, _, dataset, result = pipeline
    features, categorical = feature_columns(dataset)
    assert {"commit", "author_email", "author_time", "files", "subject", "label"}.isdisjoint(
        features
    )
    assert {"ai_provenance", "ai_tool", "critical_areas"} <= set(categorical)
    assert set(LABEL_HISTORY_COLUMNS) <= set(features)
    # each history count is read as its rank among the recent changes, not as its raw value
    from riskml.config import FILE_PAST_COLUMNS
    from riskml.mine.recent import RECENT_COLUMNS

    counts = [*RECENT_COLUMNS, *LABEL_HISTORY_COLUMNS]
    # the files' own past is mined but left out of the model by default ([train])
    left_out = {*counts, *FILE_PAST_COLUMNS}
    assert result.model.feature_columns == [c for c in features if c not in left_out]
    assert {f"{c}_recent_pct" for c in counts} <= set(result.model.feature_columns)
    # history of incidents is there to learn from
    assert (dataset["past_incidents_files"] > 0).sum() > 0


def test_model_scores_a_pending_change(pipeline):
    from riskml.train.dataset import label_history_features

    changes, labels, _, result = pipeline
    pending = changes.tail(1).copy()
    pending["commit"] = "f" * 40
    pending["author_time"] = pending["author_time"] + pd.Timedelta(days=1)
    history = label_history_features(pending, changes, labels)
    for column in LABEL_HISTORY_COLUMNS:
        pending[column] = history[column].to_numpy()
    out = result.model.predict(pending)
    assert 0 < out["risk"].iloc[0] < 1
    assert out["tier"].iloc[0] in {"low", "medium", "high", "critical"}
    assert len(out["reasons"].iloc[0]) == 5
