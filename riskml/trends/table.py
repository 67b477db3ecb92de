"""The scored history and its per-period table: pure functions, no MLflow.

* :func:`score_history` — changes (+ labels) and a model -> one scored row per change;
* :func:`trends_table` — scored rows -> one row per period, columns = metric names;
* :func:`table_metrics` — the table as ``mlflow.entities.Metric`` points.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskml.config import TIERS, Config
from riskml.errors import RiskmlError
from riskml.fmt import is_missing
from riskml.tables import split_list, write_frame

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

AI_CLASSES = ("ai_assisted", "ai_agent")
# Friendly period names accepted besides pandas period aliases.
PERIOD_ALIASES = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")

# Columns of the scored frame that trends_table reads.
SCORED_COLUMNS = ("commit", "author_time", "risk", "tier", "ai_provenance", "critical_areas")
# the changes-table columns the review rules by AI provenance read, kept in the scored frame
POLICY_INPUTS = {"ai_tool": "", "touches_critical": False, "ai_line_share": float("nan"),
                 "n_test_files": 0.0, "n_critical_files": 0.0}  # fmt: skip
# what an AI change whose tool is not known counts under (ai.tool.<tool>.changes)
UNKNOWN_TOOL = "unknown"


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

    Returns one row per change: ``commit``, ``author_time``, ``commit_time`` (the author time
    when the table has none), ``risk``, ``tier``, ``ai_provenance``, ``critical_areas``, the
    columns the review rules by AI provenance read (``POLICY_INPUTS``), and, when labels are
    given, ``label`` and ``incident_ids``. Reasons are not computed here (``TrainedModel.predict`` with ``k=0``):
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
    for name, default in POLICY_INPUTS.items():
        if name not in frame.columns:
            scored[name] = default
        elif isinstance(default, str):
            scored[name] = _column(frame, name, default)
        elif isinstance(default, bool):
            scored[name] = [not absent(v) and bool(v) for v in frame[name].tolist()]
        else:
            scored[name] = pd.to_numeric(frame[name], errors="coerce").astype(float).to_numpy()
    scored["author_time"] = pd.to_datetime(scored["author_time"], utc=True)
    committed = frame["commit_time"] if "commit_time" in frame.columns else frame["author_time"]
    scored.insert(2, "commit_time", pd.to_datetime(committed, utc=True).to_numpy())
    scored["commit_time"] = pd.to_datetime(scored["commit_time"], utc=True)
    if labels is not None and len(labels) > 0:
        scored = attach_labels(scored, labels)
    return scored


def with_review_policy(scored: pd.DataFrame, config: Config) -> pd.DataFrame:
    """``scored`` with the review rules by AI provenance of ``config`` (``[review.ai]``,
    :func:`riskml.score.policy.ai_policy`) applied to each change after its tier:
    ``policy_tier`` (the tier after them), ``policy_rules`` (the rules that applied, ``;``
    separated) and ``policy_stricter`` (they made its review need more than its tier's: a
    higher tier, or a code owner the tier did not require)."""
    from riskml.score.policy import ai_policy, stricter_review

    inputs = ("ai_provenance", "critical_areas", *POLICY_INPUTS)
    present = [c for c in inputs if c in scored.columns]
    rows = scored[present].to_dict("records")
    tiers, rules, stricter = [], [], []
    for tier, row in zip(scored["tier"].astype(str).tolist(), rows, strict=True):
        outcome = ai_policy(tier, row, config)
        tiers.append(outcome.tier)
        rules.append(";".join(r["rule"] for r in outcome.rules))
        stricter.append(stricter_review(tier, outcome, config))
    out = scored.copy()
    out["policy_tier"] = tiers
    out["policy_rules"] = rules
    out["policy_stricter"] = stricter
    return out


def label_horizon(scored: pd.DataFrame, window_days: int) -> tuple[Any, Any]:
    """The data cut-off and the label horizon of the scored history: ``(cutoff, horizon)``.

    The cut-off is the newest commit time (``riskml label``'s default); a change committed
    after ``horizon = cutoff - window_days`` is still inside the labelling window: its label
    is final only when it is already positive (labels.md, "Verification latency").
    """
    import pandas as pd

    cutoff = commit_times(scored).max()
    return cutoff, cutoff - pd.Timedelta(days=int(window_days))


def commit_times(scored: pd.DataFrame) -> pd.Series:
    """Each scored change's commit time (UTC), its author time where the frame has none."""
    import pandas as pd

    column = "commit_time" if "commit_time" in scored.columns else "author_time"
    return pd.to_datetime(scored[column], utc=True)


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
    return [default if absent(v) else str(v) for v in frame[name].tolist()]


def absent(value: Any) -> bool:
    """True for None, NaN and pandas NA (an empty cell of any dtype)."""
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
        ids = keep["incident_ids"].map(lambda v: "" if absent(v) else str(v))
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


def ai_tools(scored: pd.DataFrame) -> list[str]:
    """The tools of the AI-provenance changes of ``scored``, sorted, ``unknown`` for those
    whose marker names none (each a metric-safe name)."""
    if "ai_provenance" not in scored.columns:
        return []
    ai = scored["ai_provenance"].isin(AI_CLASSES).to_numpy()
    return sorted({_tool_name(v) for v in _tool_values(scored)[ai]})


def _tool_values(part: pd.DataFrame) -> Any:
    import numpy as np

    if "ai_tool" not in part.columns:
        return np.array([""] * len(part), dtype=object)
    return part["ai_tool"].to_numpy(dtype=object)


def _tool_name(value: Any) -> str:
    return (
        metric_safe(str(value).strip())
        if not absent(value) and str(value).strip()
        else (UNKNOWN_TOOL)
    )


def _ai_counts(part: pd.DataFrame, tools: list[str]) -> dict[str, float]:
    """AI-provenance changes of one period per class, per tier (the model's), per tool; with
    the review rules applied (``policy_*`` columns), the changes they applied to, raised, and
    made stricter."""
    import numpy as np

    provenance = part["ai_provenance"].to_numpy(dtype=object)
    ai = np.isin(provenance, AI_CLASSES)
    out: dict[str, float] = {}
    for name in AI_CLASSES:
        out[f"{name}.changes"] = float((provenance == name).sum())
    tiers = part["tier"].to_numpy(dtype=object)
    for tier in TIERS:
        out[f"ai.tier.{tier}.changes"] = float((ai & (tiers == tier)).sum())
    names = np.array([_tool_name(v) for v in _tool_values(part)], dtype=object)
    for tool in tools:
        out[f"ai.tool.{tool}.changes"] = float((ai & (names == tool)).sum())
    if "policy_tier" in part.columns:
        applied = np.array([bool(r) for r in part["policy_rules"].tolist()], dtype=bool)
        raised = part["policy_tier"].to_numpy(dtype=object) != tiers
        out["policy.changes"] = float(applied.sum())
        out["policy.raised"] = float(raised.sum())
        out["policy.extra_reviews"] = float(part["policy_stricter"].to_numpy(dtype=bool).sum())
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

    tools = ai_tools(frame)
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
        row.update(_ai_counts(part, tools))
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


def write_table(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """The table behind the charts as ``trends.csv`` and ``trends.parquet``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "trends.csv"
    parquet = out_dir / "trends.parquet"
    return [write_frame(table, csv), write_frame(table, parquet)]
