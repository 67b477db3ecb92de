"""riskml.tables: the one boundary for the changes and labels tables."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from riskml import tables
from riskml.errors import RiskmlError
from riskml.tables import (
    CHANGES_COLUMNS,
    parse_cutoff,
    read_changes,
    read_labels,
    split_list,
    write_changes,
    write_labels,
)


def changes_row(sha: str = "a" * 40, repo: str = "app", **over) -> dict:
    """One changes row with every contract column, times as epoch seconds."""
    values = {"int": 1, "float": 0.5, "bool": True, "str": "x", "time": 1_600_000_000}
    row = {c: values[k] for c, k in CHANGES_COLUMNS.items()}
    row.update(commit=sha, repo=repo, subject="NA", critical_areas="", ai_line_share=None)
    row.update(over)
    return row


def changes_frame(repo: str = "app"):
    from riskml.mine.table import to_frame

    return to_frame([changes_row("a" * 40, repo), changes_row("b" * 40, repo, fix=False)])


def labels_frame():
    return tables.normalize_labels(
        pd.DataFrame(
            {
                "commit": ["a" * 40, "b" * 40],
                "label": [1, None],
                "label_source": ["culprit", None],
                "incident_ids": ["INC-1;INC-2", None],
                "severity": ["SEV1", None],
                "known_at": [pd.Timestamp("2024-01-02", tz="UTC"), None],
                "evidence": [None, None],
            }
        )
    )


@pytest.mark.parametrize("suffix", [".parquet", ".pq", ".csv"])
def test_changes_round_trip_keeps_values_and_dtypes(tmp_path, suffix):
    frame = changes_frame()
    path = write_changes(frame, tmp_path / f"changes{suffix}")
    back = read_changes(path)
    pd.testing.assert_frame_equal(back, frame)
    assert back["subject"].tolist() == ["NA", "NA"]  # text, not a missing value
    assert str(back["author_time"].dtype) == "datetime64[ns, UTC]"
    assert back["ai_line_share"].isna().tolist() == [True, True]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_labels_round_trip_keeps_values_and_dtypes(tmp_path, suffix):
    frame = labels_frame()
    back = read_labels(write_labels(frame, tmp_path / f"labels{suffix}"))
    pd.testing.assert_frame_equal(back, frame)
    assert str(back["label"].dtype) == "Int8"
    assert back["label"].tolist()[1] is pd.NA
    assert back["incident_ids"].tolist()[0] == "INC-1;INC-2"


def test_labels_outside_0_1_or_repeated_commits_are_one_line(tmp_path):
    frame = labels_frame()
    frame.loc[0, "label"] = 2
    path = write_labels(frame, tmp_path / "two.parquet")
    with pytest.raises(RiskmlError) as err:
        read_labels(path)
    assert (
        str(err.value)
        == f"{path}: 1 label(s) not 0, 1 or empty (first: commit {'a' * 40}, label 2)"
    )
    twice = pd.concat([labels_frame(), labels_frame().head(1)], ignore_index=True)
    path = write_labels(twice, tmp_path / "twice.parquet")
    with pytest.raises(RiskmlError) as err:
        read_labels(path)
    assert str(err.value) == (
        f"{path}: 1 commit(s) appear more than once (first: {'a' * 40}); "
        "a labels table has one row per commit"
    )


def test_a_csv_renamed_parquet_is_one_line(tmp_path):
    path = tmp_path / "changes.parquet"
    changes_frame().to_csv(path, index=False)  # the wrong kind on purpose
    with pytest.raises(RiskmlError) as err:
        read_changes(path)
    message = str(err.value)
    assert message.startswith(f"{path}: not a readable Parquet changes table (")
    assert "\n" not in message


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(RiskmlError) as err:
        read_changes(tmp_path / "c.txt")
    assert str(err.value) == (
        f"unsupported table format '.txt' for {tmp_path / 'c.txt'}: use .parquet or .csv"
    )
    with pytest.raises(RiskmlError) as err:
        read_labels(tmp_path / "none.parquet")
    assert str(err.value) == f"labels table not found: {tmp_path / 'none.parquet'}"


def test_missing_columns_are_named(tmp_path):
    path = write_changes(changes_frame().drop(columns=["la", "files"]), tmp_path / "c.parquet")
    with pytest.raises(RiskmlError) as err:
        read_changes(path)
    assert str(err.value) == (
        f"{path}: not a changes table of this riskml version (missing la, files)"
    )
    assert len(read_changes(path, required=("commit", "author_time"))) == 2


def test_tables_of_another_repository(tmp_path):
    path = write_changes(changes_frame("other"), tmp_path / "c.parquet")
    with pytest.raises(RiskmlError, match=r"'other'"):
        read_changes(path, repo_name="app")
    labels = write_labels(labels_frame(), tmp_path / "l.parquet")
    with pytest.raises(RiskmlError) as err:
        read_labels(labels, commits=["c" * 40])
    assert str(err.value) == (
        f"{labels}: a labels table of another repository "
        "(none of its 2 commits is in the changes table)"
    )
    assert len(read_labels(labels, commits=["a" * 40])) == 2


@pytest.fixture
def two_repositories(tmp_path):
    """Two one-commit repositories, so two different root commits."""
    from gitrepo import commit, init

    from riskml.gitio import root_commit

    a, b = init(tmp_path / "a"), init(tmp_path / "b")
    commit(a, "a", {"a.txt": "a\n"}, when=1_700_000_000)
    commit(b, "b", {"b.txt": "b\n"}, when=1_700_000_000)
    return a, b, root_commit(a)


def test_a_parquet_table_records_its_repository_and_is_refused_by_another(
    tmp_path, two_repositories
):
    a, b, root = two_repositories
    path = write_changes(changes_frame(), tmp_path / "changes.parquet", root=root)
    changes = read_changes(path)
    assert changes.attrs["root_commit"] == tables.table_root(path) == root
    pd.testing.assert_frame_equal(changes, changes_frame())  # the data is as it was
    tables.check_table_repository(changes, a)
    with pytest.raises(RiskmlError) as err:
        tables.check_table_repository(changes, b, "mine it again")
    assert str(err.value) == (
        f"{path}: a changes table of another repository (its root commit {root[:12]} is not "
        f"in {b}); mine it again"
    )
    # the labels of another repository than the changes table: refused before the overlap
    labels = write_labels(labels_frame(), tmp_path / "labels.parquet", root="f" * 40)
    with pytest.raises(RiskmlError) as err:
        read_labels(labels, changes=changes)
    assert str(err.value) == (
        f"{labels}: a labels table of another repository than {path} "
        f"(root commits ffffffffffff and {root[:12]})"
    )
    ours = write_labels(labels_frame(), tmp_path / "ours.parquet", root=root)
    assert read_labels(ours, changes=changes).attrs["root_commit"] == root


def test_tables_without_a_recorded_repository_are_read_and_pass(tmp_path, two_repositories):
    """Older tables, the public ones, a user's own and a CSV labels table record no
    repository: they are read as before and cannot be checked (the commit overlap still is)."""
    a, b, root = two_repositories
    plain = read_changes(write_changes(changes_frame(), tmp_path / "plain.parquet"))
    assert plain.attrs["root_commit"] is None
    tables.check_table_repository(plain, b)
    csv = read_labels(write_labels(labels_frame(), tmp_path / "labels.csv", root=root))
    assert csv.attrs["root_commit"] is None and tables.table_root(tmp_path / "labels.csv") is None
    tables.check_table_repository(csv, b)
    tables.check_same_repository(plain, csv)
    with pytest.raises(RiskmlError, match="none of its 2 commits is in the changes table"):
        read_labels(tmp_path / "labels.csv", changes=plain.assign(commit=["c" * 40] * 2))


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = write_changes(changes_frame(), tmp_path / "changes.parquet")
    before = path.read_bytes()

    def half_then_fail(self, target, *args, **kwargs):
        with open(target, "wb") as fh:
            fh.write(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_changes(changes_frame(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["changes.parquet"]


def test_the_little_parsers():
    assert split_list("a; b;;c") == ["a", "b", "c"]
    assert split_list(None) == [] and split_list(float("nan")) == [] and split_list(pd.NA) == []
    assert parse_cutoff("2024-01-02") == pd.Timestamp("2024-01-02", tz="UTC")
    assert parse_cutoff("2024-01-02T03:00+02:00") == pd.Timestamp("2024-01-02T01:00", tz="UTC")
    assert parse_cutoff("") is None and parse_cutoff(None) is None
    with pytest.raises(RiskmlError) as err:
        parse_cutoff("soon", name="--cutoff")
    assert str(err.value) == "invalid --cutoff: 'soon' (expected an ISO-8601 date/time)"


def test_train_on_a_csv_changes_table_restores_its_dtypes(tmp_path, monkeypatch):
    """The bug: `riskml train --changes c.csv` read CSV without the dtypes `mine` promises."""
    from riskml.train import from_files, pipeline

    seen = {}

    def capture(config, *, changes, labels, **kwargs):
        seen["changes"], seen["labels"] = changes, labels
        raise RiskmlError("stop here")

    monkeypatch.setattr(pipeline, "train_and_register", capture)
    path = write_changes(changes_frame(), tmp_path / "c.csv")
    labels = write_labels(labels_frame(), tmp_path / "l.csv")
    with pytest.raises(RiskmlError, match="stop here"):
        from_files.train_from_files(changes=path, labels=labels, out_dir=tmp_path, mlflow=False)
    pd.testing.assert_frame_equal(seen["changes"], changes_frame())
    assert seen["changes"]["fix"].dtype == bool
    assert seen["changes"]["critical_areas"].tolist() == ["", ""]
    pd.testing.assert_frame_equal(seen["labels"], labels_frame())


def test_cli_bad_table_is_one_line_exit_2(tmp_path):
    changes = tmp_path / "c.parquet"
    changes.write_text("commit,author_time\nabc,2024-01-01\n")
    labels = write_labels(labels_frame(), tmp_path / "l.csv")
    proc = subprocess.run(
        [sys.executable, "-m", "riskml", "train", "--changes", str(changes),
         "--labels", str(labels), "--no-mlflow"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == f"reading {changes} and {labels}"  # the progress line, then one error
    assert len(lines) == 2 and "Traceback" not in proc.stderr
    assert lines[1].startswith(f"riskml: error: {changes}: not a readable Parquet changes table (")


def test_an_atomic_write_gives_the_mode_a_plain_write_would(tmp_path):
    plain_file = tmp_path / "plain.csv"
    plain_file.write_text("x\n")
    written = write_changes(changes_frame(), tmp_path / "c.parquet")
    assert written.stat().st_mode & 0o777 == plain_file.stat().st_mode & 0o777
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet", "plain.csv"]
