"""riskml.trends.log_trends with its views, read back from a real MLflow SQLite store."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sixteen_weeks import sixteen_weeks

from riskml.config import Config, LabelConfig
from riskml.jsonvalue import plain
from riskml.train.tracking import (
    EXPERIMENT_KIND_TAG,
    NOTE_TAG,
    TRAINING_KIND,
    ensure_experiment,
    ui_url,
)
from riskml.trends import (
    EXPERIMENT_DESCRIPTION,
    log_trends,
    metric_columns,
    trends_table,
    trends_views,
)
from riskml.trends.budget import budget_metrics
from riskml.trends.summary import summary_markdown, summary_metrics, summary_text

HEAD = {"repo": "sixteen", "model": "change-risk v2"}


@pytest.fixture(scope="module")
def logged(mlflow_uri, tmp_path_factory):
    scored = sixteen_weeks()
    config = Config(label=LabelConfig(window_days=60))
    table = trends_table(scored, "W", ["auth", "payments"])
    views = trends_views(scored, "W", config, areas=["auth", "payments"], head=HEAD)
    out = tmp_path_factory.mktemp("views")
    result = log_trends(
        table, "trends-views", run_name="views", out_dir=out, uri=mlflow_uri, views=views
    )
    return {"table": table, "views": views, "result": result, "out": out}


def test_the_run_s_description_is_the_summary_and_its_metrics_the_figures(logged, mlflow_uri):
    from mlflow.tracking import MlflowClient

    result, views, table = logged["result"], logged["views"], logged["table"]
    client = MlflowClient(tracking_uri=mlflow_uri)
    run = client.get_run(result.run_id)
    charts = [f"charts/{n}" for n in ("risk.png", "tiers.png", "ai_vs_human.png", "incidents.png", "areas.png")]  # fmt: skip
    assert run.data.tags[NOTE_TAG] == summary_markdown(views.summary, {**HEAD, "charts": charts})
    expected = {**summary_metrics(views.summary), **budget_metrics(views.budget)}
    assert {k: v for k, v in run.data.metrics.items() if k.startswith(("summary.", "budget."))} == (
        expected
    )
    # one point each, at the last period
    (point,) = client.get_metric_history(result.run_id, "budget.high.gated_per_week")
    assert (point.value, point.step, point.timestamp) == (
        8 / 13,  # 8 high changes in the last 13 weeks
        int(table["step"].iloc[-1]),
        int(table["timestamp"].iloc[-1]),
    )
    assert result.n_metrics == int(table[metric_columns(table)].count().sum()) + len(expected)
    assert result.summary_text == summary_text(views.summary, HEAD)


def test_the_summary_and_the_budget_are_artifacts(logged, mlflow_uri):
    from mlflow.tracking import MlflowClient

    result, views, out = logged["result"], logged["views"], logged["out"]
    assert result.artifacts[-3:] == ["summary/summary.json", "budget/budget.csv", "budget/budget.json"]  # fmt: skip
    client = MlflowClient(tracking_uri=mlflow_uri)
    listed = {a.path for a in client.list_artifacts(result.run_id, "budget")}
    assert listed == {"budget/budget.csv", "budget/budget.json"}
    assert json.loads((out / "budget" / "budget.json").read_text()) == plain(views.budget)
    assert json.loads((out / "summary" / "summary.json").read_text()) == plain(views.summary)
    frame = pd.read_csv(out / "budget" / "budget.csv")
    assert frame["gated"].tolist() == [52, 34, 8, 0]  # 13 weeks: w3 .. w15
    assert frame["weeks"].tolist() == [13] * 4


def test_the_experiment_opens_in_the_training_view_with_its_description(logged, mlflow_uri):
    from mlflow.tracking import MlflowClient

    result = logged["result"]
    experiment = MlflowClient(tracking_uri=mlflow_uri).get_experiment(result.experiment_id)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == TRAINING_KIND == "custom_model_development"
    assert experiment.tags[NOTE_TAG] == EXPERIMENT_DESCRIPTION
    # a SQLite store has no server: the link is where `mlflow ui` listens by default
    assert result.url == (
        f"http://127.0.0.1:5000/#/experiments/{result.experiment_id}/runs/{result.run_id}"
        "?workflowType=machine_learning"
    )


def test_links_on_a_tracking_server_and_to_an_experiment():
    assert ui_url("7", "abc", "http://mlflow.internal:8080/") == (
        "http://mlflow.internal:8080/#/experiments/7/runs/abc?workflowType=machine_learning"
    )
    assert ui_url("7", uri="sqlite:///mlflow.db") == (
        "http://127.0.0.1:5000/#/experiments/7?workflowType=machine_learning"
    )


def test_an_experiment_keeps_the_kind_and_description_someone_set(mlflow_uri):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri)
    # made before riskml tagged its experiments: it gets the kind and the description
    old = client.create_experiment("trends-old")
    assert ensure_experiment("trends-old", mlflow_uri, "riskml's words") == old
    assert {
        k: v for k, v in client.get_experiment(old).tags.items() if k.startswith("mlflow.")
    } == {
        EXPERIMENT_KIND_TAG: TRAINING_KIND,
        NOTE_TAG: "riskml's words",
    }
    # chosen in the UI: kept
    mine = client.create_experiment(
        "trends-chosen", tags={EXPERIMENT_KIND_TAG: "genai_development", NOTE_TAG: "ours"}
    )
    ensure_experiment("trends-chosen", mlflow_uri, "riskml's words")
    tags = client.get_experiment(mine).tags
    assert (tags[EXPERIMENT_KIND_TAG], tags[NOTE_TAG]) == ("genai_development", "ours")
