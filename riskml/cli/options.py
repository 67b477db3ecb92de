"""The options several verbs share, declared once with one wording each.

A verb declares ``config: ConfigOption = None`` and gets the same flag, type and help as every
other verb; what a flag means never depends on the verb that reads it.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, fields
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


def _repo_name(value: str | None) -> str | None:
    from riskml.config import check_repo_name

    return None if value is None else check_repo_name(value)


def model_name_option(value: str | None) -> str | None:
    """The ``--model-name`` callback: the ``[train] model_name`` rule, applied to the option."""
    from riskml.config import ModelName

    problem = None if value is None else ModelName().problem(value)
    if problem is not None:
        raise RiskmlError(f"--model-name {value!r}: {problem}")
    return value


RepoNameOption = Annotated[
    str | None,
    typer.Option(
        "--repo-name",
        help="The repository's name: its `repo` column and data/<NAME>/ (default: folder name).",
        callback=_repo_name,
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
DatasetOption = Annotated[
    Path | None,
    typer.Option(
        "--dataset",
        help="A public JIT table (Kamei/ISSTA'21 or ApacheJIT layout) instead of --changes/--labels.",
    ),
]
TablesRepoOption = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        help="The repository (names the run, tags it with its HEAD SHA; default tables "
        "data/<repo>/changes.parquet and labels.parquet).",
    ),
]
NoMlflowOption = Annotated[
    bool, typer.Option("--no-mlflow", help="No MLflow run or registry; write the files only.")
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
StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help="Mining state (default: data/<repo>/changes.state, the companions of its table).",
    ),
]
FormatOption = Annotated[str, typer.Option("--format", help="json, table or markdown.")]
FailOnOption = Annotated[
    str | None,
    typer.Option("--fail-on", help="Exit 3 when any change is at this tier or above."),
]
TopOption = Annotated[int | None, typer.Option("--top", min=0, help="Reasons per change.")]

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


@dataclass(frozen=True)
class TableInputs:
    """What the verbs that fit models read (``train``, ``evaluate``): the mined tables or a
    public dataset, the repository they came from, the config and the data root."""

    changes: Path | None = None
    labels: Path | None = None
    dataset: Path | None = None
    repo: Path | None = None
    config: Path | None = None
    data_dir: Path = DEFAULT_DATA_DIR


_TABLE_OPTIONS = {
    "changes": ChangesOption,
    "labels": LabelsOption,
    "dataset": DatasetOption,
    "repo": TablesRepoOption,
    "config": ConfigOption,
    "data_dir": DataDirOption,
}


def table_inputs(command):
    """Give a verb the options of :class:`TableInputs`, declared here once: the verb's
    parameter ``inputs: TableInputs`` becomes ``--changes``, ``--labels``, ``--dataset``,
    ``--repo``, ``--config`` and ``--data-dir`` on its command line (as click's shared option
    decorators do), and the verb receives them as one ``TableInputs``."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "inputs"]
    shared = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=f.default,
            annotation=_TABLE_OPTIONS[f.name],
        )
        for f in fields(TableInputs)
    ]

    @functools.wraps(command)
    def verb(**kwargs):
        inputs = TableInputs(**{f.name: kwargs.pop(f.name) for f in fields(TableInputs)})
        return command(inputs=inputs, **kwargs)

    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
    verb.__signature__ = signature.replace(parameters=[*shared, *own])
    return verb
