"""`riskml fleet`: mine and label every repository of a fleet file on Dask (thin)."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import DEFAULT_DATA_DIR, ConfigOption, DataDirOption


@app.command("fleet")
def fleet_command(
    fleet: Path = typer.Option(
        Path("fleet.toml"),
        "--fleet",
        help="The fleet file: the repositories, their incidents files, main branches and "
        "critical paths (docs/fleet.md).",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Worker processes of the local Dask cluster, one thread each (default: 1).",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Run on an existing Dask cluster instead: its scheduler, tcp://HOST:PORT "
        "(its workers must see the same paths).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="The fleet dataset to write, one Parquet file per project "
        "(default: data/fleet.parquet).",
    ),
    config: ConfigOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    progress: bool | None = typer.Option(
        None,
        "--progress/--no-progress",
        help="Progress bar over repositories on stderr (default: on a terminal).",
    ),
) -> None:
    """Mine and label every repository of a fleet, each as `mine` and `label` would alone."""
    import sys

    from riskml.errors import RiskmlError
    from riskml.fleet import format_summary, load_fleet, run_fleet
    from riskml.fleet.runner import check_scheduler

    if scheduler is not None:
        check_scheduler(scheduler)  # before the file is read: the cheaper mistake first
    spec = load_fleet(fleet, config=config)
    show = sys.stderr.isatty() if progress is None else progress
    result = run_fleet(spec, data_dir, out, workers=workers, scheduler=scheduler, progress=show)
    for row in result.rows:
        for message in row["warnings"]:
            typer.echo(f"riskml: warning: {row['repo']}: {message}", err=True)
    typer.echo(format_summary(result))
    if not result.ok:
        first = result.rows[0]
        raise RiskmlError(
            f"none of the {len(result.rows)} repositories could be mined and labelled "
            f"(first: {first['repo']}: {first['reason']})"
        )
