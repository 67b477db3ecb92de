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

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskml.config import Config, tracking_uri
from riskml.tables import (
    attach_tokens,
    check_same_repository,
    read_changes_and_tokens,
    read_labels,
    split_list,
    write_frame,
)
from riskml.trends.budget import (
    DEFAULT_WEEKS,
    budget_frame,
    budget_metrics,
    budget_text,
    review_budget,
)
from riskml.trends.charts import write_charts
from riskml.trends.summary import (
    manager_summary,
    summary_markdown,
    summary_metrics,
    summary_text,
)
from riskml.trends.table import (
    AI_CLASSES,
    PERIOD_ALIASES,
    SCORED_COLUMNS,
    absent,
    attach_labels,
    history_frame,
    label_horizon,
    metric_columns,
    metric_safe,
    normalize_period,
    score_history,
    table_metrics,
    trends_table,
    with_review_policy,
    write_table,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "AI_CLASSES",
    "PERIOD_ALIASES",
    "SCORED_COLUMNS",
    "ScoredHistory",
    "TrendsResult",
    "TrendsViews",
    "attach_labels",
    "budget_text",
    "history_frame",
    "label_horizon",
    "load_model",
    "log_trends",
    "manager_summary",
    "review_budget",
    "scored_history",
    "summary_text",
    "trends_views",
    "with_review_policy",
    "metric_columns",
    "metric_safe",
    "model_text",
    "normalize_period",
    "score_history",
    "table_metrics",
    "trends",
    "trends_table",
    "write_charts",
    "write_table",
]


# the trends experiment's description in the MLflow UI (its runs carry the summary)
EXPERIMENT_DESCRIPTION = (
    "riskml trends for engineering managers: one run per `riskml trends` / `riskml run`. "
    "Open the newest run: its description is the summary (risk now against the weeks "
    "before, the riskiest critical areas, AI-provenance against human changes, incidents); "
    "its artifacts hold the charts (charts), the review budget (budget) and the weekly table "
    "(table). See docs/trends.md."
)


@dataclass
class ScoredHistory:
    """The mined history scored with one model version: what every trends view reads."""

    scored: Any  # pd.DataFrame of score_history
    model: dict  # the version's info and identity (name, version, run_id, uri, alias)
    repo: str
    labels_given: bool
    areas: list[str]  # critical areas: [critical_paths] and any seen in the table


@dataclass
class TrendsViews:
    """What a trends run shows besides its series, computed from the scored history."""

    scored: Any  # pd.DataFrame of score_history
    period: str
    window_days: int
    horizon: Any  # pd.Timestamp: changes committed after it are inside the labelling window
    summary: dict  # riskml.trends.summary.manager_summary
    budget: dict  # riskml.trends.budget.review_budget
    head: dict = field(default_factory=dict)  # repo and model, for the summary's first line


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
    views: TrendsViews | None = None
    url: str = ""  # the run in the MLflow UI, training view

    @property
    def n_periods(self) -> int:
        return len(self.table)

    @property
    def summary_text(self) -> str:
        """The manager's summary as printed (empty without views)."""
        if self.views is None:
            return ""
        return summary_text(self.views.summary, self.views.head)


# --------------------------------------------------------------------------- views


def trends_views(
    scored: pd.DataFrame,
    period: str,
    config: Config,
    *,
    areas: list[str] | tuple[str, ...] = (),
    head: dict | None = None,
    budget_weeks: int = DEFAULT_WEEKS,
) -> TrendsViews:
    """The summary, the review budget and the label horizon of ``scored``."""
    window = config.label.window_days
    _, horizon = label_horizon(scored, window)
    return TrendsViews(
        scored=scored,
        period=normalize_period(period),
        window_days=window,
        horizon=horizon,
        summary=manager_summary(scored, window_days=window, areas=areas),
        budget=review_budget(scored, window_days=window, weeks=budget_weeks),
        head=dict(head or {}),
    )


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
    views: TrendsViews | None = None,
) -> TrendsResult:
    """Log the table to a new run of ``experiment``: metrics (batched), charts, table.

    Each metric column becomes one series: ``step`` = period index, ``timestamp`` = period
    start (ms). Charts go under the artifact path ``charts/``, the table under ``table/``.
    With ``views``: the summary is the run's description (``mlflow.note.content``) and
    ``summary/summary.json``, the budget ``budget/budget.csv`` and ``budget/budget.json``, both
    also as ``summary.*`` and ``budget.*`` metrics (one point at the last period), and the
    charts draw bands and the label window. ``out_dir`` keeps a local copy of the files
    (default: a temporary directory).
    """
    from mlflow.entities import Param, RunTag
    from mlflow.tracking import MlflowClient

    from riskml.train.tracking import NOTE_TAG, ensure_experiment, ui_url

    uri = uri or tracking_uri()
    # first: it opens (and on a new store creates) the store under the store's lock
    exp_id = ensure_experiment(experiment, uri, EXPERIMENT_DESCRIPTION)
    client = MlflowClient(tracking_uri=uri)
    from riskml.processes import identity

    # the process tags let the next command end this run KILLED if a SIGKILL stops it here
    all_tags = {"riskml.kind": "trends", **identity(), **(tags or {})}
    run = client.create_run(exp_id, run_name=run_name, tags=all_tags)
    run_id = run.info.run_id
    try:
        metrics = table_metrics(table) + _view_metrics(table, views)
        param_list = [Param(k, str(v)[:6000]) for k, v in (params or {}).items()]
        client.log_batch(run_id, metrics=metrics, params=param_list, tags=[])
        with tempfile.TemporaryDirectory(prefix="riskml-trends-") as tmp:
            base = Path(out_dir) if out_dir is not None else Path(tmp)
            charts = write_charts(table, base / "charts", **_chart_inputs(views))
            folders = {"charts": charts, "table": write_table(table, base / "table")}
            if views is not None:
                folders.update(_write_views(views, base))
            for folder in folders:
                client.log_artifacts(run_id, str(base / folder), artifact_path=folder)
        artifacts = [f"{folder}/{p.name}" for folder, files in folders.items() for p in files]
        run_tags = [RunTag("riskml.n_periods", str(len(table)))]
        if views is not None:
            charts_logged = [a for a in artifacts if a.startswith("charts/")]
            note = summary_markdown(views.summary, {**views.head, "charts": charts_logged})
            run_tags.append(RunTag(NOTE_TAG, note))
        client.log_batch(run_id, tags=run_tags)
        with _no_mlflow_link():
            client.set_terminated(run_id, "FINISHED")
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        with _no_mlflow_link():
            client.set_terminated(run_id, status)
        raise
    return TrendsResult(
        run_id=run_id,
        experiment_id=exp_id,
        experiment=experiment,
        table=table,
        n_metrics=len(metrics),
        artifacts=artifacts,
        out_dir=Path(out_dir) if out_dir is not None else None,
        views=views,
        url=ui_url(exp_id, run_id, uri),
    )


@contextlib.contextmanager
def _no_mlflow_link():
    """No "View run … at" line from MLflow on a tracking server: it links the GenAI view, and
    riskml prints its own link to the run (:attr:`TrendsResult.url`)."""
    key = "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"
    before = os.environ.get(key)
    os.environ[key] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def _chart_inputs(views: TrendsViews | None) -> dict[str, Any]:
    if views is None:
        return {}
    return {
        "scored": views.scored,
        "period": views.period,
        "horizon": views.horizon,
        "window_days": views.window_days,
    }


def _view_metrics(table: pd.DataFrame, views: TrendsViews | None) -> list[Any]:
    """The ``summary.*`` and ``budget.*`` metrics, one point each at the table's last period."""
    from mlflow.entities import Metric

    if views is None:
        return []
    values = {**summary_metrics(views.summary), **budget_metrics(views.budget)}
    step, timestamp = int(table["step"].iloc[-1]), int(table["timestamp"].iloc[-1])
    return [Metric(k, v, timestamp, step) for k, v in values.items()]


def _write_views(views: TrendsViews, base: Path) -> dict[str, list[Path]]:
    """The summary and the budget as files under ``base``: ``{artifact folder: files}``."""
    from riskml.jsonvalue import plain
    from riskml.tables import atomic_write

    def json_file(path: Path, content: dict) -> Path:
        text = json.dumps(plain(content), indent=2) + "\n"
        return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    return {
        "summary": [json_file(base / "summary" / "summary.json", views.summary)],
        "budget": [
            write_frame(budget_frame(views.budget), base / "budget" / "budget.csv"),
            json_file(base / "budget" / "budget.json", views.budget),
        ],
    }


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


def scored_history(
    changes: pd.DataFrame | str | Path,
    labels: pd.DataFrame | str | Path | None = None,
    *,
    model: Any = None,
    config: Config | None = None,
    repo_name: str | None = None,
) -> ScoredHistory:
    """The mined history scored with one model version (what trends and budget read).

    ``changes``/``labels`` are frames or table paths (Parquet/CSV); ``model`` is a
    ``TrainedModel``, a ``riskml.score.LoadedModel``, a local model directory, an MLflow model
    URI, or None for ``models:/<name>@champion``.
    """
    config = config or Config()
    if not hasattr(changes, "columns"):
        # a model with a text component reads each change's tokens, kept with the table
        changes, tokens = read_changes_and_tokens(
            changes, repo_name=repo_name, required=("commit", "author_time")
        )
        changes = attach_tokens(changes, tokens)
    if labels is not None and not hasattr(labels, "columns"):
        labels = read_labels(labels, changes=changes)
    elif labels is not None:
        check_same_repository(changes, labels)
    if model is None or isinstance(model, (str, Path)):
        model, info = load_model(model, config)
    elif hasattr(model, "model") and hasattr(model, "uri"):  # riskml.score.LoadedModel
        model, info = model.model, _loaded_info(model)
    else:
        info = dict(getattr(model, "info", {}) or {})
    # the review rules by AI provenance, after each change's tier (what its review required)
    scored = with_review_policy(score_history(changes, model, labels), config)
    return ScoredHistory(
        scored=scored,
        model=info,
        repo=str(repo_name or _first(changes, "repo") or "repo"),
        labels_given=labels is not None,
        areas=sorted(set(config.critical_paths) | _seen_areas(scored)),
    )


def model_text(info: dict) -> str:
    """``change-risk v3`` (or the name alone when the version is unknown)."""
    name, version = info.get("name", ""), info.get("version")
    return f"{name} v{version}" if version else str(name)


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

    The arguments are those of :func:`scored_history`; logs to ``config.trends.experiment``
    the series, the charts, the table, the manager's summary and the review budget.
    """
    config = config or Config()
    alias = normalize_period(period or config.trends.period)
    history = scored_history(changes, labels, model=model, config=config, repo_name=repo_name)
    scored, info, repo, areas = history.scored, history.model, history.repo, history.areas
    table = trends_table(scored, alias, areas)
    head = {"repo": repo, "model": model_text(info)}
    views = trends_views(scored, alias, config, areas=areas, head=head)
    tags = {
        "riskml.repo": repo,
        "riskml.period": alias,
        "riskml.model.name": str(info.get("name", "")),
        "riskml.model.version": str(info.get("version", "")),
        "riskml.model.run_id": str(info.get("run_id", "")),
        "riskml.labels": "given" if history.labels_given else "none",
    }
    params = {
        "period": alias,
        "repo": repo,
        "model_uri": info.get("uri", ""),
        "changes": len(scored),
        "areas": json.dumps(areas),
        "first_period": table["period"].iloc[0],
        "last_period": table["period"].iloc[-1],
        "label_window_days": views.window_days,
        "budget_weeks": views.budget["weeks"],
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
        views=views,
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
