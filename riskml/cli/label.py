"""``riskml label``: link changes to incidents and write the labels table + report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    ChangesOption,
    ConfigOption,
    DataDirOption,
    IncidentsOption,
    WorkersOption,
    deprecated_option,
)

AS_OF_HELP = "Label as known on this date (ISO-8601) (default: newest commit time in the table)."


@app.command("label")
def label_command(
    repo: Annotated[Path, typer.Option("--repo", help="The git repository the changes come from.")],
    changes: ChangesOption = None,
    incidents: IncidentsOption = None,
    out: Path | None = typer.Option(
        None, "--out", help="Labels table (.parquet or .csv) (default: data/<repo>/labels.parquet)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Any bad incident record is an error."),
    workers: WorkersOption = 1,
    window_days: int | None = typer.Option(
        None, "--window-days", min=1, help="Label window in days (default: config, 90)."
    ),
    as_of: str | None = typer.Option(None, "--as-of", help=AS_OF_HELP),
    cutoff: str | None = typer.Option(None, "--cutoff", hidden=True, help=AS_OF_HELP),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="SZZ cache by fix SHA (default: data/<repo>/szz-cache)."
    ),
    config: ConfigOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Label each change: 1 caused an incident, 0 clean for the window, empty not yet known."""
    import dataclasses
    import warnings

    from riskml.config import data_paths, load_config
    from riskml.gitio import ensure_repo
    from riskml.label import format_report, label, load_incidents, report_path, write_report
    from riskml.label.core import read_changes
    from riskml.label.szz import LabelWarning
    from riskml.tables import table_format, write_labels

    def show(message, category, filename, lineno, file=None, line=None):
        typer.echo(f"riskml: warning: {message}", err=True)

    warnings.showwarning = show
    warnings.simplefilter("always", LabelWarning)
    as_of = deprecated_option(cutoff, as_of, "--cutoff", "--as-of")
    top = ensure_repo(repo)
    if out is not None:
        table_format(out)  # a wrong suffix is said before any labelling, not after
    cfg = load_config(config, repo=top)
    if window_days is not None:
        cfg = dataclasses.replace(
            cfg, label=dataclasses.replace(cfg.label, window_days=window_days)
        )
    guess = data_paths(top.name, data_dir)
    table = read_changes(changes if changes is not None else guess.changes)
    name = top.name
    if "repo" in table.columns and len(table) and isinstance(table["repo"].iloc[0], str):
        name = table["repo"].iloc[0]
    paths = data_paths(name, data_dir)
    inc = None
    if incidents is not None:
        inc, problems = load_incidents(incidents, top, strict=strict)
        for msg in problems:
            typer.echo(f"riskml: warning: {incidents}: skipped {msg}", err=True)
    result = label(
        top,
        table,
        inc,
        config=cfg,
        workers=workers,
        cache_dir=cache_dir if cache_dir is not None else paths.szz_cache,
        cutoff=as_of,
    )
    out_path = out if out is not None else paths.labels
    write_labels(result.labels, out_path)
    rpath = write_report(result.report, report_path(out_path))
    typer.echo(format_report(result.report))
    typer.echo(f"wrote {out_path} and {rpath}")
