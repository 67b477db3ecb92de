"""`riskml budget`: what gating at each tier would have cost (reviews a week) and caught."""

from __future__ import annotations

import typer

from riskml.cli import app
from riskml.cli.options import (
    DEFAULT_DATA_DIR,
    ChangesOption,
    ConfigOption,
    DataDirOption,
    LabelsOption,
    ModelOption,
    RepoNameOption,
)
from riskml.cli.trends import history_inputs


@app.command("budget")
def budget_command(
    repo_name: RepoNameOption = None,
    changes: ChangesOption = None,
    labels: LabelsOption = None,
    model: ModelOption = None,
    weeks: int = typer.Option(
        13, "--weeks", help="The window: the last N calendar weeks (default 13, a quarter)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the budget as JSON."),
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    config: ConfigOption = None,
) -> None:
    """The review budget: per gate (tier >= X), changes gated a week and the incidents caught."""
    import json

    from riskml.config import load_config
    from riskml.jsonvalue import plain
    from riskml.trends import budget_text, model_text, review_budget, scored_history
    from riskml.trends.budget import check_weeks

    check_weeks(weeks)  # before any work
    cfg = load_config(config)
    changes, labels = history_inputs(repo_name, changes, labels, data_dir)
    history = scored_history(changes, labels, model=model, config=cfg, repo_name=repo_name)
    budget = review_budget(history.scored, window_days=cfg.label.window_days, weeks=weeks)
    if json_out:
        model_id = {k: history.model.get(k) for k in ("name", "version", "run_id", "uri")}
        out = {"repo": history.repo, "model": model_id, **budget}
        typer.echo(json.dumps(plain(out), indent=2))
        return
    typer.echo(budget_text(budget, history.repo))
    typer.echo(f"model: {model_text(history.model)} ({history.model.get('uri', '')})")
