"""riskml against MLflow on a real database: ``mlflow server`` with a PostgreSQL backend store.

The session's ``postgres`` fixture starts PostgreSQL in a temporary directory and
``mlflow_postgres`` an ``mlflow server`` on it, serving its artifacts (conftest.py). On a
generated repository, mined and labelled with the real CLI, ``riskml train`` runs twice with
``MLFLOW_TRACKING_URI`` at the server: the first version takes ``champion``; the second, held to
a gate it cannot pass (it must beat the champion by 1.0 ROC-AUC), is compared on the folds of
its rolling evaluation that the champion never trained on — the champion's artifacts fetched
back through the server — and gets ``challenger``. The registry is read back with MlflowClient
and with SQL in PostgreSQL itself, and ``riskml score`` resolves ``models:/<name>@<alias>``
there.
"""

from __future__ import annotations

import json
import subprocess
from statistics import fmean

import pandas as pd
import pytest
from gitrepo import git
from mlflowserver import client_env

from riskml.train.model import TrainedModel

# end to end: PostgreSQL, an mlflow server and the real CLI
pytestmark = pytest.mark.slow

NAME = "pg-risk"
# 1,500 commits: enough labelled history for the five folds of the default rolling evaluation
COMMITS = 1500
# a gate no new version can pass: promoted only when better by 1.0 ROC-AUC; and one other model
# setting (which leaves this model as it was), so the second training is no identical retrain
# (that would register nothing) but a version the gate compares
STRICT = "[train]\npromotion_tolerance = -1.0\nmax_rounds = 2999\n"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A clone of a generated repository, mined and labelled with the real CLI (cwd ``work``)."""
    from conftest import run_cli

    from riskml.synth import generate

    work = tmp_path_factory.mktemp("pg_history")
    sample = generate(work / "sample", commits=COMMITS, seed=7)
    repo = work / "shop"
    subprocess.run(["git", "clone", "-q", str(sample.repo), str(repo)], check=True)
    for args in (
        ("mine", "--repo", str(repo)),
        ("label", "--repo", str(repo), "--incidents", str(sample.incidents)),
    ):
        done = run_cli(*args, cwd=work)
        assert done.returncode == 0, done.stderr[-3000:]
    return {"work": work, "repo": repo}


@pytest.fixture(scope="module")
def trainings(mlflow_postgres, history):
    """``riskml train`` twice against the server: ``{"first", "second"}`` (their metrics.json)."""
    from conftest import run_cli

    work = history["work"]
    (work / "strict.toml").write_text(STRICT)
    out = {}
    for step, extra in (("first", ()), ("second", ("--config", str(work / "strict.toml")))):
        done = run_cli(
            "train", "--repo", str(history["repo"]), "--model-name", NAME,
            "--out-dir", str(work / step), *extra,
            cwd=work, env=client_env(mlflow_postgres["url"]),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        out[step] = json.loads((work / step / "metrics.json").read_text())
    return out


@pytest.fixture
def client(mlflow_postgres, monkeypatch):
    """A MlflowClient on the server; in-process MLflow calls see the server too."""
    from mlflow import MlflowClient

    for key, value in client_env(mlflow_postgres["url"]).items():
        monkeypatch.setenv(key, value)
    return MlflowClient(tracking_uri=mlflow_postgres["url"], registry_uri=mlflow_postgres["url"])


def _sql(mlflow_postgres, query: str, *params) -> list[tuple]:
    import psycopg

    postgres = mlflow_postgres["postgres"]
    with psycopg.connect(postgres.uri("mlflow", driver="")) as conn:
        return conn.execute(query, params).fetchall()


def _local_model(history, step: str) -> TrainedModel:
    """The copy of the version that ``riskml train`` wrote beside its metrics.json."""
    return TrainedModel.load(history["work"] / step / "models" / NAME)


# ---------------------------------------------------------------- the store is PostgreSQL


def test_the_registry_and_the_runs_are_rows_in_postgresql(mlflow_postgres, trainings) -> None:
    assert mlflow_postgres["backend_uri"] == mlflow_postgres["postgres"].uri("mlflow")
    assert mlflow_postgres["backend_uri"].startswith("postgresql+psycopg://riskml@127.0.0.1:")
    versions = _sql(
        mlflow_postgres,
        "SELECT version, run_id FROM model_versions WHERE name = %s ORDER BY version",
        NAME,
    )
    run_ids = [trainings[step]["registry"]["run_id"] for step in ("first", "second")]
    assert versions == [(1, run_ids[0]), (2, run_ids[1])]
    aliases = _sql(
        mlflow_postgres,
        "SELECT alias, version FROM registered_model_aliases WHERE name = %s ORDER BY alias",
        NAME,
    )
    assert aliases == [("challenger", 2), ("champion", 1)]
    # each training's run and its five fold runs under it
    children = _sql(
        mlflow_postgres,
        "SELECT t.value, count(*) FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid "
        "WHERE t.key = 'mlflow.parentRunId' AND t.value = ANY(%s) GROUP BY t.value "
        "ORDER BY t.value",
        run_ids,
    )
    assert children == sorted((run_id, 5) for run_id in run_ids)


def test_the_artifacts_are_under_the_servers_artifact_root(mlflow_postgres, trainings) -> None:
    # the database holds where the artifacts are; the server holds them
    run_ids = [trainings[step]["registry"]["run_id"] for step in ("first", "second")]
    uris = _sql(mlflow_postgres, "SELECT artifact_uri FROM runs WHERE run_uuid = ANY(%s)", run_ids)
    assert len(uris) == 2
    assert all(uri.startswith("mlflow-artifacts:/") for (uri,) in uris)
    saved = list(mlflow_postgres["artifacts"].rglob("trained_model/model.json"))
    assert len(saved) == 2


# ---------------------------------------------------------------- the gate


def test_the_first_training_takes_champion(trainings) -> None:
    registry = trainings["first"]["registry"]
    assert {k: registry[k] for k in ("name", "version", "alias", "decision", "reason")} == {
        "name": NAME,
        "version": "1",
        "alias": "champion",
        "decision": "first",
        "reason": f"no champion for '{NAME}' yet: the first version takes it",
    }


def test_the_second_is_challenger_on_the_folds_the_champion_never_saw(
    client, history, trainings
) -> None:
    registry = trainings["second"]["registry"]
    assert (registry["version"], registry["alias"], registry["decision"]) == (
        "2",
        "challenger",
        "kept",
    )
    assert registry["basis"] == "folds"
    # the folds of the second training's own fold runs (in the store) that begin after the
    # newest change version 1 learned from
    parent = registry["run_id"]
    experiment = client.get_run(parent).info.experiment_id
    folds = client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    by_number = {int(run.data.tags["fold"]): run for run in folds}
    assert sorted(by_number) == [1, 2, 3, 4, 5]
    train_end = pd.Timestamp(_local_model(history, "first").info["train_end"])
    unseen = [k for k, run in sorted(by_number.items())
              if pd.Timestamp(run.data.tags["fold.cutoff"]) > train_end]  # fmt: skip
    assert len(unseen) >= 2
    assert registry["folds"] == unseen
    # the new recipe's value is the mean of those fold runs' ROC-AUC
    tags = client.get_model_version(NAME, "2").tags
    new_value = fmean(by_number[k].data.metrics["riskml.roc_auc"] for k in unseen)
    assert tags["promotion.new_value"] == repr(new_value)
    champion_value = float(tags["promotion.champion_value"])
    span = f"folds {unseen[0]}-{unseen[-1]} of 5"
    assert unseen == list(range(unseen[0], unseen[-1] + 1))
    reason = (
        f"not promoted, champion kept: mean roc_auc over {len(unseen)} folds {new_value:.4f} vs "
        f"champion v1 {champion_value:.4f} ({span}, each tested after the champion's training "
        "data ended; higher is better, tolerance -1)"
    )
    assert registry["reason"] == reason
    assert {k: tags[k] for k in ("promotion.decision", "promotion.basis", "promotion.folds",
                                 "promotion.champion_version", "promotion.reason")} == {
        "promotion.decision": "kept",
        "promotion.basis": "folds",
        "promotion.folds": ",".join(map(str, unseen)),
        "promotion.champion_version": "1",
        "promotion.reason": reason,
    }  # fmt: skip
    assert client.get_run(parent).data.tags["promotion.reason"] == reason


def test_the_client_reads_both_versions_and_their_aliases(client, trainings) -> None:
    model = client.get_registered_model(NAME)
    assert model.aliases == {"champion": "1", "challenger": "2"}
    versions = sorted(client.search_model_versions(f"name = '{NAME}'"), key=lambda v: v.version)
    assert [(str(v.version), v.run_id) for v in versions] == [
        ("1", trainings["first"]["registry"]["run_id"]),
        ("2", trainings["second"]["registry"]["run_id"]),
    ]
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == "2"


# ---------------------------------------------------------------- scoring from the registry


@pytest.fixture(scope="module")
def pending(history, trainings):
    """One commit on top of the mined history: the change release tooling would score."""
    repo = history["repo"]
    (repo / "services").mkdir(exist_ok=True)
    (repo / "services" / "pending.py").write_text("def pending():\n    return 1\n")
    git(repo, "add", "services/pending.py")
    git(repo, "commit", "-q", "-m", "services: add pending")
    return git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(("alias", "step", "version"), [("champion", "first", "1"),
                                                        ("challenger", "second", "2")])  # fmt: skip
def test_score_resolves_an_alias_on_the_server(
    cli, mlflow_postgres, history, trainings, pending, alias, step, version
) -> None:
    from riskml.score import score

    work, repo = history["work"], history["repo"]
    uri = f"models:/{NAME}@{alias}"
    args = ("score", "--repo", str(repo), "--rev", "HEAD", "--model", uri)
    done = cli(*args, cwd=work, env=client_env(mlflow_postgres["url"]))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""
    out = json.loads(done.stdout)
    run_id = trainings[step]["registry"]["run_id"]
    assert {k: out["model"][k] for k in ("name", "version", "run_id")} == {
        "name": NAME, "version": version, "run_id": run_id,
    }  # fmt: skip
    assert [c["id"] for c in out["changes"]] == [pending]
    cache = work / "models" / ".cache" / NAME / version
    assert json.loads((cache / "registry.json").read_text()) == {
        "name": NAME, "version": version, "run_id": run_id,
    }  # fmt: skip
    # the same change scored in process with the copy `riskml train` kept: the same risk
    local = history["work"] / step / "models" / NAME
    expected = score(repo, rev="HEAD", model=str(local),
                     state=work / "data" / "shop" / "changes.state")  # fmt: skip
    assert [c["risk"] for c in out["changes"]] == [c["risk"] for c in expected["changes"]]
    assert out["model"]["thresholds"] == expected["model"]["thresholds"]


# ------------------------------------------------------- the fleet model on the server


def test_fleet_training_the_gate_and_scoring_against_the_server(
    cli, mlflow_postgres, client, tmp_path, synth_small
) -> None:
    """`riskml fleet-train` twice (lightgbm.dask, then local with the per-project runs) and
    `riskml score` of a fleet repository, all against the PostgreSQL-backed server."""
    from fleet_pipeline import fleet_train_pipeline

    got = fleet_train_pipeline(cli, tmp_path, synth_small, env=client_env(mlflow_postgres["url"]))
    versions = sorted(client.search_model_versions("name='change-risk-fleet'"),
                      key=lambda v: int(v.version))  # fmt: skip
    assert [v.version for v in versions] == ["1", "2"]
    champion = client.get_model_version_by_alias("change-risk-fleet", "champion")
    assert got["score"]["model"]["version"] == champion.version
    rows = _sql(mlflow_postgres, "SELECT version FROM model_versions WHERE name = %s "
                "ORDER BY version", "change-risk-fleet")  # fmt: skip
    assert rows == [(1,), (2,)]
    parent = client.get_run(got["evaluation"]["run_id"])
    assert parent.data.tags["riskml.kind"] == "fleet-evaluation"
    nested = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(r.data.tags["riskml.project"] for r in nested) == ["other", "small"]
