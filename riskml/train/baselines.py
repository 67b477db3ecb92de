"""The two baselines of evaluation.md, trained on the same split as riskml.

- ``lapredict``: logistic regression on ``log(1 + la)`` alone (Zeng et al., ISSTA 2021).
- ``kamei_lr``: logistic regression on the 14 Kamei metrics, each ``log(1 + x)`` (negative values
  clipped to 0 first), standardised, class-balanced (Kamei et al., TSE 2013).

Both are fitted on the whole training period (fit + validation slices, labels as known at the
cut-off) and return ``P(bug)`` from ``predict_proba`` uncalibrated: that is how the published
baselines are made. A Kamei metric absent from the table (ApacheJIT has no ``lt``) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskml.train.dataset import KAMEI_METRICS
from riskml.train.metrics import KAMEI_LR, LAPREDICT


def _log_columns(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    X = np.zeros((len(frame), len(columns)), dtype=float)
    for j, column in enumerate(columns):
        values = pd.to_numeric(frame[column].astype(float), errors="coerce").to_numpy(dtype=float)
        X[:, j] = np.log1p(np.clip(np.nan_to_num(values, nan=0.0), 0, None))
    return X


@dataclass
class Baseline:
    """A fitted baseline: its columns and the scikit-learn pipeline."""

    name: str
    columns: list[str]
    estimator: object

    def risk(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(_log_columns(frame, self.columns))[:, 1]


def fit_lapredict(frame: pd.DataFrame, y: np.ndarray, seed: int = 0) -> Baseline:
    """LApredict: ``LogisticRegression`` on ``log(1 + la)``."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=1000, random_state=seed)
    model.fit(_log_columns(frame, ["la"]), np.asarray(y, dtype=int))
    return Baseline(LAPREDICT, ["la"], model)


def fit_kamei_lr(frame: pd.DataFrame, y: np.ndarray, seed: int = 0) -> Baseline:
    """Kamei LR: standardised ``log(1 + x)`` of the 14 metrics, ``class_weight="balanced"``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    columns = [c for c in KAMEI_METRICS if c in frame.columns]
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed),
    )
    model.fit(_log_columns(frame, columns), np.asarray(y, dtype=int))
    return Baseline(KAMEI_LR, columns, model)


# riskml's linear component (not a baseline): chosen by backtests inside the training period
LINEAR_C = 0.1


def fit_linear_component(frame: pd.DataFrame, y: np.ndarray, seed: int = 0, columns=None):
    """riskml's linear component: ``log(1 + x)`` of the Kamei metrics present and all their
    pairwise products, standardised, L2 logistic regression (``C`` = :data:`LINEAR_C`),
    class-balanced. Returns a :class:`Baseline` whose ``margin`` is the decision function.
    ``None`` when the table has no Kamei metric or ``y`` holds one class only.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    columns = (
        list(columns) if columns is not None else [c for c in KAMEI_METRICS if c in frame.columns]
    )
    y = np.asarray(y, dtype=int)
    if not columns or len(np.unique(y)) < 2:
        return None
    model = make_pipeline(
        StandardScaler(),
        PolynomialFeatures(2, interaction_only=True, include_bias=False),
        StandardScaler(),
        LogisticRegression(C=LINEAR_C, max_iter=3000, class_weight="balanced", random_state=seed),
    )
    # a constant column (e.g. no fix in the table) makes the scaler take sqrt(-0.0): harmless
    with np.errstate(invalid="ignore"):
        model.fit(_log_columns(frame, columns), y)
    return Baseline("linear", columns, model)


def linear_margin(component: Baseline, frame: pd.DataFrame) -> np.ndarray:
    """The linear component's log-odds per row (a missing column counts as 0)."""
    X = np.zeros((len(frame), len(component.columns)), dtype=float)
    present = [c for c in component.columns if c in frame.columns]
    if present:
        idx = [component.columns.index(c) for c in present]
        X[:, idx] = _log_columns(frame, present)
    return component.estimator.decision_function(X)
