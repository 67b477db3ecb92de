"""`riskml trends`: score the mined history with a model version, log per-period series to MLflow."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    ChangesOption,
    ConfigOption,
    DataDirOption,
    LabelsOption,
    ModelOption,
    PeriodOption,
    RepoNameOption,
)


@app.command("trends")
def trends_command(
    repo_name: RepoNameOption = None,
    changes: ChangesOption = None,
    labels: LabelsOption = None,
    model: ModelOption = None,
    period: PeriodOption = None,
    out: Path = typer.Option(
        None, "--out", help="Also keep the charts and the table here (default: data/<repo>/trends)."
    ),
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    config: ConfigOption = None,
) -> None:
    """Risk trends for managers: one MLflow point per period (step = period index)."""
    from riskml.config import data_paths, load_config, tracking_uri
    from riskml.errors import RiskmlError
    from riskml.trends import trends

    cfg = load_config(config)
    if changes is None and repo_name is None:
        raise RiskmlError("give --repo-name NAME or --changes FILE")
    if changes is None:
        paths = data_paths(repo_name, data_dir)
        changes = paths.changes
        if labels is None and paths.labels.is_file():
            labels = paths.labels
        if out is None:
            out = paths.root / "trends"
    result = trends(
        changes, labels, model=model, config=cfg, period=period, out_dir=out, repo_name=repo_name
    )
    table = result.table
    first, last = table["period"].iloc[0], table["period"].iloc[-1]
    typer.echo(
        f"trends: {int(table['changes'].sum())} changes, {result.n_periods} periods "
        f"({first} .. {last}), {result.n_metrics} metric points"
    )
    info = result.model
    typer.echo(f"model: {info.get('name', '')} v{info.get('version', '?')} ({info.get('uri', '')})")
    typer.echo(
        f"MLflow: experiment {result.experiment!r}, run {result.run_id}; "
        f"artifacts: {', '.join(result.artifacts)}"
    )
    if result.out_dir is not None:
        typer.echo(f"local copy: {result.out_dir}")
    typer.echo(f"open: mlflow ui --backend-store-uri {tracking_uri()}")
