"""riskml.train: the honest split, label-history features, public layouts, the model, fit()."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from riskml.config import Config, TierConfig
from riskml.errors import RiskmlError
from riskml.synth.tables import synthetic_tables
from riskml.train import fit
from riskml.train.baselines import linear_margin
from riskml.train.dataset import (
    build_dataset,
    feature_columns,
    label_history_features,
    load_public_dataset,
)
from riskml.train.model import TrainedModel, assign_tiers, blend_scores, tier_thresholds
from riskml.train.split import time_split

DAY0 = pd.Timestamp("2024-01-01", tz="UTC")


def day(n: float) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=n)


# ---------------------------------------------------------------- the split


def _twenty_days() -> pd.DataFrame:
    """One change a day; labels chosen to exercise every rule of evaluation.md."""
    label = [0.0] * 20
    known = [pd.NaT] * 20
    for i, k in ((2, 4), (5, 20), (7, 13), (10, 12), (14, 15), (16, 30)):
        label[i], known[i] = 1.0, day(k)
    label[3] = label[18] = label[19] = np.nan
    return pd.DataFrame(
        {
            "commit": [f"c{i:02d}" for i in range(20)],
            "author_time": [day(i) for i in range(20)],
            "label": label,
            "known_at": pd.Series(known, dtype="datetime64[ns, UTC]"),
            "la": range(20),
        }
    )


def test_split_labels_as_known_at_the_cutoff_with_a_gap():
    frame = _twenty_days()
    split = time_split(frame, test_fraction=0.2, valid_fraction=0.25, gap_days=5, window_days=5)
    # 18 labelled changes: the last 4 (days 14-17) are the test window; cut-off = day 14
    assert split.info["cutoff"] == day(14).isoformat()
    assert split.test_index.tolist() == [14, 15, 16, 17]
    # training: before day 9; row 3 has no label; row 5's incident was known only on day 20
    assert split.fit_index.tolist() == [0, 1, 2, 4, 5, 6]
    assert split.fit_label.tolist() == [0, 0, 1, 0, 0, 0]
    assert split.valid_index.tolist() == [7, 8]
    assert split.valid_label.tolist() == [1, 0]
    assert split.info["n_excluded"] == 20 - 6 - 2 - 4


def test_split_leaves_out_changes_too_young_at_the_cutoff():
    frame = _twenty_days()
    split = time_split(frame, test_fraction=0.2, valid_fraction=0.25, gap_days=2, window_days=5)
    # training before day 12: day 10 is positive known on day 12 (kept), day 11 too young (out)
    assert split.train_index.tolist() == [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]
    assert split.train_label.tolist() == [0, 0, 1, 0, 0, 0, 1, 0, 0, 1]
    assert split.valid_index.tolist() == [9, 10]


def test_split_with_an_explicit_cutoff():
    frame = _twenty_days()
    split = time_split(
        frame, valid_fraction=0.25, gap_days=5, window_days=5, cutoff="2024-01-15T00:00:00Z"
    )
    assert split.test_index.tolist() == [14, 15, 16, 17]
    assert split.info["cutoff"] == day(14).isoformat()


def test_public_split_is_chronological_80_20_without_gap():
    frame = pd.DataFrame(
        {
            "commit": list("abcdefghij"),
            "author_time": [day(i) for i in (0, 1, 2, 3, 4, 5, 6, 6, 8, 9)],
            "label": [1, 0, 1, 0, 0, 1, 0, 1, 1, 0],
            "la": range(10),
        }
    )
    split = time_split(frame, test_fraction=0.2, valid_fraction=0.25, mode="public")
    assert split.test_index.tolist() == [8, 9]
    # rows 6 and 7 share a second: both stay in training
    assert split.train_index.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert split.valid_index.tolist() == [6, 7]
    assert split.info["gap_days"] == 0.0


def test_split_refuses_one_class():
    frame = _twenty_days()
    frame["label"] = frame["label"].where(frame["label"].isna(), 0.0)
    with pytest.raises(RiskmlError, match="one class"):
        time_split(frame, gap_days=5, window_days=5)


# ---------------------------------------------------------------- label history


def _history_tables():
    changes = pd.DataFrame(
        {
            "commit": ["A", "B", "C", "D"],
            "author_time": [day(0), day(1), day(5), day(10)],
            "author_email": ["u1@x", "u2@x", "U1@x", "u2@x"],
            "files": ["a/x.py;a/y.py", "b/z.py", "a/x.py", "a/w.py"],
        }
    )
    labels = pd.DataFrame(
        {
            "commit": ["A", "B", "C", "D"],
            "label": [1.0, 1.0, 0.0, np.nan],
            "known_at": [day(3), day(6), pd.NaT, pd.NaT],
        }
    )
    return changes, labels


def test_label_history_counts_only_links_known_before_the_change():
    changes, labels = _history_tables()
    out = label_history_features(changes, changes, labels)
    assert out.to_dict("list") == {
        # A, B: nothing known yet; C (day 5): A's link (day 3) shares file, dir and author;
        # D (day 10): A's dir a/, B's author u2
        "past_incidents_files": [0, 0, 1, 0],
        "past_incidents_dirs": [0, 0, 1, 1],
        "past_incidents_author": [0, 0, 1, 1],
    }


def test_label_history_for_a_pending_change():
    changes, labels = _history_tables()
    pending = pd.DataFrame(
        {
            "commit": ["E", "F"],
            "author_time": [day(4), day(7)],
            "author_email": ["u2@x", "u2@x"],
            "files": ["b/z.py", "b/z.py"],
        }
    )
    out = label_history_features(pending, changes, labels)
    # B's link becomes known on day 6: after E, before F
    assert out.values.tolist() == [[0, 0, 0], [1, 1, 1]]


def test_incident_index_counts_few_rows_as_the_sweep_counts_many():
    """A server's few rows (bisections per file, directory and author) and a training table's
    many rows (one sweep in time order) give the same counts, row by row."""
    from riskml.train.dataset import IncidentIndex

    rng = np.random.default_rng(7)
    n = 400
    paths = [f"{d}/{f}.py" for d in "abcde" for f in "xyz"]
    changes = pd.DataFrame(
        {
            "commit": [f"c{i}" for i in range(n)],
            "author_time": [day(int(d)) for d in rng.integers(0, 60, n)],
            "author_email": [f"u{int(a)}@x" for a in rng.integers(0, 6, n)],
            "files": [
                ";".join(rng.choice(paths, int(k), replace=False)) for k in rng.integers(1, 4, n)
            ],
        }
    )
    positive = rng.random(n) < 0.25
    labels = pd.DataFrame(
        {
            "commit": changes["commit"],
            "label": positive.astype(float),
            "known_at": [
                day(int(d)) if p else pd.NaT
                for d, p in zip(rng.integers(0, 70, n), positive, strict=True)
            ],
        }
    )
    index = IncidentIndex(changes, labels)
    swept = index.counts(changes)  # more than 64 rows: the sweep
    one_by_one = pd.concat([index.counts(changes.iloc[[i]]) for i in range(n)])
    assert one_by_one.values.tolist() == swept.values.tolist()
    assert swept.values.sum() > 0 and (swept.values == 0).any()


def test_build_dataset_joins_labels_and_picks_feature_columns():
    changes, labels = _history_tables()
    changes["la"] = [1, 2, 3, 4]
    changes["touches_critical"] = [True, False, False, True]
    changes["ai_provenance"] = ["human", "ai_agent", "human", "bot"]
    changes["subject"] = "x"
    frame = build_dataset(changes, labels, Config())
    assert frame["commit"].tolist() == ["A", "B", "C", "D"]
    assert frame["label"].tolist()[:3] == [1.0, 1.0, 0.0] and np.isnan(frame["label"][3])
    features, categorical = feature_columns(frame)
    assert features == [
        "la",
        "touches_critical",
        "past_incidents_files",
        "past_incidents_dirs",
        "past_incidents_author",
        "past_incidents_files_recent_pct",
        "past_incidents_dirs_recent_pct",
        "past_incidents_author_recent_pct",
        "ai_provenance",
    ]
    assert categorical == ["ai_provenance"]
    # each count ranked among the changes before it, in time order
    counts = frame["past_incidents_files"].tolist()
    assert frame["past_incidents_files_recent_pct"].tolist() == [
        0.5,
        *[(sum(c < v for c in counts[:i]) + 0.5 * sum(c == v for c in counts[:i])) / i
          for i, v in enumerate(counts) if i],
    ]  # fmt: skip


# ---------------------------------------------------------------- public layouts


def test_load_kamei_layout_ignores_other_columns(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text(
        ",_id,date,bug,__,ns,nd,nf,entrophy,la,ld,lt,fix,ndev,age,nuc,exp,rexp,sexp\n"
        "0,bbb,200,1,1,1,1,2,0.5,10,2,100,0,3,1.5,4,7,2.5,3\n"
        "1,aaa,100,0,0,1,1,1,0.0,1,0,50,1,2,0.5,2,5,1.5,1\n"
    )
    frame = load_public_dataset(path)
    assert frame["commit"].tolist() == ["aaa", "bbb"]
    assert frame["label"].tolist() == [0.0, 1.0]
    assert frame["entropy"].tolist() == [0.0, 0.5]
    assert frame["author_time"].tolist() == [
        pd.Timestamp(100, unit="s", tz="UTC"),
        pd.Timestamp(200, unit="s", tz="UTC"),
    ]
    assert "__" not in frame.columns and "bug" not in frame.columns
    assert frame.attrs["layout"] == "kamei"


def test_load_apachejit_layout(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        "commit_id,project,buggy,fix,year,author_date,la,ld,nf,nd,ns,ent,ndev,age,nuc,aexp,arexp,asexp\n"
        "c1,apache/kafka,True,False,2019,1550000000,10,1,2,1,1,0.9,3,10.5,4,100,20.5,30\n"
        "c0,apache/hive,False,True,2018,1540000000,3,0,1,1,1,0.0,1,2.0,1,5,1.0,2\n"
    )
    frame = load_public_dataset(path)
    assert frame["commit"].tolist() == ["c0", "c1"]
    assert frame["label"].tolist() == [0.0, 1.0]
    assert frame["fix"].tolist() == [1.0, 0.0]
    assert frame["exp"].tolist() == [5.0, 100.0] and frame["sexp"].tolist() == [2.0, 30.0]
    assert frame["project"].tolist() == ["apache/hive", "apache/kafka"]
    assert feature_columns(frame)[1] == ["project"]


def test_unknown_layout_is_a_user_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(RiskmlError, match="unknown layout"):
        load_public_dataset(path)


# ---------------------------------------------------------------- tiers


def test_tier_thresholds_by_share():
    risk = np.arange(100, 0, -1) / 100.0  # 1.00, 0.99, ..., 0.01
    y = np.zeros(100)
    thresholds = tier_thresholds(risk, y, TierConfig())
    # critical: top 3 -> 0.98; high: top 10 -> 0.91; medium: top 30 -> 0.71
    assert thresholds == {"medium": 0.71, "high": 0.91, "critical": 0.98}
    tiers = assign_tiers(risk, thresholds)
    assert [tiers.count(t) for t in ("critical", "high", "medium", "low")] == [3, 7, 20, 70]


def test_tier_thresholds_by_target_rate():
    risk = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    y = np.array([1, 1, 0, 1, 0, 0])
    tiers = TierConfig(mode="rate", rates={"critical": 1.0, "high": 0.75, "medium": 0.5})
    # cumulative rates from the top: 1, 1, 2/3, 3/4, 3/5, 1/2
    assert tier_thresholds(risk, y, tiers) == {"medium": 0.4, "high": 0.6, "critical": 0.8}


def test_critical_path_floor():
    frame = pd.DataFrame({"touches_critical": [True, False, True], "n_critical_files": [1, 0, 2]})
    thresholds = {"medium": 0.5, "high": 0.7, "critical": 0.9}
    assert assign_tiers([0.1, 0.1, 0.95], thresholds, frame, "medium") == [
        "medium",
        "low",
        "critical",
    ]
    assert assign_tiers([0.1, 0.1, 0.95], thresholds, frame, "") == ["low", "low", "critical"]


# ---------------------------------------------------------------- fit on data with known signal


@pytest.fixture(scope="module")
def synthetic():
    changes, labels = synthetic_tables(8000, seed=3, per_day=10)
    return changes, labels, build_dataset(changes, labels, Config())


@pytest.fixture(scope="module")
def trained(synthetic):
    return fit(synthetic[2], Config())


def test_riskml_beats_lapredict_on_planted_signal(trained):
    m = trained.metrics
    assert set(m) >= {"riskml", "lapredict", "kamei_lr", "split", "labels"}
    assert m["labels"]["proxy"] is False
    assert m["riskml"]["roc_auc"] > m["lapredict"]["roc_auc"] + 0.03
    assert m["riskml"]["roc_auc"] > m["kamei_lr"]["roc_auc"]
    # the planted causes are among the most used features
    top = trained.importance["feature"].head(8).tolist()
    assert "la" in top and "first_touch_files" in top


@pytest.fixture(scope="module")
def searched(synthetic):
    import dataclasses

    cfg = Config()
    return fit(
        synthetic[2], dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, search=True))
    )


def test_without_the_search_one_booster_with_the_derived_columns(trained):
    assert [
        (e["params"], e["derived"], e["half_life_days"]) for e in trained.metrics["model"]["search"]
    ] == [({}, True, None)]


def test_a_fixed_half_life_weights_the_one_booster(synthetic, trained):
    cfg = Config()
    weighted = fit(
        synthetic[2],
        dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, half_life_days=365)),
    )
    assert [
        (e["params"], e["derived"], e["half_life_days"])
        for e in weighted.metrics["model"]["search"]
    ] == [({}, True, 365.0)]
    assert weighted.model.info["half_life_days"] == 365.0
    assert trained.model.info["half_life_days"] is None
    # the same rows, weighted otherwise: another booster
    rows = synthetic[2].head(200)
    assert not np.array_equal(weighted.model.risk(rows), trained.model.risk(rows))


def test_search_tries_every_setting_then_the_best_with_each_half_life(searched):
    from riskml.train.model import SEARCH_HALF_LIVES, SEARCH_SPACE

    trained = searched
    search = trained.metrics["model"]["search"]
    grid = [(dict(p), d, None) for p in SEARCH_SPACE for d in (True, False)]
    assert [(e["params"], e["derived"], e["half_life_days"]) for e in search[:6]] == grid
    # the earliest of equal AUCs wins, as in the loop over the grid
    first = max(search[:6], key=lambda e: (e["valid_roc_auc"], -search.index(e)))
    assert [(e["params"], e["derived"], e["half_life_days"]) for e in search[6:]] == [
        (first["params"], first["derived"], h) for h in SEARCH_HALF_LIVES
    ]
    best = max(search, key=lambda e: (e["valid_roc_auc"], -search.index(e)))
    info = trained.model.info
    assert (info["valid_roc_auc"], info["half_life_days"]) == (
        best["valid_roc_auc"],
        best["half_life_days"],
    )
    assert info["best_iteration"] == best["best_iteration"]
    assert trained.metrics["riskml"]["valid_roc_auc"] == best["valid_roc_auc"]


def test_a_later_candidate_must_beat_the_best_clearly():
    from riskml.train.fitting import _best_of, _Candidate

    a, b, c = (_Candidate({}, False, None, auc, None) for auc in (0.7, 0.7 + 1e-13, 0.71))
    assert _best_of([a, b]) is a
    assert _best_of([a, b, c]) is c
    assert _best_of([c, a]) is c


def test_metrics_are_on_the_test_window_only(trained, synthetic):
    frame = synthetic[2]
    preds = trained.test_predictions
    cutoff = pd.Timestamp(trained.metrics["split"]["cutoff"])
    assert (pd.to_datetime(preds["author_time"], utc=True) >= cutoff).all()
    assert len(preds) == trained.metrics["riskml"]["n"] == trained.metrics["split"]["n_test"]
    assert preds["label"].tolist() == frame.iloc[trained.split.test_index]["label"].tolist()
    assert list(preds.columns) == [
        "commit",
        "author_time",
        "label",
        "effort",
        "risk_riskml",
        "risk_lapredict",
        "risk_kamei_lr",
        "tier",
    ]
    json.dumps(trained.metrics, allow_nan=False)  # strict JSON


def test_calibration_matches_the_base_rate(trained):
    model = trained.metrics["model"]
    # on the validation slice (where the calibrator was fitted, real class balance)
    assert abs(model["valid_mean_risk"] - model["valid_base_rate"]) < 0.005
    # and, looser, on the unseen test window
    preds = trained.test_predictions
    assert abs(preds["risk_riskml"].mean() - preds["label"].mean()) < 0.02


def test_tier_rates_rise_with_the_tier(trained):
    rates = trained.metrics["riskml"]["tier_rates"]
    assert sum(rates[t]["n"] for t in rates) == trained.metrics["split"]["n_test"]
    assert rates["critical"]["incident_rate"] > rates["low"]["incident_rate"]
    assert rates["high"]["incident_rate"] > rates["low"]["incident_rate"]


def test_leak_free_labels_after_the_cutoff_change_nothing(synthetic):
    changes, labels, _ = synthetic
    config = Config()
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, search=False))
    cutoff = changes["author_time"].iloc[6000]
    first = fit(build_dataset(changes, labels, config), config, cutoff=cutoff)

    # rewrite history after the cut-off: drop every link known after it, flip test labels,
    # and make new links known after it for old changes
    changed = labels.copy()
    late = changes["author_time"] >= cutoff
    changed.loc[(changed["known_at"] >= cutoff) & ~late, ["label", "known_at"]] = [0.0, pd.NaT]
    changed.loc[late & changed["label"].notna(), "label"] = 1.0 - changed["label"]
    changed.loc[late & (changed["label"] == 1.0), "known_at"] = cutoff + pd.Timedelta(days=1)
    rng = np.random.default_rng(0)
    old_clean = changed.index[(changed["label"] == 0.0) & ~late]
    for i in rng.choice(old_clean, size=200, replace=False):
        changed.loc[i, ["label", "known_at"]] = [1.0, cutoff + pd.Timedelta(days=3)]
    second = fit(build_dataset(changes, changed, config), config, cutoff=cutoff)

    probe = build_dataset(changes, labels, config)
    assert first.split.train_index.tolist() == second.split.train_index.tolist()
    assert first.split.train_label.tolist() == second.split.train_label.tolist()
    assert np.array_equal(first.model.risk(probe), second.model.risk(probe))
    assert first.model.thresholds == second.model.thresholds
    # ... while the test window's verdict did change
    assert first.metrics["riskml"]["roc_auc"] != second.metrics["riskml"]["roc_auc"]


def test_blend_scores_by_hand():
    blend = {"weight": 0.7, "scale": 2.0, "shift": -1.0}
    out = blend_scores(np.array([0.0, 1.0]), np.array([1.0, -2.0]), blend)
    # 0.7 * (2 * 0 - 1) + 0.3 * 1 = -0.4 ; 0.7 * (2 * 1 - 1) + 0.3 * -2 = 0.1
    assert np.allclose(out, [-0.4, 0.1], rtol=0, atol=1e-12)


def test_risk_is_the_calibrated_blend_and_reasons_stay_lightgbm(trained, synthetic):
    model = trained.model
    frame = synthetic[2].tail(20)
    blend = trained.metrics["model"]["blend"]
    assert blend["weight"] == 0.7 and blend["scale"] > 0
    assert blend["linear_columns"] == model.linear.columns
    booster_raw = model.booster.predict(model.matrix(frame), raw_score=True)
    expected = 0.7 * (blend["scale"] * booster_raw + blend["shift"]) + 0.3 * linear_margin(
        model.linear, frame
    )
    assert np.allclose(model.raw_score(frame), expected, rtol=0, atol=1e-12)
    calibrated = model.calibrator.predict_proba(expected.reshape(-1, 1))[:, 1]
    assert np.allclose(model.risk(frame), calibrated, rtol=0, atol=1e-12)
    # reasons: LightGBM pred_contrib of the booster, unchanged by the blend
    contrib = model.booster.predict(model.matrix(frame), pred_contrib=True)[0, :-1]
    top = model.reasons(frame.head(1), k=1)[0][0]
    assert top["effect"] == round(float(contrib.max()), 4)
    assert top["feature"] == model.model_columns[int(np.argmax(contrib))]


def test_blend_weight_one_is_lightgbm_alone_and_out_of_range_is_an_error(synthetic):
    config = Config()
    alone = dataclasses.replace(config.train, blend_weight=1.0, search=False)
    result = fit(synthetic[2], dataclasses.replace(config, train=alone))
    assert result.model.linear is None and result.model.blend == {}
    frame = synthetic[2].tail(5)
    raw = result.model.booster.predict(result.model.matrix(frame), raw_score=True)
    assert np.array_equal(result.model.raw_score(frame), raw)
    # refused when the config is built, before any booster trains
    with pytest.raises(RiskmlError, match="blend_weight"):
        bad = dataclasses.replace(config.train, blend_weight=1.5)
        fit(synthetic[2], dataclasses.replace(config, train=bad))


def test_save_load_predict_roundtrip(trained, synthetic, tmp_path):
    frame = synthetic[2].tail(50)
    model = trained.model
    model.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {
        "booster.txt",
        "calibrator.json",
        "linear.json",
        "model.json",
    }
    loaded = TrainedModel.load(tmp_path / "m")
    assert loaded.blend == model.blend and loaded.blend["weight"] == 0.7
    assert np.allclose(loaded.risk(frame), model.risk(frame), rtol=0, atol=1e-12)
    assert loaded.thresholds == model.thresholds
    out = loaded.predict(frame, k=3)
    assert list(out.columns) == ["risk", "tier", "reasons"]
    assert out.index.equals(frame.index)
    assert set(out["tier"]) <= {"low", "medium", "high", "critical"}
    for reasons in out["reasons"]:
        assert len(reasons) == 3
        assert all(set(r) == {"feature", "value", "effect", "text"} for r in reasons)
        effects = [r["effect"] for r in reasons if r["effect"] > 0]
        assert effects == sorted(effects, reverse=True)


def test_missing_columns_are_missing_values(trained, synthetic):
    frame = synthetic[2].tail(5).drop(columns=["exp", "ai_provenance", "files"])
    risk = trained.model.risk(frame)
    assert risk.shape == (5,) and np.all((risk > 0) & (risk < 1))


def test_reason_texts_read_like_sentences(trained):
    row = pd.DataFrame(
        {
            "la": [400],
            "n_critical_files": [3],
            "touches_critical": [True],
            "critical_areas": ["payments"],
            "first_touch_files": [2],
            "exp": [0],
            "author_time": [day(0)],
        }
    )
    reasons = trained.model.reasons(row, k=20)[0]
    texts = {r["feature"]: r["text"] for r in reasons}
    assert texts["la"].startswith("adds 400 lines")
    if "n_critical_files" in texts:
        assert texts["n_critical_files"].startswith("touches 3 files on critical paths (payments)")


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("n_test_files", 0, "touches no test files (raises risk)"),
        ("n_test_files", 1, "touches 1 test file (raises risk)"),
        ("nd", 0, "touches no directories (raises risk)"),
        ("nd", 2, "touches 2 directories (raises risk)"),
        ("exp", 0, "author has no earlier commits (raises risk)"),
        ("author_file_commits", 0, "author never changed these files before (raises risk)"),
        ("author_file_commits", 3, "author changed these files 3 times before (lowers risk)"),
        ("first_touch_files", 0, "author changed each of these files before (lowers risk)"),
        ("first_touch_files", 2, "author never changed 2 of these files before (raises risk)"),
        ("weekday", 2, "authored on Wednesday (raises risk)"),
        ("weekday_utc", 6.0, "authored on Sunday (raises risk)"),
        ("hour_utc", 23.0, "authored at 23:00 UTC (raises risk)"),
    ],
)
def test_reason_texts_for_counts(feature, value, text):
    from riskml.train.model import reason_text

    effect = -0.1 if text.endswith("(lowers risk)") else 0.1
    assert reason_text(feature, value, effect, {}) == text


def test_a_saved_model_holds_no_pickle_and_an_old_one_is_refused(trained, tmp_path):
    """Every saved part is JSON or LightGBM's text model; a format-1 directory (pickled parts)
    is one line asking for a retrain, and nothing of it is unpickled."""
    import json

    directory = trained.model.save(tmp_path / "m")
    for path in directory.iterdir():
        assert path.read_bytes()[:2] != b"\x80\x04"  # pickle protocol 4/5 header
        if path.suffix == ".json":
            assert isinstance(json.loads(path.read_text()), dict)
    meta = json.loads((directory / "model.json").read_text())
    meta["format_version"] = 1
    (directory / "model.json").write_text(json.dumps(meta))
    # a crafted pickle beside it would run on load; it must never be read
    (directory / "calibrator.joblib").write_bytes(b"cos\nsystem\n(S'touch /nonexistent'\ntR.")
    with pytest.raises(RiskmlError, match="retrain it"):
        TrainedModel.load(directory)


def test_the_parts_compute_what_the_fitted_objects_compute(trained, synthetic):
    from riskml.train.baselines import _log_columns
    from riskml.train.model import fit_calibrator
    from riskml.train.parts import (
        LinearMargin,
        calibration_from_dict,
        calibrator_to_dict,
        linear_to_dict,
    )

    model = trained.model
    rng = np.random.default_rng(3)
    s = rng.normal(size=400)
    y = (rng.random(400) < 1 / (1 + np.exp(-2 * s))).astype(int)
    grid = np.linspace(-6, 6, 97).reshape(-1, 1)
    for method in ("sigmoid", "isotonic"):
        fitted = fit_calibrator(s, y, method)
        as_data = calibration_from_dict(calibrator_to_dict(fitted))
        assert np.allclose(as_data.predict_proba(grid), fitted.predict_proba(grid), atol=1e-12)
    frame = synthetic[2].tail(200)
    X = _log_columns(frame, model.linear.columns)
    margin = LinearMargin(linear_to_dict(model.linear.estimator))
    assert np.allclose(
        margin.decision_function(X), model.linear.estimator.decision_function(X), atol=1e-9
    )


def test_load_rejects_a_directory_without_a_model(tmp_path):
    with pytest.raises(RiskmlError, match="not a saved riskml model"):
        TrainedModel.load(tmp_path)


# ---------------------------------------------------------------- tier thresholds on new changes


def test_share_thresholds_come_from_the_gaps_unseen_changes(trained, synthetic):
    frame = synthetic[2]
    split = trained.metrics["split"]
    cut = pd.Timestamp(split["cutoff"])
    start = cut - pd.Timedelta(days=split["gap_days"])
    times = pd.to_datetime(frame["author_time"], utc=True)
    gap = frame[(times >= start) & (times < cut)]
    reference = trained.metrics["model"]["tier_reference"]
    assert (reference["rows"], reference["n"]) == ("recent", len(gap))
    assert reference["warnings"] == []
    assert trained.model.info["tier_reference"]["rows"] == "recent"
    # what scoring reads to tier against the newest unseen changes ([tiers] reference trailing)
    assert trained.model.info["tier_reference"]["trailing"] == {
        "window": 200,
        "min_reference": 100,
        "shares": {"critical": 0.03, "high": 0.07, "medium": 0.20},
    }
    # on the rows they were cut from, each tier holds its share exactly (ties join the tier)
    risk = np.sort(trained.model.risk(gap))[::-1]
    n = len(risk)
    t = trained.model.thresholds
    assert t["critical"] == risk[int(np.ceil(0.03 * n)) - 1]
    assert t["high"] == risk[int(np.ceil(0.10 * n - 1e-9)) - 1]
    assert t["medium"] == risk[int(np.ceil(0.30 * n - 1e-9)) - 1]
    # and on the test window after the gap they stay within half and twice their share
    rates = trained.metrics["riskml"]["tier_rates"]
    for tier, share in {"critical": 0.03, "high": 0.07}.items():
        assert 0.5 * share <= rates[tier]["share"] <= 2 * share


def test_trailing_tiers_cut_each_change_against_the_newest_before_it():
    from riskml.train.model import share_thresholds, trailing_tiers

    shares = {"critical": 0.25, "high": 0.25, "medium": 0.25}
    reference = [0.1, 0.2, 0.3, 0.4]  # oldest first
    # window 4: the first change meets 0.1-0.4 (critical >= 0.4, high >= 0.3, medium >= 0.2);
    # each later change meets the window moved on by the changes before it
    risk = [0.35, 0.05, 0.5, 0.36]
    tiers = trailing_tiers(risk, reference, shares, window=4, floor="")
    assert share_thresholds(reference, shares) == {"critical": 0.4, "high": 0.3, "medium": 0.2}
    # 0.35 vs [.1 .2 .3 .4]: high; 0.05 vs [.2 .3 .4 .35]: low; 0.5 vs [.3 .4 .35 .05]: critical;
    # 0.36 vs [.4 .35 .05 .5]: medium (critical >= .5, high >= .4, medium >= .35)
    assert tiers == ["high", "low", "critical", "medium"]
    # fewer than min_reference changes before one: the stored thresholds
    stored = {"critical": 0.9, "high": 0.8, "medium": 0.7}
    assert trailing_tiers(risk, [], shares, 4, None, "", 2, stored) == [
        "low",  # nothing before it: stored
        "low",  # one change before it: stored
        "critical",  # 0.5 against [0.35, 0.05]: critical >= 0.35
        "high",  # 0.36 against [0.35, 0.05, 0.5]: critical >= 0.5, high >= 0.35
    ]
    # the critical-path floor applies after the cut
    frame = pd.DataFrame({"touches_critical": [False, True, False, False]})
    assert trailing_tiers(risk, reference, shares, 4, frame, "medium")[1] == "medium"


def test_validation_thresholds_when_the_gap_is_too_small_or_asked_for(synthetic):
    import dataclasses

    cfg = Config()
    few = dataclasses.replace(cfg, tiers=dataclasses.replace(cfg.tiers, min_reference=10**6))
    result = fit(synthetic[2], few)
    reference = result.metrics["model"]["tier_reference"]
    n_gap = result.metrics["model"]["tier_reference"]["why"].split()[0]
    assert (reference["rows"], reference["n"]) == ("validation", result.split.info["n_valid"])
    assert reference["why"] == f"{n_gap} change(s) in the gap, fewer than min_reference 1000000"
    # still trailing: scoring (and the test window) use the stored thresholds until enough
    # unseen changes exist
    assert reference["trailing"]["min_reference"] == 10**6


def test_tier_warnings_say_what_collapsed():
    from riskml.train.fitting import tier_warnings

    shares = {"critical": 0.03, "high": 0.07, "medium": 0.20}
    risk = np.linspace(0.0, 1.0, 101)
    assert tier_warnings({"medium": 0.7, "high": 0.9, "critical": 0.97}, risk, shares) == []
    assert tier_warnings({"medium": 0.7, "high": 0.97, "critical": 0.97}, risk, shares) == [
        "tiers high and critical share one threshold (0.97): no change can be high",
        "tier high holds 0.0% of the reference changes (configured share 7%)",
    ]
    assert tier_warnings({"medium": 0.5, "high": 0.9, "critical": 2.0}, risk, shares) == [
        "tier critical holds 0.0% of the reference changes (configured share 3%)",
    ]


def test_excluded_features_leave_riskml_not_the_baselines(synthetic, trained):
    import dataclasses

    from riskml.train.ablation import ablation_configs

    variants = ablation_configs(synthetic[2], Config())
    assert list(variants) == [
        "all", "-size", "-purpose", "-history", "-experience", "-critical_paths", "-file_kinds",
        "-ai_provenance", "-time", "-label_history", "-text",
    ]  # fmt: skip
    no_size = variants["-size"]
    assert "la" in no_size.train.exclude_features and "churn_log" in no_size.train.exclude_features
    fast = dataclasses.replace(no_size, train=dataclasses.replace(no_size.train, search=False))
    result = fit(synthetic[2], fast)
    used = result.metrics["model"]["features"]
    assert not set(used) & set(no_size.train.exclude_features)
    assert result.model.linear is None or not set(result.model.linear.columns) & {"la", "ld", "lt"}
    # the baselines are the same models on the same split
    for name in ("lapredict", "kamei_lr"):
        assert result.metrics[name]["roc_auc"] == trained.metrics[name]["roc_auc"]


def test_early_stopping_keeps_at_least_min_rounds():
    from riskml.train.model import DEFAULT_PARAMS, train_booster

    rng = np.random.default_rng(0)
    X_fit, X_valid = rng.normal(size=(400, 3)), rng.normal(size=(200, 3))
    y_fit = (X_fit[:, 0] + rng.normal(size=400) > 0).astype(int)
    y_valid = (X_valid[:, 1] > 0).astype(int)  # nothing the fit slice teaches holds here
    args = (X_fit, y_fit, X_valid, y_valid, [], DEFAULT_PARAMS)
    free, free_auc = train_booster(*args, max_rounds=500, patience=30)
    floored, floored_auc = train_booster(*args, max_rounds=500, patience=30, min_rounds=25)
    assert free.best_iteration < 25  # the premise: validation peaks early on this data
    assert floored.best_iteration == 25
    # the reported AUC is the validation AUC of the iteration kept, and predictions use it
    from sklearn.metrics import roc_auc_score

    assert floored_auc == pytest.approx(roc_auc_score(y_valid, floored.predict(X_valid)), abs=1e-12)
    assert free_auc == pytest.approx(roc_auc_score(y_valid, free.predict(X_valid)), abs=1e-12)


def test_exclude_features_names_only_feature_columns():
    """A name that is no feature column is refused before the split; the default list (the
    touched files' own past) is known even on a table without those columns."""
    from riskml.train.dataset import unknown_features

    frame = _twenty_days()
    assert unknown_features(frame, Config().train.exclude_features) == []
    assert unknown_features(frame, ["la", "churn_log", "nosuch", "commit"]) == ["commit", "nosuch"]
    config = Config()
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, exclude_features=["nosuch", "la"])
    )
    with pytest.raises(RiskmlError) as info:
        fit(frame, config)
    assert str(info.value) == (
        "[train] exclude_features: not feature columns: 'nosuch' (docs/features.md lists them)"
    )


def test_project_weights_give_each_project_its_share_with_mean_one():
    from types import SimpleNamespace

    from riskml.train.fitting import sample_weights

    times = pd.Series(
        pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-03"], utc=True)
    )
    data = SimpleNamespace(times=times, dataset=pd.DataFrame({"project": ["a", "a", "b", "a"]}))
    index = np.arange(4)
    assert sample_weights(data, index, None, "rows") is None
    assert sample_weights(data, index, None, "balanced").tolist() == pytest.approx(
        [2 / 3, 2 / 3, 2.0, 2 / 3]
    )
    # a project of n rows weighs sqrt(n): a 3 rows of 1/sqrt(3), b 1 row of 1, then mean 1
    scale = 4 / (3 / np.sqrt(3) + 1)
    assert sample_weights(data, index, None, "sqrt").tolist() == pytest.approx(
        [scale / np.sqrt(3), scale / np.sqrt(3), scale, scale / np.sqrt(3)]
    )
    # recency on top: halving every day before the newest row
    assert sample_weights(data, index, 1.0, "balanced").tolist() == pytest.approx(
        [2 / 3 * 0.25, 2 / 3 * 0.5, 2.0, 2 / 3]
    )
    # one project: every row weighs the same, whatever the setting
    alone = SimpleNamespace(times=times, dataset=pd.DataFrame({"project": ["a"] * 4}))
    assert sample_weights(alone, index, None, "balanced") is None
    without = SimpleNamespace(times=times, dataset=pd.DataFrame({"x": [1, 2, 3, 4]}))
    assert sample_weights(without, index, None, "balanced") is None
