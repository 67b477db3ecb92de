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

    from riskml.config import load_config
    from riskml.gitio import ensure_repo
    from riskml.label import format_report, label_file
    from riskml.label.szz import LabelWarning

    def show(message, category, filename, lineno, file=None, line=None):
        typer.echo(f"riskml: warning: {message}", err=True)

    warnings.showwarning = show
    warnings.simplefilter("always", LabelWarning)
    as_of = deprecated_option(cutoff, as_of, "--cutoff", "--as-of")
    top = ensure_repo(repo)
    cfg = load_config(config, repo=top)
    if window_days is not None:
        cfg = dataclasses.replace(
            cfg, label=dataclasses.replace(cfg.label, window_days=window_days)
        )
    result = label_file(top, changes, incidents, out, config=cfg, strict=strict, workers=workers,
                        cache_dir=cache_dir, cutoff=as_of, data_dir=data_dir)  # fmt: skip
    for msg in result.problems:
        typer.echo(f"riskml: warning: {incidents}: skipped {msg}", err=True)
    typer.echo(format_report(result.report))
    typer.echo(f"wrote {result.out} and {result.report_file}")
