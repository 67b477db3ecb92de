"""`riskml mine`: the changes table of a repository (thin: parse, call, format)."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    ConfigOption,
    DataDirOption,
    RepoNameOption,
    WorkersOption,
)


@app.command("mine")
def mine_command(
    repo: Path = typer.Option(Path("."), "--repo", help="The git repository to mine."),
    rev: str = typer.Option("HEAD", "--rev", help="Mine the commits reachable from this revision."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Table to write (.parquet or .csv); default data/<repo>/changes.parquet. "
        "When it exists, only new commits are mined and appended.",
    ),
    workers: WorkersOption = 1,
    repo_name: RepoNameOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    progress: bool | None = typer.Option(
        None,
        "--progress/--no-progress",
        help="Progress bar on stderr (default: long runs on a terminal).",
    ),
) -> None:
    """Mine one row per non-merge commit: size, history, experience, critical paths, AI provenance."""
    import warnings

    from riskml.config import data_paths
    from riskml.gitio import ensure_repo
    from riskml.mine import MiningWarning
    from riskml.mine.miner import mine_file

    def show(message, category, filename, lineno, file=None, line=None):
        typer.echo(f"riskml: warning: {message}", err=True)

    warnings.showwarning = show
    warnings.simplefilter("always", MiningWarning)
    if out is None:
        out = data_paths(repo_name or ensure_repo(repo).name, data_dir).changes
    result = mine_file(repo, rev=rev, out=out, workers=workers, config=config,
                       repo_name=repo_name, progress=progress)  # fmt: skip
    typer.echo(
        f"mined {result.new_rows} new change(s); {result.total_rows} row(s) in {result.out} "
        f"(state {result.state})"
    )
