"""One repository of a fleet, mined and labelled: the task a Dask worker runs.

:func:`mine_and_label` calls what `riskml mine` and `riskml label` call
(:func:`riskml.mine.miner.mine_file`, :func:`riskml.label.label_file`) with the paths those
verbs default to, so the repository's ``data/<name>/`` is what the two verbs would write for
it alone, and stays incremental the same way. It returns a plain summary (a dict of text and
numbers) and never raises for a repository's own fault: that is the summary's ``reason``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from riskml.config import data_paths
from riskml.errors import RiskmlError
from riskml.fleet.dataset import write_project
from riskml.fleet.file import FleetRepo
from riskml.gitio import detect_main_branch, ensure_repo, has_commits, is_shallow, resolve_rev
from riskml.label import label_counts, label_file
from riskml.mine import MiningWarning
from riskml.mine.miner import mine_file
from riskml.processes import hold

# The summary of one repository, in the order the table shows them.
SUMMARY_KEYS = (
    "repo", "status", "reason", "branch", "head", "mined", "rows", "labelled", "positive",
    "unknown", "labels", "dataset_rows", "seconds", "warnings", "path",
)  # fmt: skip


def summary(repo: FleetRepo, **values) -> dict:
    """A summary with every key of :data:`SUMMARY_KEYS` (None where nothing is known)."""
    row = dict.fromkeys(SUMMARY_KEYS)
    row.update(repo=repo.name, path=str(repo.path), status="failed", warnings=[])
    row.update(values)
    return row


def mine_and_label(repo: FleetRepo, data_dir: str, staging: str | None = None) -> dict:
    """Mine ``repo`` incrementally up to its main branch into ``data_dir/<name>/``, label it,
    and (with ``staging``) write its file of the fleet dataset there; returns its summary.

    A repository that cannot run (not a repository, no commits, a shallow clone, an
    incidents file missing or unreadable, a bad riskml.toml) has ``status`` "failed" and the
    one-line ``reason``; what was done before the failure is kept and counted.
    """
    start = time.perf_counter()
    row = summary(repo)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MiningWarning)
        try:
            _run(repo, Path(data_dir), Path(staging) if staging else None, row)
            row["status"] = "ok"
        except RiskmlError as exc:
            row["reason"] = str(exc)
        except OSError as exc:  # a file system refusing a write: the user's to fix, not a bug
            row["reason"] = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
    row["warnings"] = [
        str(w.message) for w in caught if issubclass(w.category, MiningWarning)
    ] + row["warnings"]
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def _run(repo: FleetRepo, data_dir: Path, staging: Path | None, row: dict) -> None:
    hold("fleet.task")
    top = ensure_repo(repo.path)
    if not has_commits(top):
        raise RiskmlError(f"{repo.path}: the repository has no commits")
    if is_shallow(top):
        raise RiskmlError(
            f"{repo.path}: a shallow clone, too little history (run git fetch --unshallow)"
        )
    if repo.incidents is not None and not repo.incidents.is_file():
        raise RiskmlError(f"incidents file not found: {repo.incidents}")
    config = repo.settings(top)
    branch = repo.main_branch or detect_main_branch(top) or "HEAD"
    row.update(branch=branch, head=resolve_rev(top, branch)[:10])
    paths = data_paths(repo.name, data_dir)
    mined = mine_file(top, rev=branch, out=paths.changes, config=config, repo_name=repo.name)
    row.update(mined=mined.new_rows, rows=mined.total_rows)
    if mined.total_rows == 0:
        raise RiskmlError(f"no non-merge commit to label up to {branch}")
    labelled = label_file(top, paths.changes, repo.incidents, config=config, data_dir=data_dir)
    counts = label_counts(labelled.labels)
    row.update(
        labelled=counts["positive"] + counts["negative"],
        positive=counts["positive"],
        unknown=counts["unknown"],
        labels="proxy" if labelled.proxy else "incidents",
    )
    row["warnings"] = [f"{repo.incidents}: skipped {p}" for p in labelled.problems]
    if staging is not None:
        row["dataset_rows"] = write_project(staging, repo.name, paths.changes, labelled.out)
