"""`riskml trends`: risk over time, for managers, as MLflow time series.

The mined history is scored with one model version; the scored changes are grouped by period
(a calendar week by default) into one row per period, and each column of that table becomes an
MLflow metric whose ``step`` is the period index and whose ``timestamp`` is the period start.
Charts (PNG) and the table itself are artifacts of the same run.

Three functions, each testable on its own:

* :func:`score_history` — changes (+ labels) and a model -> one scored row per change;
* :func:`trends_table` — scored rows -> one row per period, columns = metric names;
* :func:`log_trends` — the table -> one MLflow run (metrics in batches, charts, table).

:func:`trends` composes them. Metric names are listed in ``docs/trends.md``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskml.config import Config, tracking_uri
from riskml.tables import attach_tokens, read_changes, read_labels, read_tokens_beside, split_list
from riskml.trends.charts import write_charts
from riskml.trends.table import (
    AI_CLASSES,
    PERIOD_ALIASES,
    SCORED_COLUMNS,
    absent,
    attach_labels,
    history_frame,
    metric_columns,
    metric_safe,
    normalize_period,
    score_history,
    table_metrics,
    trends_table,
    write_table,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "AI_CLASSES",
    "PERIOD_ALIASES",
    "SCORED_COLUMNS",
    "TrendsResult",
    "attach_labels",
    "history_frame",
    "load_model",
    "log_trends",
    "metric_columns",
    "metric_safe",
    "normalize_period",
    "score_history",
    "table_metrics",
    "trends",
    "trends_table",
    "write_charts",
    "write_table",
]


@dataclass
class TrendsResult:
    """What one `riskml trends` run produced."""

    run_id: str
    experiment_id: str
    experiment: str
    table: Any  # pd.DataFrame, one row per period
    n_metrics: int
    artifacts: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    model: dict = field(default_factory=dict)
    period: str = ""

    @property
    def n_periods(self) -> int:
        return len(self.table)


# --------------------------------------------------------------------------- MLflow


def log_trends(
    table: pd.DataFrame,
    experiment: str,
    *,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    out_dir: Path | None = None,
    uri: str | None = None,
) -> TrendsResult:
    """Log the table to a new run of ``experiment``: metrics (batched), charts, table.

    Each metric column becomes one series: ``step`` = period index, ``timestamp`` = period
    start (ms). Charts go under the artifact path ``charts/``, the table under ``table/``.
    ``out_dir`` keeps a local copy of both (default: a temporary directory).
    """
    from mlflow.entities import Param, RunTag
    from mlflow.tracking import MlflowClient

    from riskml.train.tracking import ensure_experiment

    uri = uri or tracking_uri()
    client = MlflowClient(tracking_uri=uri)
    exp_id = ensure_experiment(experiment, uri)
    all_tags = {"riskml.kind": "trends", **(tags or {})}
    run = client.create_run(exp_id, run_name=run_name, tags=all_tags)
    run_id = run.info.run_id
    try:
        metrics = table_metrics(table)
        param_list = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
        client.log_batch(run_id, metrics=metrics, params=param_list, tags=[])
        with tempfile.TemporaryDirectory(prefix="riskml-trends-") as tmp:
            base = Path(out_dir) if out_dir is not None else Path(tmp)
            charts = write_charts(table, base / "charts")
            files = write_table(table, base / "table")
            client.log_artifacts(run_id, str(base / "charts"), artifact_path="charts")
            client.log_artifacts(run_id, str(base / "table"), artifact_path="table")
        client.log_batch(run_id, tags=[RunTag("riskml.n_periods", str(len(table)))])
        client.set_terminated(run_id, "FINISHED")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    artifacts = [f"charts/{p.name}" for p in charts] + [f"table/{p.name}" for p in files]
    return TrendsResult(
        run_id=run_id,
        experiment_id=exp_id,
        experiment=experiment,
        table=table,
        n_metrics=len(metrics),
        artifacts=artifacts,
        out_dir=Path(out_dir) if out_dir is not None else None,
    )


# --------------------------------------------------------------------------- models


def load_model(spec: str | Path | None, config: Config) -> tuple[Any, dict]:
    """A ``TrainedModel`` from a local directory or an MLflow model URI (default
    ``models:/<model name>@champion``), and its identity; loaded as ``riskml score`` loads it."""
    from riskml.score.model import load_model as load_scoring_model

    loaded = load_scoring_model(str(spec) if spec is not None else None, config)
    return loaded.model, _loaded_info(loaded)


def _loaded_info(loaded: Any) -> dict:
    """The model's ``info`` with its identity (name, version, run_id, uri, alias) over it."""
    return {**dict(getattr(loaded.model, "info", {}) or {}), **loaded.identity.as_dict()}


# --------------------------------------------------------------------------- composed


def trends(
    changes: pd.DataFrame | str | Path,
    labels: pd.DataFrame | str | Path | None = None,
    *,
    model: Any = None,
    config: Config | None = None,
    period: str | None = None,
    out_dir: Path | None = None,
    repo_name: str | None = None,
) -> TrendsResult:
    """Score the mined history with a model version and log the trends to MLflow.

    ``changes``/``labels`` are frames or table paths (Parquet/CSV); ``model`` is a
    ``TrainedModel``, a local model directory, an MLflow model URI, or None for
    ``models:/<name>@champion``. Logs to ``config.trends.experiment``.
    """
    config = config or Config()
    alias = normalize_period(period or config.trends.period)
    if not hasattr(changes, "columns"):
        path = changes
        changes = read_changes(path, repo_name=repo_name, required=("commit", "author_time"))
        # a model with a text component reads each change's tokens, kept beside the table
        changes = attach_tokens(changes, read_tokens_beside(path))
    if labels is not None and not hasattr(labels, "columns"):
        labels = read_labels(labels, commits=changes["commit"])
    if model is None or isinstance(model, (str, Path)):
        model, info = load_model(model, config)
    elif hasattr(model, "model") and hasattr(model, "uri"):  # riskml.score.LoadedModel
        model, info = model.model, _loaded_info(model)
    else:
        info = dict(getattr(model, "info", {}) or {})
    scored = score_history(changes, model, labels)
    areas = sorted(set(config.critical_paths) | _seen_areas(scored))
    table = trends_table(scored, alias, areas)
    repo = repo_name or _first(changes, "repo") or "repo"
    tags = {
        "riskml.repo": str(repo),
        "riskml.period": alias,
        "riskml.model.name": str(info.get("name", "")),
        "riskml.model.version": str(info.get("version", "")),
        "riskml.model.run_id": str(info.get("run_id", "")),
        "riskml.labels": "none" if labels is None else "given",
    }
    params = {
        "period": alias,
        "repo": repo,
        "model_uri": info.get("uri", ""),
        "changes": len(scored),
        "areas": json.dumps(areas),
        "first_period": table["period"].iloc[0],
        "last_period": table["period"].iloc[-1],
    }
    version = info.get("version")
    run_name = f"{repo} trends" + (f" (model v{version})" if version else "")
    result = log_trends(
        table,
        config.trends.experiment,
        run_name=run_name,
        tags=tags,
        params=params,
        out_dir=out_dir,
    )
    result.model = info
    result.period = alias
    return result


def _seen_areas(scored: pd.DataFrame) -> set[str]:
    seen: set[str] = set()
    for value in scored["critical_areas"].tolist():
        seen.update(split_list(value))
    return seen


def _first(frame: pd.DataFrame, column: str) -> str | None:
    if column in frame.columns and len(frame):
        value = frame[column].iloc[0]
        return None if absent(value) else str(value)
    return None
