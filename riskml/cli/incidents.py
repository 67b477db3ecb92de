"""``riskml incidents``: an issue tracker's export of fixed issues as the incidents file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskml.cli import app


@app.command("incidents")
def incidents_command(
    fixes: Annotated[
        Path,
        typer.Option(
            "--fixes", help="CSV export, one row per (issue, fix commit); extra columns ignored."
        ),
    ],
    repo: Annotated[Path, typer.Option("--repo", help="The repository the fix commits are in.")],
    out: Annotated[Path, typer.Option("--out", help="Incidents file to write (CSV, labels.md).")],
    issue_column: str = typer.Option("issue_key", "--issue-column", help="Column of the issue id."),
    commit_column: str = typer.Option(
        "commit_id", "--commit-column", help="Column of the fix commit's SHA."
    ),
    opened_column: str = typer.Option(
        "opened_at",
        "--opened-column",
        help="Column of the issue's opening time, if the export has one "
        "(else the earliest fix commit's time).",
    ),
) -> None:
    """Turn an issue tracker's fixed issues into incidents: one per issue, its commits as fixes."""
    from riskml.gitio import ensure_repo
    from riskml.label.incidents import incidents_from_fixes, write_incidents

    top = ensure_repo(repo)
    records, problems = incidents_from_fixes(
        fixes, top, issue_column=issue_column, commit_column=commit_column,
        opened_column=opened_column,
    )  # fmt: skip
    for problem in problems:
        typer.echo(f"riskml: warning: {fixes}: skipped {problem}", err=True)
    write_incidents(records, out)
    n_fixes = sum(len(r["fix_commits"]) for r in records)
    typer.echo(f"wrote {len(records)} incident(s) with {n_fixes} fix commit(s) to {out}")
