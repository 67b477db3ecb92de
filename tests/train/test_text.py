"""The text component: tokens of the diff in the dataset, out-of-fold margins that never see
their own label, the model with and without a tokens file, saving, reasons."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from riskml.config import Config
from riskml.synth.tables import synthetic_tables
from riskml.train import fit
from riskml.train.dataset import build_dataset, feature_columns
from riskml.train.model import TEXT_COLUMN, TrainedModel, blend_text, reason_text
from riskml.train.text import TokenCounts, fit_text, margins_for, out_of_fold_margins


def _tokens_for(changes: pd.DataFrame, labels: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A tokens file for synthetic tables: ten common words a change, and a word of risk
    (``+danger``) in half of the incident-causing changes and a tenth of the others."""
    rng = np.random.default_rng(seed)
    label = labels.set_index("commit")["label"].reindex(changes["commit"]).to_numpy()
    words = [f"w{i}" for i in range(300)]
    texts = []
    for y in label:
        bag = " ".join(f"+{w}" for w in rng.choice(words, size=10, replace=False))
        if rng.random() < (0.5 if y == 1 else 0.1):
            bag += " +danger:2"
        texts.append(bag)
    return pd.DataFrame({"commit": changes["commit"].astype(str), "tokens": texts})


def _no_search(config: Config, **train) -> Config:
    return dataclasses.replace(
        config, train=dataclasses.replace(config.train, search=False, **train)
    )


@pytest.fixture(scope="module")
def tables():
    changes, labels = synthetic_tables(5000, seed=5, per_day=10)
    return changes, labels, _tokens_for(changes, labels)


@pytest.fixture(scope="module")
def with_text(tables):
    """Trained with the text score as a booster column (``[train] text = "feature"``)."""
    changes, labels, tokens = tables
    dataset = build_dataset(changes, labels, Config(), tokens=tokens)
    return dataset, fit(dataset, _no_search(Config(), text="feature"))


def test_the_dataset_carries_each_change_tokens(tables):
    changes, labels, tokens = tables
    part = tokens.iloc[1:]  # a change the tokens file lacks gets no tokens
    dataset = build_dataset(changes, labels, Config(), tokens=part)
    by_commit = dataset.set_index("commit")["tokens"]
    assert by_commit[changes["commit"].iloc[0]] == ""
    assert by_commit[changes["commit"].iloc[5]] == tokens["tokens"].iloc[5]
    assert "tokens" not in feature_columns(dataset)[0]
    assert "tokens" not in build_dataset(changes, labels, Config()).columns


def test_content_columns_without_signal_are_not_features():
    from riskml.mine.features import CONTENT_COLUMNS
    from riskml.train.dataset import UNUSED_CONTENT_COLUMNS

    frame = pd.DataFrame({c: [0] for c in ("la", *CONTENT_COLUMNS)})
    features, _ = feature_columns(frame)
    assert features == ["la", "error_handling", "concurrency", "null_checks",
                        "dependency_lines", "test_lines_deleted", "comments_only"]  # fmt: skip
    assert set(UNUSED_CONTENT_COLUMNS) == {"config_key_lines", "sql_statements", "todo_added"}


def test_token_counts_and_a_planted_token():
    texts = ["+a:2 -b", "", "+a +c:3", None, "+danger +a"] * 60
    counts = TokenCounts(texts)
    assert counts.tokens == ["+a", "-b", "+c", "+danger"]
    assert counts.matrix[0].toarray().tolist() == [[2.0, 1.0, 0.0, 0.0]]
    assert counts.matrix[1].nnz == 0 and counts.matrix[3].nnz == 0
    y = np.array([0, 0, 0, 0, 1] * 60)
    component = fit_text(counts, np.arange(300), y, min_df=1)
    assert set(component.vocabulary) == {"+a", "-b", "+c", "+danger"}
    margins = component.margin(["+danger", "+a", "", "+unknown"])
    assert margins[0] > 0 > margins[1]
    assert margins[2] == margins[3] == pytest.approx(component.intercept)  # nothing known
    assert np.allclose(margins_for(component, counts, np.arange(5)), component.margin(texts[:5]))
    # the row-by-row margin of scoring equals the matrix one of training
    mixed = ["+a:3 -b +danger", "+c +c:2", "-b:4 +nothing"]
    by_matrix = component.margin_of_counts(component.counts(mixed))
    assert np.allclose(component.margin(mixed), by_matrix, rtol=0, atol=1e-12)
    assert component.top_tokens(1)["raise"][0][0] == "+danger"


def test_out_of_fold_margins_never_see_their_own_labels(tables):
    _, _, tokens = tables
    counts = TokenCounts(tokens["tokens"].tolist())
    rows = np.arange(len(tokens))
    y = np.array(["+danger" in t for t in tokens["tokens"]], dtype=int)
    first = out_of_fold_margins(counts, rows, y, blocks=5)
    edges = np.linspace(0, len(rows), 6).astype(int)
    assert np.isnan(first[: edges[1]]).all() and not np.isnan(first[edges[1] :]).any()
    # a block's margins come from the blocks before it: its own labels (and later ones) do
    # not move them
    flipped = y.copy()
    flipped[edges[3] :] = 1 - flipped[edges[3] :]
    second = out_of_fold_margins(counts, rows, flipped, blocks=5)
    assert np.array_equal(first[: edges[4]], second[: edges[4]], equal_nan=True)
    assert not np.allclose(first[edges[4] :], second[edges[4] :])
    component = fit_text(counts, rows[: edges[2]], y[: edges[2]])
    expected = margins_for(component, counts, rows[edges[2] : edges[3]])
    assert np.allclose(first[edges[2] : edges[3]], expected, rtol=0, atol=1e-12)


def test_the_text_score_is_a_booster_column(with_text, tables):
    dataset, result = with_text
    model = result.model
    assert model.text is not None and model.text_mode == "feature"
    n = len(model.feature_columns)
    assert model.model_columns[n] == TEXT_COLUMN
    summary = result.metrics["model"]["text"]
    assert summary["mode"] == "feature" and summary["tokens"] == len(model.text.vocabulary)
    assert summary["valid_roc_auc_text"] > 0.6  # the planted word
    assert TEXT_COLUMN in result.metrics["model"]["features"]
    frame = dataset.tail(30)
    X = model.matrix(frame)
    assert np.allclose(X[:, n], model.text.margin(frame["tokens"].tolist()), rtol=0, atol=1e-12)
    assert "+danger" in model.text.vocabulary


def test_tokens_raise_riskml_over_the_same_model_without_them(with_text, tables):
    changes, labels, tokens = tables
    plain = fit(build_dataset(changes, labels, Config()), _no_search(Config()))
    blended = fit(build_dataset(changes, labels, Config(), tokens=tokens), _no_search(Config()))
    assert blended.model.text_mode == "blend"  # the default
    # measured with the merged defaults (min_rounds 100, recent ranks): +0.013 and more
    for result in (with_text[1], blended):
        assert result.metrics["riskml"]["roc_auc"] > plain.metrics["riskml"]["roc_auc"] + 0.01


def test_without_a_tokens_file_the_model_trains_as_before(tables, with_text):
    """No tokens column, or ``[train] text = "off"``: no text component, the very same model."""
    changes, labels, tokens = tables
    config = _no_search(Config())
    plain = fit(build_dataset(changes, labels, config), config)
    off = _no_search(Config(), text="off")
    ignored = fit(build_dataset(changes, labels, off, tokens=tokens), off)
    for result in (plain, ignored):
        assert result.model.text is None and TEXT_COLUMN not in result.model.model_columns
        assert result.metrics["model"]["text"] == {}
    probe = with_text[0].tail(100)
    assert np.array_equal(plain.model.risk(probe), ignored.model.risk(probe))


def test_a_saved_model_keeps_its_text_component(with_text, tmp_path):
    dataset, result = with_text
    frame = dataset.tail(40)
    result.model.save(tmp_path / "m")
    assert (tmp_path / "m" / "text.json").is_file()
    loaded = TrainedModel.load(tmp_path / "m")
    assert loaded.text_mode == "feature" and loaded.model_columns == result.model.model_columns
    assert np.array_equal(loaded.risk(frame), result.model.risk(frame))
    assert loaded.reasons(frame.head(3)) == result.model.reasons(frame.head(3))


def test_a_row_without_tokens_has_a_missing_text_score(with_text):
    dataset, result = with_text
    frame = dataset.tail(5).drop(columns=["tokens"])
    X = result.model.matrix(frame)
    assert np.isnan(X[:, len(result.model.feature_columns)]).all()
    risk = result.model.risk(frame)
    assert np.isfinite(risk).all() and ((risk > 0) & (risk < 1)).all()


def test_reasons_name_the_text_score(with_text):
    dataset, result = with_text
    danger = dataset[dataset["tokens"].str.contains("danger")].tail(50)
    reasons = result.model.reasons(danger, k=3)
    texts = [r for row in reasons for r in row if r["feature"] == TEXT_COLUMN]
    assert texts, "the planted word should be among the top reasons of some change"
    top = texts[0]
    assert (
        top["text"].startswith("its diff's tokens resemble those of")
        and "(text score " in top["text"]
    )
    assert isinstance(top["value"], float)


def test_blend_mode_blends_the_text_log_odds(tables, tmp_path):
    changes, labels, tokens = tables
    config = _no_search(Config(), text="blend", text_weight=0.3)
    result = fit(build_dataset(changes, labels, config, tokens=tokens), config)
    model = result.model
    assert model.text_mode == "blend" and TEXT_COLUMN not in model.model_columns
    params = model.blend["text"]
    assert params["weight"] == 0.3 and set(params) == {
        "weight", "scale", "shift", "text_scale", "text_shift", "center"
    }  # fmt: skip
    frame = build_dataset(changes, labels, config, tokens=tokens).tail(20)
    from riskml.train.baselines import linear_margin
    from riskml.train.model import blend_scores

    raw = model.booster.predict(model.matrix(frame), raw_score=True)
    before = blend_scores(raw, linear_margin(model.linear, frame), model.blend)
    expected = blend_text(before, model.text.margin(frame["tokens"].tolist()), params)
    assert np.allclose(model.raw_score(frame), expected, rtol=0, atol=1e-12)
    model.save(tmp_path / "b")
    loaded = TrainedModel.load(tmp_path / "b")
    assert np.array_equal(loaded.risk(frame), model.risk(frame))
    assert loaded.reasons(frame) == model.reasons(frame)
    # the blended text is a reason of its own, in the booster's raw-score units
    margin = model.text.margin(frame["tokens"].tolist())
    per_raw = (1 - 0.3) * params["scale"] * model.blend["weight"] * model.blend["scale"]
    effect = 0.3 * params["text_scale"] * (margin - params["center"]) / per_raw
    assert np.allclose(model.text_effect(margin), effect, rtol=0, atol=1e-12)
    danger = frame[frame["tokens"].str.contains("danger")].head(1)
    (top,) = [r for r in model.reasons(danger, k=8)[0] if r["feature"] == TEXT_COLUMN]
    assert top["effect"] == round(float(model.text_effect(model.text.margin(
        danger["tokens"].tolist()))[0]), 4) and top["effect"] > 0  # fmt: skip


def test_blend_text_by_hand():
    params = {"weight": 0.25, "scale": 2.0, "shift": -1.0, "text_scale": 0.5, "text_shift": 1.0}
    out = blend_text(np.array([1.0, 1.0]), np.array([2.0, np.nan]), params)
    # 0.75 * (2 - 1) + 0.25 * (1 + 1) = 1.25; without a text margin: 2 - 1 = 1
    assert np.allclose(out, [1.25, 1.0], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("error_handling", 3, "touches error handling (3 try/catch/throw keywords in changed lines)"),
        ("error_handling", 0, "touches no error handling"),
        ("concurrency", 1, "touches concurrency (1 lock/thread/async word in changed lines)"),
        ("null_checks", 2, "adds or removes 2 null checks"),
        ("config_key_lines", 4, "changes 4 configuration keys"),
        ("sql_statements", 1, "changes 1 SQL statement"),
        ("dependency_lines", 3, "changes 3 lines of dependency manifests"),
        ("dependency_lines", 0, "changes no dependency manifest"),
        ("test_lines_deleted", 12, "deletes 12 lines of test code"),
        ("todo_added", 1, "adds 1 TODO/FIXME/HACK marker"),
        ("comments_only", True, "changes comments only"),
        ("comments_only", False, "changes code, not only comments"),
        ("text_score", 1.25, "its diff's tokens resemble those of earlier incident-causing "
                             "changes (text score 1.25)"),
        ("text_score", -0.5, "its diff's tokens resemble those of changes without incidents "
                             "(text score -0.5)"),
        ("text_score", None, "its diff has no tokens the text model knows"),
    ],
)  # fmt: skip
def test_reason_texts_for_the_diff_content(feature, value, text):
    assert reason_text(feature, value, 0.2, {}) == f"{text} (raises risk)"
