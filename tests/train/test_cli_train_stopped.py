"""Real `riskml train` processes stopped with SIGTERM and SIGKILL, on a real MLflow SQLite store.

Each process is parked at a named point by the test hook (``RISKML_TEST_HOLD=<point>:<file>``,
riskml.processes.hold): ``train.run`` inside its MLflow run before the gate, ``gate.alias``
after registering its version and before moving the alias. Then:

- SIGTERM: exit 143 with one line; its run is KILLED; a version it registered reads as not
  promoted; the local model copy is the one that was there before.
- SIGKILL: the run stays RUNNING and the version pending until the next `riskml train` opens
  the experiment: it ends the run KILLED and settles the version as interrupted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tracking_tables import write_kamei_csv

from riskml.processes import HOLD_ENV, PID_TAG

# end to end: the real CLI in subprocesses
pytestmark = pytest.mark.slow

EXPERIMENT = "riskml"  # [train] experiment's default


@pytest.fixture
def workspace(tmp_path: Path):
    """A public-style table, a config without the rolling evaluation (fewer fits, the same
    run and gate), and a local model copy left by an earlier training."""
    data = write_kamei_csv(tmp_path / "jit.csv", n=600, seed=5)
    config = tmp_path / "riskml.toml"
    config.write_text("[evaluate]\nin_train = false\n")
    return tmp_path, data, config


def _train(tmp: Path, data: Path, config: Path, name: str) -> list[str]:
    return [
        sys.executable, "-m", "riskml", "train", "--dataset", str(data), "--config", str(config),
        "--out-dir", str(tmp / "out"), "--model-name", name,
    ]  # fmt: skip


def _stop_at(point: str, command: list[str], cwd: Path, signum: int):
    """Run ``command`` until it holds at ``point``, send it ``signum``; return its pid, exit
    code and stderr."""
    marker = cwd / f"held-{point}"
    marker.unlink(missing_ok=True)
    env = {**os.environ, HOLD_ENV: f"{point}:{marker}"}
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, f"never reached {point}"
            time.sleep(0.05)
        pid = int(marker.read_text())
        assert pid == proc.pid
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return pid, proc.returncode, err


def _runs_of(client, pid: int):
    """The runs (parent and folds) the process ``pid`` opened in the experiment."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`{PID_TAG}` = '{pid}'"
    )


def _versions(client, name: str) -> dict[str, tuple[str | None, str | None, list[str]]]:
    """``{version: (promoted, promotion.decision, aliases)}``."""
    out = {}
    for found in client.search_model_versions(f"name = '{name}'"):  # (without their aliases)
        mv = client.get_model_version(name, found.version)
        tags = mv.tags
        out[str(mv.version)] = (tags.get("promoted"), tags.get("promotion.decision"),
                                sorted(mv.aliases))  # fmt: skip
    return out


def _local_copy(tmp: Path, name: str) -> Path:
    copy = tmp / "out" / "models" / name
    copy.mkdir(parents=True)
    (copy / "model.json").write_text('{"the": "registered model"}\n')
    return copy


def test_a_train_stopped_by_sigterm_ends_its_run_killed(workspace, mlflow_uri) -> None:
    from mlflow import MlflowClient

    tmp, data, config = workspace
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    name = "stopped-by-sigterm"
    copy = _local_copy(tmp, name)
    command = _train(tmp, data, config, name)

    # inside the run, before the gate: no version, the run KILLED
    pid, code, err = _stop_at("train.run", command, tmp, signal.SIGTERM)
    assert (code, err.splitlines()[-1]) == (143, "riskml: interrupted (SIGTERM)")
    assert "Traceback" not in err
    assert [run.info.status for run in _runs_of(client, pid)] == ["KILLED"]
    assert _versions(client, name) == {}
    assert [p.name for p in copy.iterdir()] == ["model.json"]

    # between registering and moving the alias: the version is settled as not promoted
    pid, code, err = _stop_at("gate.alias", command, tmp, signal.SIGTERM)
    assert (code, err.splitlines()[-1]) == (143, "riskml: interrupted (SIGTERM)")
    assert [run.info.status for run in _runs_of(client, pid)] == ["KILLED"]
    assert _versions(client, name) == {"1": ("false", "interrupted", [])}
    assert (copy / "model.json").read_text() == '{"the": "registered model"}\n'


def test_a_train_killed_by_sigkill_is_cleaned_up_by_the_next_one(workspace, mlflow_uri) -> None:
    from mlflow import MlflowClient

    from riskml.train.tracking import STALE_TAG

    tmp, data, config = workspace
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    name = "stopped-by-sigkill"
    copy = _local_copy(tmp, name)
    command = _train(tmp, data, config, name)

    pid, code, _ = _stop_at("gate.alias", command, tmp, signal.SIGKILL)
    assert code == -signal.SIGKILL
    (killed,) = _runs_of(client, pid)
    assert killed.info.status == "RUNNING"  # nothing could end it
    assert _versions(client, name) == {"1": ("pending", "pending", [])}
    assert [p.name for p in copy.iterdir()] == ["model.json"]

    done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run = client.get_run(killed.info.run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags[STALE_TAG].startswith(f"its process (pid {pid} on ")
    assert _versions(client, name) == {
        "1": ("false", "interrupted", []),
        "2": ("true", "first", ["champion"]),
    }
    assert (tmp / "out" / "models" / name / "booster.txt").is_file()  # the registered v2
