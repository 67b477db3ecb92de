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


def history_inputs(
    repo_name: str | None, changes: Path | None, labels: Path | None, data_dir: Path
) -> tuple[Path, Path | None]:
    """The changes and labels tables a trends view reads: given, or those of ``--repo-name``
    (its labels when they exist)."""
    from riskml.config import data_paths
    from riskml.errors import RiskmlError

    if changes is None and repo_name is None:
        raise RiskmlError("give --repo-name NAME or --changes FILE")
    if changes is None:
        paths = data_paths(repo_name, data_dir)
        changes = paths.changes
        if labels is None and paths.labels.is_file():
            labels = paths.labels
    return changes, labels


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
    """Risk trends for managers: the summary, and one MLflow point per period (step = index)."""
    from riskml.config import data_paths, load_config, tracking_uri
    from riskml.trends import trends

    cfg = load_config(config)
    if changes is None and repo_name is not None and out is None:
        out = data_paths(repo_name, data_dir).root / "trends"
    changes, labels = history_inputs(repo_name, changes, labels, data_dir)
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
    typer.echo("")
    typer.echo(result.summary_text)
    typer.echo("")
    typer.echo(
        f"MLflow: experiment {result.experiment!r}, run {result.run_id}; "
        f"artifacts: {', '.join(result.artifacts)}"
    )
    if result.out_dir is not None:
        typer.echo(f"local copy: {result.out_dir}")
    typer.echo(f"open: mlflow ui --backend-store-uri {tracking_uri()}")
    typer.echo(f"the run: {result.url}")
