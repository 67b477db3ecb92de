"""The promotion gate: does a new version take ``champion``, and the lock that serialises it.

:func:`gate` compares the new version with the current ``champion`` on ``config.train.
promotion_metric`` (within ``config.train.promotion_tolerance``); at least as good: the new
version takes ``champion``, else ``challenger``. Where the comparison is made:

- **on the folds** of this training's rolling evaluation (:mod:`riskml.train.rolling`) when at
  least two of them were tested after the champion's training data ended: the new recipe's
  fold models (each trained only before its fold) against the champion artifact, fold by
  fold on the same changes, the means compared. A fold the champion may have trained on
  is never used.
- **on one test window** otherwise (no rolling evaluation, or fewer than two such folds): the
  new version and the champion on this training's test rows; the reason says why.
:func:`gate_lock` is held from reading the champion to moving the alias, so two trainings of
the same model on one machine cannot both be compared against the same old champion.

mlflow is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path
from statistics import fmean
from typing import Any

from riskml.config import SCALAR_METRICS, Config, registry_uri, sqlite_path
from riskml.errors import RiskmlError
from riskml.train.artifact import CHALLENGER, CHAMPION, load_trained_model

# metrics the gate may compare on (keys of riskml.train.metrics.evaluate)
PROMOTION_METRICS = SCALAR_METRICS
# metrics where a smaller value is better; every other promotion metric is "higher is better"
LOWER_IS_BETTER = frozenset({"brier", "log_loss"})


# fewer folds than this after the champion's training end: compare on one window instead
MIN_FOLDS = 2


def _metric_of(risk, predictions, metric: str) -> float:
    """``metric`` of ``risk`` against the labels and effort of ``predictions``."""
    from riskml.train.metrics import evaluate

    value = evaluate(
        predictions["label"].to_numpy(dtype=float),
        risk,
        predictions["effort"].to_numpy(dtype=float),
    )[metric]
    return float(value)


def _metric_on(model, frame, predictions, metric: str) -> float:
    """``metric`` of a TrainedModel on ``frame`` (test rows), labels/effort of ``predictions``."""
    return _metric_of(model.risk(frame), predictions, metric)


def _utc(value: Any):
    import pandas as pd

    if value is None or value == "":
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def unseen_folds(info: dict, folds: list[dict]) -> tuple[list[int], str]:
    """The folds (numbers) tested wholly after a model's training data ended, and that end.

    ``info``: the model's ``info``; its ``train_end`` (the newest change it learned from)
    leaves the folds whose cut-off is later, strictly. A model saved before ``train_end`` was
    recorded gives its ``cutoff`` (nothing from the cut-off on was trained on): the folds whose
    cut-off is at or after it. Neither: no fold, end ``""``.
    """
    train_end, cutoff = _utc(info.get("train_end")), _utc(info.get("cutoff"))
    out = []
    for fold in folds:
        start = _utc(fold.get("cutoff"))
        if start is None:
            continue
        if (train_end is not None and start > train_end) or (
            train_end is None and cutoff is not None and start >= cutoff
        ):
            out.append(int(fold["fold"]))
    end = train_end if train_end is not None else cutoff
    return out, "" if end is None else end.isoformat()


def _fold_comparison(old_model, rolling, metric: str, version: str):
    """``(folds, new values, champion values, None)`` when at least :data:`MIN_FOLDS` folds
    qualify, else ``(None, None, None, why)``."""
    if rolling is None:
        return None, None, None, "no rolling evaluation ran"
    if rolling.test_rows is None:
        return None, None, None, "the rolling evaluation kept no feature rows"
    usable, end = unseen_folds(dict(getattr(old_model, "info", {}) or {}), rolling.folds)
    ended = f"champion v{version}'s training data ended ({end or 'not recorded'})"
    total = len(rolling.folds)
    if len(usable) < MIN_FOLDS:
        return None, None, None, f"only {len(usable)} of {total} folds tested after {ended}"
    predictions = rolling.predictions
    new_values, old_values, kept = [], [], []
    for number in usable:
        rows = (predictions["fold"] == number).to_numpy()
        fold_preds = predictions[rows].reset_index(drop=True)
        fold_rows = rolling.test_rows[rows].reset_index(drop=True)
        new = _metric_of(fold_preds["risk_riskml"].to_numpy(dtype=float), fold_preds, metric)
        old = _metric_on(old_model, fold_rows, fold_preds, metric)
        if not (math.isnan(new) or math.isnan(old)):
            kept.append(number)
            new_values.append(new)
            old_values.append(old)
    if len(kept) < MIN_FOLDS:
        return (
            None,
            None,
            None,
            (
                f"{metric} is defined on only {len(kept)} of the {len(usable)} folds tested after "
                f"{ended}"
            ),
        )
    return kept, new_values, old_values, None


def _fold_span(folds: list[int], total: int) -> str:
    if folds == list(range(folds[0], folds[-1] + 1)):
        return f"folds {folds[0]}-{folds[-1]} of {total}"
    return f"folds {', '.join(map(str, folds))} of {total}"


def check_metric(metric: str) -> str:
    """``metric`` if the gate can compare on it (a key of :func:`riskml.train.metrics.evaluate`)."""
    if metric not in PROMOTION_METRICS:
        raise RiskmlError(
            f"[train] promotion_metric must be one of {', '.join(PROMOTION_METRICS)}, "
            f"not {metric!r}"
        )
    return metric


def champion_version(client, name: str):
    """The registry's ``champion`` version of ``name`` (an MLflow ModelVersion), or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def _better_or_equal(new: float, old: float, metric: str, tolerance: float) -> bool:
    if metric in LOWER_IS_BETTER:
        return new <= old + tolerance
    return new >= old - tolerance


def gate(
    client,
    name: str,
    new_model,
    result,
    frame,
    config: Config,
    rolling=None,
    no_rolling: str | None = None,
) -> dict[str, Any]:
    """Decide the alias of a new version against the current champion, on the same changes.

    ``rolling``: this training's :class:`~riskml.train.rolling.RollingResult` (its folds are
    compared when at least two were tested after the champion's training data ended);
    ``no_rolling``: why there is none, for the reason (default "no rolling evaluation ran").
    ``frame``: this training's test rows (the one-window comparison).

    Returns ``{"alias", "decision", "reason", "metric", "tolerance", "basis" ("folds" or
    "window"), "folds" (the fold numbers compared, [] on one window), "new_value",
    "champion_value", "champion_version"}``; on the folds the values are means over them.
    ``decision`` is ``first`` (no champion yet), ``promoted``, ``kept`` (champion stays; the
    new version becomes challenger) or ``promoted_unreadable`` (the champion could not be
    loaded or evaluated, so it cannot serve either).
    """
    metric = check_metric(config.train.promotion_metric)
    tolerance = float(config.train.promotion_tolerance)
    out: dict[str, Any] = {
        "metric": metric,
        "tolerance": tolerance,
        "basis": "window",
        "folds": [],
        "new_value": None,
        "champion_value": None,
        "champion_version": None,
    }
    predictions = result.test_predictions
    if frame is not None:
        out["new_value"] = _metric_on(new_model, frame, predictions, metric)
    current = champion_version(client, name)
    if current is None:
        return out | {
            "alias": CHAMPION,
            "decision": "first",
            "reason": f"no champion for {name!r} yet: the first version takes it",
        }
    version = str(current.version)
    out["champion_version"] = version
    try:
        old_model = load_trained_model(f"models:/{name}/{version}")
        folds, new_values, old_values, why = _fold_comparison(old_model, rolling, metric, version)
        one_window = folds is None and frame is not None
        old_value = _metric_on(old_model, frame, predictions, metric) if one_window else None
    except Exception as exc:  # any failure to load or run the old model: it cannot serve
        return out | {
            "alias": CHAMPION,
            "decision": "promoted_unreadable",
            "reason": (
                f"champion v{version} could not be evaluated on this test window "
                f"({type(exc).__name__}: {str(exc)[:200]}); the new version replaces it"
            ),
        }
    if folds is None and frame is None:
        raise RiskmlError(
            "promotion gate: the test window's feature rows are unavailable "
            "(pass the dataset to log_and_register)"
        )
    columns = rolling.test_rows.columns if folds is not None else frame.columns
    missing = [c for c in old_model.feature_columns if c not in columns]
    note = (
        f" (champion's columns missing here, read as missing values: {len(missing)})"
        if missing
        else ""
    )
    direction = "lower" if metric in LOWER_IS_BETTER else "higher"
    rule_text = f"{direction} is better, tolerance {tolerance:g}"
    if folds is not None:
        new_value, old_value = fmean(new_values), fmean(old_values)
        out.update(basis="folds", folds=folds, new_value=new_value, champion_value=old_value)
        comparison = (
            f"mean {metric} over {len(folds)} folds {new_value:.4f} vs champion v{version} "
            f"{old_value:.4f} ({_fold_span(folds, len(rolling.folds))}, each tested after the "
            f"champion's training data ended; {rule_text}){note}"
        )
    else:
        new_value = out["new_value"]
        out["champion_value"] = old_value
        window = f"{len(frame)} test changes"
        if math.isnan(new_value) or math.isnan(old_value):
            return out | {
                "alias": CHALLENGER,
                "decision": "kept",
                "reason": (
                    f"{metric} is undefined on this test window ({window}: new {new_value}, "
                    f"champion v{version} {old_value}); champion kept"
                ),
            }
        comparison = (
            f"{metric} {new_value:.4f} vs champion v{version} {old_value:.4f} "
            f"on the same {window} ({rule_text}){note}; compared on one window, not on folds: "
            f"{no_rolling if rolling is None and no_rolling else why}"
        )
    if _better_or_equal(new_value, old_value, metric, tolerance):
        return out | {
            "alias": CHAMPION,
            "decision": "promoted",
            "reason": "promoted: " + comparison,
        }
    return out | {
        "alias": CHALLENGER,
        "decision": "kept",
        "reason": "not promoted, champion kept: " + comparison,
    }


def gate_lock_path(name: str, registry: str | None = None) -> Path:
    """The lock file that serialises the gate for model ``name`` in ``registry``.

    One file per (registry, model name) in the temporary directory; a SQLite registry is
    keyed by its absolute path, so two spellings of one file share a lock.
    """
    registry = registry or registry_uri()
    db = sqlite_path(registry)
    if db is not None:
        registry = f"sqlite:///{db.resolve()}"
    digest = hashlib.sha256(f"{registry}\n{name}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"riskml-gate-{digest}.lock"


def gate_lock(name: str, timeout: float | None = None):
    """Hold the gate lock of model ``name``: read the champion, register, move the alias.

    Only processes on this machine are serialised (a file lock); trainings on several
    machines sharing one remote registry are not. Waits up to ``timeout`` seconds
    (default ``RISKML_GATE_LOCK_TIMEOUT`` or 900), then raises :class:`RiskmlError`.
    """
    from riskml.locks import file_lock

    if timeout is None:
        timeout = float(os.environ.get("RISKML_GATE_LOCK_TIMEOUT", "900"))
    path = gate_lock_path(name)
    busy = (
        f"another training of {name!r} held the registry lock {path} for {timeout:g} s; "
        "try again when it has finished"
    )
    return file_lock(path, timeout, busy)
