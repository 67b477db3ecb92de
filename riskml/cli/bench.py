"""`riskml bench`: riskml against LApredict and Kamei LR on a public JIT table."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import ConfigOption


@app.command("bench")
def bench_command(
    dataset: Path = typer.Option(
        ..., "--dataset", help="Public table: Kamei/ISSTA'21 or ApacheJIT layout (CSV)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the metrics.json shape."),
    gap_days: float = typer.Option(
        0.0, "--gap-days", min=0, help="Days between training and test (default 0, as published)."
    ),
    config: ConfigOption = None,
) -> None:
    """Train riskml, lapredict and kamei_lr on a chronological 80/20 split and compare them."""
    import json

    from riskml.config import load_config
    from riskml.train.public_bench import bench, format_table

    metrics = bench(dataset, gap_days=gap_days, config=load_config(config))
    dropped = metrics.get("dataset", {}).get("dropped_rows", 0)
    if dropped:
        typer.echo(f"riskml: warning: skipped {dropped} row(s) without a date or label", err=True)
    if json_out:
        typer.echo(json.dumps(metrics, indent=2, allow_nan=False, default=str))
    else:
        typer.echo(format_table(metrics))
