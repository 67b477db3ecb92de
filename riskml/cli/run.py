"""`riskml run`: mine, label, train, gate and register, trends, score the pending changes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    DEFAULT_MODELS_DIR,
    ConfigOption,
    DataDirOption,
    IncidentsOption,
    ModelsDirOption,
    PeriodOption,
    QuietOption,
    RepoNameOption,
)


@app.command("run")
def run_command(
    repo: Annotated[Path, typer.Option("--repo", help="Path of the git repository.")],
    incidents: IncidentsOption = None,
    pending: int = typer.Option(
        None,
        "--pending",
        help="Score the last N commits of HEAD as pending (trained up to HEAD~N).",
    ),
    main_branch: str = typer.Option(
        None,
        "--main-branch",
        help="Pending = commits on HEAD not yet on this branch (default: detected main/master).",
    ),
    repo_name: RepoNameOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    models_root: ModelsDirOption = DEFAULT_MODELS_DIR,
    period: PeriodOption = None,
    config: ConfigOption = None,
    json_out: Path = typer.Option(
        None, "--json", help="Also write the scored pending changes (scoring.md JSON) here."
    ),
    quiet: QuietOption = False,
) -> None:
    """The whole pipeline on one repository; a second run is incremental."""
    from riskml.config import Workspace, load_config
    from riskml.gitio import ensure_repo
    from riskml.run import format_summary, one_line_warnings, run_pipeline

    one_line_warnings()
    from riskml.trends import normalize_period

    top = ensure_repo(repo)
    workspace = Workspace(load_config(config, repo=top), data_dir, models_root, not quiet)
    normalize_period(period or workspace.config.trends.period)  # a bad period before any work
    result = run_pipeline(
        top,
        incidents,
        workspace,
        pending=pending,
        main_branch=main_branch,
        repo_name=repo_name,
        period=period,
    )
    if json_out is not None and result.scored is not None:
        import json

        json_out.write_text(json.dumps(result.scored, indent=2) + "\n")
    typer.echo(format_summary(result))
