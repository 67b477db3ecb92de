"""`riskml ci`: what CI jobs and git hooks call — the pull-request comment and the pre-push
gate (docs/ci.md)."""

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

ci_app = typer.Typer(
    name="ci",
    help="CI integrations: keep one pull-request comment up to date; gate a push.",
    no_args_is_help=True,
)
app.add_typer(ci_app, name="ci")


@ci_app.command("comment")
def comment_command(
    markdown: Path = typer.Option(
        ..., "--markdown", help="The report to post (`riskml score --format markdown`)."
    ),
    provider: str = typer.Option("github", "--provider", help="github or gitlab."),
    repo: str | None = typer.Option(
        None,
        "--repo",
        help="owner/name on GitHub (default: GITHUB_REPOSITORY), a project id or path on "
        "GitLab (default: CI_PROJECT_ID).",
    ),
    pr: int | None = typer.Option(
        None,
        "--pr",
        min=1,
        help="Pull request number, or merge request iid (default: from GITHUB_REF or "
        "CI_MERGE_REQUEST_IID).",
    ),
    api_url: str | None = typer.Option(
        None, "--api-url", help="REST API root (default: GITHUB_API_URL or CI_API_V4_URL)."
    ),
    marker: str = typer.Option(
        "<!-- riskml:score -->", "--marker", help="The hidden line the comment is found by."
    ),
    timeout: float = typer.Option(
        10.0, "--timeout", min=0.1, max=120, help="Seconds each API request may take."
    ),
) -> None:
    """Create the pull request's riskml comment, or update it in place (one per marker).

    The token comes from the environment, never the command line: GITHUB_TOKEN, or
    RISKML_GITLAB_TOKEN / GITLAB_TOKEN.
    """
    from riskml.ci.comment import forge_from_env, upsert_comment
    from riskml.errors import RiskmlError

    try:
        text = markdown.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RiskmlError(f"cannot read {markdown}: {exc.__class__.__name__}") from None
    forge = forge_from_env(provider, repo=repo, number=pr, api_url=api_url)
    posted = upsert_comment(forge, text, marker=marker, timeout=timeout)
    where = f" ({posted.url})" if posted.url else ""
    typer.echo(f"riskml: comment {posted.comment_id} {posted.action} on {forge.where}{where}")


@ci_app.command("pre-push")
def pre_push_command(
    repo: Path = typer.Option(Path("."), "--repo", help="The git repository."),
    model: ModelOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    state: StateOption = None,
    repo_name: RepoNameOption = None,
    fmt: FormatOption = "table",
    fail_on: FailOnOption = None,
    top: TopOption = None,
) -> None:
    """Score the commits being pushed (pre-commit's PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF,
    else HEAD@{push}..HEAD, else HEAD@{upstream}..HEAD); exit 3 per --fail-on, which stops the push."""
    import os

    from riskml.ci.prepush import push_range
    from riskml.cli.score import check_report_options, score_and_report
    from riskml.config import load_config
    from riskml.gitio import ensure_repo

    check_report_options(fmt, fail_on)  # a mistake is refused even when nothing is pushed
    load_config(config, repo=repo)
    span = push_range(ensure_repo(repo), os.environ)
    if span is None:
        typer.echo(
            "riskml: nothing to score: no commit being pushed has a remote commit to compare "
            "with (no PRE_COMMIT_FROM_REF, push target or upstream)",
            err=True,
        )
        return
    score_and_report(
        repo,
        range_=span,
        model=model,
        config=config,
        data_dir=data_dir,
        state=state,
        repo_name=repo_name,
        fmt=fmt,
        fail_on=fail_on,
        top=top,
    )
