"""`riskml evaluate`: rolling (forward-chaining) evaluation of the training recipe."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import NoMlflowOption, RepoNameOption, TableInputs, table_inputs


@app.command("evaluate")
@table_inputs
def evaluate_command(
    inputs: TableInputs,
    repo_name: RepoNameOption = None,
    folds: int | None = typer.Option(
        None, "--folds", help="Test windows (default 5, or evaluate.folds of riskml.toml)."
    ),
    fold_fraction: float | None = typer.Option(
        None,
        "--fold-fraction",
        help="Share of the labelled changes in each window (default 0.1, or evaluate.fold_fraction).",
    ),
    bootstrap: int | None = typer.Option(
        None,
        "--bootstrap",
        help="Paired bootstrap resamples of the intervals, 0 for none "
        "(default 1000, or evaluate.bootstrap).",
    ),
    json_path: Path | None = typer.Option(
        None, "--json", help="Also write the result (rolling.json's content) to this file."
    ),
    out_dir: Path | None = typer.Option(
        None, "--out-dir", help="Write rolling.json and plots/rolling_<metric>.png here."
    ),
    no_mlflow: NoMlflowOption = False,
) -> None:
    """Train and test riskml and both baselines on consecutive time windows; compare them."""
    from riskml.train.from_files import evaluate_from_files
    from riskml.train.rolling import format_rolling

    out = evaluate_from_files(
        changes=inputs.changes,
        labels=inputs.labels,
        dataset=inputs.dataset,
        repo=inputs.repo,
        repo_name=repo_name,
        config_path=inputs.config,
        data_dir=inputs.data_dir,
        folds=folds,
        fold_fraction=fold_fraction,
        bootstrap=bootstrap,
        json_path=json_path,
        out_dir=out_dir,
        mlflow=not no_mlflow,
        progress=lambda message: typer.echo(message, err=True),
    )
    typer.echo(format_rolling(out["rolling"]))
    run = out["run"]
    if run is not None:
        typer.echo(
            f"MLflow: run {run['run_id']} with {len(run['fold_run_ids'])} fold runs "
            f"(experiment {run['experiment_id']})"
        )
    else:
        typer.echo("MLflow: skipped (--no-mlflow)")
    for path in out["files"]:
        typer.echo(f"wrote {path}")
