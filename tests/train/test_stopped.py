"""A training stopped part-way, on a real MLflow SQLite store: no run stays RUNNING, no
version reads as promoted without its alias.

- a run riskml opens carries its process (host, pid, start time) and ends KILLED when the
  command is stopped inside it; a run left RUNNING by a process that is gone (SIGKILL) is
  ended KILLED by the next command that opens its experiment;
- the gate registers a version as ``promoted = pending``, moves the alias, then settles the
  version; a failure between the steps, here a monkeypatched one, leaves a version that is
  not promoted, and the next gate settles a version whose training died.

tests/train/test_cli_train_stopped.py stops real `riskml train` processes the same ways.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from riskml.processes import HOST_TAG, PID_TAG, START_TAG, Interrupted, identity, process_start
from riskml.train.gate import register_and_alias, settle_abandoned
from riskml.train.tracking import STALE_TAG, ensure_experiment, riskml_run


def _gone_process() -> dict[str, str]:
    """The identity tags of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(child.pid),
            START_TAG: process_start(child.pid)}  # fmt: skip
    child.kill()
    child.wait()
    return tags


@pytest.fixture
def client(mlflow_uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)


def _status(client, run_id: str) -> str:
    return client.get_run(run_id).info.status


def test_the_next_command_ends_a_run_whose_process_is_gone(client, mlflow_uri) -> None:
    experiment = ensure_experiment("stale-runs", mlflow_uri)
    gone = _gone_process()
    stale = client.create_run(experiment, tags=gone).info.run_id
    mine = client.create_run(experiment, tags=identity()).info.run_id
    elsewhere = client.create_run(
        experiment, tags={HOST_TAG: "elsewhere.invalid", PID_TAG: "1", START_TAG: "x:1"}
    ).info.run_id
    foreign = client.create_run(experiment).info.run_id  # not riskml's: no process tags
    try:
        assert ensure_experiment("stale-runs", mlflow_uri) == experiment
        assert [_status(client, r) for r in (stale, mine, elsewhere, foreign)] == [
            "KILLED", "RUNNING", "RUNNING", "RUNNING",
        ]  # fmt: skip
        run = client.get_run(stale)
        assert run.data.tags[STALE_TAG] == (
            f"its process (pid {gone[PID_TAG]} on {gone[HOST_TAG]}) ended without ending it"
        )
        assert run.info.end_time is not None
    finally:
        for run_id in (mine, elsewhere, foreign):
            client.set_terminated(run_id, "FINISHED")


def test_a_run_stopped_inside_ends_killed_and_names_its_process(client, mlflow_uri) -> None:
    experiment = ensure_experiment("stopped-runs", mlflow_uri)
    with (
        pytest.raises(Interrupted),
        riskml_run(experiment_id=experiment) as parent,
        riskml_run(experiment_id=experiment, nested=True) as child,
    ):
        raise Interrupted(signal.SIGTERM)
    assert _status(client, parent.info.run_id) == "KILLED"
    assert _status(client, child.info.run_id) == "KILLED"
    tags = client.get_run(parent.info.run_id).data.tags
    assert {k: tags[k] for k in (HOST_TAG, PID_TAG, START_TAG)} == identity()

    with pytest.raises(ValueError), riskml_run(experiment_id=experiment) as failed:
        raise ValueError("a bug")
    assert _status(client, failed.info.run_id) == "FAILED"
    with riskml_run(experiment_id=experiment) as finished:
        pass
    assert _status(client, finished.info.run_id) == "FINISHED"


def _version(client, name: str, version: str) -> tuple[dict, list[str]]:
    mv = client.get_model_version(name, version)
    keys = ("promoted", "promotion.decision", "promotion.intended", "promotion.alias")
    return {k: mv.tags.get(k) for k in keys}, sorted(mv.aliases)


FIRST = {"decision": "first", "alias": "champion"}
PROMOTED = {"decision": "promoted", "alias": "champion"}


def test_a_failure_before_the_alias_moves_leaves_a_version_that_is_not_promoted(
    client, monkeypatch
) -> None:
    from mlflow.exceptions import MlflowException

    name = "gate-stopped-before-alias"
    assert register_and_alias(client, name, "file:///tmp/v1", {"x": "1"}, FIRST) == "1"
    assert _version(client, name, "1") == (
        {"promoted": "true", "promotion.decision": "first", "promotion.intended": "first",
         "promotion.alias": "champion"},
        ["champion"],
    )  # fmt: skip

    def unreachable(*args, **kwargs):
        raise MlflowException("the store went away")

    monkeypatch.setattr(client, "set_registered_model_alias", unreachable)
    with pytest.raises(MlflowException):
        register_and_alias(client, name, "file:///tmp/v2", {"x": "2"}, PROMOTED)
    assert _version(client, name, "2") == (
        {"promoted": "false", "promotion.decision": "interrupted",
         "promotion.intended": "promoted", "promotion.alias": "champion"},
        [],
    )  # fmt: skip
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"


def test_the_next_gate_settles_a_version_whose_training_died(client, mlflow_uri) -> None:
    """Killed before the alias moved (v2) or after it moved but before the version was
    settled (v3): the next gate reads where the alias points. A pending version of a live
    training (v4) is left as it is."""
    name = "gate-abandoned"
    experiment = ensure_experiment("gate-abandoned", mlflow_uri)
    register_and_alias(client, name, "file:///tmp/v1", {}, FIRST)

    def pending(tags: dict, intended: str) -> str:
        run_id = client.create_run(experiment, tags=tags).info.run_id
        client.set_terminated(run_id, "KILLED")
        mv = client.create_model_version(
            name, "file:///tmp/v", run_id=run_id,
            tags={"promoted": "pending", "promotion.decision": "pending",
                  "promotion.intended": intended, "promotion.alias": "champion"},
        )  # fmt: skip
        return str(mv.version)

    before_alias = pending(_gone_process(), "promoted")
    after_alias = pending(_gone_process(), "promoted")
    client.set_registered_model_alias(name, "champion", after_alias)
    live = pending(identity(), "promoted")

    assert settle_abandoned(client, name) == [before_alias, after_alias]
    assert _version(client, name, before_alias)[0]["promoted"] == "false"
    assert _version(client, name, before_alias)[0]["promotion.decision"] == "interrupted"
    assert _version(client, name, after_alias) == (
        {"promoted": "true", "promotion.decision": "promoted", "promotion.intended": "promoted",
         "promotion.alias": "champion"},
        ["champion"],
    )  # fmt: skip
    assert _version(client, name, live)[0]["promoted"] == "pending"
    assert settle_abandoned(client, name) == []


def test_a_reader_treats_pending_as_not_promoted() -> None:
    from riskml.train.gate import promoted_version

    assert promoted_version({"promoted": "true", "promotion.decision": "promoted"}) is True
    assert promoted_version({"promoted": "pending", "promotion.decision": "pending"}) is False
    # stopped between settling the decision and the flag: still pending, not promoted
    assert promoted_version({"promoted": "pending", "promotion.decision": "promoted"}) is False
    assert promoted_version({"promoted": "false", "promotion.decision": "kept"}) is False
    # a version registered before the flag existed: its decision says
    assert promoted_version({"promotion.decision": "first"}) is True
    assert promoted_version({"promotion.decision": "kept"}) is False
