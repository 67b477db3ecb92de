"""`riskml fleet-train` end to end through the real CLI: a fleet mined and labelled, the fleet
model trained on lightgbm.dask (2 workers) and locally, registered as change-risk-fleet
through the gate, evaluated per project, and a fleet repository scored with it."""

from __future__ import annotations

import pytest
from fleet_pipeline import fleet_train_pipeline

pytestmark = pytest.mark.slow


def test_fleet_train_registers_gates_evaluates_and_scores(cli, tmp_path, synth_small, mlflow_uri):
    fleet_train_pipeline(cli, tmp_path, synth_small)


def test_fleet_train_refuses_bad_settings_with_one_line(cli, tmp_path):
    cases = [
        (["--dataset", str(tmp_path)], f"{tmp_path}: not a fleet dataset (no _fleet.json; "
         "see riskml fleet)"),
        (["--scheduler", "localhost:1"], "--scheduler: expected tcp://HOST:PORT, got 'localhost:1'"),
    ]  # fmt: skip
    for args, message in cases:
        bad = cli("fleet-train", *args, "--no-mlflow")
        assert (bad.returncode, bad.stderr.splitlines()) == (2, [f"riskml: error: {message}"])
