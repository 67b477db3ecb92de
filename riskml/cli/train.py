"""`riskml train`: build the training table, fit riskml + baselines, log to MLflow, gate, save."""

from __future__ import annotations

from pathlib import Path

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    NoMlflowOption,
    TableInputs,
    deprecated_option,
    model_name_option,
    table_inputs,
)

_SUMMARY_METRICS = (
    ("roc_auc", "roc_auc"),
    ("pr_auc", "pr_auc"),
    ("brier", "brier"),
    ("capture_at_10", "capt@10"),
    ("recall_at_20_effort", "rec@20%eff"),
    ("popt", "popt"),
)


TEST_START_HELP = "Start of the test window (a date/time; default: from test_fraction)."


@app.command("train")
@table_inputs
def train_command(
    inputs: TableInputs,
    out_dir: Path = typer.Option(
        Path("."), "--out-dir", help="Where metrics.json and models/<name>/ are written."
    ),
    model_name: str | None = typer.Option(
        None,
        "--model-name",
        help="Registered model name (default: train.model_name of the config, change-risk).",
        callback=model_name_option,
    ),
    test_start: str | None = typer.Option(None, "--test-start", help=TEST_START_HELP),
    cutoff: str | None = typer.Option(None, "--cutoff", hidden=True, help=TEST_START_HELP),
    no_mlflow: NoMlflowOption = False,
) -> None:
    """Train the change-risk model with baselines on an honest time-ordered split; register it."""
    from riskml.config import data_paths
    from riskml.gitio import ensure_repo
    from riskml.train.from_files import train_from_files

    test_start = deprecated_option(cutoff, test_start, "--cutoff", "--test-start")
    changes, labels, repo = inputs.changes, inputs.labels, inputs.repo
    custom_root = inputs.data_dir != DEFAULT_DATA_DIR
    if changes is None and inputs.dataset is None and repo is not None and custom_root:
        # the stage defaults to data/<repo>/; only another root needs the paths spelled out
        paths = data_paths(ensure_repo(repo).resolve().name, inputs.data_dir)
        changes, labels = paths.changes, labels if labels is not None else paths.labels
    summary = train_from_files(
        changes=changes,
        labels=labels,
        dataset=inputs.dataset,
        repo=repo,
        config_path=inputs.config,
        out_dir=out_dir,
        model_name=model_name,
        cutoff=test_start,
        mlflow=not no_mlflow,
        progress=lambda message: typer.echo(message, err=True),
    )
    typer.echo(format_summary(summary))


def _cell(value) -> str:
    if value is None:
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "nan" if number != number else f"{number:.3f}"


def _rolling_line(rolling: dict | None) -> str:
    """One line of the rolling evaluation: each model's mean ROC-AUC over the folds."""
    from riskml.train.metrics import MODELS

    if not rolling:
        return "rolling evaluation: none"
    if "skipped" in rolling:
        why = str(rolling["skipped"])
        return why if why.startswith("rolling evaluation") else f"rolling evaluation: off ({why})"
    means = ", ".join(
        f"{model} {_cell((rolling.get('mean') or {}).get(model, {}).get('roc_auc'))}"
        for model in MODELS
    )
    return f"rolling evaluation ({len(rolling.get('folds') or [])} folds): mean roc_auc {means}"


def format_summary(summary: dict) -> str:
    """The three models side by side, the split, and the registry decision."""
    from riskml.train.metrics import MODELS

    metrics = summary["metrics"]
    header = f"{'model':<10}" + "".join(f"{label:>12}" for _, label in _SUMMARY_METRICS)
    lines = [header]
    for model in MODELS:
        values = metrics.get(model, {})
        lines.append(
            f"{model:<10}" + "".join(f"{_cell(values.get(key)):>12}" for key, _ in _SUMMARY_METRICS)
        )
    split = metrics.get("split", {})
    scalars = [f"{k}={v}" for k, v in split.items() if isinstance(v, str | int | float)]
    if scalars:
        lines.append("split: " + ", ".join(scalars))
    rates = metrics.get("riskml", {}).get("tier_rates", {})
    if rates:
        lines.append(
            "tiers (test): "
            + ", ".join(
                f"{tier} {_cell(r.get('share'))} of changes, rate {_cell(r.get('incident_rate'))}"
                for tier, r in rates.items()
            )
        )
    riskml = metrics.get("riskml", {})
    intervals = [
        f"{label} [{_cell(riskml.get(f'{key}_ci_low'))}, {_cell(riskml.get(f'{key}_ci_high'))}]"
        for key, label in _SUMMARY_METRICS
        if riskml.get(f"{key}_ci_low") is not None
    ]
    if intervals:
        lines.append("riskml 95 % bootstrap intervals (test): " + ", ".join(intervals))
    lines.append(_rolling_line(metrics.get("rolling")))
    reference = (metrics.get("model") or {}).get("tier_reference") or {}
    lines += [f"riskml: warning: tier thresholds: {w}" for w in reference.get("warnings") or []]
    registry = summary.get("registry")
    if registry and registry.get("decision") == "identical":
        lines.append(f"not registered: {registry['reason']} (run {registry['run_id']})")
    elif registry and registry.get("version"):
        lines.append(
            f"registered {registry['name']} v{registry['version']} -> {registry['alias']} "
            f"(run {registry['run_id']}): {registry['reason']}"
        )
    elif registry:
        lines.append(f"logged run {registry.get('run_id')} (not registered)")
    else:
        lines.append("MLflow: skipped (--no-mlflow)")
    lines.append(f"wrote {summary['metrics_path']} and {summary['model_dir']}")
    return "\n".join(lines)
