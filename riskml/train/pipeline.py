"""The one training orchestration: dataset -> fit -> files -> MLflow run, registry and gate.

:func:`train_and_register` is what ``riskml train`` (:mod:`riskml.train.from_files`),
``riskml run`` and ``pipelines/retrain.py`` (:func:`riskml.run.retrain`) call. Its steps, in
order (as Kedro composes nodes once into a pipeline):

1. build the training table from the changes and labels (or take a ready dataset);
2. fit riskml and both baselines (:func:`riskml.train.fit`);
3. with ``[evaluate] in_train``, the rolling evaluation of the same recipe on the same table
   (:func:`riskml.train.rolling.rolling_evaluate`), its summary under ``"rolling"`` in
   ``metrics.json``; a table too small for the folds skips it (the reason is recorded);
4. write ``metrics.json`` BEFORE MLflow is touched;
5. log the run (the folds as child runs), register the version and apply the promotion gate,
   which compares on the folds (:func:`riskml.train.tracking.log_and_register`); an MLflow
   failure is a :class:`TrackingError` (one line) raised here and nowhere else, after the
   local model copy is written, so a failing tracking server never loses a fit;
6. write the local copy (carrying its registry version and alias) and rewrite
   ``metrics.json`` (with its ``registry`` section).

The local copy ``models/<name>/`` is replaced only by a model that was registered (or whose
registration failed with a :class:`TrackingError`): a training stopped during step 5 (Ctrl-C,
SIGTERM, SIGKILL) leaves the previous copy as it was. Without MLflow it is written at step 4.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskml.errors import RiskmlError
from riskml.train.artifact import CHAMPION, save_model_copy

# what metrics.json's "registry" section keeps of log_and_register's answer
REGISTRY_KEYS = (
    "name", "version", "alias", "decision", "reason", "basis", "folds", "run_id", "model_uri",
)  # fmt: skip


class TrackingError(RiskmlError):
    """The MLflow store could not be reached or written; the fit's files were saved first."""


@contextlib.contextmanager
def tracking_errors(written: str = ""):
    """MLflow failures inside the block as one :class:`TrackingError` line naming the store;
    ``written`` says what was saved before (e.g. "metrics.json … were written"). A riskml
    error passes through unchanged."""
    from mlflow.exceptions import MlflowException

    from riskml.config import tracking_uri
    from riskml.train.artifact import first_line

    try:
        yield
    except RiskmlError:
        raise
    except (MlflowException, OSError) as exc:
        raise TrackingError(
            f"MLflow logging failed ({tracking_uri()}): {type(exc).__name__}: {first_line(exc)}"
            + (f"; {written}" if written else "")
        ) from None


@dataclass
class Trained:
    """What one :func:`train_and_register` produced."""

    result: Any  # riskml.train.TrainResult
    dataset: Any  # the training table the fit used
    label_mode: str
    metrics: dict  # metrics.json as written (with "registry" once registered)
    metrics_path: Path
    model_dir: Path
    registry: dict | None  # log_and_register's answer, None without MLflow
    rolling: Any = None  # riskml.train.rolling.RollingResult, None when off or skipped

    @property
    def model(self) -> Any:
        """The fitted :class:`~riskml.train.model.TrainedModel`."""
        return self.result.model

    @property
    def model_info(self) -> dict:
        """The model's ``info`` with the registry's answer over it, and ``promoted``."""
        info = dict(getattr(self.model, "info", {}) or {})
        info.update({k: v for k, v in dict(self.registry or {}).items() if v is not None})
        info["promoted"] = info.get("alias") == CHAMPION
        return info


def label_mode_of(labels: Any, report: dict | None = None) -> str:
    """``proxy`` or ``incidents``: the label report's ``proxy`` flag when there is a report,
    else ``proxy`` when any link came from bug-fix SZZ (``label_source == "szz_fix"``)."""
    if isinstance(report, dict) and "proxy" in report:
        return "proxy" if report["proxy"] else "incidents"
    if "label_source" in labels.columns and (labels["label_source"] == "szz_fix").any():
        return "proxy"
    return "incidents"


def report_beside(labels_path: str | Path) -> dict | None:
    """The ``labels.report.json`` that ``riskml label`` wrote beside a labels table, or None."""
    from riskml.label.report import report_path

    path = report_path(labels_path)
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text("utf-8"))
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def write_metrics(metrics: dict, path: str | Path) -> Path:
    """``metrics.json`` (NaN and infinities as null, so it is valid JSON), written atomically."""
    from riskml.jsonvalue import plain
    from riskml.tables import write_json

    return write_json(plain(metrics), path)


def _no_stage(name: str) -> ContextManager:
    return contextlib.nullcontext()


def train_and_register(
    config,
    *,
    metrics_path: str | Path,
    model_dir: str | Path,
    changes: Any = None,
    labels: Any = None,
    tokens: Any = None,
    label_report: dict | None = None,
    dataset: Any = None,
    label_mode: str | None = None,
    cutoff: Any = None,
    mlflow: bool = True,
    dataset_path: str | Path | None = None,
    repo: str | None = None,
    head_sha: str | None = None,
    model_name: str | None = None,
    stage: Callable[[str], ContextManager] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Trained:
    """Fit on ``dataset`` (or on the table built from ``changes`` + ``labels``, and the
    ``tokens`` file beside the changes when given), write the files, then log, register and
    gate unless ``mlflow`` is False.

    ``label_mode``: given for a ready ``dataset`` (``public``); otherwise from
    :func:`label_mode_of` (``labels`` and the ``label_report``). ``repo`` (a run tag)
    defaults to the changes' own ``repo`` column. ``stage(name)`` wraps the ``train`` and
    ``register`` steps (``riskml run`` times them); ``progress(message)`` hears each step. Raises
    :class:`TrackingError` when MLflow fails, after the files are written.
    """
    from riskml.train import build_dataset, fit

    stage = stage or _no_stage
    say = progress or (lambda message: None)
    with stage("train"):
        if dataset is None:
            if changes is None or labels is None:
                raise RiskmlError("training needs the changes and labels tables (or a dataset)")
            dataset = build_dataset(changes, labels, config, tokens=tokens)
            label_mode = label_mode or label_mode_of(labels, label_report)
            if repo is None and "repo" in dataset.columns and dataset["repo"].notna().any():
                repo = str(dataset["repo"].dropna().iloc[0])
        label_mode = label_mode or "incidents"
        say(f"fitting riskml, lapredict and kamei_lr on {len(dataset)} changes")
        result = fit(dataset, config, cutoff=cutoff, label_mode=label_mode)
    rolling, no_rolling = None, "[evaluate] in_train = false"
    if config.evaluate.in_train:
        with stage("evaluate"):
            rolling, no_rolling = _rolling(dataset, config, label_mode, say)
    # in the fit's own metrics too, so the run's metrics.json artifact is the file's content
    result.metrics["rolling"] = (
        rolling.summary() if rolling is not None else {"skipped": no_rolling}
    )
    name = model_name or config.train.model_name
    metrics = dict(result.metrics)
    metrics.setdefault("labels", {"proxy": label_mode == "proxy", "mode": label_mode})
    metrics_path = write_metrics(metrics, metrics_path)
    model_dir = Path(model_dir)
    if not mlflow:
        save_model_copy(result.model, model_dir)

    registry = None
    if mlflow:
        with stage("register"):
            say("logging the run to MLflow and registering the model")
            try:
                registry = _log_and_register(
                    result, config, dataset, dataset_path, repo, head_sha, name, label_mode,
                    rolling, no_rolling,
                )  # fmt: skip
            except TrackingError:
                save_model_copy(result.model, model_dir)  # the store failed: keep the fit
                raise
            save_model_copy(result.model, model_dir)
            metrics["registry"] = {k: registry.get(k) for k in REGISTRY_KEYS}
            write_metrics(metrics, metrics_path)
    return Trained(result, dataset, label_mode, metrics, metrics_path, model_dir, registry, rolling)


def _rolling(dataset, config, label_mode: str, say: Callable[[str], None]):
    """``(RollingResult, None)``, or ``(None, why)`` when the table cannot be cut into the
    folds of ``[evaluate]`` (too few changes, a fold with one class only): the training itself
    does not depend on it, so it goes on without."""
    from riskml.train.rolling import rolling_evaluate

    ev = config.evaluate
    say(f"rolling evaluation: {ev.folds} folds of {ev.fold_fraction:g} of the labelled changes")
    try:
        return rolling_evaluate(dataset, config, label_mode=label_mode, progress=say), None
    except RiskmlError as exc:
        why = f"rolling evaluation skipped: {exc}"
        say(f"riskml: warning: {why}")
        return None, why


def _log_and_register(
    result, config, dataset, dataset_path, repo, head_sha, name, label_mode,
    rolling=None, no_rolling=None,
):  # fmt: skip
    """:func:`~riskml.train.tracking.log_and_register`, its MLflow failures as one line."""
    from riskml.train.tracking import log_and_register

    # a store that cannot be reached or written: the fit and its files are already saved
    with tracking_errors("metrics.json and the local model copy were written"):
        return log_and_register(
            result,
            config,
            dataset=dataset,
            dataset_path=dataset_path,
            repo=repo,
            head_sha=head_sha,
            label_mode=label_mode,
            model_name=name,
            rolling=rolling,
            no_rolling=no_rolling,
        )
