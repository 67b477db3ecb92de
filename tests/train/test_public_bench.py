"""`riskml bench` on a generated table in the Kamei/ISSTA'21 layout (written to a temp dir)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from riskml.synth.tables import synthetic_tables
from riskml.train.public_bench import bench, format_table

KAMEI = [
    "ns",
    "nd",
    "nf",
    "entropy",
    "la",
    "ld",
    "lt",
    "fix",
    "ndev",
    "age",
    "nuc",
    "exp",
    "rexp",
    "sexp",
]


@pytest.fixture(scope="module")
def kamei_csv(tmp_path_factory):
    changes, labels = synthetic_tables(3000, seed=5, per_day=10)
    table = changes[KAMEI].rename(columns={"entropy": "entrophy"}).astype(float)
    table.insert(0, "_id", changes["commit"])
    table.insert(1, "date", changes["author_time"].astype("int64") // 10**9)
    bug = labels["label"].fillna(0).astype(int)
    table.insert(2, "bug", bug)
    table.insert(3, "__", bug)  # a copy of the label, as in the published files: must be ignored
    path = tmp_path_factory.mktemp("bench") / "generated.csv"
    table.to_csv(path)  # with the unnamed index column, as the published files have
    return path, int(bug.sum())


def test_bench_splits_80_20_and_reports_three_models(kamei_csv):
    path, positives = kamei_csv
    metrics = bench(path)
    assert metrics["dataset"] == {
        "file": "generated.csv",
        "layout": "kamei",
        "rows": 3000,
        "dropped_rows": 0,
    }
    split = metrics["split"]
    assert split["n_test"] == 600 and split["n_fit"] + split["n_valid"] == 2400
    assert split["gap_days"] == 0.0 and split["mode"] == "public"
    assert split["positives_fit"] + split["positives_valid"] + split["positives_test"] == positives
    for model in ("riskml", "lapredict", "kamei_lr"):
        assert 0.5 < metrics[model]["roc_auc"] <= 1.0
    table = format_table(metrics)
    assert table.splitlines()[0].split() == ["metric", "riskml", "lapredict", "kamei_lr"]
    assert "recall_at_20_effort" in table and "popt" in table


def test_bench_with_a_gap(kamei_csv):
    metrics = bench(kamei_csv[0], gap_days=30)
    assert metrics["split"]["gap_days"] == 30.0
    assert metrics["split"]["n_test"] == 600
    assert metrics["split"]["n_fit"] + metrics["split"]["n_valid"] < 2400


def test_lapredict_is_logistic_regression_on_log_la(kamei_csv):
    # LApredict's ranking is the ranking of la itself (a monotone model of one column)
    from sklearn.metrics import roc_auc_score

    from riskml.train.dataset import load_public_dataset

    frame = load_public_dataset(kamei_csv[0])
    test = frame.iloc[2400:]
    expected = roc_auc_score(test["label"], test["la"])
    assert bench(kamei_csv[0])["lapredict"]["roc_auc"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.slow  # the real CLI end to end
def test_bench_cli_json(cli, kamei_csv):
    done = cli("bench", "--dataset", str(kamei_csv[0]), "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert set(metrics) >= {"riskml", "lapredict", "kamei_lr", "split", "labels", "dataset"}
    assert metrics["labels"]["proxy"] is True and metrics["labels"]["mode"] == "public"
    assert np.isfinite(metrics["riskml"]["popt"])


def test_bench_cli_bad_file_is_one_line(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    done = cli("bench", "--dataset", str(bad))
    assert done.returncode == 2
    assert done.stderr.strip().startswith("riskml: error:") and "unknown layout" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
