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
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskml.config import TIERS, Config, tracking_uri
from riskml.errors import RiskmlError
from riskml.fmt import is_missing
from riskml.tables import (
    attach_tokens,
    check_same_repository,
    read_changes_and_tokens,
    read_labels,
    split_list,
    write_frame,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

AI_CLASSES = ("ai_assisted", "ai_agent")
SMOOTH_PERIODS = 4  # rolling window of the per-area chart (the logged series are not smoothed)
# Friendly period names accepted besides pandas period aliases.
PERIOD_ALIASES = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")

# Columns of the scored frame that trends_table reads.
SCORED_COLUMNS = ("commit", "author_time", "risk", "tier", "ai_provenance", "critical_areas")


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


# --------------------------------------------------------------------------- periods


def normalize_period(period: str) -> str:
    """A pandas period alias for ``period`` (``W``, ``D``, ``M``, ``week``, ...), or raise."""
    import pandas as pd

    alias = PERIOD_ALIASES.get(str(period).strip().lower(), str(period).strip())
    try:
        pd.Period("2021-01-04", freq=alias)
    except (ValueError, TypeError, AttributeError) as exc:
        raise RiskmlError(
            f"invalid period {period!r}: use W (week), D, M, Q, Y or a pandas period alias"
        ) from exc
    return alias


def _utc_naive(values: Any) -> pd.Series:
    """Timestamps as tz-naive UTC (periods are computed on UTC calendar days)."""
    import pandas as pd

    series = pd.Series(values)
    if pd.api.types.is_numeric_dtype(series):
        out = pd.to_datetime(series, unit="s", utc=True)
    else:
        out = pd.to_datetime(series, utc=True)
    return out.dt.tz_convert(None)


def metric_safe(name: str) -> str:
    """An area name as it may appear inside an MLflow metric key."""
    return _NAME_UNSAFE.sub("_", str(name)) or "_"


# --------------------------------------------------------------------------- scoring


def history_frame(changes: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    """The changes table with the label-history features the model may read (leak-free).

    Uses ``riskml.train.dataset.label_history_features`` (links known before each change).
    """
    frame = changes.reset_index(drop=True)
    if labels is None or len(labels) == 0:
        return frame
    from riskml.train.dataset import label_history_features

    extra = label_history_features(frame, frame, labels)
    if extra is None:
        return frame
    extra = extra.reset_index(drop=True)
    keep = [c for c in extra.columns if c not in frame.columns]
    if not keep:
        return frame
    import pandas as pd

    return pd.concat([frame, extra[keep]], axis=1)


def score_history(
    changes: pd.DataFrame, model: Any, labels: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Score every mined change with ``model`` (a ``TrainedModel``).

    Returns one row per change: ``commit``, ``author_time``, ``risk``, ``tier``,
    ``ai_provenance``, ``critical_areas``, and, when labels are given, ``label`` and
    ``incident_ids``. Reasons are not computed here (``TrainedModel.predict`` with ``k=0``):
    trends need the risk and the tier only.
    """
    import pandas as pd

    if changes is None or len(changes) == 0:
        raise RiskmlError("the changes table is empty: nothing to score (mine the repository)")
    for column in ("commit", "author_time"):
        if column not in changes.columns:
            raise RiskmlError(f"the changes table has no {column!r} column")
    frame = history_frame(changes, labels)
    predicted = _predict(model, frame)
    scored = pd.DataFrame(
        {
            "commit": frame["commit"].astype(str).to_numpy(),
            "author_time": pd.to_datetime(frame["author_time"], utc=True).to_numpy(),
            "risk": predicted["risk"].astype(float).to_numpy(),
            "tier": predicted["tier"].astype(str).to_numpy(),
            "ai_provenance": _column(frame, "ai_provenance", "human"),
            "critical_areas": _column(frame, "critical_areas", ""),
        }
    )
    scored["author_time"] = pd.to_datetime(scored["author_time"], utc=True)
    if labels is not None and len(labels) > 0:
        scored = attach_labels(scored, labels)
    return scored


def _predict(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Risk and tier from a TrainedModel, without the per-change reasons when possible."""
    import pandas as pd

    if hasattr(model, "risk") and hasattr(model, "tiers"):
        risk = model.risk(frame)
        tiers = model.tiers(risk, frame)
        return pd.DataFrame({"risk": list(risk), "tier": list(tiers)})
    out = model.predict(frame)
    return out[["risk", "tier"]].reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str, default: str) -> list[str]:
    if name not in frame.columns:
        return [default] * len(frame)
    return [default if _missing(v) else str(v) for v in frame[name].tolist()]


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN / NA
    except (TypeError, ValueError):
        return False


def attach_labels(scored: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Add ``label`` (1/0/NaN) and ``incident_ids`` from the labels table, by commit."""
    import pandas as pd

    if "commit" not in labels.columns:
        raise RiskmlError("the labels table has no 'commit' column")
    keep = labels.drop_duplicates("commit", keep="last").set_index("commit")
    commits = scored["commit"]
    out = scored.copy()
    if "label" in keep.columns:
        values = pd.to_numeric(keep["label"], errors="coerce").astype(float)
        out["label"] = commits.map(values).astype(float).to_numpy()
    else:
        out["label"] = float("nan")
    if "incident_ids" in keep.columns:
        ids = keep["incident_ids"].map(lambda v: "" if _missing(v) else str(v))
        out["incident_ids"] = commits.map(ids).fillna("").astype(str).to_numpy()
    else:
        out["incident_ids"] = ""
    return out


# --------------------------------------------------------------------------- the table


def _group_metrics(part: pd.DataFrame, prefix: str, with_labels: bool) -> dict[str, float]:
    """The metrics of one group of changes (a period, or one area within a period)."""
    import numpy as np

    n = len(part)
    out: dict[str, float] = {f"{prefix}changes": float(n)}
    nan = float("nan")
    risk = part["risk"].to_numpy(dtype=float)
    out[f"{prefix}mean_risk"] = float(risk.mean()) if n else nan
    out[f"{prefix}p90_risk"] = float(np.quantile(risk, 0.9)) if n else nan
    tiers = part["tier"].tolist()
    for tier in TIERS:
        out[f"{prefix}tier.{tier}.share"] = (tiers.count(tier) / n) if n else nan
    prov = part["ai_provenance"].tolist()
    is_ai = np.array([p in AI_CLASSES for p in prov], dtype=bool)
    is_human = np.array([p == "human" for p in prov], dtype=bool)
    out[f"{prefix}ai.changes"] = float(is_ai.sum())
    out[f"{prefix}human.changes"] = float(is_human.sum())
    out[f"{prefix}ai.share"] = float(is_ai.sum() / n) if n else nan
    out[f"{prefix}ai.mean_risk"] = float(risk[is_ai].mean()) if is_ai.any() else nan
    out[f"{prefix}human.mean_risk"] = float(risk[is_human].mean()) if is_human.any() else nan
    if with_labels:
        labels = part["label"].to_numpy(dtype=float)
        out[f"{prefix}incident_changes"] = float(np.nansum(labels == 1))
        ids: set[str] = set()
        for value in part["incident_ids"].tolist():
            ids.update(split_list(value))
        out[f"{prefix}incidents_linked"] = float(len(ids))
    return out


def trends_table(
    scored: pd.DataFrame,
    period: str = "W",
    areas: list[str] | tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """One row per period from the first to the last change (empty periods included).

    ``scored`` has the columns of :func:`score_history`; ``label``/``incident_ids`` are
    optional (without them there are no incident columns). ``areas`` are the critical-area
    names to report (default: those seen in ``critical_areas``); an area's columns are
    ``area.<name>.<metric>``.

    Columns: ``period`` (label), ``period_start`` (UTC timestamp), ``step`` (index from 0),
    ``timestamp`` (period start, ms since the epoch), then one column per metric. A rate of an
    empty group (no change in the period, no AI change...) is NaN and is not logged.
    """
    import numpy as np
    import pandas as pd

    alias = normalize_period(period)
    missing = [c for c in ("author_time", "risk", "tier") if c not in scored.columns]
    if missing:
        raise RiskmlError(f"scored changes lack column(s): {', '.join(missing)}")
    if len(scored) == 0:
        raise RiskmlError("no scored changes: nothing to trend")
    frame = scored.reset_index(drop=True).copy()
    if "ai_provenance" not in frame.columns:
        frame["ai_provenance"] = "human"
    if "critical_areas" not in frame.columns:
        frame["critical_areas"] = ""
    with_labels = "label" in frame.columns
    if with_labels and "incident_ids" not in frame.columns:
        frame["incident_ids"] = ""
    times = _utc_naive(frame["author_time"])
    if times.isna().any():
        raise RiskmlError("scored changes have an empty author_time")
    periods = times.dt.to_period(alias)
    frame["_period"] = periods
    frame["_areas"] = [set(split_list(v)) for v in frame["critical_areas"].tolist()]
    names = sorted(set(areas) if areas is not None else set().union(*frame["_areas"]))
    safe = {name: metric_safe(name) for name in names}

    full = pd.period_range(periods.min(), periods.max(), freq=alias)
    groups = {key: part for key, part in frame.groupby("_period", sort=True)}
    rows = []
    empty = frame.iloc[0:0]
    for step, per in enumerate(full):
        part = groups.get(per, empty)
        start = per.start_time
        row: dict[str, Any] = {
            "period": str(per),
            "period_start": start,
            "step": step,
            "timestamp": _ms(start),
        }
        row.update(_group_metrics(part, "", with_labels))
        for name in names:
            mask = np.array([name in s for s in part["_areas"].tolist()], dtype=bool)
            row.update(_group_metrics(part.loc[mask], f"area.{safe[name]}.", with_labels))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["period_start"] = pd.to_datetime(table["period_start"]).dt.tz_localize("UTC")
    return table


def _ms(start: Any) -> int:
    import pandas as pd

    return int((pd.Timestamp(start) - pd.Timestamp(0)) // pd.Timedelta(milliseconds=1))


def metric_columns(table: pd.DataFrame) -> list[str]:
    """The table's columns that are logged as MLflow metrics."""
    return [c for c in table.columns if c not in ("period", "period_start", "step", "timestamp")]


def table_metrics(table: pd.DataFrame) -> list[Any]:
    """``mlflow.entities.Metric`` objects for every non-NaN cell of the table."""
    from mlflow.entities import Metric

    metrics = []
    columns = metric_columns(table)
    for record in table.to_dict("records"):
        step = int(record["step"])
        ts = int(record["timestamp"])
        for key in columns:
            value = record[key]
            if is_missing(value):
                continue
            metrics.append(Metric(key=key, value=float(value), timestamp=ts, step=step))
    return metrics


# --------------------------------------------------------------------------- charts


def write_charts(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """PNG charts of the table (matplotlib, Agg backend) into ``out_dir``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    x = table["period_start"].dt.tz_convert(None)
    paths: list[Path] = []

    def save(fig: Any, name: str) -> None:
        fig.autofmt_xdate()
        fig.tight_layout()
        path = out_dir / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)

    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax2 = ax.twinx()
    ax2.bar(x, table["changes"], width=5, color="#dddddd", label="changes")
    ax2.set_ylabel("changes")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(x, table["mean_risk"], marker=".", label="mean risk")
    ax.plot(x, table["p90_risk"], marker=".", label="p90 risk")
    ax.set_ylabel("risk")
    ax.set_title("Change risk per period")
    ax.legend(loc="upper left")
    save(fig, "risk.png")

    fig, ax = plt.subplots(figsize=(10, 4.5))
    shares = [table[f"tier.{t}.share"].fillna(0).to_numpy() for t in TIERS]
    ax.stackplot(
        x, *shares, labels=list(TIERS), colors=["#9ccc65", "#ffd54f", "#ff8a65", "#e53935"]
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of changes")
    ax.set_title("Share of changes per tier")
    ax.legend(loc="upper left")
    save(fig, "tiers.png")

    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(x, table["ai.mean_risk"], marker=".", label="AI-provenance mean risk")
    ax.plot(x, table["human.mean_risk"], marker=".", label="human mean risk")
    ax.set_ylabel("mean risk")
    ax2 = ax.twinx()
    ax2.plot(x, table["ai.share"], color="#888888", linestyle="--", label="AI share")
    ax2.set_ylabel("AI share of changes")
    ax.set_title("AI-provenance changes against human changes")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left")
    save(fig, "ai_vs_human.png")

    if "incidents_linked" in table.columns:
        fig, ax = plt.subplots(figsize=(10, 4.5))
        ax.bar(x, table["incidents_linked"], width=5, label="incidents linked")
        ax.set_ylabel("incidents linked to the period's changes")
        ax.set_title("Incidents caused by each period's changes")
        save(fig, "incidents.png")

    area_cols = [
        c for c in table.columns if c.startswith("area.") and c.split(".")[2:] == ["mean_risk"]
    ]
    if area_cols:
        # Weekly means of a few changes jump around: draw a rolling mean over 4 periods.
        fig, ax = plt.subplots(figsize=(10, 4.5))
        for col in area_cols:
            smooth = table[col].rolling(SMOOTH_PERIODS, min_periods=1).mean()
            ax.plot(x, smooth, label=col.split(".")[1])
        overall = table["mean_risk"].rolling(SMOOTH_PERIODS, min_periods=1).mean()
        ax.plot(x, overall, color="#444444", linestyle=":", label="all changes")
        ax.set_ylabel(f"mean risk (rolling mean of {SMOOTH_PERIODS} periods)")
        ax.set_title("Mean risk per critical area")
        ax.legend(loc="upper left")
        save(fig, "areas.png")
    return paths


def write_table(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """The table behind the charts as ``trends.csv`` and ``trends.parquet``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "trends.csv"
    parquet = out_dir / "trends.parquet"
    return [write_frame(table, csv), write_frame(table, parquet)]


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
        return None if _missing(value) else str(value)
    return None
