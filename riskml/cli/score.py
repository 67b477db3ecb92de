"""`riskml score`: risk, tier, review depth and reasons for a commit, a branch or the work tree."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    ConfigOption,
    DataDirOption,
    ModelOption,
    RepoNameOption,
)


@app.command("score")
def score_command(
    repo: Path = typer.Option(Path("."), "--repo", help="The git repository."),
    rev: str | None = typer.Option(None, "--rev", help="Score one commit."),
    range_: str | None = typer.Option(
        None, "--range", help="BASE..HEAD: the branch as one change and each of its commits."
    ),
    worktree: bool = typer.Option(False, "--worktree", help="Score the uncommitted changes."),
    model: ModelOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    state: Path | None = typer.Option(
        None,
        "--state",
        help="Mining state (default: data/<repo>/changes.state, the companions of its changes table).",
    ),
    repo_name: RepoNameOption = None,
    fmt: str = typer.Option("json", "--format", help="json, table or markdown."),
    fail_on: str | None = typer.Option(
        None, "--fail-on", help="Exit 3 when any change is at this tier or above."
    ),
    top: int | None = typer.Option(None, "--top", min=0, help="Reasons per change."),
    author: str | None = typer.Option(
        None, "--author", help="Author of --worktree changes (default: git user.email)."
    ),
) -> None:
    """Score pending changes: risk, tier, the review they require, and why."""
    import os

    # One change at a time: LightGBM's OpenMP threads only add start-up and contention
    # (a one-row predict takes ~30 ms with them, ~0.1 ms without). Set before lightgbm loads.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from riskml.config import data_paths, load_config
    from riskml.errors import RiskmlError
    from riskml.gitio import ensure_repo
    from riskml.score import FORMATS, check_tier, fails_gate, render, score

    if fmt not in FORMATS:
        raise RiskmlError(f"unknown --format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fail_on is not None:
        fail_on = check_tier(fail_on)
    cfg = load_config(config, repo=repo)
    if state is None:
        state = data_paths(repo_name or ensure_repo(repo).name, data_dir).state
    result = score(
        repo,
        rev=rev,
        range=range_,
        worktree=worktree or None,
        model=model,
        config=cfg,
        state=state,
        author=author,
        top=top,
        repo_name=repo_name,
    )
    typer.echo(render(result, fmt))
    for warning in result.get("warnings", []):
        if fmt == "json":
            typer.echo(f"riskml: warning: {warning}", err=True)
    if fails_gate(result, fail_on):
        raise typer.Exit(3)
