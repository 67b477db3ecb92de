"""``label_file()``: what `riskml label` does with files, callable without the CLI.

The CLI and `riskml fleet` both call it, so a repository labelled in a fleet gets the same
table and report, byte for byte, as `riskml label` would write for it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskml.config import DATA_DIR, Config, data_paths, load_config
from riskml.gitio import ensure_repo
from riskml.label.core import label, read_changes
from riskml.label.incidents import load_incidents
from riskml.label.report import report_path, write_report
from riskml.tables import table_format, write_labels


@dataclass(frozen=True)
class LabelFileResult:
    """What :func:`label_file` wrote and found."""

    labels: Any  # pd.DataFrame, the labels table as written
    report: dict
    proxy: bool
    out: Path  # the labels table
    report_file: Path  # labels.report.json beside it
    repo_name: str  # the changes table's repository (its data/<name>/)
    problems: list[str]  # incident records skipped, one message each


def label_file(
    repo: str | Path,
    changes: str | Path | None = None,
    incidents: str | Path | None = None,
    out: str | Path | None = None,
    *,
    config: Config | str | Path | None = None,
    strict: bool = False,
    workers: int = 1,
    cache_dir: str | Path | None = None,
    cutoff: Any = None,
    data_dir: str | Path = DATA_DIR,
) -> LabelFileResult:
    """Label the changes table ``changes`` of ``repo`` and write the labels table and report.

    ``changes`` defaults to ``data/<repo folder>/changes.parquet``; the table's ``repo`` column
    names the repository, whose ``data/<name>/`` holds the default ``out``
    (``labels.parquet``, its report beside it) and SZZ cache. ``incidents``: the incidents
    file (bad records skipped and returned in ``problems``; ``strict`` makes them an error);
    without it, proxy labels. ``config``: a :class:`Config`, a riskml.toml path, or None (the
    repository's own riskml.toml, else the defaults). Every user mistake is a
    :class:`RiskmlError`, raised before anything is written.
    """
    top = ensure_repo(repo)
    if out is not None:
        table_format(out)  # a wrong suffix is said before any labelling, not after
    cfg = config if isinstance(config, Config) else load_config(config, repo=top)
    table = read_changes(changes if changes is not None else data_paths(top.name, data_dir).changes)
    name = top.name
    if "repo" in table.columns and len(table) and isinstance(table["repo"].iloc[0], str):
        name = table["repo"].iloc[0]
    paths = data_paths(name, data_dir)
    records, problems = None, []
    if incidents is not None:
        records, problems = load_incidents(incidents, top, strict=strict)
    result = label(
        top,
        table,
        records,
        config=cfg,
        workers=workers,
        cache_dir=cache_dir if cache_dir is not None else paths.szz_cache,
        cutoff=cutoff,
    )
    out_path = Path(out) if out is not None else paths.labels
    write_labels(result.labels, out_path)
    report_file = write_report(result.report, report_path(out_path))
    return LabelFileResult(
        labels=result.labels,
        report=result.report,
        proxy=result.proxy,
        out=out_path,
        report_file=report_file,
        repo_name=name,
        problems=list(problems),
    )
