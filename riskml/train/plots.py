"""The evaluation plots of a training run (PNG), drawn from the test-window predictions.

Every plot is made from ``TrainResult.test_predictions`` (one row per test change: ``label``,
``effort`` and one risk column per model) or ``TrainResult.importance``, never from training
rows; the rolling evaluation's charts (one per metric, the three models over the folds) from
its summary (``rolling.json``). Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly, so
no pyplot state or GUI backend is touched (safe in servers and threads).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskml.train.metrics import MODELS

PLOTS = ("roc", "pr", "calibration", "capture", "importance")
# one chart each, ``rolling_<metric>.png``: the three models' metric over the folds
ROLLING_PLOT_METRICS = ("roc_auc", "pr_auc", "capture_at_10", "recall_at_20_effort", "popt")
_COLORS = dict(zip(MODELS, ("#1f77b4", "#ff7f0e", "#2ca02c"), strict=True))


def risk_column(predictions: pd.DataFrame, model: str) -> str | None:
    """The column of ``predictions`` holding ``model``'s risk, or None when it has none."""
    for name in (f"risk_{model}", model, f"{model}_risk"):
        if name in predictions.columns:
            return name
    return None


def _figure(title: str, xlabel: str, ylabel: str):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _curves(predictions: pd.DataFrame):
    """(model, labels, risk) for each model with a risk column, rows with a missing risk dropped."""
    labels = predictions["label"].to_numpy(dtype=float)
    for model in MODELS:
        column = risk_column(predictions, model)
        if column is None:
            continue
        risk = predictions[column].to_numpy(dtype=float)
        keep = ~(np.isnan(risk) | np.isnan(labels))
        yield model, labels[keep].astype(int), risk[keep]


def _both_classes(labels: np.ndarray) -> bool:
    return labels.size > 0 and 0 < labels.sum() < labels.size


def _plot_curves(ax, predictions: pd.DataFrame, curve, score, label: str) -> None:
    """One line per model with both classes in the test window: ``curve(labels, risk)`` gives
    (x, y), ``score(labels, risk)`` the figure named in the legend as ``label``."""
    for model, labels, risk in _curves(predictions):
        if not _both_classes(labels):
            continue
        x, y = curve(labels, risk)
        value = score(labels, risk)
        ax.plot(x, y, color=_COLORS[model], label=f"{model} ({label} {value:.3f})")


def plot_roc(predictions: pd.DataFrame, path: Path) -> Path:
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = _figure("ROC (test window)", "false positive rate", "true positive rate")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    _plot_curves(ax, predictions, lambda y, p: roc_curve(y, p)[:2], roc_auc_score, "AUC")
    ax.legend(loc="lower right")
    fig.savefig(path)
    return path


def plot_pr(predictions: pd.DataFrame, path: Path) -> Path:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = _figure("Precision-recall (test window)", "recall", "precision")
    base = float(np.nanmean(predictions["label"].to_numpy(dtype=float))) if len(predictions) else 0
    ax.axhline(base, color="grey", linestyle=":", label=f"base rate {base:.3f}")

    def recall_precision(labels, risk):
        precision, recall, _ = precision_recall_curve(labels, risk)
        return recall, precision

    _plot_curves(ax, predictions, recall_precision, average_precision_score, "AP")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper right")
    fig.savefig(path)
    return path


def plot_calibration(predictions: pd.DataFrame, path: Path, bins: int = 10) -> Path:
    """Observed incident rate against mean predicted risk, in quantile bins of risk."""
    fig, ax = _figure("Calibration (test window)", "mean predicted risk", "observed incident rate")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for model, labels, risk in _curves(predictions):
        if labels.size == 0:
            continue
        frame = pd.DataFrame({"label": labels, "risk": risk})
        ranks = frame["risk"].rank(method="first")
        frame["bin"] = pd.qcut(ranks, q=min(bins, len(frame)), labels=False, duplicates="drop")
        grouped = frame.groupby("bin").agg(risk=("risk", "mean"), rate=("label", "mean"))
        ax.plot(grouped["risk"], grouped["rate"], marker="o", color=_COLORS[model], label=model)
    ax.legend(loc="upper left")
    fig.savefig(path)
    return path


def capture_curve(labels: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of changes gated (riskiest first) -> share of positive changes caught, from (0, 0)."""
    order = np.argsort(-risk, kind="stable")
    caught = np.cumsum(labels[order])
    total = max(int(labels.sum()), 1)
    share = np.arange(0, labels.size + 1) / max(labels.size, 1)
    return share, np.concatenate([[0.0], caught / total])


def plot_capture(predictions: pd.DataFrame, path: Path) -> Path:
    fig, ax = _figure(
        "Capture curve (test window)", "share of changes gated", "share of incidents caught"
    )
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    for k in (0.05, 0.10, 0.30):
        ax.axvline(k, color="lightgrey", linewidth=0.8)
    for model, labels, risk in _curves(predictions):
        if labels.size == 0:
            continue
        share, caught = capture_curve(labels, risk)
        ax.plot(share, caught, color=_COLORS[model], label=model)
    ax.legend(loc="lower right")
    fig.savefig(path)
    return path


def importance_frame(importance) -> pd.DataFrame:
    """``importance`` (a DataFrame, a Series or a dict feature -> value) as feature/importance rows."""
    if isinstance(importance, pd.DataFrame):
        frame = importance.copy()
        if "feature" not in frame.columns:
            frame = frame.reset_index().rename(columns={frame.index.name or "index": "feature"})
        numeric = [
            c for c in frame.columns if c != "feature" and pd.api.types.is_numeric_dtype(frame[c])
        ]
        preferred = [c for c in ("gain", "importance", "split") if c in numeric]
        column = (preferred or numeric or [None])[0]
        if column is None:
            return pd.DataFrame({"feature": [], "importance": []})
        return pd.DataFrame(
            {"feature": frame["feature"].astype(str), "importance": frame[column].astype(float)}
        )
    if isinstance(importance, pd.Series):
        return pd.DataFrame(
            {"feature": importance.index.astype(str), "importance": importance.to_numpy(float)}
        )
    items = dict(importance or {})
    return pd.DataFrame(
        {"feature": [str(k) for k in items], "importance": [float(v) for v in items.values()]}
    )


def plot_importance(importance, path: Path, top: int = 25) -> Path:
    frame = importance_frame(importance).sort_values("importance", ascending=False).head(top)
    frame = frame.iloc[::-1]
    fig, ax = _figure("Feature importance (riskml)", "importance", "")
    fig.set_size_inches(7, max(3.0, 0.28 * len(frame) + 1.2))
    ax.barh(frame["feature"], frame["importance"], color=_COLORS["riskml"])
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def write_plots(predictions: pd.DataFrame, importance, directory: str | Path) -> list[Path]:
    """Write every plot of :data:`PLOTS` as ``<name>.png`` under ``directory``; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        plot_roc(predictions, directory / "roc.png"),
        plot_pr(predictions, directory / "pr.png"),
        plot_calibration(predictions, directory / "calibration.png"),
        plot_capture(predictions, directory / "capture.png"),
        plot_importance(importance, directory / "importance.png"),
    ]


def plot_rolling(summary: dict, metric: str, path: Path) -> Path:
    """``metric`` of each model on each fold's test window (x: fold and its first day), the
    mean over folds in the legend; a fold where the metric is undefined leaves a gap."""
    folds = summary.get("folds") or []
    x = [int(f["fold"]) for f in folds]
    fig, ax = _figure(f"{metric} per fold (rolling evaluation)", "fold (test window from)", metric)
    for model in MODELS:
        values = [((f.get("metrics") or {}).get(model) or {}).get(metric) for f in folds]
        if all(v is None for v in values):
            continue
        y = [float("nan") if v is None else float(v) for v in values]
        mean = ((summary.get("mean") or {}).get(model) or {}).get(metric)
        label = model if mean is None else f"{model} (mean {mean:.3f})"
        ax.plot(x, y, marker="o", color=_COLORS[model], label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(
        [f"{k}\n{str(f.get('cutoff') or '')[:10]}" for k, f in zip(x, folds, strict=True)]
    )
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    return path


def write_rolling_plots(summary: dict, directory: str | Path) -> list[Path]:
    """``rolling_<metric>.png`` under ``directory`` for each of :data:`ROLLING_PLOT_METRICS`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        plot_rolling(summary, metric, directory / f"rolling_{metric}.png")
        for metric in ROLLING_PLOT_METRICS
    ]
