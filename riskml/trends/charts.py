"""The charts of a trends run (PNG, matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskml.config import TIERS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SMOOTH_PERIODS = 4  # rolling window of the per-area chart (the logged series are not smoothed)


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
