"""`riskml train`: the CLI's inputs (files, a repository) turned into one training.

:func:`train_from_files` resolves the tables (``--dataset``, ``--changes``/``--labels`` or
the defaults of ``--repo``), reads them, and hands them to the one training orchestration,
:func:`riskml.train.pipeline.train_and_register`, which writes ``metrics.json`` and the local
model copy ``models/<name>/`` under ``out_dir`` before MLflow is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from riskml.errors import RiskmlError


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
    from riskml.tables import parse_cutoff, read_changes, read_labels, read_tokens_beside
    from riskml.train import load_public_dataset
    from riskml.train.pipeline import report_beside, train_and_register

    say = progress or (lambda message: None)
    if dataset is not None and (changes is not None or labels is not None):
        raise RiskmlError("give either --dataset or --changes/--labels, not both")
    cutoff = parse_cutoff(cutoff, name="--test-start")
    repo_path = ensure_repo(repo) if repo is not None else None
    config = load_config(config_path, repo_path)
    name = model_name or config.train.model_name
    head_sha = resolve_rev(repo_path, "HEAD") if repo_path is not None else None
    repo_name = repo_path.resolve().name if repo_path is not None else None

    if dataset is not None:
        say(f"reading {dataset}")
        inputs = {"dataset": load_public_dataset(dataset), "label_mode": "public"}
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
        changes_frame = read_changes(changes)
        if labels is None:
            raise RiskmlError("training needs labels: give --labels (from `riskml label`)")
        labels_frame = read_labels(labels, commits=changes_frame["commit"])
        inputs = {
            "changes": changes_frame,
            "labels": labels_frame,
            "tokens": read_tokens_beside(changes),
            "label_report": report_beside(labels),
        }
        dataset_path = Path(changes)

    out_dir = Path(out_dir)
    trained = train_and_register(
        config,
        **inputs,
        cutoff=cutoff,
        metrics_path=out_dir / "metrics.json",
        model_dir=out_dir / models_dir(name),
        mlflow=mlflow,
        dataset_path=dataset_path,
        repo=repo_name,
        head_sha=head_sha,
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
