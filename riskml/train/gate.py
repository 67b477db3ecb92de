"""The promotion gate: does a new version take ``champion``, and the lock that serialises it.

:func:`gate` evaluates the current ``champion`` on the SAME test rows as the new version; the
new version takes ``champion`` when its ``config.train.promotion_metric`` is at least as good
(within ``config.train.promotion_tolerance``), else it gets ``challenger``.
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
from typing import Any

from riskml.config import SCALAR_METRICS, Config, registry_uri, sqlite_path
from riskml.errors import RiskmlError
from riskml.train.artifact import CHALLENGER, CHAMPION, load_trained_model

# metrics the gate may compare on (keys of riskml.train.metrics.evaluate)
PROMOTION_METRICS = SCALAR_METRICS
# metrics where a smaller value is better; every other promotion metric is "higher is better"
LOWER_IS_BETTER = frozenset({"brier", "log_loss"})


def _metric_on(model, frame, predictions, metric: str) -> float:
    """``metric`` of a TrainedModel on ``frame`` (test rows), labels/effort of ``predictions``."""
    from riskml.train.metrics import evaluate

    risk = model.risk(frame)
    value = evaluate(
        predictions["label"].to_numpy(dtype=float),
        risk,
        predictions["effort"].to_numpy(dtype=float),
    )[metric]
    return float(value)


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
) -> dict[str, Any]:
    """Decide the alias of a new version against the current champion, on the same test rows.

    Returns ``{"alias", "decision", "reason", "metric", "new_value", "champion_value",
    "champion_version"}``. ``decision`` is ``first`` (no champion yet), ``promoted``,
    ``kept`` (champion stays; the new version becomes challenger) or ``promoted_unreadable``
    (the champion could not be loaded or evaluated, so it cannot serve either).
    """
    metric = check_metric(config.train.promotion_metric)
    tolerance = float(config.train.promotion_tolerance)
    out: dict[str, Any] = {
        "metric": metric,
        "tolerance": tolerance,
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
    out["champion_version"] = str(current.version)
    if frame is None:
        raise RiskmlError(
            "promotion gate: the test window's feature rows are unavailable "
            "(pass the dataset to log_and_register)"
        )
    new_value = out["new_value"]
    try:
        old_model = load_trained_model(f"models:/{name}/{current.version}")
        old_value = _metric_on(old_model, frame, predictions, metric)
    except Exception as exc:  # any failure to load or run the old model: it cannot serve
        return out | {
            "alias": CHAMPION,
            "decision": "promoted_unreadable",
            "reason": (
                f"champion v{current.version} could not be evaluated on this test window "
                f"({type(exc).__name__}: {str(exc)[:200]}); the new version replaces it"
            ),
        }
    out["champion_value"] = old_value
    missing = [c for c in old_model.feature_columns if c not in frame.columns]
    note = (
        f" (champion's columns missing here, read as missing values: {len(missing)})"
        if missing
        else ""
    )
    window = f"{len(frame)} test changes"
    direction = "lower" if metric in LOWER_IS_BETTER else "higher"
    if math.isnan(new_value) or math.isnan(old_value):
        return out | {
            "alias": CHALLENGER,
            "decision": "kept",
            "reason": (
                f"{metric} is undefined on this test window ({window}: new {new_value}, "
                f"champion v{current.version} {old_value}); champion kept"
            ),
        }
    comparison = (
        f"{metric} {new_value:.4f} vs champion v{current.version} {old_value:.4f} "
        f"on the same {window} ({direction} is better, tolerance {tolerance:g}){note}"
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
