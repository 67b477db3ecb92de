"""`riskml synth`: generate a sample repository with its incidents file and ground truth."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app


@app.command("synth")
def synth(
    out: Path = typer.Option(
        ..., "--out", help="Directory to write repo/, incidents.csv, truth.csv."
    ),
    commits: int = typer.Option(2000, "--commits", help="Non-merge commits to generate (>= 1)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same SHAs."),
    start: str = typer.Option(
        "2021-01-04", "--start", help="Date of the first commit (YYYY-MM-DD)."
    ),
) -> None:
    """Generate a deterministic git repository with a hidden incident process."""
    from riskml.synth import generate

    result = generate(out, commits=commits, seed=seed, start=start)
    typer.echo(f"repo: {result.repo}")
    typer.echo(f"incidents: {result.incidents}")
    typer.echo(f"truth: {result.truth}")
