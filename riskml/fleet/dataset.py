"""The fleet dataset: every repository's changes with their labels, one Parquet file a project.

Each repository's task writes its own file (:func:`write_project`) into a staging folder
beside the dataset; once every task is back, :func:`publish` renames the staging folder into
place, so a reader finds the previous dataset or the new one whole, never a part of one (an
existing dataset is first renamed aside: for that instant between two renames the path is
missing). The files'
layout and schema belong to :mod:`riskml.tables` (``FLEET_COLUMNS``, ``write_fleet_part``,
``read_fleet``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from riskml.errors import RiskmlError
from riskml.locks import file_lock
from riskml.tables import (
    FLEET_MARKER,
    read_changes,
    read_labels,
    read_tokens_beside,
    write_fleet_part,
    write_json,
)

DATASET_NAME = "fleet.parquet"
MARKER_FORMAT = 1
# a dataset is replaced by one rename under this lock; another fleet run waits this long
PUBLISH_LOCK_TIMEOUT = 600.0


def project_rows(changes_path: Path, labels_path: Path):
    """One project's rows: its changes table as `riskml mine` wrote it, each change's label
    columns from `riskml label`'s table (empty for a change it lacks), and its tokens."""
    changes = read_changes(changes_path)
    labels = read_labels(labels_path, commits=changes["commit"])
    tokens = read_tokens_beside(changes_path)
    rows = changes.merge(
        labels.astype({"commit": str}), on="commit", how="left", validate="one_to_one"
    )
    if tokens is not None:
        text = dict(zip(tokens["commit"], tokens["tokens"], strict=True))
        rows["tokens"] = [text.get(c, "") for c in rows["commit"]]
    else:
        rows["tokens"] = ""
    return rows


def write_project(staging: Path, project: str, changes_path: Path, labels_path: Path) -> int:
    """Write ``project``'s file into the staging folder; returns its rows."""
    rows = project_rows(changes_path, labels_path)
    write_fleet_part(rows, staging, project)
    return len(rows)


def check_target(dataset: Path) -> None:
    """Refuse, before any work, a dataset path that publishing would wrongly replace: a file,
    or a folder with other content than an earlier fleet dataset."""
    if dataset.exists() and not dataset.is_dir():
        raise RiskmlError(f"--out {dataset} exists and is not a folder")
    if dataset.is_dir() and any(dataset.iterdir()) and not (dataset / FLEET_MARKER).is_file():
        raise RiskmlError(
            f"--out {dataset} is a folder that is not a fleet dataset (no {FLEET_MARKER}); "
            "choose another path"
        )


def new_staging(dataset: Path) -> Path:
    """An empty staging folder beside ``dataset`` (same file system: the rename is atomic)."""
    staging = dataset.with_name(f".{dataset.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        staging.mkdir(parents=True)
    except OSError as exc:
        raise RiskmlError(f"--out {dataset}: cannot write beside it ({exc.strerror})") from None
    return staging


def publish(staging: Path, dataset: Path, projects: dict[str, int]) -> Path:
    """Put the staging folder in place of ``dataset``: its marker (``projects``: rows per
    project) is written last, then one rename; the previous dataset is removed afterwards."""
    write_json(
        {"riskml_fleet_dataset": MARKER_FORMAT, "projects": dict(sorted(projects.items()))},
        staging / FLEET_MARKER,
    )
    lock = dataset.with_name(f"{dataset.name}.lock")
    busy = f"another riskml fleet is publishing {dataset} (lock {lock}); try again when it is done"
    with file_lock(lock, PUBLISH_LOCK_TIMEOUT, busy):
        check_target(dataset)
        old = None
        if dataset.exists():
            old = dataset.with_name(f".{dataset.name}.{uuid.uuid4().hex}.old")
            os.replace(dataset, old)
        os.replace(staging, dataset)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return dataset
