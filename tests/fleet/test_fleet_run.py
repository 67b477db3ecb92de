"""`run_fleet` on a real 2-worker LocalCluster (processes): summaries, failures, incremental
runs, tables identical to `riskml mine`/`label` alone, and the dataset read back with Dask."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from fleet_repos import ALPHA_TOML, BROKEN, GOOD, FleetRepos, add_commits, build_fleet

from riskml.fleet import FleetResult, load_fleet, run_fleet
from riskml.mine import load_state
from riskml.tables import FLEET_COLUMNS, read_changes, read_fleet, read_labels, tokens_path

# a Dask cluster of worker processes, twice, and the real CLI for the comparison
pytestmark = pytest.mark.slow

FIELDS = ("repo", "status", "mined", "rows", "labelled", "positive", "labels")


@dataclass
class Ran:
    repos: FleetRepos
    root: Path
    first: FleetResult
    second: FleetResult
    new_commits: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Ran:
    """The fleet run twice on 2 workers: once from nothing, once after 2 new commits on beta
    (the data folder after the first run is kept as ``after-first``)."""
    root = tmp_path_factory.mktemp("fleet")
    repos = build_fleet(root / "repos")
    fleet = load_fleet(repos.fleet)
    first = run_fleet(fleet, root / "data", workers=2)
    shutil.copytree(root / "data", root / "after-first")
    new = add_commits(repos.beta, 2)
    second = run_fleet(fleet, root / "data", workers=2)
    return Ran(repos, root, first, second, new)


def _fields(result: FleetResult) -> list[tuple]:
    return [tuple(row[k] for k in FIELDS) for row in result.rows]


def test_every_repository_is_reported_in_file_order(ran: Ran):
    assert _fields(ran.first) == [
        ("alpha", "ok", 300, 300, 154, 41, "incidents"),
        ("beta", "ok", 250, 250, 71, 35, "proxy"),
        ("gamma lab", "ok", 200, 200, 40, 29, "incidents"),
        ("empty", "failed", None, None, None, None, None),
        ("plain", "failed", None, None, None, None, None),
        ("shallow", "failed", None, None, None, None, None),
        ("noisy", "failed", 250, 250, None, None, None),
    ]
    assert ran.first.cluster == "LocalCluster, 2 worker(s)"


def test_a_failing_repository_has_its_one_line_reason(ran: Ran):
    broken = ran.repos.root / "broken"
    reasons = {row["repo"]: row["reason"] for row in ran.first.rows}
    assert [reasons[name] for name in GOOD] == [None, None, None]
    assert reasons["empty"] == f"{broken / 'empty'}: the repository has no commits"
    assert reasons["plain"] == f"not a git repository: {broken / 'plain'}"
    assert reasons["shallow"] == (
        f"{broken / 'shallow'}: a shallow clone, too little history (run git fetch --unshallow)"
    )
    noisy = ran.repos.root / "noisy-incidents.csv"
    assert reasons["noisy"] == f"{noisy}: holds NUL bytes: not a text incidents file"
    # what ran before the failure stays: noisy's changes table, and no labels table
    assert (ran.data / "noisy" / "changes.parquet").is_file()
    assert not (ran.data / "noisy" / "labels.parquet").exists()
    assert not any((ran.data / name).exists() for name in BROKEN)


def test_a_second_run_mines_only_the_new_commits(ran: Ran):
    assert _fields(ran.second)[:3] == [
        ("alpha", "ok", 0, 300, 154, 41, "incidents"),
        ("beta", "ok", 2, 252, 71, 35, "proxy"),
        ("gamma lab", "ok", 0, 200, 40, 29, "incidents"),
    ]
    beta = read_changes(ran.data / "beta" / "changes.parquet")
    assert beta["commit"].tolist()[-2:] == ran.new_commits
    first = read_changes(ran.root / "after-first" / "beta" / "changes.parquet")
    assert beta.iloc[:250].equals(first)  # the old rows as they were


def _plain(value):
    """A mining state as plain data (sets sorted: their pickled order follows string hashing,
    which differs from process to process, so two equal states differ in bytes)."""
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__") or hasattr(value, "__slots__"):
        names = list(getattr(value, "__dict__", {})) + list(getattr(value, "__slots__", ()))
        return {"type": type(value).__name__, **{n: _plain(getattr(value, n)) for n in names}}
    return value


FILES = ("changes.parquet", "labels.parquet", "labels.report.json")


@pytest.mark.parametrize("name", ["alpha", "gamma lab"])
def test_the_tables_are_byte_for_byte_what_mine_and_label_write_alone(ran: Ran, cli, name):
    repos = ran.repos
    repo, incidents = {
        "alpha": (repos.alpha, repos.alpha_incidents),
        "gamma lab": (repos.gamma, repos.gamma_incidents),
    }[name]
    alone = ran.root / f"alone-{name}"
    config = ran.root / f"{name}.toml"
    # the fleet's critical paths for this repository, as riskml.toml: [defaults] plus its own
    config.write_text(
        ALPHA_TOML if name == "alpha" else '[critical_paths]\npayments = ["payments/**"]\n',
        encoding="utf-8",
    )
    common = ("--config", str(config), "--data-dir", str(alone))
    mined = cli("mine", "--repo", str(repo), "--rev", "main", "--repo-name", name, *common)
    assert mined.returncode == 0, mined.stderr
    changes = alone / name / "changes.parquet"
    labelled = cli("label", "--repo", str(repo), "--changes", str(changes),
                   "--incidents", str(incidents), *common)  # fmt: skip
    assert labelled.returncode == 0, labelled.stderr
    fleet = ran.root / "after-first" / name
    for file in FILES:
        assert (fleet / file).read_bytes() == (alone / name / file).read_bytes(), file
    # the tokens file is a companion of the table's bytes (riskml.snapshot): the same bytes
    tokens = tokens_path(fleet / "changes.parquet")
    assert tokens.relative_to(fleet) == tokens_path(changes).relative_to(alone / name)
    assert tokens.read_bytes() == tokens_path(changes).read_bytes()
    cache = sorted(p.relative_to(fleet) for p in (fleet / "szz-cache").rglob("*.json"))
    assert len(cache) > 0
    assert cache == sorted(
        p.relative_to(alone / name) for p in (alone / name / "szz-cache").rglob("*.json")
    )
    for rel in cache:
        assert (fleet / rel).read_bytes() == (alone / name / rel).read_bytes()
    # the state files hold sets, whose order follows each process's string hashing: equal content
    assert _plain(load_state(fleet / "changes.state")) == _plain(
        load_state(alone / name / "changes.state")
    )
    areas = set(read_changes(fleet / "changes.parquet")["critical_areas"])
    assert areas == ({"", "payments", "search", "payments;search"} if name == "alpha"
                     else {"", "payments"})  # fmt: skip


def test_the_dataset_reads_back_with_dask_one_partition_a_project(ran: Ran):
    dataset = ran.data / "fleet.parquet"
    assert ran.second.dataset == dataset
    assert ran.second.projects == {"alpha": 300, "beta": 252, "gamma lab": 200}
    assert sorted(p.name for p in dataset.iterdir()) == [
        "_fleet.json", "project=alpha", "project=beta", "project=gamma%20lab",
    ]  # fmt: skip
    frame = read_fleet(dataset)
    assert frame.npartitions == 3
    assert list(frame.columns) == [*FLEET_COLUMNS, "project"]
    rows = frame.compute()
    assert rows.groupby("project", observed=True).size().to_dict() == {
        "alpha": 300,
        "beta": 252,
        "gamma lab": 200,
    }
    for name in GOOD:
        own = rows[rows["project"] == name]
        changes = read_changes(ran.data / name / "changes.parquet")
        labels = read_labels(ran.data / name / "labels.parquet")
        assert own["commit"].tolist() == changes["commit"].tolist()
        assert own["la"].tolist() == changes["la"].tolist()
        assert own["label"].tolist() == labels["label"].tolist()
        assert set(own["repo"]) == {name}
    by_project = rows.groupby("project", observed=True)["label"]
    assert by_project.sum().to_dict() == {"alpha": 41, "beta": 35, "gamma lab": 29}
    assert by_project.count().to_dict() == {"alpha": 154, "beta": 71, "gamma lab": 40}
    beta = rows[rows["project"] == "beta"]
    assert beta["commit"].tolist()[-2:] == ran.new_commits
    assert beta["label"].isna().tolist()[-2:] == [True, True]  # too young to be known


def test_an_existing_cluster_is_joined_by_its_scheduler_address(ran: Ran):
    from distributed import LocalCluster

    only = ran.root / "gamma-only.toml"
    only.write_text(
        f'[[repo]]\nname = "gamma lab"\npath = "{ran.repos.gamma}"\nincidents = '
        f'"{ran.repos.gamma_incidents}"\ncritical_paths = {{ payments = ["payments/**"] }}\n',
        encoding="utf-8",
    )
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster:
        result = run_fleet(load_fleet(only), ran.data, ran.root / "gamma.parquet",
                           scheduler=cluster.scheduler_address)  # fmt: skip
    assert result.cluster == f"scheduler {cluster.scheduler_address}"
    assert _fields(result) == [("gamma lab", "ok", 0, 200, 40, 29, "incidents")]
    assert result.projects == {"gamma lab": 200}
