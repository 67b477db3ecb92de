"""Reasons that make sense: numbers said against the repository's own changes, rounded for
people, one reason per fact, and what keeps a low-risk change low."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskml.config import Config
from riskml.fmt import duration_text, people_number
from riskml.synth.tables import synthetic_tables
from riskml.train import build_dataset, fit
from riskml.train.model import TrainedModel, assign_tiers
from riskml.train.reasons import (
    GROUPS,
    RECENT_SUFFIX,
    comparison,
    distribution,
    group_of,
    reason_text,
    shares,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [(226, "226"), (226.0, "226"), (960.97, "961"), (12.345, "12.3"), (0.87345, "0.87"),
     (0.5, "0.5"), (2.0001, "2"), (-3.456, "-3.46"), (None, "unknown"), (float("nan"), "unknown")],
)  # fmt: skip
def test_numbers_are_rounded_for_people(value, text):
    assert people_number(value) == text


@pytest.mark.parametrize(
    ("days", "text"),
    [(960.97, "2.6 years"), (365.25, "1 year"), (364.6, "365 days"), (12.4, "12 days"),
     (1.0, "1 day"), (0.4, "10 hours"), (0.01, "under an hour"), (None, "unknown")],
)  # fmt: skip
def test_spans_of_days_read_as_people_say_them(days, text):
    assert duration_text(days) == text


def test_the_distribution_keeps_exact_shares_at_its_points():
    values = [0] * 70 + list(range(1, 31))  # 70 zeros, then 1 … 30
    dist = distribution(values)
    assert dist["n"] == 100
    assert dist["values"][:3] == [0.0, 1.0, 2.0] and dist["values"][-1] == 30.0
    assert shares(dist, 0) == (0.0, 0.3, 0.7)
    assert shares(dist, 28) == (0.97, 0.02, 0.01)
    assert shares(dist, 100) == (1.0, 0.0, 0.0)
    assert shares(dist, -1) == (0.0, 1.0, 0.0)
    assert distribution([float("nan"), None]) is None


def test_a_reason_says_its_number_against_the_repository():
    typical = {"la": distribution(list(range(100))), "exp": distribution([0] * 70 + [5] * 30)}
    assert reason_text("la", 226, 0.4, {}, typical) == (
        "adds 226 lines, more than 99 % of changes (raises risk)"
    )
    assert reason_text("la", 92.5, 0.4, {}, typical) == (
        "adds 92.5 lines, more than 93 % of changes (raises risk)"
    )
    assert reason_text("la", 3, -0.4, {}, typical) == (
        "adds 3 lines, fewer than 96 % of changes (lowers risk)"
    )
    assert reason_text("exp", 0, 0.4, {}, typical) == (
        "author has no earlier commits, like 70 % of changes (raises risk)"
    )
    tenure = {"author_tenure_days": distribution([10.0 * i for i in range(100)])}
    assert reason_text("author_tenure_days", 960.97, -0.2, {}, tenure) == (
        "author's first commit was 2.6 years before, longer ago than for 97 % of changes "
        "(lowers risk)"
    )
    assert reason_text("author_tenure_days", 20.2, 0.2, {}, tenure) == (
        "author's first commit was 20 days before, more recently than for 97 % of changes "
        "(raises risk)"
    )
    fixes = {"fix": distribution([0] * 88 + [1] * 12)}
    assert (
        reason_text("fix", True, 0.1, {}, fixes) == "is a fix, like 12 % of changes (raises risk)"
    )
    # a time of day is no place on a scale; no distribution: the number alone
    assert comparison("hour_utc", 23, distribution(range(24))) == ""
    assert reason_text("la", 226, 0.4, {}, {}) == "adds 226 lines (raises risk)"


def test_a_recent_rank_is_said_with_its_count_among_recent_changes():
    assert reason_text("exp_recent_pct", 0.934, 0.3, {"exp": 319}) == (
        "author has 319 earlier commits, more than 93 % of recent changes (raises risk)"
    )
    assert reason_text("author_tenure_days_recent_pct", 0.1, 0.3, {"author_tenure_days": 40}) == (
        "author's first commit was 40 days before, more recently than for 90 % of recent "
        "changes (raises risk)"
    )


def test_columns_of_one_fact_share_a_group():
    from riskml.mine.recent import SUFFIX

    assert SUFFIX == RECENT_SUFFIX
    experience = {"exp", "sexp", "rexp", "author_tenure_days"}
    assert set(GROUPS["author experience"]) == experience
    assert {group_of(c) for c in [*experience, "exp_recent_pct", "sexp_recent_pct"]} == {
        "author experience"
    }
    assert group_of("la") == group_of("churn_log") != group_of("nf")
    assert group_of("n_test_files") == "n_test_files"


# --------------------------------------------------------------------------- on a model


@pytest.fixture(scope="module")
def trained():
    changes, labels = synthetic_tables(3000, seed=3, per_day=10)
    return fit(build_dataset(changes, labels, Config()), Config())


def test_the_distributions_come_from_the_training_rows_only(trained):
    model = trained.model
    n_train = len(trained.split.train_index)
    assert model.typical["la"]["n"] == n_train
    assert model.typical["churn_log"]["n"] == n_train  # a derived column too
    assert set(model.typical) <= set(model.feature_columns) | set(model.derived_columns)
    assert not any(c.endswith(RECENT_SUFFIX) for c in model.typical)
    assert not set(model.typical) & set(model.categorical_columns)
    assert all(len(d["values"]) <= 101 for d in model.typical.values())


def test_one_reason_per_fact_and_low_risk_changes_hear_what_lowers_them(trained):
    model, test = trained.model, trained.test_frame
    out = model.predict(test, k=8)
    by_risk = assign_tiers(out["risk"], model.thresholds, floor="")
    low = [i for i, t in enumerate(by_risk) if t == "low"]
    raised = [i for i, t in enumerate(by_risk) if t != "low"]
    assert low and raised
    for reasons in out["reasons"]:
        groups = [group_of(r["feature"]) for r in reasons]
        assert len(groups) == len(set(groups))
    for i in low:
        first = out["reasons"].iloc[i][0]
        assert first["effect"] < 0 and first["text"].endswith("(lowers risk)")
    for i in raised:
        first = out["reasons"].iloc[i][0]
        assert first["effect"] > 0 and first["text"].endswith("(raises risk)")


def test_a_reason_of_the_model_reads_against_the_repository(trained):
    model = trained.model
    row = pd.DataFrame(
        {"la": [5000], "nf": [1], "author_time": [pd.Timestamp("2024-01-01", tz="UTC")]}
    )
    texts = [r["text"] for r in model.reasons(row, k=30)[0] if r["feature"] == "la"]
    assert texts == [
        "adds 5000 lines, more than 99 % of changes "
        + ("(raises risk)" if texts[0].endswith("(raises risk)") else "(lowers risk)")
    ]


def test_a_model_saved_without_distributions_still_scores_with_plain_sentences(trained, tmp_path):
    directory = trained.model.save(tmp_path / "m")
    meta = json.loads((directory / "model.json").read_text())
    assert meta["typical"]["la"]["n"] == len(trained.split.train_index)
    del meta["typical"]
    (directory / "model.json").write_text(json.dumps(meta))
    old = TrainedModel.load(directory)
    assert old.typical == {}
    rows = trained.test_frame.head(20)
    np.testing.assert_allclose(old.risk(rows), trained.model.risk(rows))
    texts = [r["text"] for reasons in old.predict(rows)["reasons"] for r in reasons]
    assert texts and not any("% of changes" in t for t in texts)
    again = TrainedModel.load(trained.model.save(tmp_path / "new"))
    assert again.typical == trained.model.typical
