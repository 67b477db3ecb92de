"""`riskml train` and `riskml evaluate`: the CLI's inputs (files, a repository) turned into a run.

:func:`train_from_files` resolves the tables (``--dataset``, ``--changes``/``--labels`` or
the defaults of ``--repo``), reads them, and hands them to the one training orchestration,
:func:`riskml.train.pipeline.train_and_register`, which writes ``metrics.json`` and the local
model copy ``models/<name>/`` under ``out_dir`` before MLflow is touched.
:func:`evaluate_from_files` resolves the same inputs the same way, builds the same training
table, and runs the rolling evaluation (:mod:`riskml.train.rolling`) on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskml.config import DATA_DIR, Config
from riskml.errors import RiskmlError


@dataclass
class _Inputs:
    """What the CLI's file options resolve to: the settings, the tables, the run's tags."""

    config: Config
    tables: dict[str, Any]  # train_and_register's keywords: dataset + label_mode, or the tables
    dataset_path: Path
    repo_name: str | None
    head_sha: str | None


def _read_inputs(
    *,
    changes: str | Path | None,
    labels: str | Path | None,
    dataset: str | Path | None,
    repo: str | Path | None,
    repo_name: str | None = None,
    config_path: str | Path | None,
    data_dir: str | Path = DATA_DIR,
    say: Callable[[str], None],
) -> _Inputs:
    """Resolve and read the tables: ``dataset`` (a public table) or ``changes`` + ``labels``,
    by default ``<data_dir>/<repo name>/changes.parquet`` and ``labels.parquet`` (the name is
    ``repo_name``, else the folder name of ``repo``)."""
    from riskml.config import data_paths, load_config
    from riskml.gitio import ensure_repo, resolve_rev
    from riskml.tables import (
        check_table_repository,
        read_changes_and_tokens,
        read_labels,
    )
    from riskml.train import load_public_dataset
    from riskml.train.pipeline import report_beside

    if dataset is not None and (changes is not None or labels is not None):
        raise RiskmlError("give either --dataset or --changes/--labels, not both")
    repo_path = ensure_repo(repo) if repo is not None else None
    config = load_config(config_path, repo_path)
    head_sha = resolve_rev(repo_path, "HEAD") if repo_path is not None else None
    name = repo_name or (repo_path.resolve().name if repo_path is not None else None)

    if dataset is not None:
        say(f"reading {dataset}")
        tables = {"dataset": load_public_dataset(dataset), "label_mode": "public"}
        return _Inputs(config, tables, Path(dataset), name, head_sha)
    if changes is None:
        if name is None:
            raise RiskmlError("give --dataset, or --changes (and --labels), or --repo")
        paths = data_paths(name, data_dir)
        changes = paths.changes
        labels = labels if labels is not None else paths.labels
        for verb, path in (("mine", changes), ("label", labels)):
            if not Path(path).is_file():
                raise RiskmlError(f"table not found: {path} (run `riskml {verb}` first)")
    say(f"reading {changes}" + (f" and {labels}" if labels is not None else ""))
    changes_frame, tokens = read_changes_and_tokens(changes, repo_name=repo_name)
    if repo_path is not None:
        check_table_repository(changes_frame, repo_path, "give the changes table of --repo")
    if labels is None:
        raise RiskmlError("training needs labels: give --labels (from `riskml label`)")
    labels_frame = read_labels(labels, repo_name=repo_name, changes=changes_frame)
    tables = {
        "changes": changes_frame,
        "labels": labels_frame,
        "tokens": tokens,
        "label_report": report_beside(labels),
    }
    return _Inputs(config, tables, Path(changes), name, head_sha)


def train_from_files(
    *,
    changes: str | Path | None = None,
    labels: str | Path | None = None,
    dataset: str | Path | None = None,
    repo: str | Path | None = None,
    config_path: str | Path | None = None,
    out_dir: str | Path = ".",
    model_name: str | None = None,
    cutoff: Any = None,
    mlflow: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train from files and register; returns ``{"metrics", "metrics_path", "model_dir",
    "registry" (the dict of log_and_register, or None without MLflow), "label_mode"}``.

    Either ``dataset`` (a public table) or ``changes`` (+ optional ``labels``); with only
    ``repo`` given, the tables default to ``data/<repo name>/changes.parquet`` and
    ``labels.parquet``.
    """
    from riskml.config import models_dir
    from riskml.tables import parse_cutoff
    from riskml.train.pipeline import train_and_register

    say = progress or (lambda message: None)
    cutoff = parse_cutoff(cutoff, name="--test-start")
    _check_out_dir(out_dir)
    inputs = _read_inputs(
        changes=changes, labels=labels, dataset=dataset, repo=repo, config_path=config_path,
        say=say,
    )  # fmt: skip
    config = inputs.config
    name = model_name or config.train.model_name
    out_dir = Path(out_dir)
    trained = train_and_register(
        config,
        **inputs.tables,
        cutoff=cutoff,
        metrics_path=out_dir / "metrics.json",
        model_dir=out_dir / models_dir(name),
        mlflow=mlflow,
        dataset_path=inputs.dataset_path,
        repo=inputs.repo_name,
        head_sha=inputs.head_sha,
        model_name=name,
        progress=say,
    )
    return {
        "metrics": trained.metrics,
        "metrics_path": trained.metrics_path,
        "model_dir": trained.model_dir,
        "registry": trained.registry,
        "label_mode": trained.label_mode,
    }


# `riskml evaluate`'s options over [evaluate]: (option, key)
_EVALUATE_OPTIONS = (("--folds", "folds"), ("--fold-fraction", "fold_fraction"),
                     ("--bootstrap", "bootstrap"))  # fmt: skip


def evaluate_settings(config: Config, **overrides: Any) -> Config:
    """``config`` with ``[evaluate]`` keys replaced by the options given (None: keep), each
    checked against the section's declared constraints; a bad one names its option."""
    section = config.evaluate
    for option, key in _EVALUATE_OPTIONS:
        value = overrides.get(key)
        if value is None:
            continue
        try:
            section = dataclasses.replace(section, **{key: value})
        except RiskmlError as exc:
            raise RiskmlError(f"{option} {value}: {exc}") from None
    return dataclasses.replace(config, evaluate=section)


def _check_out_dir(out_dir: str | Path | None, option: str = "--out-dir") -> None:
    """Before any work: the output folder is a folder (or does not exist yet)."""
    if out_dir is not None and Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise RiskmlError(f"{option} {out_dir}: exists and is not a directory")


def evaluate_from_files(
    *,
    changes: str | Path | None = None,
    labels: str | Path | None = None,
    dataset: str | Path | None = None,
    repo: str | Path | None = None,
    repo_name: str | None = None,
    config_path: str | Path | None = None,
    data_dir: str | Path = DATA_DIR,
    folds: int | None = None,
    fold_fraction: float | None = None,
    bootstrap: int | None = None,
    json_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    mlflow: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The rolling evaluation of the training recipe on the tables; returns ``{"rolling"
    (RollingResult), "summary" (its JSON), "files" (paths written), "run" (log_evaluation's
    answer, or None without MLflow), "label_mode"}``.

    Inputs as :func:`train_from_files` (plus ``repo_name`` and ``data_dir`` for the default
    tables ``<data_dir>/<repo name>/``); ``folds``, ``fold_fraction``, ``bootstrap`` override
    ``[evaluate]``. ``json_path``: the summary as JSON; ``out_dir``: ``rolling.json`` and
    the charts ``plots/rolling_<metric>.png``.
    """
    from riskml.tables import write_json
    from riskml.train import build_dataset
    from riskml.train.pipeline import label_mode_of
    from riskml.train.plots import write_rolling_plots
    from riskml.train.rolling import rolling_evaluate

    _check_out_dir(out_dir)
    say = progress or (lambda message: None)
    inputs = _read_inputs(
        changes=changes, labels=labels, dataset=dataset, repo=repo, repo_name=repo_name,
        config_path=config_path, data_dir=data_dir, say=say,
    )  # fmt: skip
    config = evaluate_settings(
        inputs.config, folds=folds, fold_fraction=fold_fraction, bootstrap=bootstrap
    )
    tables = inputs.tables
    if "dataset" in tables:
        frame, label_mode = tables["dataset"], tables["label_mode"]
    else:
        frame = build_dataset(
            tables["changes"], tables["labels"], config, tokens=tables.get("tokens")
        )
        label_mode = label_mode_of(tables["labels"], tables["label_report"])
    if inputs.repo_name is None and "repo" in frame.columns and frame["repo"].notna().any():
        # as a training names its run: the changes' own repo column
        inputs = dataclasses.replace(inputs, repo_name=str(frame["repo"].dropna().iloc[0]))
    ev = config.evaluate
    say(f"rolling evaluation of {len(frame)} changes: {ev.folds} folds of {ev.fold_fraction:g}")
    rolling = rolling_evaluate(frame, config, label_mode=label_mode, progress=say)
    summary = rolling.summary()

    files: list[Path] = []
    plots_dir = None
    if json_path is not None:
        files.append(write_json(summary, json_path))
    if out_dir is not None:
        files.append(write_json(summary, Path(out_dir) / "rolling.json"))
        plots_dir = Path(out_dir) / "plots"
        files.extend(write_rolling_plots(summary, plots_dir))
    run = None
    if mlflow:
        say("logging the evaluation to MLflow")
        run = _log_evaluation(rolling, config, inputs, label_mode, plots_dir, bool(files))
    return {"rolling": rolling, "summary": summary, "files": files, "run": run,
            "label_mode": label_mode}  # fmt: skip


def _log_evaluation(rolling, config, inputs: _Inputs, label_mode: str, plots_dir, wrote: bool):
    """:func:`~riskml.train.tracking.log_evaluation`, its MLflow failures as one line."""
    from riskml.train.pipeline import tracking_errors
    from riskml.train.tracking import log_evaluation

    with tracking_errors("the files were written" if wrote else ""):
        return log_evaluation(
            rolling,
            config,
            repo=inputs.repo_name,
            head_sha=inputs.head_sha,
            dataset_path=inputs.dataset_path,
            label_mode=label_mode,
            plots_dir=plots_dir,
        )
