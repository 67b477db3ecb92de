"""The fleet model's pipeline through the real CLI, shared by tests/fleet/test_fleet_train_cli.py
(SQLite store) and tests/test_mlflow_postgres.py (an mlflow server on PostgreSQL): a fleet of
two generated repositories mined and labelled, the fleet model trained on lightgbm.dask
(2 workers) and locally, registered as change-risk-fleet through the gate, evaluated per
project, and a fleet repository scored with the champion."""

from __future__ import annotations

import json
from pathlib import Path

SMALL_TOML = "[label]\nwindow_days = 30\n\n[train]\ngap_days = 14\n\n[evaluate]\nfolds = 3\nfold_fraction = 0.15\nbootstrap = 50\n"


def fleet_train_pipeline(cli, root: Path, small, env: dict | None = None) -> dict:
    """Mine and label a fleet of two generated repositories, train the fleet model twice
    (lightgbm.dask on 2 workers, then local LightGBM with the per-project evaluation) and
    score one of its repositories with the champion; asserts along the way. Shared with the
    PostgreSQL-backed test (``env`` points the CLI at its server)."""
    from riskml.synth import generate

    other = generate(root / "other", commits=500, seed=8)
    config = root / "riskml.toml"
    config.write_text(SMALL_TOML, encoding="utf-8")
    fleet = root / "fleet.toml"
    fleet.write_text(
        f'[defaults]\nconfig = "{config}"\n\n[[repo]]\nname = "small"\npath = "{small.repo}"\nincidents = "{small.incidents}"\n\n'
        f'[[repo]]\nname = "other"\npath = "{other.repo}"\nincidents = "{other.incidents}"\n',
        encoding="utf-8",
    )
    data, out = root / "data", root / "out"
    mined = cli("fleet", "--fleet", str(fleet), "--data-dir", str(data), "--no-progress")
    assert mined.returncode == 0, mined.stderr
    dataset = data / "fleet.parquet"

    on_dask = cli("fleet-train", "--dataset", str(dataset), "--out-dir", str(out),
                  "--workers", "2", "--no-per-project", "--config", str(config), env=env)  # fmt: skip
    assert on_dask.returncode == 0, on_dask.stderr
    assert "registered change-risk-fleet v1 -> champion" in on_dask.stdout, on_dask.stdout
    assert on_dask.stdout.splitlines()[-1] == f"fleet model: {out / 'models/change-risk-fleet'}"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["categorical"][-1] == "project"
    assert metrics["registry"]["name"] == "change-risk-fleet"

    local = cli("fleet-train", "--dataset", str(dataset), "--out-dir", str(out),
                "--config", str(config), env=env)  # fmt: skip
    assert local.returncode == 0, local.stderr
    assert "registered change-risk-fleet v2 -> " in local.stdout, local.stdout
    lines = local.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("project "))
    assert lines[head].split() == ["project", "changes", "labelled", "pos", "folds", "own",
                                   "fleet", "fleet-own", "fleet>=own"]  # fmt: skip
    from riskml.tables import read_fleet

    rows = read_fleet(dataset).compute()
    labelled = rows[rows["label"].notna()].groupby("project", observed=True).size().to_dict()
    assert [line.split()[:3] for line in lines[head + 1 : head + 3]] == [
        ["other", "500", str(labelled["other"])],
        ["small", "400", str(labelled["small"])],
    ]
    assert lines[head + 3].startswith("fleet >= own on ")
    evaluation = json.loads((out / "fleet-evaluation.json").read_text())
    assert [p["project"] for p in evaluation["projects"]] == ["other", "small"]
    assert [len(p["folds"]) for p in evaluation["projects"]] == [3, 3]
    # both models tested on the same rows of each fold
    for project in evaluation["projects"]:
        assert all(f["n"] == f["fleet_n"] > 0 for f in project["folds"]), project
    assert len(evaluation["run_id"]) == 32

    scored = cli("score", "--repo", str(small.repo), "--repo-name", "small", "--rev", "HEAD",
                 "--data-dir", str(data), "--model", "models:/change-risk-fleet@champion",
                 "--config", str(config), env=env)  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout)
    (change,) = result["changes"]
    assert 0 < change["risk"] < 1
    assert result["model"]["name"] == "change-risk-fleet"
    return {"dask": on_dask, "local": local, "score": result, "evaluation": evaluation}
