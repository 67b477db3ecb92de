"""riskml.trends: the per-period table (exact values) and its MLflow series read back."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest

from riskml.errors import RiskmlError
from riskml.trends import log_trends, metric_columns, normalize_period, trends_table


def scored_frame() -> pd.DataFrame:
    """Five scored changes over three weeks (the middle week has none)."""
    return pd.DataFrame(
        {
            "commit": ["a" * 40, "b" * 40, "c" * 40, "d" * 40, "e" * 40],
            "author_time": pd.to_datetime(
                [
                    "2021-01-04 10:00",  # Monday, week 0
                    "2021-01-10 23:00",  # Sunday, still week 0
                    "2021-01-20 00:00",  # week 2
                    "2021-01-20 05:00",
                    "2021-01-21 00:00",
                ],
                utc=True,
            ),
            "risk": [0.1, 0.5, 0.2, 0.9, 0.4],
            "tier": ["low", "high", "low", "critical", "medium"],
            "ai_provenance": ["human", "ai_assisted", "bot", "ai_agent", "human"],
            "critical_areas": ["", "payments", "payments;auth", "auth", None],
            "label": [0.0, 1.0, float("nan"), 1.0, 0.0],
            "incident_ids": ["", "INC-1", "", "INC-1;INC-2", ""],
        }
    )


def test_one_row_per_week_including_empty_weeks():
    table = trends_table(scored_frame(), "W", ["auth", "payments", "infra"])
    assert table["period"].tolist() == [
        "2021-01-04/2021-01-10",
        "2021-01-11/2021-01-17",
        "2021-01-18/2021-01-24",
    ]
    assert table["step"].tolist() == [0, 1, 2]
    assert table["timestamp"].tolist() == [1609718400000, 1610323200000, 1610928000000]
    assert table["changes"].tolist() == [2.0, 0.0, 3.0]


def test_period_metrics_exact():
    table = trends_table(scored_frame(), "W", ["auth", "payments", "infra"])
    week0, empty, week2 = table.to_dict("records")
    assert week0["mean_risk"] == pytest.approx(0.3)
    assert week0["p90_risk"] == pytest.approx(0.46)  # 0.1 + 0.9 * (0.5 - 0.1)
    assert week2["mean_risk"] == pytest.approx(0.5)
    assert week2["p90_risk"] == pytest.approx(0.8)  # sorted 0.2 0.4 0.9, position 1.8
    assert [week0[f"tier.{t}.share"] for t in ("low", "medium", "high", "critical")] == [
        0.5,
        0.0,
        0.5,
        0.0,
    ]
    assert week2["tier.critical.share"] == pytest.approx(1 / 3)
    # AI provenance: ai_assisted and ai_agent are AI; bots are neither AI nor human.
    assert (week0["ai.share"], week0["ai.mean_risk"], week0["human.mean_risk"]) == (0.5, 0.5, 0.1)
    assert week2["ai.share"] == pytest.approx(1 / 3)
    assert (week2["ai.mean_risk"], week2["human.mean_risk"]) == (0.9, 0.4)
    assert (week2["ai.changes"], week2["human.changes"]) == (1.0, 1.0)
    # Incidents: distinct ids linked to the week's changes; changes labelled positive.
    assert (week0["incidents_linked"], week0["incident_changes"]) == (1.0, 1.0)
    assert (week2["incidents_linked"], week2["incident_changes"]) == (2.0, 1.0)
    # An empty week has counts of 0 and no rates.
    assert empty["changes"] == 0.0 and empty["incidents_linked"] == 0.0
    assert math.isnan(empty["mean_risk"]) and math.isnan(empty["tier.low.share"])


def test_per_area_metrics_exact():
    table = trends_table(scored_frame(), "W", ["auth", "payments", "infra"])
    week0, _, week2 = table.to_dict("records")
    assert week2["area.auth.changes"] == 2.0
    assert week2["area.auth.mean_risk"] == pytest.approx(0.55)
    assert week2["area.auth.tier.critical.share"] == 0.5
    assert week2["area.auth.ai.share"] == 0.5
    assert math.isnan(week2["area.auth.human.mean_risk"])  # only a bot and an agent
    assert week2["area.auth.incidents_linked"] == 2.0
    assert week0["area.payments.mean_risk"] == 0.5
    assert week0["area.payments.incidents_linked"] == 1.0
    assert week2["area.payments.incidents_linked"] == 0.0
    assert [r["area.infra.changes"] for r in (week0, week2)] == [0.0, 0.0]
    assert math.isnan(week0["area.infra.mean_risk"])


def test_without_labels_there_are_no_incident_series():
    frame = scored_frame().drop(columns=["label", "incident_ids"])
    table = trends_table(frame, "W")
    assert "incidents_linked" not in table.columns
    assert sorted({c.split(".")[1] for c in table.columns if c.startswith("area.")}) == [
        "auth",
        "payments",
    ]


def test_monthly_period_and_bad_period():
    table = trends_table(scored_frame(), "month")
    assert table["period"].tolist() == ["2021-01"]
    assert table["changes"].tolist() == [5.0]
    assert normalize_period("week") == "W"
    with pytest.raises(RiskmlError, match="invalid period"):
        normalize_period("fortnightly")


@pytest.mark.slow  # the real CLI end to end
def test_series_read_back_from_mlflow_match_the_table(mlflow_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    table = trends_table(scored_frame(), "W", ["auth", "payments", "infra"])
    result = log_trends(
        table, "trends-test", run_name="unit", out_dir=tmp_path / "local", uri=mlflow_uri
    )
    client = MlflowClient(tracking_uri=mlflow_uri)
    logged = 0
    for key in metric_columns(table):
        history = sorted(client.get_metric_history(result.run_id, key), key=lambda m: m.step)
        expected = [
            (int(r["step"]), int(r["timestamp"]), float(r[key]))
            for r in table.to_dict("records")
            if not math.isnan(r[key])
        ]
        assert [(m.step, m.timestamp, m.value) for m in history] == expected, key
        logged += len(history)
    assert logged == result.n_metrics
    assert [(m.step, m.value) for m in client.get_metric_history(result.run_id, "changes")] == [
        (0, 2.0),
        (1, 0.0),
        (2, 3.0),
    ]
    # No point for the empty week's rates.
    assert [m.step for m in client.get_metric_history(result.run_id, "mean_risk")] == [0, 2]
    artifacts = {a.path for a in client.list_artifacts(result.run_id, "charts")}
    assert artifacts == {
        "charts/risk.png",
        "charts/tiers.png",
        "charts/ai_vs_human.png",
        "charts/incidents.png",
        "charts/areas.png",
    }
    tables = {a.path for a in client.list_artifacts(result.run_id, "table")}
    assert tables == {"table/trends.csv", "table/trends.parquet"}
    back = pd.read_parquet(tmp_path / "local" / "table" / "trends.parquet")
    assert back["mean_risk"].tolist()[0] == pytest.approx(0.3)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["riskml.n_periods"] == "3"


@pytest.mark.slow  # the real CLI end to end
def test_trends_cli_bad_input_is_one_line(cli, tmp_path):
    none = cli("trends", cwd=tmp_path)
    assert (none.returncode, none.stderr) == (
        2,
        "riskml: error: give --repo-name NAME or --changes FILE\n",
    )
    missing = cli("trends", "--changes", str(tmp_path / "nope.parquet"), cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (
        2,
        f"riskml: error: changes table not found: {tmp_path / 'nope.parquet'}\n",
    )
    scored_frame().to_csv(tmp_path / "changes.csv", index=False)
    period = cli(
        "trends", "--changes", str(tmp_path / "changes.csv"), "--period", "fortnight", cwd=tmp_path
    )
    assert period.returncode == 2
    assert period.stderr.startswith("riskml: error: invalid period 'fortnight'")


def test_trends_experiment_is_created_as_training_creates_its_own(mlflow_uri, tmp_path):
    """One creation rule (riskml.train.tracking.ensure_experiment): artifacts beside the store
    in mlruns/<experiment>/, and a deleted experiment is one line, not silently restored."""
    from mlflow.tracking import MlflowClient

    table = trends_table(scored_frame(), "W", [])
    result = log_trends(table, "trends-created", uri=mlflow_uri, out_dir=tmp_path / "local")
    client = MlflowClient(tracking_uri=mlflow_uri)
    experiment = client.get_experiment(result.experiment_id)
    db = Path(mlflow_uri.removeprefix("sqlite:///")).resolve()
    assert experiment.artifact_location == (db.parent / "mlruns" / "trends-created").as_uri()
    client.delete_experiment(result.experiment_id)
    with pytest.raises(RiskmlError) as caught:
        log_trends(table, "trends-created", uri=mlflow_uri)
    assert str(caught.value) == (
        "MLflow experiment 'trends-created' is deleted; restore it or choose another name"
    )


@pytest.mark.slow  # two real CLI processes end to end
def test_two_trends_at_once_on_a_new_sqlite_store_both_succeed(tmp_path):
    """The first open of a new SQLite store creates its tables, and two processes doing it at
    once broke each other's migration (a traceback): the store lock serialises them."""
    import subprocess
    import sys

    from riskml.config import Config
    from riskml.synth.tables import synthetic_tables
    from riskml.tables import write_changes, write_labels
    from riskml.train import build_dataset, fit
    from riskml.train.artifact import save_model_copy

    changes, labels = synthetic_tables(1200, seed=11, per_day=4)
    write_changes(changes, tmp_path / "changes.parquet")
    write_labels(labels, tmp_path / "labels.parquet")
    save_model_copy(fit(build_dataset(changes, labels, Config()), Config()).model, tmp_path / "m")
    store = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": store, "MLFLOW_REGISTRY_URI": store}
    argv = [sys.executable, "-m", "riskml", "trends", "--changes", str(tmp_path / "changes.parquet"),
            "--labels", str(tmp_path / "labels.parquet"), "--model", str(tmp_path / "m")]  # fmt: skip
    procs = []
    for i in (1, 2):  # output to files: a full pipe must not stall a process holding the lock
        with open(tmp_path / f"err{i}", "w") as err:
            procs.append(
                subprocess.Popen(
                    [*argv, "--out", str(tmp_path / f"t{i}")],
                    cwd=tmp_path,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )  # fmt: skip
            )
    outcomes = [(p.wait(timeout=600), (tmp_path / f"err{i}").read_text())
                for i, p in zip((1, 2), procs, strict=True)]  # fmt: skip
    assert [code for code, _ in outcomes] == [0, 0], [err[-2000:] for _, err in outcomes]
    assert not any("Traceback" in err for _, err in outcomes)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("riskml-trends")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]
