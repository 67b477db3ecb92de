"""Every metric of evaluation.md, on the test window, from labels, risk and effort.

``evaluate(y, risk, effort, tiers=None)`` returns one flat dict keyed exactly as evaluation.md
names them. Ranking metrics are computed on the calibrated risk the model returns. The effort
of a change is ``la + ld``, at least 1 (:func:`effort_of`).

Tie rules, where evaluation.md leaves them open, are fixed here so a metric never depends on
the order rows happen to arrive in beyond what is stated:

- ``capture_at_k``: the top ``ceil(k/100 * n)`` changes by risk (descending); ties in risk
  are broken by the input order (stable sort), which is chronological in a split.
- ``recall_at_20_effort`` and the model curve of ``popt``: rank by ``risk / effort``
  descending, ties by input order (stable). ``recall_at_20_effort`` takes the changes whose
  cumulative effort stays within 20 % of the total effort (``cum_effort <= 0.2 * total``).
- ``popt``: optimal order = true density (``label / effort``) descending, ties smaller effort
  first; worst order = true density ascending, ties larger effort first (evaluation.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from riskml.config import TIERS

# the three models metrics.json compares, in its order: riskml and the two baselines
RISKML, LAPREDICT, KAMEI_LR = "riskml", "lapredict", "kamei_lr"
MODELS = (RISKML, LAPREDICT, KAMEI_LR)
# riskiest first, as tier_rates lists them
TIER_ORDER = tuple(reversed(TIERS))
CAPTURE_SHARES = (5, 10, 30)


def effort_of(la, ld) -> np.ndarray:
    """Effort of each change: ``la + ld``, at least 1 (evaluation.md)."""
    la = np.nan_to_num(np.asarray(la, dtype=float), nan=0.0)
    ld = np.nan_to_num(np.asarray(ld, dtype=float), nan=0.0)
    return np.maximum(la + ld, 1.0)


def _arrays(y, risk, effort=None):
    y = np.asarray(y, dtype=float)
    risk = np.asarray(risk, dtype=float)
    if y.shape != risk.shape:
        raise ValueError("y and risk must have the same length")
    if effort is None:
        return y, risk, None
    effort = np.maximum(np.asarray(effort, dtype=float), 1.0)
    if effort.shape != y.shape:
        raise ValueError("effort must have the same length as y")
    return y, risk, effort


def capture_at(y, risk, share_percent: float) -> float:
    """Share of all positives found among the top ``share_percent`` % of changes by risk.

    "Gate k % of changes, catch this share of incidents." NaN when there is no positive.
    """
    y, risk, _ = _arrays(y, risk)
    n = len(y)
    positives = y.sum()
    if n == 0 or positives == 0:
        return float("nan")
    top = math.ceil(share_percent / 100.0 * n - 1e-9)
    order = np.argsort(-risk, kind="stable")
    return float(y[order[:top]].sum() / positives)


def recall_at_effort(y, risk, effort, share: float = 0.2) -> float:
    """Share of positives found inspecting changes by ``risk / effort`` until ``share`` of effort.

    Changes are taken in that order while their cumulative effort is ``<= share * total``.
    """
    y, risk, effort = _arrays(y, risk, effort)
    positives = y.sum()
    if len(y) == 0 or positives == 0:
        return float("nan")
    order = np.argsort(-(risk / effort), kind="stable")
    cum = np.cumsum(effort[order])
    taken = cum <= share * effort.sum() + 1e-9
    return float(y[order][taken].sum() / positives)


def _area(y_sorted: np.ndarray, effort_sorted: np.ndarray) -> float:
    """Area under cumulative recall vs cumulative effort, from (0, 0), trapezoids per change."""
    x = np.concatenate([[0.0], np.cumsum(effort_sorted) / effort_sorted.sum()])
    r = np.concatenate([[0.0], np.cumsum(y_sorted) / y_sorted.sum()])
    return float(np.sum((x[1:] - x[:-1]) * (r[1:] + r[:-1]) / 2.0))


def popt(y, risk, effort) -> float:
    """Effort-aware Popt = 1 - (A_opt - A_model) / (A_opt - A_worst) (evaluation.md).

    NaN when there is no positive or when the optimal and worst curves coincide.
    """
    y, risk, effort = _arrays(y, risk, effort)
    if len(y) == 0 or y.sum() == 0:
        return float("nan")
    density = y / effort
    model = np.argsort(-(risk / effort), kind="stable")
    # lexsort: last key is the primary one
    optimal = np.lexsort((effort, -density))
    worst = np.lexsort((-effort, density))
    a_model = _area(y[model], effort[model])
    a_opt = _area(y[optimal], effort[optimal])
    a_worst = _area(y[worst], effort[worst])
    if a_opt - a_worst <= 0:
        return float("nan")
    return float(1.0 - (a_opt - a_model) / (a_opt - a_worst))


def tier_rates(y, tiers: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per tier: share of changes, share of positives, observed incident rate.

    Keys per tier: ``share``, ``positive_share``, ``incident_rate`` (NaN for an empty tier),
    ``n``. Every tier of scoring.md appears, empty ones with zeros.
    """
    y = np.asarray(y, dtype=float)
    tiers = np.asarray(list(tiers), dtype=object)
    n = len(y)
    positives = y.sum()
    out: dict[str, dict[str, float]] = {}
    for tier in TIER_ORDER:
        mask = tiers == tier
        count = int(mask.sum())
        pos = float(y[mask].sum())
        out[tier] = {
            "n": count,
            "share": count / n if n else float("nan"),
            "positive_share": pos / float(positives) if positives else float("nan"),
            "incident_rate": pos / count if count else float("nan"),
        }
    return out


def evaluate(y, risk, effort, tiers: Sequence[str] | None = None) -> dict:
    """All metrics of evaluation.md for one model on one window.

    ``y``: 0/1 labels; ``risk``: calibrated probabilities; ``effort``: ``la + ld`` (>= 1, see
    :func:`effort_of`); ``tiers``: the tier of each change, adds ``tier_rates``.
    Threshold-free metrics that need both classes are NaN when one class is absent.
    Also reports ``n``, ``positives`` and ``base_rate`` of the window.
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
    from sklearn.metrics import log_loss as _log_loss

    y, risk, effort = _arrays(y, risk, effort)
    both = len(np.unique(y)) == 2
    clipped = np.clip(risk, 1e-15, 1 - 1e-15)
    out: dict = {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "roc_auc": float(roc_auc_score(y, risk)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, risk)) if both else float("nan"),
        "brier": float(brier_score_loss(y, risk)) if len(y) else float("nan"),
        "log_loss": float(_log_loss(y, clipped, labels=[0, 1])) if len(y) else float("nan"),
    }
    for k in CAPTURE_SHARES:
        out[f"capture_at_{k}"] = capture_at(y, risk, k)
    out["recall_at_20_effort"] = recall_at_effort(y, risk, effort, 0.2)
    out["popt"] = popt(y, risk, effort)
    if tiers is not None:
        out["tier_rates"] = tier_rates(y, tiers)
    return out


# the metrics given a bootstrap interval beside them (``<metric>_ci_low`` / ``_ci_high``)
CI_METRICS = (
    "roc_auc", "pr_auc", "brier", "capture_at_5", "capture_at_10", "capture_at_30",
    "recall_at_20_effort",
)  # fmt: skip
CI_LEVEL = 0.95
_CI_CHUNK_CELLS = 2_000_000  # resamples × changes held in memory at once


class _Weighted:
    """One window's labels, risk and effort in the orders the metrics read, so a bootstrap
    resample — a count per change — is scored for a whole chunk of resamples at once. With
    every count 1 each metric is :func:`evaluate`'s, ties and all."""

    def __init__(self, y: np.ndarray, risk: np.ndarray, effort: np.ndarray) -> None:
        self.y, self.risk, self.effort = y, risk, effort
        up = np.argsort(risk, kind="stable")
        self.up = up
        sorted_risk = risk[up]
        # distinct risks in ascending order: the groups ties form
        self.starts = np.flatnonzero(np.r_[True, sorted_risk[1:] != sorted_risk[:-1]])
        self.down = np.argsort(-risk, kind="stable")
        self.by_density = np.argsort(-(risk / effort), kind="stable")

    def groups(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positive and negative weight per distinct risk, ascending."""
        c = counts[:, self.up]
        y = self.y[self.up]
        return (np.add.reduceat(c * y, self.starts, axis=1),
                np.add.reduceat(c * (1.0 - y), self.starts, axis=1))  # fmt: skip

    def scores(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        y, n = self.y, counts.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            pos_w, neg_w = self.groups(counts)
            positives, negatives = pos_w.sum(axis=1), neg_w.sum(axis=1)
            below = np.cumsum(neg_w, axis=1) - neg_w
            auc = (pos_w * (below + 0.5 * neg_w)).sum(axis=1) / (positives * negatives)
            tp = np.cumsum(pos_w[:, ::-1], axis=1)
            fp = np.cumsum(neg_w[:, ::-1], axis=1)
            precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            ap = (pos_w[:, ::-1] * precision).sum(axis=1) / positives
            both = (positives > 0) & (negatives > 0)
            out = {
                "roc_auc": np.where(both, auc, np.nan),
                "pr_auc": np.where(both, ap, np.nan),
                "brier": (counts * (self.risk - y) ** 2).sum(axis=1) / n,
            }
            c = counts[:, self.down]
            before = np.cumsum(c, axis=1) - c
            for k in CAPTURE_SHARES:
                top = math.ceil(k / 100.0 * n - 1e-9)
                taken = np.clip(top - before, 0, c)
                out[f"capture_at_{k}"] = (taken * y[self.down]).sum(axis=1) / positives
            c = counts[:, self.by_density]
            e = self.effort[self.by_density]
            limit = 0.2 * (counts * self.effort).sum(axis=1, keepdims=True) + 1e-9
            spent = np.cumsum(c * e, axis=1) - c * e
            copies = np.clip(np.floor((limit - spent) / e), 0, c)
            out["recall_at_20_effort"] = (copies * y[self.by_density]).sum(axis=1) / positives
        for key in ("capture_at_5", "capture_at_10", "capture_at_30", "recall_at_20_effort"):
            out[key] = np.where(positives > 0, out[key], np.nan)
        return out


def bootstrap_intervals(y, risk, effort, *, resamples: int = 1000, seed: int = 0,
                        point: dict | None = None) -> dict[str, float | None]:  # fmt: skip
    """95 % percentile bootstrap intervals of :data:`CI_METRICS` on one window, as
    ``{"<metric>_ci_low": …, "<metric>_ci_high": …}``.

    Each of ``resamples`` draws as many changes as the window holds, with replacement
    (``numpy.random.default_rng(seed)``: the same inputs, the same intervals); a draw where a
    metric is undefined (one class) is left out of that metric's interval. ``point``: the
    window's own metrics (:func:`evaluate`); an interval is widened to hold its point value when
    the percentiles miss it (skewed, discrete metrics such as capture). None where no draw
    defines the metric, or with ``resamples`` 0.
    """
    y, risk, effort = _arrays(y, risk, effort)
    n = len(y)
    out: dict[str, float | None] = {}
    if n == 0 or resamples <= 0:
        return {f"{m}_ci_{end}": None for m in CI_METRICS for end in ("low", "high")}
    window = _Weighted(y, risk, effort)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(int(resamples), _CI_CHUNK_CELLS // n))
    draws: dict[str, list[np.ndarray]] = {m: [] for m in CI_METRICS}
    remaining = int(resamples)
    while remaining > 0:
        rows = min(chunk, remaining)
        picks = rng.integers(0, n, size=(rows, n))
        flat = (np.arange(rows)[:, None] * n + picks).ravel()
        counts = np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)
        for name, values in window.scores(counts).items():
            draws[name].append(values)
        remaining -= rows
    tail = (1.0 - CI_LEVEL) / 2.0 * 100.0
    for name in CI_METRICS:
        values = np.concatenate(draws[name])
        values = values[np.isfinite(values)]
        if len(values) == 0:
            out[f"{name}_ci_low"] = out[f"{name}_ci_high"] = None
            continue
        low, high = (float(v) for v in np.percentile(values, [tail, 100.0 - tail]))
        value = (point or {}).get(name)
        if value is not None and np.isfinite(value):
            low, high = min(low, float(value)), max(high, float(value))
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = low, high
    return out
