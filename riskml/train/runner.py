"""`riskml train` as one function: read the tables, fit, write the files, log and register.

:func:`train_from_files` is what the CLI calls (and what a pipeline can call): it composes
:func:`riskml.train.build_dataset` / :func:`riskml.train.load_public_dataset`,
:func:`riskml.train.fit` and :func:`riskml.train.tracking.log_and_register`, and writes
``metrics.json`` and the local model copy ``models/<name>/`` under ``out_dir``.

The files are written BEFORE MLflow is touched, so a failing tracking server never loses a
fit; after registration the local copy is rewritten with its registry version and alias.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from riskml.errors import RiskmlError


def read_table(path: str | Path):
    """A changes or labels table: Parquet by ``.parquet``/``.pq`` suffix, else CSV."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise RiskmlError(f"table not found: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RiskmlError(f"{path}: cannot read the table: {exc}") from None


def label_mode_of(labels, labels_path: str | Path | None = None) -> str:
    """``proxy`` or ``incidents``: from ``labels.report.json`` beside the table when present,
    else ``proxy`` when any link came from bug-fix SZZ (``label_source == "szz_fix"``)."""
    if labels_path is not None:
        path = Path(labels_path)
        report = path.with_name(f"{path.name.split('.', 1)[0]}.report.json")  # as `label` writes
        if report.is_file():
            try:
                return (
                    "proxy" if json.loads(report.read_text("utf-8")).get("proxy") else "incidents"
                )
            except (ValueError, AttributeError):
                pass
    if "label_source" in labels.columns and (labels["label_source"] == "szz_fix").any():
        return "proxy"
    return "incidents"


def _parse_cutoff(cutoff: Any):
    import pandas as pd

    if cutoff is None or cutoff == "":
        return None
    try:
        stamp = pd.Timestamp(cutoff)
    except (ValueError, TypeError):
        raise RiskmlError(f"--cutoff: not a date/time: {cutoff!r}") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def save_model_copy(model, directory: str | Path) -> Path:
    """Save ``model`` to ``directory``, replacing a previous copy only once the new one is complete."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        model.save(staging / "model")
        if directory.exists():
            shutil.rmtree(directory)
        (staging / "model").rename(directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def write_metrics(metrics: dict, path: str | Path) -> Path:
    """``metrics.json`` (NaN and infinities as null, so it is valid JSON)."""
    from riskml.jsonvalue import plain

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plain(metrics), indent=2, sort_keys=False) + "\n", "utf-8")
    return path


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
    from riskml.config import data_paths, load_config, models_dir
    from riskml.gitio import ensure_repo, resolve_rev
    from riskml.train import build_dataset, fit, load_public_dataset

    say = progress or (lambda message: None)
    if dataset is not None and (changes is not None or labels is not None):
        raise RiskmlError("give either --dataset or --changes/--labels, not both")
    cutoff = _parse_cutoff(cutoff)
    repo_path = ensure_repo(repo) if repo is not None else None
    config = load_config(config_path, repo_path)
    name = model_name or config.train.model_name
    head_sha = resolve_rev(repo_path, "HEAD") if repo_path is not None else None
    repo_name = repo_path.resolve().name if repo_path is not None else None

    if dataset is not None:
        say(f"reading {dataset}")
        frame = load_public_dataset(dataset)
        label_mode = "public"
        dataset_path = Path(dataset)
    else:
        if changes is None:
            if repo_name is None:
                raise RiskmlError("give --dataset, or --changes (and --labels), or --repo")
            paths = data_paths(repo_name)
            changes = paths.changes
            labels = labels if labels is not None else paths.labels
            for verb, path in (("mine", changes), ("label", labels)):
                if not Path(path).is_file():
                    raise RiskmlError(f"table not found: {path} (run `riskml {verb}` first)")
        say(f"reading {changes}" + (f" and {labels}" if labels is not None else ""))
        changes_frame = read_table(changes)
        labels_frame = read_table(labels) if labels is not None else None
        if labels_frame is None:
            raise RiskmlError("training needs labels: give --labels (from `riskml label`)")
        label_mode = label_mode_of(labels_frame, labels)
        frame = build_dataset(changes_frame, labels_frame, config)
        dataset_path = Path(changes)
        if repo_name is None and "repo" in frame.columns and frame["repo"].notna().any():
            repo_name = str(frame["repo"].dropna().iloc[0])

    say(f"fitting riskml, lapredict and kamei_lr on {len(frame)} changes")
    result = fit(frame, config, cutoff=cutoff, label_mode=label_mode)
    metrics = dict(result.metrics)
    metrics.setdefault("labels", {"proxy": label_mode == "proxy", "mode": label_mode})

    out_dir = Path(out_dir)
    metrics_path = write_metrics(metrics, out_dir / "metrics.json")
    model_dir = save_model_copy(result.model, out_dir / models_dir(name))

    registry = None
    if mlflow:
        say("logging the run to MLflow and registering the model")
        registry = _log(result, config, frame, dataset_path, repo_name, head_sha, name, label_mode)
        save_model_copy(result.model, model_dir)
        metrics["registry"] = {
            k: registry.get(k)
            for k in ("name", "version", "alias", "decision", "reason", "run_id", "model_uri")
        }
        write_metrics(metrics, metrics_path)
    return {
        "metrics": metrics,
        "metrics_path": metrics_path,
        "model_dir": model_dir,
        "registry": registry,
        "label_mode": label_mode,
    }


def _log(result, config, frame, dataset_path, repo_name, head_sha, name, label_mode):
    from mlflow.exceptions import MlflowException

    from riskml.train.tracking import log_and_register

    try:
        return log_and_register(
            result,
            config,
            dataset=frame,
            dataset_path=dataset_path,
            repo=repo_name,
            head_sha=head_sha,
            label_mode=label_mode,
            model_name=name,
        )
    except RiskmlError:
        raise
    except (MlflowException, OSError) as exc:
        # a store that cannot be reached or written; the fit and its files are already saved; say what failed in one line
        from riskml.config import tracking_uri

        raise RiskmlError(
            f"MLflow logging failed ({tracking_uri()}): {type(exc).__name__}: {exc}; "
            "metrics.json and the local model copy were written"
        ) from None
