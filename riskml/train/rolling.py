"""Rolling (forward-chaining) evaluation: K folds in time, per-fold and pooled metrics, intervals.

One test window can hold a dozen positives; a model is judged here on several consecutive
windows instead. Fold ``k`` of ``K`` trains on everything before its cut-off (labels as known
then, the gap of evaluation.md, through :func:`riskml.train.fit`) and tests on the next slice of
labelled changes, so every test change is scored by a model that never saw it or anything after
it. The cut-offs split the newest ``K × fold_fraction`` of the labelled changes into ``K`` equal
slices (default 5 × 10 %: cut-offs at 50, 60, 70, 80 and 90 %).

Per fold and pooled over the folds' test windows, every metric of evaluation.md for riskml and
both baselines, and riskml's mean risk and the incident rate by AI-provenance class
(:mod:`riskml.train.by_provenance`); paired bootstrap intervals (changes resampled within each fold, the same draw
for every model) of riskml's metric minus each baseline's, for the mean over folds and for the
pooled windows. Folds are numbered from 1, oldest first, everywhere (JSON, table, MLflow).

``[evaluate]`` of ``riskml.toml`` (:class:`riskml.config.EvaluateConfig`) holds the defaults.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.jsonvalue import plain
from riskml.train.metrics import KAMEI_LR, LAPREDICT, MODELS, RISKML, evaluate

# the differences whose intervals are reported (evaluation.md's headline ranking metrics)
INTERVAL_METRICS = ("roc_auc", "capture_at_10")


@dataclass
class RollingResult:
    """What :func:`rolling_evaluate` found; :meth:`summary` is its JSON form."""

    folds: list[dict]  # fold (1..K), cutoff, test_end, split, metrics {model: {...}}
    pooled: dict  # {model: metrics over every fold's test window}
    mean: dict  # {model: {metric: mean over folds}}
    intervals: dict  # {"mean"|"pooled": {"<metric>:riskml-<baseline>": {diff, low, high}}}
    predictions: pd.DataFrame  # every fold's test predictions, with a ``fold`` column
    settings: dict = field(default_factory=dict)
    # the dataset rows of every fold's test window, in ``predictions`` order (the promotion
    # gate scores the champion on them); None when the folds' rows were not kept
    test_rows: pd.DataFrame | None = None
    # riskml's risk and the incident rate by AI-provenance class over the pooled test windows
    # (riskml.train.by_provenance.provenance_report); None without the rows' provenance
    provenance: dict | None = None

    def summary(self) -> dict:
        return plain(
            {
                "settings": self.settings,
                "folds": self.folds,
                "mean": self.mean,
                "pooled": self.pooled,
                "intervals": self.intervals,
                "provenance": self.provenance,
            }
        )


def fold_bounds(
    dataset: pd.DataFrame, folds: int = 5, fold_fraction: float = 0.1
) -> list[tuple[pd.Timestamp, pd.Timestamp | None]]:
    """``(cutoff, test_end)`` of each fold, oldest first; the last fold's window runs to the end.

    Positions are counted over the changes whose label is known, in time order, so each window
    holds about ``fold_fraction`` of them. ``test_end`` is the next fold's cut-off.
    """
    if folds < 1:
        raise RiskmlError(f"folds must be at least 1, got {folds}")
    if not 0 < fold_fraction < 1 or folds * fold_fraction >= 1:
        raise RiskmlError(
            f"folds × fold_fraction must lie in (0, 1) (training needs the rest), "
            f"got {folds} × {fold_fraction:g}"
        )
    label = pd.to_numeric(dataset["label"], errors="coerce")
    times = pd.to_datetime(dataset["author_time"], utc=True)[label.notna()].sort_values(
        kind="stable"
    )
    n = len(times)
    if n < 10 * folds:
        raise RiskmlError(f"only {n} changes with a known label: too few for {folds} folds")
    # the first test position of each fold; the small epsilon keeps a product that is whole
    # in exact arithmetic (100 × 0.7) from flooring one below it in floating point
    starts = [int(np.floor(n * (1 - (folds - k) * fold_fraction) + 1e-9)) for k in range(folds)]
    cuts = [times.iloc[start] for start in starts]
    # equal times at a boundary fall on one side; a repeated cut-off would leave a window empty
    if len(set(cuts)) < len(cuts):
        raise RiskmlError("two folds share a cut-off time: use fewer folds")
    return [(cut, cuts[k + 1] if k + 1 < folds else None) for k, cut in enumerate(cuts)]


def rolling_evaluate(
    dataset: pd.DataFrame,
    config: Config | None = None,
    *,
    folds: int | None = None,
    fold_fraction: float | None = None,
    label_mode: str = "incidents",
    bootstrap: int | None = None,
    seed: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> RollingResult:
    """Train and test riskml and both baselines on each forward-chaining fold of ``dataset``.

    ``dataset``: :func:`riskml.train.dataset.build_dataset` output; ``config``: every setting of
    :func:`riskml.train.fit`, and ``[evaluate]`` for ``folds``, ``fold_fraction`` and
    ``bootstrap`` when they are not given. ``bootstrap``: resamples for the intervals (0: none);
    ``seed``: their generator's seed (default ``[train] seed``). A fold that cannot be trained
    or tested (a slice with one class only) is a :class:`RiskmlError` naming the fold.
    """
    from riskml.train import fit

    cfg = config or Config()
    folds = cfg.evaluate.folds if folds is None else int(folds)
    fold_fraction = cfg.evaluate.fold_fraction if fold_fraction is None else float(fold_fraction)
    bootstrap = cfg.evaluate.bootstrap if bootstrap is None else int(bootstrap)
    seed = cfg.train.seed if seed is None else int(seed)
    results = []
    for k, (cutoff, test_end) in enumerate(fold_bounds(dataset, folds, fold_fraction), start=1):
        if progress is not None:
            progress(f"fold {k}/{folds}: test from {cutoff.isoformat()}")
        try:
            trained = fit(dataset, cfg, cutoff=cutoff, label_mode=label_mode, test_end=test_end)
        except RiskmlError as exc:
            raise RiskmlError(f"fold {k}/{folds} (test from {cutoff.isoformat()}): {exc}") from None
        results.append(trained)
    return combine_folds(
        [r.metrics for r in results],
        [r.test_predictions for r in results],
        bootstrap=bootstrap,
        seed=seed,
        settings={
            "folds": folds,
            "fold_fraction": fold_fraction,
            "label_mode": label_mode,
            "bootstrap": bootstrap,
            "seed": seed,
        },  # fmt: skip
        test_frames=[r.test_frame for r in results],
    )


def combine_folds(
    metrics: list[dict],
    predictions: list[pd.DataFrame],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    settings: dict | None = None,
    test_frames: list[pd.DataFrame | None] | None = None,
) -> RollingResult:
    """Per-fold, mean, pooled metrics and paired bootstrap intervals from each fold's output.

    ``metrics`` and ``predictions``: each fold's ``TrainResult.metrics`` and
    ``.test_predictions``, oldest fold first; ``test_frames`` its ``.test_frame`` (kept as
    :attr:`RollingResult.test_rows` when every fold has one).
    """
    if not metrics:
        raise RiskmlError("no fold to combine")
    folds = []
    frames = []
    for k, (m, preds) in enumerate(zip(metrics, predictions, strict=True), start=1):
        split = dict(m.get("split") or {})
        folds.append(
            {
                "fold": k,
                "cutoff": split.get("cutoff"),
                "test_end": split.get("test_end"),
                "split": split,
                "metrics": {name: m[name] for name in MODELS if name in m},
            }
        )
        frame = preds.copy()
        frame["fold"] = k
        frames.append(frame)
    pooled_frame = pd.concat(frames, ignore_index=True)
    present = [name for name in MODELS if f"risk_{name}" in pooled_frame.columns]
    y = pooled_frame["label"].to_numpy(dtype=float)
    effort = pooled_frame["effort"].to_numpy(dtype=float)
    pooled = {
        name: evaluate(
            y,
            pooled_frame[f"risk_{name}"].to_numpy(dtype=float),
            effort,
            pooled_frame["tier"].to_list() if name == RISKML else None,
        )
        for name in present
    }
    mean = {name: _mean_over(folds, name) for name in present}
    intervals = paired_intervals(pooled_frame, present, bootstrap=bootstrap, seed=seed)
    rows = None
    if test_frames is not None and all(f is not None for f in test_frames):
        rows = pd.concat([f.reset_index(drop=True) for f in test_frames], ignore_index=True)
        if len(rows) != len(pooled_frame):
            rows = None
    provenance = None
    if rows is not None and "ai_provenance" in rows.columns and f"risk_{RISKML}" in pooled_frame:
        from riskml.train.by_provenance import provenance_report

        provenance = provenance_report(
            rows["ai_provenance"].astype(object).where(rows["ai_provenance"].notna(), "human"),
            pooled_frame[f"risk_{RISKML}"].to_numpy(dtype=float),
            y,
            resamples=bootstrap,
            seed=seed,
        )
    return RollingResult(
        folds=folds,
        pooled=pooled,
        mean=mean,
        intervals=intervals,
        predictions=pooled_frame,
        settings=dict(settings or {}),
        test_rows=rows,
        provenance=provenance,
    )


def _mean_over(folds: list[dict], name: str) -> dict:
    keys = [
        key
        for key, value in folds[0]["metrics"].get(name, {}).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    out = {}
    for key in keys:
        values = [f["metrics"][name].get(key) for f in folds if name in f["metrics"]]
        values = [float(v) for v in values if v is not None]
        out[key] = float(np.nanmean(values)) if values and not np.all(np.isnan(values)) else None
    return out


class _Ranked:
    """One model's risk on one set of changes, sorted once (riskiest first; ties in the given
    order), so each bootstrap resample is scored from its counts in one pass, without sorting.

    A resample is a ``(resamples, n)`` array of how often each change was drawn; scoring the
    counts is scoring the drawn changes (copies of one change share its risk and label).
    """

    def __init__(self, y: np.ndarray, risk: np.ndarray) -> None:
        self.order = np.argsort(-risk, kind="stable")
        self.y = y[self.order]
        ordered = risk[self.order]
        # where each run of equal risk starts: a tie counts half in ROC-AUC
        self.ties = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])

    def roc_auc(self, counts: np.ndarray) -> np.ndarray:
        """ROC-AUC of each row (ties averaged); NaN for a row with one class only."""
        w = counts[:, self.order]
        pos = np.add.reduceat(w * self.y, self.ties, axis=1)
        neg = np.add.reduceat(w * (1 - self.y), self.ties, axis=1)
        n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
        # each positive beats the negatives below its run of equal risk, and half of its run's
        lower = n_neg[:, None] - np.cumsum(neg, axis=1)
        wins = (pos * lower).sum(axis=1) + 0.5 * (pos * neg).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = wins / (n_pos * n_neg)
        auc[(n_pos == 0) | (n_neg == 0)] = np.nan
        return auc

    def capture_at_10(self, counts: np.ndarray) -> np.ndarray:
        """:func:`riskml.train.metrics.capture_at` 10 % of each row: the top ``ceil(n / 10)``
        drawn changes by risk (ties in the given order), the share of positives among them."""
        w = counts[:, self.order]
        top = np.ceil(0.1 * w.sum(axis=1) - 1e-9)
        before = np.cumsum(w, axis=1) - w
        taken = np.clip(top[:, None] - before, 0, w)
        caught, positives = (taken * self.y).sum(axis=1), (w * self.y).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = caught / positives
        out[positives == 0] = np.nan
        return out


def _roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC by ranks (ties averaged), NaN when one class is absent."""
    y = np.asarray(y, dtype=float)
    return float(_Ranked(y, np.asarray(score, dtype=float)).roc_auc(np.ones((1, len(y))))[0])


# about this many (resample x change) cells are scored at once, to bound the memory used
_CELLS = 2_000_000


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=1)


def _counts(draws: np.ndarray, n: int) -> np.ndarray:
    """``(resamples, n)`` counts of each position in each row of ``draws``."""
    rows = draws.shape[0]
    flat = (np.arange(rows)[:, None] * n + draws).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)


def paired_intervals(
    frame: pd.DataFrame,
    present: list[str],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    model: str = RISKML,
    baselines: tuple[str, ...] = (LAPREDICT, KAMEI_LR),
) -> dict:
    """95 % percentile intervals of ``model``'s metric (column ``risk_<model>``, riskml's by
    default) minus each of ``baselines``' that is ``present``, paired by change.

    Each resample draws, within every fold, as many changes as the fold's window holds (with
    replacement); every model is scored on the same draw. ``mean``: the difference of the
    means over folds (folds where a metric is undefined left out); ``pooled``: the difference
    on the pooled windows. Returns ``{"mean": {key: {diff, low, high}}, "pooled": {…},
    "bootstrap": n}`` with keys ``"<metric>:<model>-<baseline>"``; ``low``/``high`` are None
    without resamples.
    """
    baselines = [b for b in baselines if b in present]
    if model not in present or not baselines:
        return {}
    names = [model, *baselines]
    fold_of = frame["fold"].to_numpy()
    folds = [np.flatnonzero(fold_of == k) for k in sorted(np.unique(fold_of))]
    y = frame["label"].to_numpy(dtype=float)
    risks = {name: frame[f"risk_{name}"].to_numpy(dtype=float) for name in names}
    ranked_folds = {name: [_Ranked(y[idx], risks[name][idx]) for idx in folds] for name in names}
    ranked_pooled = {name: _Ranked(y, risks[name]) for name in names}

    def diffs(fold_counts: list[np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{key: (mean-over-folds difference, pooled difference)}``, one value per resample;
        ``fold_counts``: per fold, ``(resamples, fold size)`` counts of its changes."""
        pooled_counts = np.zeros((fold_counts[0].shape[0], len(y)))
        for idx, counts in zip(folds, fold_counts, strict=True):
            pooled_counts[:, idx] = counts
        out = {}
        for metric in INTERVAL_METRICS:
            mean, pooled = {}, {}
            for name in names:
                per_fold = [
                    getattr(r, metric)(c)
                    for r, c in zip(ranked_folds[name], fold_counts, strict=True)
                ]
                mean[name] = _nanmean_rows(np.column_stack(per_fold))
                pooled[name] = getattr(ranked_pooled[name], metric)(pooled_counts)
            for b in baselines:
                out[f"{metric}:{model}-{b}"] = (mean[model] - mean[b], pooled[model] - pooled[b])
        return out

    observed = diffs([np.ones((1, len(idx))) for idx in folds])
    rng = np.random.default_rng(seed)
    drawn: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {key: [] for key in observed}
    remaining, chunk = int(bootstrap), max(1, min(100, _CELLS // max(len(y), 1)))
    while remaining > 0:
        size = min(chunk, remaining)
        remaining -= size
        counts = [_counts(rng.integers(0, len(idx), (size, len(idx))), len(idx)) for idx in folds]
        for key, value in diffs(counts).items():
            drawn[key].append(value)
    out: dict[str, dict] = {"mean": {}, "pooled": {}}
    for key, observed_pair in observed.items():
        for part, pos in (("mean", 0), ("pooled", 1)):
            values = (
                np.concatenate([pair[pos] for pair in drawn[key]]) if drawn[key] else np.array([])
            )
            values = values[~np.isnan(values)]
            low, high = (
                (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
                if len(values)
                else (None, None)
            )
            out[part][key] = {"diff": float(observed_pair[pos][0]), "low": low, "high": high}
    out["bootstrap"] = int(bootstrap)
    return out


def format_rolling(result: RollingResult) -> str:
    """Per-fold and pooled ROC-AUC, PR-AUC, capture@10 % and Popt, then the intervals."""
    keys = (("roc_auc", "roc_auc"), ("pr_auc", "pr_auc"), ("capture_at_10", "capt@10"),
            ("popt", "popt"))  # fmt: skip
    names = [n for n in MODELS if n in result.pooled]
    lines = []
    header = f"{'fold':<8}{'model':<11}{'n':>7}{'pos':>6}" + "".join(f"{t:>10}" for _, t in keys)
    lines.append(header)

    def row(label: str, name: str, m: dict) -> str:
        cells = "".join(_cell(m.get(k)) for k, _ in keys)
        return f"{label:<8}{name:<11}{int(m.get('n', 0)):>7}{int(m.get('positives', 0)):>6}{cells}"

    for fold in result.folds:
        for name in names:
            lines.append(row(str(fold["fold"]), name, fold["metrics"][name]))
    for name in names:
        m = dict(result.mean[name])
        m["n"], m["positives"] = result.pooled[name]["n"], result.pooled[name]["positives"]
        lines.append(row("mean", name, m))
    for name in names:
        lines.append(row("pooled", name, result.pooled[name]))
    for part in ("mean", "pooled"):
        for key, value in (result.intervals.get(part) or {}).items():
            lines.append(
                f"{part} {key}: {value['diff']:+.4f} "
                f"[{_num(value['low'])}, {_num(value['high'])}] (95 %, paired bootstrap)"
            )
    if result.provenance is not None:
        from riskml.train.by_provenance import provenance_lines

        lines.append("")
        lines += provenance_lines(result.provenance, "By AI provenance, pooled test windows")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return f"{'-':>10}" if value is None or value != value else f"{float(value):>10.4f}"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:+.4f}"
