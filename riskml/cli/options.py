"""The options several verbs share, declared once with one wording each.

A verb declares ``config: ConfigOption = None`` and gets the same flag, type and help as every
other verb; what a flag means never depends on the verb that reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskml.config import DATA_DIR
from riskml.errors import RiskmlError

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="riskml.toml to read (default: riskml.toml at the repository root, else defaults).",
    ),
]
DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", help="Root of each repository's data/<repo>/ tables and state."),
]
RepoNameOption = Annotated[
    str | None,
    typer.Option(
        "--repo-name",
        help="The repository's name: its `repo` column and data/<NAME>/ (default: folder name).",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="MLflow model URI or local model directory (default: models:/<name>@champion).",
    ),
]
ChangesOption = Annotated[
    Path | None,
    typer.Option(
        "--changes",
        help="Changes table from `riskml mine` (default: data/<repo>/changes.parquet).",
    ),
]
LabelsOption = Annotated[
    Path | None,
    typer.Option(
        "--labels", help="Labels table from `riskml label` (default: data/<repo>/labels.parquet)."
    ),
]
IncidentsOption = Annotated[
    Path | None,
    typer.Option(
        "--incidents", help="Incidents file (CSV, JSON array, JSONL); without it, proxy labels."
    ),
]
WorkersOption = Annotated[
    int, typer.Option("--workers", min=1, help="Processes working in parallel (default: 1).")
]
ModelsDirOption = Annotated[Path, typer.Option("--models-dir", help="Root of models/<name>/.")]
PeriodOption = Annotated[
    str | None,
    typer.Option("--period", help="Period of one trends point: W (week, default), D, M, Q, Y."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No stage progress on stderr.")]

DEFAULT_DATA_DIR = DATA_DIR
DEFAULT_MODELS_DIR = Path("models")


def deprecated_option(old_value, new_value, old: str, new: str):
    """The value of a renamed option: ``new`` if given, else ``old`` with a note on stderr.

    The old spelling keeps working (hidden from ``--help``); giving both is a user's mistake.
    """
    if old_value is None:
        return new_value
    if new_value is not None:
        raise RiskmlError(f"give {new} only ({old} is its deprecated spelling)")
    typer.echo(f"riskml: warning: {old} is deprecated, use {new}", err=True)
    return old_value
