"""`riskml score`: risk, tier, review depth and reasons for a commit, a branch or the work tree."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    ConfigOption,
    DataDirOption,
    FailOnOption,
    FormatOption,
    ModelOption,
    RepoNameOption,
    StateOption,
    TopOption,
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
    state: StateOption = None,
    repo_name: RepoNameOption = None,
    fmt: FormatOption = "json",
    fail_on: FailOnOption = None,
    top: TopOption = None,
    author: str | None = typer.Option(
        None, "--author", help="Author of --worktree changes (default: git user.email)."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", help="Also write the JSON result to FILE (whatever --format prints)."
    ),
) -> None:
    """Score pending changes: risk, tier, the review they require, and why."""
    score_and_report(
        repo,
        rev=rev,
        range_=range_,
        worktree=worktree,
        model=model,
        config=config,
        data_dir=data_dir,
        state=state,
        repo_name=repo_name,
        fmt=fmt,
        fail_on=fail_on,
        top=top,
        author=author,
        json_out=json_out,
    )


def check_report_options(fmt: str, fail_on: str | None) -> str | None:
    """Refuse an unknown ``--format`` or ``--fail-on`` tier before any work; the tier."""
    from riskml.errors import RiskmlError
    from riskml.score import FORMATS, check_tier

    if fmt not in FORMATS:
        raise RiskmlError(f"unknown --format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return check_tier(fail_on) if fail_on is not None else None


def score_and_report(
    repo: Path,
    *,
    rev: str | None = None,
    range_: str | None = None,
    worktree: bool = False,
    model: str | None = None,
    config: Path | None = None,
    data_dir: Path = DEFAULT_DATA_DIR,
    state: Path | None = None,
    repo_name: str | None = None,
    fmt: str = "json",
    fail_on: str | None = None,
    top: int | None = None,
    author: str | None = None,
    json_out: Path | None = None,
) -> None:
    """Score, print the report in ``fmt`` (and write the JSON to ``json_out``), and exit 3
    with one line on stderr naming the changes at ``fail_on`` or above (what `riskml score`
    and `riskml ci pre-push` do)."""
    import os

    # One change at a time: LightGBM's OpenMP threads only add start-up and contention
    # (a one-row predict takes ~30 ms with them, ~0.1 ms without). Set before lightgbm loads.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from riskml.config import data_paths, load_config
    from riskml.errors import RiskmlError
    from riskml.gitio import ensure_repo
    from riskml.score import render, score, summary
    from riskml.score.render import NOTHING, gate_failure_line

    fail_on = check_report_options(fmt, fail_on)
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
    result["summary"] = summary(result["changes"], fail_on)
    if json_out is not None:
        from riskml.tables import atomic_write

        text = render(result, "json") + "\n"
        try:
            atomic_write(json_out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        except OSError as exc:
            raise RiskmlError(f"cannot write --json {json_out}: {exc.strerror or exc}") from None
    typer.echo(render(result, fmt))
    if fmt == "json":
        for warning in result.get("warnings", []):
            typer.echo(f"riskml: warning: {warning}", err=True)
        if not result["changes"]:
            typer.echo(f"riskml: {NOTHING} {range_}", err=True)
    failed = gate_failure_line(result)
    if failed is not None:
        typer.echo(f"riskml: {failed}", err=True)
        raise typer.Exit(3)
