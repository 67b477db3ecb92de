"""Model resolution through a registry that is not SQLite: a real ``mlflow server``.

One server per module on 127.0.0.1 (SQLite backend in a temp dir, ``--serve-artifacts``, so
clients see ``mlflow-artifacts:`` URIs: remote artifacts). ``riskml train`` registers a model
on it; ``riskml.score.model`` must then resolve ``models:/<name>@<alias>`` with MlflowClient
(the SQLite fast path does not apply), download the version once into
``<cache_root>/.cache/<name>/<version>/``, and turn a registry error into one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mlflowserver import ServerDidNotStart, client_env, free_port, mlflow_server
from tracking_tables import kamei_table, write_kamei_csv

from riskml.errors import RiskmlError
from riskml.score.model import ModelVersion, current_version, load_model, resolve_version

# end to end: a real mlflow server per module
pytestmark = pytest.mark.slow

NAME = "server-risk"
URI = f"models:/{NAME}@champion"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``mlflow server`` on SQLite at a free port; its URL. Killed (with its workers) at
    teardown."""
    root = tmp_path_factory.mktemp("mlflow_server")
    with contextlib.ExitStack() as stack:
        try:
            started = stack.enter_context(mlflow_server(f"sqlite:///{root / 'backend.db'}", root))
        except ServerDidNotStart as error:
            print(error)
            pytest.skip(str(error).split(";")[0])
        yield started


def _env(server) -> dict[str, str]:
    return client_env(server["url"])


# the gate on one test window, as on SQLite in tests/train/test_tracking.py (the folds' gate is
# tests/train/test_gate.py)
ONE_WINDOW = "[evaluate]\nin_train = false\n"
# one other setting that makes the model, which leaves this one as it was: not an identical
# retrain (that registers nothing), so the gate compares the two
MAX_ROUNDS = "[train]\nmax_rounds = 2999\n"


def _train(cli, server, dataset: Path, cwd: Path, out: str, extra: str = "") -> dict:
    config = cwd / f"one-window-{out}.toml"
    config.write_text(ONE_WINDOW + extra)
    result = cli(
        "train", "--dataset", str(dataset), "--out-dir", str(cwd / out), "--model-name", NAME,
        "--config", str(config),
        cwd=cwd, env=_env(server),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((cwd / out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def trained(server, tmp_path_factory):
    """``riskml train --dataset`` (real CLI) registers version 1 of NAME on the server."""
    from conftest import run_cli

    root = tmp_path_factory.mktemp("server_train")
    dataset = write_kamei_csv(root / "jit.csv", n=1500, seed=5)
    metrics = _train(run_cli, server, dataset, root, "out")
    return {"root": root, "dataset": dataset, "metrics": metrics, "local": root / "out" / "models"}


@pytest.fixture
def remote(server, trained, monkeypatch):
    """In-process calls see the server as tracking store and registry; a MlflowClient on it."""
    from mlflow import MlflowClient

    for key, value in _env(server).items():
        monkeypatch.setenv(key, value)
    return MlflowClient(tracking_uri=server["url"], registry_uri=server["url"])


def _rows(trained, model):
    from riskml.train import load_public_dataset

    data = load_public_dataset(trained["dataset"])
    return data[model.feature_columns].tail(60).reset_index(drop=True)


def _mlflow_error(call) -> str:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as info:
        call()
    return info.value.message


# ---------------------------------------------------------------- resolution


def test_training_registered_version_1_as_champion_on_the_server(remote, trained) -> None:
    registry = trained["metrics"]["registry"]
    assert (registry["name"], registry["version"], registry["decision"]) == (NAME, "1", "first")
    mv = remote.get_model_version(NAME, "1")
    assert mv.run_id == registry["run_id"]
    assert mv.source.startswith("models:/m-")  # a logged model, artifacts behind the server
    download = remote.get_model_version_download_uri(NAME, "1")
    assert download.startswith("mlflow-artifacts:/")


def test_a_server_registry_is_resolved_with_mlflow_not_sqlite(remote) -> None:
    assert resolve_version(URI) is None
    expected = remote.get_model_version_by_alias(NAME, "champion")
    resolved = current_version(URI)
    assert resolved == ModelVersion(NAME, str(expected.version), expected.run_id, expected.source)
    by_number = current_version(f"models:/{NAME}/{expected.version}")
    assert by_number == resolved
    assert current_version("runs:/abc/model") is None


@pytest.mark.parametrize(
    ("uri", "call"),
    [
        (f"models:/{NAME}@nope", lambda c: c.get_model_version_by_alias(NAME, "nope")),
        (f"models:/{NAME}/99", lambda c: c.get_model_version(NAME, "99")),
        ("models:/no-such-model@champion", lambda c: c.get_model_version_by_alias("no-such-model", "champion")),
    ],
)  # fmt: skip
def test_unknown_alias_version_or_model_is_one_line(remote, tmp_path, uri, call) -> None:
    message = _mlflow_error(lambda: call(remote))
    with pytest.raises(RiskmlError) as info:
        load_model(uri, cache_root=tmp_path)
    assert str(info.value) == f"cannot resolve {uri}: {message}"
    assert "\n" not in str(info.value)
    assert not (tmp_path / ".cache").exists()


# ---------------------------------------------------------------- the cached copy


def test_remote_version_is_downloaded_once_into_the_cache(remote, trained, tmp_path) -> None:
    import mlflow.artifacts
    import mlflow.pyfunc

    from riskml.train.model import TrainedModel

    mv = remote.get_model_version_by_alias(NAME, "champion")
    version = str(mv.version)
    loaded = load_model(URI, cache_root=tmp_path)
    assert loaded.describe() | {"thresholds": None} == {
        "name": NAME, "version": version, "run_id": mv.run_id, "thresholds": None,
    }  # fmt: skip
    target = tmp_path / ".cache" / NAME / version
    listing = [version, f"{version}.lock"]  # the copy, and the lock its writers share
    assert sorted(p.name for p in (tmp_path / ".cache" / NAME).iterdir()) == listing
    assert sorted(p.name for p in target.iterdir()) == ["registry.json", "trained_model"]
    meta = json.loads((target / "registry.json").read_text())
    assert meta == {"name": NAME, "version": version, "run_id": mv.run_id}

    stamps = {p: p.stat().st_mtime_ns for p in target.rglob("*")}
    again = load_model(URI, cache_root=tmp_path)
    assert {p: p.stat().st_mtime_ns for p in target.rglob("*")} == stamps  # not downloaded again
    assert sorted(p.name for p in (tmp_path / ".cache" / NAME).iterdir()) == listing

    rows = _rows(trained, loaded.model)
    risk = loaded.model.risk(rows)
    assert np.array_equal(again.model.risk(rows), risk)
    assert np.array_equal(TrainedModel.load(target / "trained_model").risk(rows), risk)
    if version == "1":  # the CLI's own copy of what it registered
        assert np.array_equal(TrainedModel.load(trained["local"] / NAME).risk(rows), risk)
    # MLflow's own loading of the registered pyfunc, from a download of the version
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=remote.get_model_version_download_uri(NAME, version),
        dst_path=str(tmp_path / "pyfunc"),
        tracking_uri=os.environ["MLFLOW_TRACKING_URI"],
    )
    predicted = mlflow.pyfunc.load_model(local).predict(rows)
    assert np.array_equal(predicted["risk"].to_numpy(), risk)
    assert loaded.thresholds == {k: float(v) for k, v in loaded.model.thresholds.items()}


def test_a_cached_copy_of_another_run_is_downloaded_again(remote, tmp_path) -> None:
    mv = remote.get_model_version_by_alias(NAME, "champion")
    meta = tmp_path / ".cache" / NAME / str(mv.version) / "registry.json"
    load_model(URI, cache_root=tmp_path)
    meta.write_text(json.dumps({"name": NAME, "version": str(mv.version), "run_id": "stale"}))
    loaded = load_model(URI, cache_root=tmp_path)
    assert json.loads(meta.read_text())["run_id"] == mv.run_id == loaded.run_id


LOAD_AND_SCORE = """
import sys
from riskml.score.model import load_model
loaded = load_model(sys.argv[1], cache_root=sys.argv[2])
print(loaded.version, loaded.run_id)
"""


def test_processes_downloading_one_version_at_once_share_one_copy(remote, tmp_path) -> None:
    """Several processes (serve --workers, parallel CI jobs) fill the cache at the same moment:
    each gets the model, and the cache holds one copy."""
    import subprocess
    import sys

    mv = remote.get_model_version_by_alias(NAME, "champion")
    env = dict(os.environ)
    procs = [
        subprocess.Popen([sys.executable, "-c", LOAD_AND_SCORE, URI, str(tmp_path)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in outs]
    assert [out.strip() for out, _ in outs] == [f"{mv.version} {mv.run_id}"] * 3
    version = str(mv.version)
    names = sorted(p.name for p in (tmp_path / ".cache" / NAME).iterdir())
    assert names == [version, f"{version}.lock"]
    meta = json.loads((tmp_path / ".cache" / NAME / version / "registry.json").read_text())
    assert meta == {"name": NAME, "version": version, "run_id": mv.run_id}


def test_a_version_without_a_riskml_model_is_one_line_not_a_traceback(remote, tmp_path) -> None:
    """A registered version whose artifacts hold no trained_model (here: the run's plots)."""
    champion = remote.get_model_version_by_alias(NAME, "champion")
    run = remote.get_run(champion.run_id)
    remote.create_registered_model("server-broken")
    broken = remote.create_model_version(
        "server-broken", f"{run.info.artifact_uri}/plots", run_id=champion.run_id
    )
    with pytest.raises(RiskmlError) as info:
        load_model(f"models:/server-broken/{broken.version}", cache_root=tmp_path)
    message = str(info.value)
    assert message.startswith(f"cannot download models:/server-broken/{broken.version}: ")
    assert "trained_model" in message
    assert "\n" not in message
    # nothing half-written is left to be mistaken for a cached copy (only the writers' lock)
    leftover = [p.name for p in (tmp_path / ".cache" / "server-broken").iterdir()]
    assert leftover == [f"{broken.version}.lock"]


# ---------------------------------------------------------------- the real CLI


@pytest.fixture(scope="module")
def mined_repo(trained):
    """A two-commit repository built with git and mined (the CLI scores mined history)."""
    from conftest import run_cli

    root = trained["root"] / "score"
    repo = root / "tiny"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    for i, text in enumerate(("a = 1\n", "b = 2\nc = 3\n")):
        with (repo / "app.py").open("a") as fh:
            fh.write(text)
        stamp = f"{1_700_000_000 + i * 3600} +0000"
        env = dict(os.environ, GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        subprocess.run(["git", "-C", str(repo), "add", "app.py"], check=True)
        subprocess.run(["git", "-C", str(repo), "commit", "-qm", f"c{i}"], check=True, env=env)
    done = run_cli("mine", "--repo", str(repo), cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"root": root, "repo": repo}


def test_cli_scores_with_the_servers_champion(cli, server, remote, mined_repo) -> None:
    from riskml.score import score

    root = mined_repo["root"]
    mv = remote.get_model_version_by_alias(NAME, "champion")
    args = ("score", "--repo", str(mined_repo["repo"]), "--rev", "HEAD", "--model", URI)
    done = cli(*args, cwd=root, env=_env(server))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""  # no download progress bar, no warning
    out = json.loads(done.stdout)
    cache = root / "models" / ".cache" / NAME / str(mv.version)
    assert json.loads((cache / "registry.json").read_text())["run_id"] == mv.run_id
    assert {k: out["model"][k] for k in ("name", "version", "run_id")} == {
        "name": NAME, "version": str(mv.version), "run_id": mv.run_id,
    }  # fmt: skip
    # the same change scored in process with the cached directory: the same risk, exactly
    expected = score(
        mined_repo["repo"],
        rev="HEAD",
        model=str(cache / "trained_model"),
        state=root / "data" / "tiny" / "changes.state",
    )
    assert [c["risk"] for c in out["changes"]] == [c["risk"] for c in expected["changes"]]
    assert out["model"]["thresholds"] == expected["model"]["thresholds"]


def test_cli_unknown_alias_is_exit_2_and_one_line(cli, server, remote, mined_repo) -> None:
    uri = f"models:/{NAME}@nope"
    message = _mlflow_error(lambda: remote.get_model_version_by_alias(NAME, "nope"))
    args = ("score", "--repo", str(mined_repo["repo"]), "--rev", "HEAD", "--model", uri)
    done = cli(*args, cwd=mined_repo["root"], env=_env(server))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"riskml: error: cannot resolve {uri}: {message}\n"


# ---------------------------------------------------------------- the gate on the server


def test_gate_moves_champion_on_the_server_as_on_sqlite(cli, server, remote, trained) -> None:
    """An identical retrain registers nothing; an equal version (one other model setting)
    takes champion (v2); a worse one (training labels shuffled, the same test window) gets
    challenger (v3) and champion stays; scoring follows the alias."""
    root = trained["root"]
    same = _train(cli, server, trained["dataset"], root, "same")["registry"]
    assert (same["version"], same["alias"], same["decision"]) == ("1", "champion", "identical")
    assert [str(v.version) for v in remote.search_model_versions(f"name = '{NAME}'")] == ["1"]
    equal = _train(cli, server, trained["dataset"], root, "equal", MAX_ROUNDS)["registry"]
    assert (equal["version"], equal["alias"], equal["decision"]) == ("2", "champion", "promoted")
    assert str(remote.get_model_version_by_alias(NAME, "champion").version) == "2"

    table = kamei_table(1500, seed=5)  # the same rows write_kamei_csv wrote
    n_test = trained["metrics"]["split"]["n_test"]
    head = len(table) - n_test
    table.loc[: head - 1, "bug"] = np.random.default_rng(0).permutation(
        table["bug"].to_numpy()[:head]
    )
    worse_csv = root / "worse.csv"
    table.to_csv(worse_csv, index=True)
    worse = _train(cli, server, worse_csv, root, "worse")
    step = worse["registry"]
    good_auc = trained["metrics"]["riskml"]["roc_auc"]
    bad_auc = worse["riskml"]["roc_auc"]
    assert bad_auc < good_auc
    assert (step["version"], step["alias"], step["decision"]) == ("3", "challenger", "kept")
    assert step["reason"] == (
        f"not promoted, champion kept: roc_auc {bad_auc:.4f} vs champion v2 {good_auc:.4f} "
        f"on the same {n_test} test changes (higher is better, tolerance 0); compared on one "
        "window, not on folds: [evaluate] in_train = false"
    )
    assert str(remote.get_model_version_by_alias(NAME, "champion").version) == "2"
    assert str(remote.get_model_version_by_alias(NAME, "challenger").version) == "3"
    assert current_version(URI).version == "2"
    assert current_version(f"models:/{NAME}@challenger").run_id == step["run_id"]


def test_an_unreachable_registry_is_one_line_without_minutes_of_retries(monkeypatch) -> None:
    """MLflow's own default (7 retries, back-off factor 2) took 4 min; scoring sets 2 retries
    for the call only and puts the environment back."""
    from riskml.score.model import SCORING_HTTP_DEFAULTS, current_version

    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", closed)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", closed)
    for key in SCORING_HTTP_DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RiskmlError) as info:
        current_version("models:/nowhere@champion")
    message = str(info.value)
    assert message.startswith(
        f"cannot resolve models:/nowhere@champion: API request to {closed}/api/2.0/mlflow/"
    )
    assert "Max retries exceeded" in message
    assert "\n" not in message
    assert [key for key in SCORING_HTTP_DEFAULTS if key in os.environ] == []
