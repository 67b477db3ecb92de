"""`riskml score`: risk, tier, review depth and reasons for a commit, a branch or the work tree."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app


@app.command("score")
def score_command(
    repo: Path = typer.Option(Path("."), "--repo", help="The git repository."),
    rev: str | None = typer.Option(None, "--rev", help="Score one commit."),
    range_: str | None = typer.Option(
        None, "--range", help="BASE..HEAD: the branch as one change and each of its commits."
    ),
    worktree: bool = typer.Option(False, "--worktree", help="Score the uncommitted changes."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="MLflow model URI or local model directory (default: models:/<name>@champion).",
    ),
    config: Path | None = typer.Option(None, "--config", help="riskml.toml to use."),
    state: Path | None = typer.Option(
        None, "--state", help="Mining state (default: data/<repo>/changes.state.joblib)."
    ),
    repo_name: str | None = typer.Option(
        None, "--repo-name", help="Name it was mined under (default: the folder name)."
    ),
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
    from riskml.cli import fail
    from riskml.config import load_config
    from riskml.errors import RiskmlError
    from riskml.score import FORMATS, check_tier, fails_gate, render, score

    if fmt not in FORMATS:
        raise fail(f"unknown --format {fmt!r}: expected one of {', '.join(FORMATS)}")
    try:
        if fail_on is not None:
            fail_on = check_tier(fail_on)
        cfg = load_config(config, repo=repo)
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
    except RiskmlError as exc:
        raise fail(str(exc)) from None
    typer.echo(render(result, fmt))
    for warning in result.get("warnings", []):
        if fmt == "json":
            typer.echo(f"riskml: warning: {warning}", err=True)
    if fails_gate(result, fail_on):
        raise typer.Exit(3)
