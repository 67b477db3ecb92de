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
:func:`register_and_alias` registers a version as ``promoted = pending`` and settles it only
once the alias has moved, so a training stopped between the two never leaves a version that
reads as promoted without its alias; :func:`settle_abandoned` settles those a SIGKILL left.

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
# the gate's decision for a retrain of the champion's data and parameters: nothing registered
IDENTICAL = "identical"
# metrics where a smaller value is better; every other promotion metric is "higher is better"
LOWER_IS_BETTER = frozenset({"brier", "log_loss"})


# fewer folds than this after the champion's training end: compare on one window instead
MIN_FOLDS = 2

# the run and version tags that say what a model was trained from (fingerprints below)
DATA_FINGERPRINT_TAG, PARAMS_FINGERPRINT_TAG = "data_fingerprint", "params_fingerprint"
# what of the configuration makes the model (the gate's own settings and where runs go do not)
_MODEL_SECTIONS = ("critical_paths", "mine", "ai", "label", "tiers", "train")
_NOT_OF_THE_MODEL = {"train": ("model_name", "experiment", "promotion_metric",
                               "promotion_tolerance")}  # fmt: skip


def data_fingerprint(dataset) -> str:
    """A digest of a training table's every row and column (names, dtypes, values; a column
    pandas cannot hash, such as token lists, by its text): the same table, the same digest.
    MLflow's own dataset digest reads the first rows only, so it cannot say two tables equal."""
    import pandas as pd

    frame = dataset.reset_index(drop=True)
    digest = hashlib.sha256(f"{len(frame)}".encode())
    for column in frame.columns:
        values = frame[column]
        try:
            hashed = pd.util.hash_pandas_object(values, index=False)
        except TypeError:
            hashed = pd.util.hash_pandas_object(values.map(repr), index=False)
        digest.update(f"\n{column}:{values.dtype}\n".encode())
        digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()[:16]


def params_fingerprint(config: Config, label_mode: str | None, cutoff: Any) -> str:
    """A digest of what makes the model besides its data: the settings of
    :data:`_MODEL_SECTIONS` (not the promotion metric, tolerance, model or experiment name),
    the label mode, the cut-off as given, the engine that fits the boosters (local LightGBM
    or lightgbm.dask) and the riskml version that trains."""
    import json

    from riskml import __version__
    from riskml.train.model import booster_engine

    tree = config.to_dict()
    settings = {k: dict(tree.get(k) or {}) if isinstance(tree.get(k), dict) else tree.get(k)
                for k in _MODEL_SECTIONS}  # fmt: skip
    for section, keys in _NOT_OF_THE_MODEL.items():
        for key in keys:
            settings[section].pop(key, None)
    text = json.dumps(
        {"settings": settings, "label_mode": label_mode or "", "cutoff": "" if cutoff is None
         else str(cutoff), "engine": booster_engine(), "riskml": __version__},
        sort_keys=True, default=str,
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def identical_to(current, fingerprints: dict[str, str] | None) -> bool:
    """Whether the champion ``current`` (an MLflow ModelVersion) was trained on the same data
    with the same parameters as ``fingerprints`` describe (both tags present and equal)."""
    if not fingerprints or current is None:
        return False
    tags = dict(getattr(current, "tags", None) or {})
    keys = (DATA_FINGERPRINT_TAG, PARAMS_FINGERPRINT_TAG)
    return all(fingerprints.get(k) and tags.get(k) == fingerprints[k] for k in keys)


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
    fingerprints: dict[str, str] | None = None,
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
    new version becomes challenger), ``promoted_unreadable`` (the champion could not be
    loaded or evaluated, so it cannot serve either) or ``identical`` (the champion was trained
    on the same data with the same parameters, ``fingerprints`` =
    ``{"data_fingerprint", "params_fingerprint"}`` against its version tags: nothing is to be
    registered, the champion stays).
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
    if identical_to(current, fingerprints):
        return out | {
            "alias": CHAMPION,
            "decision": IDENTICAL,
            "reason": (
                f"identical to champion v{version}: the same data (fingerprint "
                f"{fingerprints[DATA_FINGERPRINT_TAG]}) and the same parameters (fingerprint "
                f"{fingerprints[PARAMS_FINGERPRINT_TAG]}); no new version registered"
            ),
        }
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


# --------------------------------------------------------------------------- register, alias


# The version tag that says whether the gate's decision took effect: "pending" from the
# registration until the alias has moved, then "true" (it holds champion) or "false". A
# reader treats anything but "true" as not promoted; a version registered before this tag
# existed is read from its promotion.decision (promoted_version).
PROMOTED_TAG = "promoted"
PENDING = "pending"
# what the gate decided, on the version from its registration (promotion.decision says
# what took effect, once the alias has moved)
INTENDED_TAG, ALIAS_TAG = "promotion.intended", "promotion.alias"
# promotion.decision of a version whose training stopped before its alias moved
INTERRUPTED = "interrupted"
_PROMOTING = frozenset({"first", "promoted", "promoted_unreadable"})


def promoted_version(tags: dict[str, str]) -> bool:
    """Whether a model version's ``tags`` say it was promoted: ``promoted = "true"``, or for a
    version without that tag, a promoting ``promotion.decision``. ``pending`` is not."""
    if PROMOTED_TAG in tags:
        return tags[PROMOTED_TAG] == "true"
    return tags.get("promotion.decision") in _PROMOTING


def _alias_holder(client, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _settle(client, name: str, version: str, intended: str, alias: str) -> str:
    """Write the outcome of a version's gate from where its ``alias`` actually points:
    ``intended`` (the gate's decision) when the alias reached the version, else
    :data:`INTERRUPTED`. ``promotion.decision`` goes first, ``promoted`` last: stopped between
    the two, the version still reads as not promoted (pending). Returns the decision written."""
    moved = bool(alias) and _alias_holder(client, name, alias) == version
    outcome = intended if moved else INTERRUPTED
    client.set_model_version_tag(name, version, "promotion.decision", outcome)
    promoted = moved and alias == CHAMPION
    client.set_model_version_tag(name, version, PROMOTED_TAG, "true" if promoted else "false")
    return outcome


def register_and_alias(client, name: str, model_uri: str, tags: dict[str, str], decision: dict):
    """Register ``model_uri`` as a new version of ``name`` and move the gate's alias to it,
    so that a stop at any point leaves no version, or a version that reads as not promoted.

    In order: the version is registered with ``promoted = pending``, ``promotion.decision =
    pending`` and the gate's decision as ``promotion.intended`` / ``promotion.alias``; the
    alias moves to it; then :func:`_settle` writes ``promotion.decision`` and ``promoted``. An
    exception or a signal between the steps settles the version from where the alias points
    (best effort; a SIGKILL leaves it pending, and the next gate of ``name`` settles it:
    :func:`settle_abandoned`). Returns the new version number (a string).
    """
    import contextlib
    import io

    import mlflow

    from riskml.processes import hold

    intended, alias = decision["decision"], decision["alias"]
    pending = {**tags, "promotion.decision": PENDING, PROMOTED_TAG: PENDING,
               INTENDED_TAG: intended, ALIAS_TAG: alias}  # fmt: skip
    with contextlib.redirect_stderr(io.StringIO()):  # "Successfully registered …"
        version = str(mlflow.register_model(model_uri, name, tags=pending).version)
    try:
        hold("gate.alias")
        client.set_registered_model_alias(name, alias, version)
    except BaseException:
        with contextlib.suppress(Exception):
            _settle(client, name, version, intended, alias)
        raise
    _settle(client, name, version, intended, alias)
    return version


def settle_abandoned(client, name: str) -> list[str]:
    """Settle the versions of ``name`` still ``promoted = pending`` whose training process is
    gone (its run's host, pid and start time: :func:`riskml.processes.is_running`), from where
    their alias points. Called under :func:`gate_lock`; the version of a training still
    running, or of one on another machine, is left alone. Returns the versions settled."""
    from riskml.processes import HOST_TAG, PID_TAG, START_TAG, is_running

    quote = "'" if "'" not in name else '"'
    if quote in name:
        return []  # a name with both quotes cannot be written in a filter: nothing to settle
    settled = []
    query = f"name = {quote}{name}{quote} and tags.{PROMOTED_TAG} = '{PENDING}'"
    for mv in client.search_model_versions(query):
        tags = dict(mv.tags or {})
        run_id = mv.run_id or tags.get("run_id")  # the training run, whose process gated it
        if tags.get(PROMOTED_TAG) != PENDING or not run_id:
            continue
        run = client.get_run(run_id).data.tags
        if is_running(run.get(HOST_TAG), run.get(PID_TAG), run.get(START_TAG)) is not False:
            continue
        version = str(mv.version)
        _settle(client, name, version, tags.get(INTENDED_TAG, ""), tags.get(ALIAS_TAG, ""))
        settled.append(version)
    return sorted(settled, key=int)


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
