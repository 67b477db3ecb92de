"""The charts of a trends run (PNG, matplotlib's Agg canvas; no pyplot, no GUI backend).

Every chart shows direction the same way: each period's value as a faint point, a rolling
mean over :data:`SMOOTH_PERIODS` periods as the line (pooled over the changes of those
periods, so a quiet week weighs less than a busy one), dates on the x-axis, and the legend
outside the axes. The incidents chart shades the periods still inside the labelling window,
whose counts can only rise. AI-provenance and human changes share one axis, each with a band
(a 95 % normal interval of the pooled mean, from the scored changes) and their counts below.
Critical areas are small multiples on one shared scale, smoothed over :data:`AREA_PERIODS`
periods (an area holds a few changes a period), beside the whole repository's line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskml.config import TIERS
from riskml.trends.table import AI_CLASSES

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

SMOOTH_PERIODS = 4  # the rolling window of every chart (the logged series are not smoothed)
# a rolling mean over fewer changes than this is not drawn (a sparse group's line would jump)
MIN_POOLED = 5
# a critical area holds a few changes a period: its small multiple smooths over a quarter
AREA_PERIODS = 13
Z_95 = 1.96
COLORS = {
    "all": "#1f5fa8",
    "p90": "#c2410c",
    "ai": "#d97706",
    "human": "#2563eb",
    "incidents": "#b91c1c",
    "count": "#9ca3af",
}
TIER_COLORS = ["#9ccc65", "#ffd54f", "#ff8a65", "#e53935"]
FAINT = 0.3
DPI = 100


def rolling_sum(values: np.ndarray, window: int = SMOOTH_PERIODS) -> np.ndarray:
    """The sum of each value and the ``window - 1`` before it (fewer at the start)."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    return np.convolve(values, np.ones(window))[: len(values)]


def pooled_mean(
    mean: Any, count: Any, window: int = SMOOTH_PERIODS, least: int = MIN_POOLED
) -> np.ndarray:
    """The mean over the changes of each period and the ``window - 1`` before it.

    ``mean`` and ``count`` are per period (a period without changes has a NaN mean); the
    result is NaN where the window holds fewer than ``least`` changes.
    """
    import numpy as np

    mean = np.asarray(mean, dtype=float)
    count = np.asarray(count, dtype=float)
    total = rolling_sum(np.where(count > 0, np.nan_to_num(mean) * count, 0.0), window)
    n = rolling_sum(count, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n > 0) & (n >= least), total / n, np.nan)


def pooled_band(
    steps: np.ndarray,
    risk: np.ndarray,
    n_steps: int,
    window: int = SMOOTH_PERIODS,
    least: int = MIN_POOLED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, low, high)`` per period: the pooled rolling mean of ``risk`` (one value per
    change, in period ``steps``) with a 95 % normal interval (mean ± 1.96 standard errors,
    kept within [0, 1]); all NaN where the window holds fewer than ``least`` changes."""
    import numpy as np

    steps = np.asarray(steps, dtype=int)
    risk = np.asarray(risk, dtype=float)
    n = rolling_sum(np.bincount(steps, minlength=n_steps), window)
    total = rolling_sum(np.bincount(steps, weights=risk, minlength=n_steps), window)
    squares = rolling_sum(np.bincount(steps, weights=risk**2, minlength=n_steps), window)
    enough = (n >= max(least, 2)) & (n > 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(enough, total / n, np.nan)
        var = np.where(enough, (squares - total * total / n) / (n - 1), np.nan)
        half = Z_95 * np.sqrt(np.clip(var, 0, None) / n)
    return mean, np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1)


def _figure(rows: int = 1, heights: list[int] | None = None, size=(11, 4.8)) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": heights or [1]})
    return fig, axes


def _dates(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(True, axis="y", alpha=0.3)


def _legend(fig: Any, ax: Any) -> None:
    """The legend outside the axes, to the right of the figure (never on the data)."""
    handles, labels = [], []
    for one in fig.axes:
        h, lab = one.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, loc="outside right upper", frameon=False)


def _bar_width(x: np.ndarray) -> float:
    """Bar width in days: 80 % of a period."""
    import numpy as np

    if len(x) < 2:
        return 5.0
    return float(np.median(np.diff(x)) / np.timedelta64(1, "D")) * 0.8


def write_charts(table: pd.DataFrame, out_dir: Path, **inputs: Any) -> list[Path]:
    """PNG charts of the table into ``out_dir`` (:func:`chart_figures`); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in chart_figures(table, **inputs).items():
        path = out_dir / name
        fig.savefig(path, dpi=DPI)
        paths.append(path)
    return paths


def chart_figures(
    table: pd.DataFrame,
    *,
    scored: pd.DataFrame | None = None,
    period: str = "W",
    horizon: Any = None,
    window_days: int | None = None,
) -> dict[str, Any]:
    """The charts of the table as ``{file name: matplotlib Figure}``.

    ``scored`` (the changes behind the table) draws the AI/human bands; ``horizon`` (the label
    horizon, :func:`riskml.trends.table.label_horizon`) shades the periods after it on the
    incidents chart, ``window_days`` names the window in its legend.
    """

    x = table["period_start"].dt.tz_convert(None).to_numpy()
    figures = {
        "risk.png": _risk_chart(table, x),
        "tiers.png": _tiers_chart(table, x),
        "ai_vs_human.png": _ai_chart(table, x, scored, period),
    }
    if "incidents_linked" in table.columns:
        figures["incidents.png"] = _incidents_chart(table, x, horizon, window_days)
    areas = [
        c.split(".")[1] for c in table.columns if c.startswith("area.") and c.count(".") == 2
        if c.endswith(".mean_risk")
    ]  # fmt: skip
    if areas:
        figures["areas.png"] = _area_multiples(table, x, areas)
    return figures


def _risk_chart(table: pd.DataFrame, x: np.ndarray) -> Any:
    """Mean and p90 risk per period, with their rolling means; changes below."""
    fig, (ax, low) = _figure(2, [3, 1])
    for key, label in (("mean_risk", "mean risk"), ("p90_risk", "p90 risk")):
        color = COLORS["all" if key == "mean_risk" else "p90"]
        values = table[key].to_numpy(dtype=float)
        ax.plot(x, values, ".", color=color, alpha=FAINT, label=f"{label}, each period")
        smooth = (
            pooled_mean(values, table["changes"])
            if key == "mean_risk"
            else table[key].rolling(SMOOTH_PERIODS, min_periods=1).mean().to_numpy()
        )
        ax.plot(x, smooth, "-", color=color, lw=2, label=f"{label}, {SMOOTH_PERIODS}-period mean")
    ax.set_ylabel("risk")
    ax.set_title(f"Change risk: each period, and its {SMOOTH_PERIODS}-period rolling mean")
    low.bar(x, table["changes"], width=_bar_width(x), color=COLORS["count"], label="changes")
    low.set_ylabel("changes")
    for one in (ax, low):
        _dates(one)
    _legend(fig, ax)
    return fig


def _tiers_chart(table: pd.DataFrame, x: np.ndarray) -> Any:
    """The pooled share of each tier over the rolling window, stacked."""
    import numpy as np

    fig, ax = _figure()
    n = table["changes"].to_numpy(dtype=float)
    shares = [pooled_mean(table[f"tier.{t}.share"], n) for t in TIERS]
    ax.stackplot(x, *[np.nan_to_num(s) for s in shares], labels=list(TIERS), colors=TIER_COLORS)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"share of changes ({SMOOTH_PERIODS}-period)")
    ax.set_title("Share of changes per tier")
    _dates(ax)
    _legend(fig, ax)
    return fig


def _ai_chart(table: pd.DataFrame, x: np.ndarray, scored: Any, period: str) -> Any:
    """AI-provenance and human mean risk on one axis, bands from ``scored``; counts below."""
    import numpy as np

    steps = _steps(table, scored, period) if scored is not None else None
    fig, (ax, low) = _figure(2, [3, 1])
    width = _bar_width(x)
    base = np.zeros(len(table))
    for group, label in (("human", "human"), ("ai", "AI-provenance")):
        color = COLORS[group]
        count = table[f"{group}.changes"].to_numpy(dtype=float)
        mean = table[f"{group}.mean_risk"].to_numpy(dtype=float)
        ax.plot(x, mean, ".", color=color, alpha=FAINT, label=f"{label}, each period")
        if steps is not None:
            mask = _group_mask(scored, group)
            line, lo, hi = pooled_band(steps[mask], scored["risk"].to_numpy()[mask], len(table))
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0, label=f"{label}, 95 % band")
        else:
            line = pooled_mean(mean, count)
        ax.plot(x, line, "-", color=color, lw=2, label=f"{label}, {SMOOTH_PERIODS}-period mean")
        low.bar(
            x, count, width=width, bottom=base, color=color, alpha=0.7, label=f"{label} changes"
        )
        base = base + count
    ax.set_ylabel("mean risk")
    ax.set_title("AI-provenance changes against human changes")
    low.set_ylabel("changes")
    for one in (ax, low):
        _dates(one)
    _legend(fig, ax)
    return fig


def _incidents_chart(table: pd.DataFrame, x: np.ndarray, horizon: Any, window_days: Any) -> Any:
    """Incidents linked per period, their rolling mean, the periods after ``horizon`` shaded."""
    import numpy as np

    fig, ax = _figure()
    counts = table["incidents_linked"].to_numpy(dtype=float)
    ax.bar(x, counts, width=_bar_width(x), color=COLORS["incidents"], alpha=FAINT,
           label="incidents, each period")  # fmt: skip
    smooth = rolling_sum(counts) / np.minimum(np.arange(1, len(counts) + 1), SMOOTH_PERIODS)
    ax.plot(x, smooth, "-", color=COLORS["incidents"], lw=2,
            label=f"{SMOOTH_PERIODS}-period mean")  # fmt: skip
    if horizon is not None:
        start = np.datetime64(horizon.tz_convert(None).to_datetime64())
        end = table["period_start"].iloc[-1].tz_convert(None) + _period_length(x)
        window = f"{window_days}-day " if window_days else ""
        ax.axvspan(start, end.to_datetime64(), color="#6b7280", alpha=0.15, lw=0,
                   label=f"labels not final ({window}window): can still rise")  # fmt: skip
    ax.set_ylabel("incidents linked")
    ax.set_title("Incidents caused by each period's changes")
    _dates(ax)
    _legend(fig, ax)
    return fig


def _area_multiples(table, x, areas: list[str]) -> Any:
    """One small chart per critical area on a shared scale, the whole repository as reference."""
    import math

    import numpy as np
    from matplotlib.figure import Figure

    cols = min(3, math.ceil(math.sqrt(len(areas))))
    rows = math.ceil(len(areas) / cols)
    fig = Figure(figsize=(11, 2.6 * rows + 0.8), layout="constrained")
    grid = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).ravel())
    overall = pooled_mean(table["mean_risk"], table["changes"], AREA_PERIODS)
    for i, (ax, name) in enumerate(zip(grid, areas, strict=False)):
        mean = table[f"area.{name}.mean_risk"].to_numpy(dtype=float)
        count = table[f"area.{name}.changes"].to_numpy(dtype=float)
        first = i == 0
        ax.plot(x, overall, "-", color=COLORS["count"], lw=1.5,
                label=f"all changes, {AREA_PERIODS}-period mean" if first else None)  # fmt: skip
        ax.plot(x, mean, ".", color=COLORS["all"], alpha=FAINT,
                label="area, each period" if first else None)  # fmt: skip
        ax.plot(x, pooled_mean(mean, count, AREA_PERIODS), "-", color=COLORS["all"], lw=2,
                label=f"area, {AREA_PERIODS}-period mean" if first else None)  # fmt: skip
        ax.set_title(f"{name} ({int(count.sum())} changes)", fontsize=10)
        _dates(ax)
    for ax in grid[len(areas) :]:
        ax.set_visible(False)
    fig.suptitle("Mean risk per critical area")
    fig.legend(*grid[0].get_legend_handles_labels(), loc="outside lower center", ncols=3,
               frameon=False)  # fmt: skip
    return fig


def _steps(table: pd.DataFrame, scored: pd.DataFrame, period: str) -> np.ndarray:
    """Each scored change's step (row of the table), from its period."""
    import pandas as pd

    times = pd.to_datetime(scored["author_time"], utc=True).dt.tz_convert(None)
    labels = times.dt.to_period(period).astype(str)
    index = dict(zip(table["period"].astype(str), table["step"].astype(int), strict=True))
    return labels.map(index).to_numpy(dtype=int)


def _group_mask(scored: pd.DataFrame, group: str) -> np.ndarray:
    provenance = scored["ai_provenance"].astype(str)
    if group == "ai":
        return provenance.isin(AI_CLASSES).to_numpy()
    return (provenance == "human").to_numpy()


def _period_length(x: np.ndarray) -> Any:
    import numpy as np
    import pandas as pd

    if len(x) < 2:
        return pd.Timedelta(days=7)
    return pd.Timedelta(np.median(np.diff(x)))
