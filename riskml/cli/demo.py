"""`riskml demo`: the whole pipeline on a generated sample repository, no input needed."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    DEFAULT_MODELS_DIR,
    ConfigOption,
    DataDirOption,
    ModelsDirOption,
    QuietOption,
)
from riskml.run import DEMO_COMMITS


@app.command("demo")
def demo_command(
    out: Path = typer.Option(
        Path("data") / "demo-source",
        "--out",
        help="Where the sample repository and its incidents file are generated.",
    ),
    commits: int = typer.Option(DEMO_COMMITS, "--commits", help="Commits to generate."),
    seed: int = typer.Option(0, "--seed", help="Generator seed (same seed, same repository)."),
    pending: int = typer.Option(5, "--pending", help="Last N commits scored as pending."),
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    models_root: ModelsDirOption = DEFAULT_MODELS_DIR,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Generate a sample repository with incidents, run the pipeline, print the pending scores."""
    from riskml.config import Workspace, load_config
    from riskml.run import demo, format_summary, mlflow_ui_command, one_line_warnings

    one_line_warnings()
    # the sample repository has no riskml.toml: only a file given with --config applies
    cfg = load_config(config) if config is not None else None
    workspace = Workspace(cfg, data_dir, models_root, not quiet)
    result = demo(out, workspace, commits=commits, seed=seed, pending=pending)
    what = "generated" if result.generated else "reused"
    paths = result.run.retrain.paths
    typer.echo(f"sample repository ({what}): {result.repo}")
    typer.echo(f"incidents file: {result.incidents}")
    typer.echo("")
    typer.echo(format_summary(result.run, mlflow_hint=False))
    typer.echo("")
    typer.echo("Next:")
    typer.echo(
        f"  score a branch: riskml score --repo {result.repo} --state {paths.state} "
        f"--range HEAD~{pending}..HEAD --format markdown"
    )
    typer.echo(f"  trends again:   riskml trends --repo-name {result.run.retrain.repo_name}")
    # the trends run's page, in MLflow's training view (riskml.train.tracking.ui_url)
    typer.echo(f"  open MLflow:    {mlflow_ui_command()}   (then {result.run.trends.url})")
