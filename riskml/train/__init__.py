"""`riskml train` / `riskml bench`: dataset, honest split, LightGBM + calibration, baselines, metrics.

The stage function is :func:`fit` (docs/architecture.md)::

    result = fit(dataset, config, cutoff=None, label_mode="incidents")
    result.model             # TrainedModel: risk, tiers, reasons, predict, save/load
    result.metrics           # the metrics.json shape: riskml / lapredict / kamei_lr / split / labels
    result.test_predictions  # one row per test change: commit, author_time, label, effort,
                             # risk_riskml, risk_lapredict, risk_kamei_lr, tier
    result.importance        # feature, gain, split (LightGBM importances), largest gain first
    result.split             # riskml.train.split.Split (row positions + the split summary)
    result.test_frame        # the dataset rows of the test window, in test_predictions order

MLflow logging and the registry live in :mod:`riskml.train.tracking`, on top of this.
Heavy libraries are imported inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riskml.train.fitting import TrainResult

LABEL_MODES = ("incidents", "proxy", "public")


def fit(
    dataset, config=None, cutoff=None, label_mode: str = "incidents", test_end=None
) -> TrainResult:
    """Split ``dataset`` in time, train riskml and both baselines, evaluate all three on the test window.

    ``dataset``: :func:`riskml.train.dataset.build_dataset` or
    :func:`riskml.train.dataset.load_public_dataset` output (``commit``, ``author_time``,
    ``label``, ``known_at``, feature columns). ``config``: :class:`riskml.config.Config`
    (``[train]``, ``[label] window_days``, ``[tiers]``). ``cutoff``: start of the test window
    (default: the latest ``test_fraction`` of labelled changes). ``label_mode``: ``"incidents"``,
    ``"proxy"`` (labels from bug fixes/reverts; recorded in ``metrics["labels"]``) or
    ``"public"`` (a public table: final labels, gap 0 unless ``[train] gap_days`` is set).
    ``test_end``: the test window stops before this time (a fold of :mod:`riskml.train.rolling`).

    riskml: LightGBM over every feature column (:func:`riskml.train.dataset.feature_columns`)
    plus derived columns, a few settings tried on the fit slice and chosen by validation AUC
    (early stopping on it), calibrated on the validation slice, tier thresholds from the
    validation slice. Raises :class:`riskml.errors.RiskmlError` when the split is unusable.
    """
    from riskml.train.fitting import fit_all

    if label_mode not in LABEL_MODES:
        from riskml.errors import RiskmlError

        raise RiskmlError(f"label mode must be one of {', '.join(LABEL_MODES)}, not {label_mode!r}")
    return fit_all(dataset, config, cutoff=cutoff, label_mode=label_mode, test_end=test_end)


def train(dataset, config=None, cutoff=None) -> Any:
    """Alias of :func:`fit` with incident labels (the name docs/architecture.md's table uses)."""
    return fit(dataset, config, cutoff=cutoff)


def __getattr__(name: str):
    # dataset helpers and the result type re-exported lazily (pandas is imported only when they are used)
    if name in ("build_dataset", "load_public_dataset", "label_history_features"):
        from riskml.train import dataset

        return getattr(dataset, name)
    if name == "TrainResult":
        from riskml.train.fitting import TrainResult

        return TrainResult
    raise AttributeError(f"module 'riskml.train' has no attribute {name!r}")


__all__ = [
    "LABEL_MODES",
    "TrainResult",
    "build_dataset",
    "fit",
    "label_history_features",
    "load_public_dataset",
    "train",
]
