"""The fleet model: its training table, the per-project percentiles, lightgbm.dask against
local LightGBM, the per-project evaluation, the project feature at scoring, and
`[serve.repos] fleet = "fleet.toml"`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskml.config import Config
from riskml.fleet.model import (
    PROJECT_PCT_COLUMNS,
    fleet_frame,
    fleet_table,
    format_per_project,
    per_project,
    project_percentiles,
)
from riskml.synth.tables import synthetic_tables
from riskml.tables import FLEET_MARKER, write_fleet_part, write_json
from riskml.train import build_dataset, fit

PROJECTS = (("north", 1500, 0), ("south", 800, 1), ("tiny", 400, 2))


def project_tables(name: str, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One project's generated tables (``riskml.synth.tables``) over 1,000 days, its commits
    its own (the generator numbers them from 0 in every project)."""
    changes, labels = synthetic_tables(n=n, seed=seed, per_day=n / 1000)
    changes["repo"] = name
    for frame in (changes, labels):
        frame["commit"] = [f"{seed + 1:02x}{c[2:]}" for c in frame["commit"]]
    return changes, labels


def write_synthetic_fleet(path: Path, projects=PROJECTS) -> Path:
    """A fleet dataset of generated projects."""
    for name, n, seed in projects:
        changes, labels = project_tables(name, n, seed)
        rows = changes.merge(labels, on="commit", how="left")
        rows["tokens"] = ""
        write_fleet_part(rows, path, name)
    write_json({"riskml_fleet_dataset": 1, "projects": {p[0]: p[1] for p in projects}},
               path / FLEET_MARKER)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def fleet_rows(tmp_path_factory) -> pd.DataFrame:
    return fleet_frame(write_synthetic_fleet(tmp_path_factory.mktemp("fleet") / "fleet.parquet"))


@pytest.fixture(scope="module")
def fleet_fit(fleet_rows):
    """The fleet model of the default configuration, fitted locally (read-only)."""
    return fit(fleet_table(fleet_rows), Config())


def fit_on_workers(table: pd.DataFrame, workers: int):
    """The same fit with every booster on a new LocalCluster of ``workers`` processes."""
    from distributed import Client, LocalCluster

    from riskml.train.model import booster_engine, boosters_on

    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                     dashboard_address=":0") as cluster,
        Client(cluster) as client,
        boosters_on(client),
    ):  # fmt: skip
        assert len(client.scheduler_info()["workers"]) == workers
        assert booster_engine() == "lightgbm.dask"
        return fit(table, Config())


def test_the_fleet_table_is_each_projects_training_table_with_its_name(fleet_rows):
    table = fleet_table(fleet_rows)
    assert len(table) == 2700
    assert table["project"].value_counts().to_dict() == {"north": 1500, "south": 800, "tiny": 400}
    assert table["author_time"].is_monotonic_increasing
    for name, n, seed in PROJECTS:
        changes, labels = project_tables(name, n, seed)
        alone = build_dataset(changes, labels)
        mine = table[table["project"] == name].reset_index(drop=True)
        assert mine["commit"].tolist() == alone["commit"].tolist()
        # the label-history features come from the project's own labels only
        for column in ("file_past_incidents", "label"):
            if column in alone.columns:
                pd.testing.assert_series_equal(mine[column], alone[column], check_names=False)
    assert not set(PROJECT_PCT_COLUMNS) & set(table.columns)
    normalised = fleet_table(fleet_rows, normalise=True)
    assert set(PROJECT_PCT_COLUMNS) <= set(normalised.columns)


def test_project_percentiles_read_only_earlier_rows_of_the_project():
    table = pd.DataFrame({"la": [5, 1, 5, 9], "ld": [0, 0, 1, 1], "lt": [10, 20, 30, 5],
                          "nf": [1, 1, 2, 1]})  # fmt: skip
    pct = project_percentiles(table, window=2)
    assert pct["la_project_pct"].tolist() == [0.5, 0.0, 0.75, 1.0]
    assert pct["churn_project_pct"].tolist() == [0.5, 0.0, 1.0, 1.0]  # la + ld: 5, 1, 6, 10
    assert pct["nf_project_pct"].tolist() == [0.5, 0.5, 1.0, 0.25]
    # a prefix gives the same values: nothing after a row counts
    assert project_percentiles(table.head(3), window=2)["lt_project_pct"].tolist() == (
        pct["lt_project_pct"].head(3).tolist()
    )


def test_the_fleet_model_reads_the_project_and_scores_by_the_repo_name(fleet_fit):
    trained = fleet_fit
    model = trained.model
    assert "project" in model.categorical_columns
    assert model.categories["project"] == ["north", "south", "tiny"]
    rows = trained.test_frame.head(20)
    by_project = model.risk(rows)
    by_repo = model.risk(rows.drop(columns="project"))  # as scoring gets them: repo only
    np.testing.assert_array_equal(by_project, by_repo)


def test_project_weights_reach_the_fleet_fit_and_leave_one_project_alone(fleet_rows):
    import dataclasses

    def fitted(table, weights):
        cfg = Config()
        return fit(table, dataclasses.replace(
            cfg, train=dataclasses.replace(cfg.train, project_weights=weights)))  # fmt: skip

    table = fleet_table(fleet_rows)
    rows = table.head(200)
    sqrt, rows_only = fitted(table, "sqrt"), fitted(table, "rows")
    assert not np.array_equal(sqrt.model.risk(rows), rows_only.model.risk(rows))
    own = table[table["project"] == "north"].drop(columns="project").reset_index(drop=True)
    np.testing.assert_array_equal(
        fitted(own, "balanced").model.risk(own.head(200)),
        fitted(own, "rows").model.risk(own.head(200)),
    )


def test_a_fleet_fits_test_tiers_trail_each_projects_own_changes(fleet_rows, fleet_fit):
    """As `score` tiers a repository's change against that repository's newest unseen changes,
    the fleet fit's test window tiers each project's changes against its own gap and its own
    earlier test changes (not every project's mixed)."""
    from riskml.train.model import trailing_tiers

    table = fleet_table(fleet_rows)
    cfg = Config()
    assert cfg.tiers.reference == "trailing"
    trained = fleet_fit
    split = trained.metrics["split"]
    cut = pd.Timestamp(split["cutoff"])
    start = cut - pd.Timedelta(days=float(split["gap_days"]))
    times = pd.to_datetime(table["author_time"], utc=True)
    test_times = pd.to_datetime(trained.test_frame["author_time"], utc=True)
    tiers = trained.test_predictions["tier"].to_numpy()
    risk = trained.test_predictions["risk_riskml"].to_numpy()
    mixed = []
    for name, _, _ in PROJECTS:
        gap = table[(table["project"] == name) & (times >= start) & (times < cut)]
        reference = trained.model.risk(gap)
        mine = np.flatnonzero((trained.test_frame["project"] == name).to_numpy())
        order = mine[np.argsort(test_times.iloc[mine].to_numpy(), kind="stable")]
        expected = trailing_tiers(
            risk[order], reference, dict(cfg.tiers.shares), cfg.tiers.window,
            trained.test_frame.iloc[order], cfg.tiers.critical_path_floor,
            cfg.tiers.min_reference, trained.model.thresholds,
        )  # fmt: skip
        assert tiers[order].tolist() == expected, name
        mixed.append(len(gap))
    assert min(mixed) > 0  # every project has unseen changes of its own in the gap


@pytest.fixture(scope="module")
def mined_fleet_table(tmp_path_factory) -> pd.DataFrame:
    """The training table of a fleet of four generated repositories of 5,000 commits each
    (20,000 changes), mined and labelled by `riskml fleet`: a fleet's size, where the
    held-out window (3,751 changes) measures a ROC-AUC to a few thousandths."""
    from riskml.fleet import load_fleet, run_fleet
    from riskml.synth.fleet import generate_fleet

    root = tmp_path_factory.mktemp("mined-fleet")
    fleet, _ = generate_fleet(root, [(f"r{s}", 5000, s) for s in range(4)], processes=2)
    result = run_fleet(load_fleet(fleet), root / "data", workers=2)
    assert [row["status"] for row in result.rows] == ["ok"] * 4
    return fleet_table(fleet_frame(result.dataset))


@pytest.mark.slow
def test_lightgbm_dask_on_two_workers_matches_local_lightgbm(mined_fleet_table):
    """Data-parallel LightGBM on two workers is not serial LightGBM (each worker bags its own
    rows and bins its features on its own rows, the histograms are summed in another order),
    but on a fleet's data the two give the same ROC-AUC to 0.005 (docs/fleet.md: seeds 0-5 of
    this fleet 0.0005-0.0025 apart; on a few hundred held-out rows they are not)."""
    table = mined_fleet_table
    assert (len(table), table["project"].nunique()) == (20000, 4)
    local, dask = fit(table, Config()), fit_on_workers(table, 2)
    # the same held-out rows, scored by each
    assert dask.test_predictions["commit"].tolist() == local.test_predictions["commit"].tolist()
    assert len(local.test_predictions) == 3751
    a, b = local.metrics["riskml"]["roc_auc"], dask.metrics["riskml"]["roc_auc"]
    print(f"roc_auc local {a:.4f}, lightgbm.dask {b:.4f}")
    assert abs(a - b) <= 0.005, (a, b)
    assert dask.model.info["params"] == local.model.info["params"]


@pytest.mark.slow
def test_lightgbm_dask_on_one_worker_is_local_lightgbm(fleet_rows, fleet_fit):
    """On one worker data-parallel LightGBM is serial LightGBM: riskml's early stopping for
    lightgbm.dask (refits from the start, cut where lightgbm.early_stopping stops) then gives
    the booster local LightGBM gives, round for round."""
    local, dask = fleet_fit, fit_on_workers(fleet_table(fleet_rows), 1)
    for key in ("best_iteration", "rounds", "params"):
        assert dask.model.info[key] == local.model.info[key], key
    np.testing.assert_allclose(
        dask.test_predictions["risk_riskml"], local.test_predictions["risk_riskml"], rtol=1e-9
    )
    assert dask.metrics["riskml"]["roc_auc"] == pytest.approx(local.metrics["riskml"]["roc_auc"])


def test_per_project_evaluation_tests_both_models_on_the_projects_own_folds(fleet_rows):
    import dataclasses

    table = fleet_table(fleet_rows)
    cfg = Config()
    cfg = dataclasses.replace(cfg, evaluate=dataclasses.replace(cfg.evaluate, folds=3))
    unweighted = dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, project_weights="rows")
    )
    rows = per_project(table, cfg, label_mode="incidents", projects=["tiny"],
                       compare={"rows": unweighted, "again": cfg})  # fmt: skip
    (row,) = rows
    assert (row.project, row.changes, row.labelled) == ("tiny", 400, 361)
    assert [f["fold"] for f in row.folds] == [1, 2, 3]
    own = table[table["project"] == "tiny"]
    for fold in row.folds:
        # the fleet model is tested on exactly the project's own test window
        cut = pd.Timestamp(fold["cutoff"])
        assert fold["n"] == fold["fleet_n"] > 0 and pd.to_datetime(own["author_time"]).max() >= cut
        assert 0 <= fold["own_roc_auc"] <= 1 and 0 <= fold["fleet_roc_auc"] <= 1
        # a compared configuration is tested on the same rows: the same one gives the same AUC
        assert fold["fleet_again_n"] == fold["fleet_rows_n"] == fold["n"]
        assert fold["fleet_again_roc_auc"] == fold["fleet_roc_auc"]
    assert [f["fleet_rows_roc_auc"] for f in row.folds] != [f["fleet_roc_auc"] for f in row.folds]
    assert row.other_fleets() == ["fleet_rows", "fleet_again"]
    assert row.summary()["fleet_again_roc_auc"] == row.summary()["fleet_roc_auc"]
    text = format_per_project(rows).splitlines()
    assert text[0].split() == ["project", "changes", "labelled", "pos", "folds", "own", "fleet",
                               "fleet:rows", "fleet:again", "fleet-own", "fleet>=own"]  # fmt: skip
    assert text[1].split()[6] == text[1].split()[8] == f"{row.summary()['fleet_roc_auc']:.4f}"
    assert text[1].split()[:5] == ["tiny", "400", "361", str(row.positives), "3/3"]
    assert text[-1].startswith("fleet >= own on ")


def test_serve_repos_fleet_entry_is_every_repository_of_the_fleet_file(tmp_path):
    import dataclasses

    from riskml.serve import served_repos

    for name in ("one", "two", "three"):
        (tmp_path / "clones" / name).mkdir(parents=True)
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[[repo]]\npath = "clones/*"\n', encoding="utf-8")
    cfg = Config()
    cfg = dataclasses.replace(
        cfg, serve=dataclasses.replace(cfg.serve, repos={"fleet": str(fleet), "two": "/srv/x"})
    )
    assert served_repos(cfg) == {
        "two": "/srv/x",  # its own entry wins
        "one": str(tmp_path / "clones" / "one"),
        "three": str(tmp_path / "clones" / "three"),
    }
    folder = dataclasses.replace(
        cfg, serve=dataclasses.replace(cfg.serve, repos={"fleet": str(tmp_path)})
    )
    assert served_repos(folder) == {"fleet": str(tmp_path)}  # a repository named fleet
