"""`riskml fleet`: every repository of a fleet file mined and labelled as Dask tasks.

:func:`run_fleet` starts a ``LocalCluster`` (``workers`` processes, one thread each) or joins an
existing cluster by its scheduler's address, submits one :func:`riskml.fleet.task.mine_and_label`
per repository, collects the summaries as they finish (a progress bar over repositories),
and publishes the fleet dataset of the repositories that ran. :func:`format_summary` renders
the result as a table.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from riskml.config import DATA_DIR, data_paths
from riskml.errors import RiskmlError
from riskml.fleet.dataset import DATASET_NAME, check_target, new_staging, publish
from riskml.fleet.file import Fleet
from riskml.fleet.task import mine_and_label, summary

_SCHEDULER_RE = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})")


@dataclass
class FleetResult:
    """What one `riskml fleet` did: a summary per repository (fleet-file order) and where the
    fleet dataset went (None when no repository ran)."""

    rows: list[dict]
    dataset: Path | None
    cluster: str  # "LocalCluster, 2 workers" or the scheduler's address
    seconds: float
    projects: dict[str, int] = field(default_factory=dict)  # dataset rows per project

    @property
    def ok(self) -> list[dict]:
        return [row for row in self.rows if row["status"] == "ok"]


def check_scheduler(address: str) -> str:
    """``address`` when it is a Dask scheduler's ``tcp://HOST:PORT`` (or ``tls://``)."""
    found = _SCHEDULER_RE.fullmatch(address or "")
    if found is None or not 0 < int(found.group(3)) < 65536:
        raise RiskmlError(f"--scheduler: expected tcp://HOST:PORT, got {address!r}")
    return address


def run_fleet(
    fleet: Fleet,
    data_dir: str | Path = DATA_DIR,
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
) -> FleetResult:
    """Mine and label every repository of ``fleet`` into ``data_dir/<name>/`` and write the
    fleet dataset ``out`` (default ``data_dir/fleet.parquet``) of those that ran.

    ``workers``: processes of a new ``LocalCluster`` (default 1); ``scheduler``: the address of
    an existing cluster instead, whose workers must see the same paths (a shared file
    system). Raises :class:`RiskmlError` for bad settings or an unreachable scheduler, before
    any repository runs; a repository that fails is only its summary's ``reason``.
    """
    if workers is not None and scheduler is not None:
        raise RiskmlError("give --workers or --scheduler, not both (a cluster has its workers)")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise RiskmlError(f"--workers must be a positive integer, got {workers!r}")
    if scheduler is not None:
        check_scheduler(scheduler)
    data_dir = Path(data_dir).resolve()
    dataset = Path(out).resolve() if out is not None else data_dir / DATASET_NAME
    _check_apart(fleet, data_dir, dataset)
    check_target(dataset)
    start = time.perf_counter()
    staging = new_staging(dataset)
    try:
        with _client(workers or 1, scheduler) as (client, cluster):
            rows = _collect(client, fleet, data_dir, staging, progress)
        projects = {row["repo"]: row["dataset_rows"] for row in rows if row["status"] == "ok"}
        published = publish(staging, dataset, projects) if projects else None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return FleetResult(rows, published, cluster, time.perf_counter() - start, projects)


def _check_apart(fleet: Fleet, data_dir: Path, dataset: Path) -> None:
    """The dataset must not be, hold or sit inside one repository's data folder."""
    for repo in fleet.repos:
        root = data_paths(repo.name, data_dir).root
        if dataset == root or root in dataset.parents or dataset in root.parents:
            raise RiskmlError(
                f"--out {dataset} overlaps {root}, the data folder of repository {repo.name!r}"
            )


@contextlib.contextmanager
def _client(workers: int, scheduler: str | None) -> Iterator[tuple[object, str]]:
    """A Dask client on a new LocalCluster of ``workers`` processes, or on ``scheduler``."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler is not None:
        import dask

        timeout = dask.config.get("distributed.comm.timeouts.connect")
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise RiskmlError(
                f"cannot reach the Dask scheduler {scheduler}: {_one_line(exc)}"
            ) from None
        with client:
            yield client, f"scheduler {scheduler}"
        return
    # processes, one thread each: mining and SZZ are Python and git, bound by one core each.
    # The scheduler serves HTTP (/health) even without a dashboard, on 8787 unless told: a
    # free port, so a second fleet (or any Dask cluster) on the machine is no warning.
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        yield client, f"LocalCluster, {workers} worker(s)"


# the cluster `riskml fleet` runs on, for others that need one (the fleet model's training)
cluster_client = _client


def _collect(client, fleet: Fleet, data_dir: Path, staging: Path, progress: bool) -> list[dict]:
    """Submit one task per repository and gather the summaries, in fleet-file order, as they
    finish; a task that died or raised (a riskml bug, a worker killed) is its summary too."""
    from distributed import as_completed
    from tqdm import tqdm

    futures = {
        client.submit(
            mine_and_label, repo, str(data_dir), str(staging), key=f"fleet-{i}-{repo.name}",
            pure=False,
        ): i
        for i, repo in enumerate(fleet.repos)
    }  # fmt: skip
    rows: list[dict | None] = [None] * len(fleet.repos)
    bar = tqdm(total=len(futures), unit="repo", desc="fleet", file=sys.stderr, disable=not progress)
    try:
        for future in as_completed(futures):
            i = futures[future]
            if future.status == "finished":
                rows[i] = future.result()
            else:
                reason = f"the task failed ({_one_line(future.exception())})"
                rows[i] = summary(fleet.repos[i], reason=reason)
            bar.set_postfix_str(fleet.repos[i].name, refresh=False)
            bar.update(1)
    finally:
        bar.close()
    return [row for row in rows if row is not None]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_summary(result: FleetResult) -> str:
    """The result as a table (one line per repository) and the dataset's line."""
    head = ("repo", "mined", "rows", "labelled", "positive", "labels", "status")
    body = [
        (
            row["repo"],
            *(_cell(row[k]) for k in ("mined", "rows", "labelled", "positive", "labels")),
            "ok" if row["status"] == "ok" else f"failed: {row['reason']}",
        )
        for row in result.rows
    ]
    width = [max(len(r[c]) for r in (head, *body)) for c in range(len(head) - 1)]
    lines = []
    for cells in (head, *body):
        left = cells[0].ljust(width[0])
        mid = "  ".join(cells[c].rjust(width[c]) for c in range(1, 5))
        lines.append(f"{left}  {mid}  {cells[5].ljust(width[5])}  {cells[6]}")
    n_ok, n = len(result.ok), len(result.rows)
    lines.append(
        f"{n_ok} of {n} repositories mined and labelled in {result.seconds:.1f} s "
        f"({result.cluster})"
    )
    if result.dataset is not None:
        total = sum(result.projects.values())
        lines.append(
            f"fleet dataset: {total:,} changes of {len(result.projects)} project(s) in "
            f"{result.dataset} (dask.dataframe.read_parquet)"
        )
    return "\n".join(lines)
