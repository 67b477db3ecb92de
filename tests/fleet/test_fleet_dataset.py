"""The fleet dataset's files, its publication by rename, and one repository's task in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskml.config import data_paths
from riskml.errors import RiskmlError
from riskml.fleet import FleetRepo
from riskml.fleet.dataset import check_target, new_staging, publish, write_project
from riskml.fleet.task import SUMMARY_KEYS, mine_and_label
from riskml.tables import (
    FLEET_COLUMNS,
    OPTIONAL_CHANGES_COLUMNS,
    read_changes,
    read_fleet,
    read_labels,
    read_tokens,
    tokens_path,
    write_changes,
    write_labels,
)


@pytest.fixture(scope="module")
def small(tmp_path_factory, synth_small):
    """synth_small mined and labelled (proxy labels) into ``data/small/``, in process."""
    from riskml.label import label_file
    from riskml.mine.miner import mine_file

    data = tmp_path_factory.mktemp("fleet-data") / "data"
    paths = data_paths("small", data)
    mine_file(synth_small.repo, out=paths.changes, repo_name="small")
    label_file(synth_small.repo, paths.changes, data_dir=data)
    return paths


def _older(small, data: Path, name: str):
    """``small``'s tables as a riskml before the diff-content columns wrote them: no such
    columns, no tokens file."""
    changes = read_changes(small.changes)
    paths = data_paths(name, data)
    write_changes(changes.drop(columns=list(OPTIONAL_CHANGES_COLUMNS)), paths.changes)
    write_labels(read_labels(small.labels), paths.labels)
    return paths


def test_projects_of_different_ages_read_back_as_one_dask_frame(tmp_path: Path, small):
    old = _older(small, tmp_path / "data", "old 1%")
    dataset = tmp_path / "fleet.parquet"
    staging = new_staging(dataset)
    assert write_project(staging, "new", small.changes, small.labels) == 400
    assert write_project(staging, "old 1%", old.changes, old.labels) == 400
    assert publish(staging, dataset, {"old 1%": 400, "new": 400}) == dataset
    assert not staging.exists()
    assert sorted(p.name for p in dataset.iterdir()) == [
        "_fleet.json", "project=new", "project=old%201%25",
    ]  # fmt: skip
    frame = read_fleet(dataset)
    assert list(frame.columns) == [*FLEET_COLUMNS, "project"]
    rows = frame.compute()
    assert rows.groupby("project", observed=True).size().to_dict() == {"new": 400, "old 1%": 400}
    changes, labels = read_changes(small.changes), read_labels(small.labels)
    tokens = read_tokens(tokens_path(small.changes))
    new = rows[rows["project"] == "new"]
    assert new["commit"].tolist() == changes["commit"].tolist()
    assert new["la"].tolist() == changes["la"].tolist()
    assert new["label"].tolist() == labels["label"].tolist()
    assert new["tokens"].tolist() == tokens["tokens"].tolist()
    aged = rows[rows["project"] == "old 1%"]
    assert aged["error_handling"].isna().all() and new["error_handling"].notna().all()
    assert aged["tokens"].tolist() == [""] * 400  # no tokens file beside its table
    assert (aged["la"].tolist(), aged["repo"].iloc[0]) == (changes["la"].tolist(), "small")
    assert str(rows["label"].dtype) == "Int8" and str(rows["project"].dtype) == "category"


def test_publishing_replaces_an_earlier_dataset_only(tmp_path: Path, small):
    dataset = tmp_path / "fleet.parquet"
    for name in ("a", "b"):
        staging = new_staging(dataset)
        write_project(staging, name, small.changes, small.labels)
        publish(staging, dataset, {name: 400})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.parquet", "fleet.parquet.lock"]
    assert sorted(p.name for p in dataset.iterdir()) == ["_fleet.json", "project=b"]
    marker = json.loads((dataset / "_fleet.json").read_text(encoding="utf-8"))
    assert marker == {"riskml_fleet_dataset": 1, "projects": {"b": 400}}
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("a user's file\n", encoding="utf-8")
    with pytest.raises(RiskmlError) as caught:
        check_target(other)
    assert str(caught.value) == (
        f"--out {other} is a folder that is not a fleet dataset (no _fleet.json); "
        "choose another path"
    )
    with pytest.raises(RiskmlError) as caught:
        read_fleet(other)
    assert str(caught.value) == f"{other}: not a fleet dataset (no _fleet.json; see riskml fleet)"
    with pytest.raises(RiskmlError) as caught:
        check_target(other / "keep.txt")
    assert str(caught.value) == f"--out {other / 'keep.txt'} exists and is not a folder"


def test_a_repository_that_cannot_run_is_a_summary_not_an_exception(tmp_path: Path, synth_small):
    missing = FleetRepo("gone", tmp_path / "gone")
    row = mine_and_label(missing, str(tmp_path / "data"))
    assert list(row) == list(SUMMARY_KEYS)
    assert {k: v for k, v in row.items() if k != "seconds"} == {
        **dict.fromkeys(k for k in SUMMARY_KEYS if k != "seconds"),
        "repo": "gone",
        "path": str(tmp_path / "gone"),
        "status": "failed",
        "reason": f"not a git repository: {tmp_path / 'gone'} does not exist",
        "warnings": [],
    }
    no_file = FleetRepo("small", synth_small.repo, incidents=tmp_path / "none.csv")
    row = mine_and_label(no_file, str(tmp_path / "data"))
    assert (row["status"], row["reason"], row["mined"]) == (
        "failed",
        f"incidents file not found: {tmp_path / 'none.csv'}",
        None,
    )
    unknown = FleetRepo("small", synth_small.repo, main_branch="release")
    row = mine_and_label(unknown, str(tmp_path / "data"))
    assert (row["status"], row["reason"]) == ("failed", "unknown revision: release")
    assert not (tmp_path / "data").exists()


def test_a_dataset_that_cannot_be_written_is_one_line(tmp_path: Path):
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(RiskmlError) as caught:
        new_staging(tmp_path / "file" / "fleet.parquet")
    assert str(caught.value) == (
        f"--out {tmp_path / 'file' / 'fleet.parquet'}: cannot write beside it (Not a directory)"
    )
