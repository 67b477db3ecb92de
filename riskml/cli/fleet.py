"""`riskml fleet`: mine and label every repository of a fleet file on Dask (thin)."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    ConfigOption,
    DataDirOption,
    NoMlflowOption,
    model_name_option,
)


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


@app.command("fleet-train")
def fleet_train_command(
    dataset: Path = typer.Option(
        Path("data/fleet.parquet"),
        "--dataset",
        help="The fleet dataset `riskml fleet` wrote (one Parquet file per project).",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Train with lightgbm.dask on a local Dask cluster of N processes "
        "(default: local LightGBM in this process).",
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Train with lightgbm.dask on an existing Dask cluster: its scheduler, "
        "tcp://HOST:PORT.",
    ),
    model_name: str | None = typer.Option(
        None,
        "--model-name",
        help="Registered model name (default: change-risk-fleet).",
        callback=model_name_option,
    ),
    out_dir: Path = typer.Option(
        Path("."),
        "--out-dir",
        help="Where metrics.json, fleet-evaluation.json and models/<name>/ are written.",
    ),
    per_project: bool = typer.Option(
        True,
        "--per-project/--no-per-project",
        help="Evaluate per project: its own folds, the fleet model beside its own model.",
    ),
    config: ConfigOption = None,
    no_mlflow: NoMlflowOption = False,
) -> None:
    """Train the fleet model on the fleet dataset (the project a feature); gate and register it."""
    from riskml.cli.train import format_summary as train_summary
    from riskml.config import load_config, models_dir
    from riskml.fleet.model import (
        fleet_config,
        fleet_frame,
        fleet_table,
        format_per_project,
        label_mode_of_fleet,
        log_per_project,
        train_fleet,
        training_cluster,
    )
    from riskml.fleet.runner import check_scheduler
    from riskml.tables import write_json
    from riskml.train.from_files import _check_out_dir

    if scheduler is not None:
        check_scheduler(scheduler)
    _check_out_dir(out_dir)
    cfg = fleet_config(load_config(config), model_name)
    say = lambda message: typer.echo(message, err=True)  # noqa: E731
    rows = fleet_frame(dataset)
    table = fleet_table(rows, cfg)
    say(f"read {dataset}: {len(table):,} changes of {table['project'].nunique()} project(s)")
    label_mode = label_mode_of_fleet(rows)
    evaluation = None
    with training_cluster(workers, scheduler) as client:
        trained = train_fleet(
            table, cfg, out_dir=out_dir, label_mode=label_mode, client=client,
            mlflow=not no_mlflow, dataset_path=dataset, progress=say,
        )  # fmt: skip
        if per_project:
            from riskml.fleet.model import per_project as evaluate_projects

            evaluation = evaluate_projects(
                table, cfg, label_mode=label_mode, client=client, progress=say
            )
    typer.echo(
        train_summary(
            {
                "metrics": trained.metrics,
                "metrics_path": trained.metrics_path,
                "model_dir": trained.model_dir,
                "registry": trained.registry,
                "label_mode": trained.label_mode,
            }
        )
    )
    if evaluation is not None:
        typer.echo(format_per_project(evaluation))
        summary = {
            "model_name": cfg.train.model_name,
            "dataset": str(dataset),
            "projects": [row.summary() for row in evaluation],
        }
        if not no_mlflow:
            from riskml.train.pipeline import tracking_errors

            with tracking_errors("the model and fleet-evaluation.json were written"):
                write_json(summary, Path(out_dir) / "fleet-evaluation.json")
                summary["run_id"] = log_per_project(evaluation, cfg, dataset)
        write_json(summary, Path(out_dir) / "fleet-evaluation.json")
        typer.echo(f"per-project evaluation: {Path(out_dir) / 'fleet-evaluation.json'}")
    typer.echo(f"fleet model: {Path(out_dir) / models_dir(cfg.train.model_name)}")
