"""`riskml trends`: score the mined history with a model version, log per-period series to MLflow."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app


@app.command("trends")
def trends_command(
    repo_name: str = typer.Option(
        None, "--repo-name", help="Read data/<NAME>/changes.parquet and labels.parquet."
    ),
    changes: Path = typer.Option(None, "--changes", help="Changes table (Parquet or CSV)."),
    labels: Path = typer.Option(
        None, "--labels", help="Labels table (Parquet or CSV); without it, no incident series."
    ),
    model: str = typer.Option(
        None,
        "--model",
        help="MLflow model URI or local model directory (default: models:/<name>@champion).",
    ),
    period: str = typer.Option(
        None, "--period", help="Period of one point: W (week, default), D, M, Q, Y."
    ),
    out: Path = typer.Option(
        None, "--out", help="Also keep the charts and the table here (default: data/<repo>/trends)."
    ),
    data_dir: Path = typer.Option(Path("data"), "--data-dir", help="Root of data/<repo>/."),
    config: Path = typer.Option(None, "--config", help="riskml.toml to use."),
) -> None:
    """Risk trends for managers: one MLflow point per period (step = period index)."""
    from riskml.cli import fail
    from riskml.config import data_paths, load_config, tracking_uri
    from riskml.trends import trends

    cfg = load_config(config)
    if changes is None and repo_name is None:
        raise fail("give --repo-name NAME or --changes FILE")
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
