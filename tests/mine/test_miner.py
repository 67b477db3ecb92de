"""`riskml mine`: exact values of every column on a small hand-built repository."""

from __future__ import annotations

from math import log2
from pathlib import Path

import pandas as pd
import pytest
from test_mine_repos import DAY, HOUR, T0

from riskml.mine import COLUMNS, load_state, mine, read_table, state_path
from riskml.mine.features import CONTENT_COLUMNS


def _h(*ps: float) -> float:
    return -sum(p * log2(p) for p in ps)


def content(**counts) -> dict:
    """The diff-content columns: zero unless told (no keyword is in these commits' lines)."""
    base = dict.fromkeys(CONTENT_COLUMNS, 0)
    base["comments_only"] = False
    return {**base, **counts}


# Hand-computed, column by column (see build_history for the story of each commit).
EXPECTED = {
    "c1": dict(
        author_email="alice@x.example", author_time=T0, commit_time=T0, subject="initial",
        la=9, ld=0, lt=0, nf=3, nd=3, ns=3,
        entropy=_h(3 / 9, 2 / 9, 4 / 9), entropy_norm=_h(3 / 9, 2 / 9, 4 / 9) / log2(3),
        fix=False, is_revert=False, ndev=0, age=0.0, nuc=0,
        exp=0, rexp=0.0, sexp=0, author_file_commits=0, first_touch_files=3, owned_share=0.0,
        author_tenure_days=0.0,
        touches_critical=True, n_critical_files=1, critical_areas="payments",
        n_test_files=0, n_config_files=0, n_migration_files=0, n_dependency_files=0,
        ai_provenance="human", ai_tool="", ai_evidence="", ai_line_share=None,
        hour=10, weekday=0, n_added_files=3, n_deleted_files=0, n_renamed_files=0,
        n_binary_files=0, files="README.md;payments/pay.py;src/app.py",
        **content(),
    ),
    "c2": dict(
        author_email="bob@x.example", author_time=T0 + DAY, commit_time=T0 + DAY,
        subject="Fix crash in app (#12)",
        la=3, ld=1, lt=4, nf=2, nd=2, ns=2, entropy=0.0, entropy_norm=0.0,
        fix=True, is_revert=False,
        ndev=1, age=(1.0 + 0.0) / 2, nuc=1,  # the binary file is new: age 0
        exp=0, rexp=0.0, sexp=0, author_file_commits=0, first_touch_files=2, owned_share=0.0,
        author_tenure_days=0.0,
        touches_critical=False, n_critical_files=0, critical_areas="",
        n_test_files=0, n_config_files=0, n_migration_files=0, n_dependency_files=0,
        ai_provenance="human", ai_tool="", ai_evidence="", ai_line_share=None,
        hour=10, weekday=1, n_added_files=1, n_deleted_files=0, n_renamed_files=0,
        n_binary_files=1, files="assets/logo.png;src/app.py",
        **content(),
    ),
    "c3": dict(
        author_email="alice@x.example", author_time=T0 + 2 * DAY + HOUR,
        commit_time=T0 + 2 * DAY + 2 * HOUR, subject="Refactor the app",
        la=1, ld=3, lt=2 + 2 + 6 + 1, nf=3, nd=3, ns=3,  # README 3, pay.py 2, app.py 6
        entropy=1.5, entropy_norm=1.5 / log2(3), fix=False, is_revert=False,
        # the rename keeps app.py's history: authors alice+bob, commits c1+c2
        ndev=2, age=((2 + 1 / 24) * 2 + (1 + 1 / 24)) / 3, nuc=2,
        exp=1, rexp=1.0, sexp=1, author_file_commits=1, first_touch_files=0,
        owned_share=3 / 3,  # app.py: alice 1, bob 1 -- a tie counts as owned
        author_tenure_days=2 + 1 / 24,
        touches_critical=True, n_critical_files=1, critical_areas="payments",
        n_test_files=0, n_config_files=0, n_migration_files=0, n_dependency_files=0,
        ai_provenance="ai_assisted", ai_tool="claude", ai_model="Claude Opus 4",
        ai_evidence="trailer:co-authored-by claude", ai_line_share=None,
        hour=11, weekday=2, n_added_files=0, n_deleted_files=1, n_renamed_files=1,
        n_binary_files=0, files="README.md;payments/pay.py;src/main.py",
        **content(),
    ),
    "c4": dict(
        author_email="carol@x.example", author_time=T0 + 3 * DAY, commit_time=T0 + 3 * DAY,
        subject="Add tests",
        la=3, ld=0, lt=0, nf=2, nd=2, ns=2, entropy=_h(1 / 3, 2 / 3),
        entropy_norm=_h(1 / 3, 2 / 3), fix=False, is_revert=False,
        ndev=0, age=0.0, nuc=0,
        exp=0, rexp=0.0, sexp=0, author_file_commits=0, first_touch_files=2, owned_share=0.0,
        author_tenure_days=0.0,
        touches_critical=False, n_critical_files=0, critical_areas="",
        n_test_files=1, n_config_files=1, n_migration_files=0, n_dependency_files=0,
        ai_provenance="human", ai_tool="", ai_evidence="", ai_line_share=None,
        hour=10, weekday=3, n_added_files=2, n_deleted_files=0, n_renamed_files=0,
        n_binary_files=0, files="config/app.yaml;tests/test_main.py",
        **content(config_key_lines=1),
    ),
    "c5": dict(
        author_email="bob@x.example", author_time=T0 + 4 * DAY, commit_time=T0 + 4 * DAY,
        subject="Tune main",
        la=1, ld=0, lt=7, nf=1, nd=1, ns=1, entropy=0.0, entropy_norm=0.0,
        fix=False, is_revert=False,
        ndev=2, age=2 - 1 / 24, nuc=3,
        exp=1, rexp=1.0, sexp=1, author_file_commits=1, first_touch_files=0,
        owned_share=0.0,  # main.py: alice 2 (c1, c3), bob 1
        author_tenure_days=3.0,
        touches_critical=False, n_critical_files=0, critical_areas="",
        n_test_files=0, n_config_files=0, n_migration_files=0, n_dependency_files=0,
        ai_provenance="human", ai_tool="", ai_evidence="", ai_line_share=None,
        hour=10, weekday=4, n_added_files=0, n_deleted_files=0, n_renamed_files=0,
        n_binary_files=0, files="src/main.py",
        **content(),
    ),
    "c7": dict(
        author_email="carol@x.example", author_time=T0 + 400 * DAY,
        commit_time=T0 + 400 * DAY, subject='Revert "Add tests"',
        la=1, ld=1, lt=8 + 2, nf=2, nd=2, ns=2, entropy=1.0, entropy_norm=1.0,
        fix=False, is_revert=True,
        ndev=3, age=(396 + 397) / 2, nuc=5,
        exp=1, rexp=1 / 2, sexp=1, author_file_commits=1, first_touch_files=1,
        owned_share=1 / 2, author_tenure_days=397.0,
        touches_critical=False, n_critical_files=0, critical_areas="",
        n_test_files=1, n_config_files=0, n_migration_files=0, n_dependency_files=0,
        ai_provenance="human", ai_tool="", ai_evidence="", ai_line_share=None,
        hour=10, weekday=1, n_added_files=0, n_deleted_files=0, n_renamed_files=0,
        n_binary_files=0, files="src/main.py;tests/test_main.py",
        **content(test_lines_deleted=1),
    ),
    "c8": dict(
        author_email="alice@x.example", author_time=T0 + 800 * DAY + 3 * HOUR,
        commit_time=T0 + 800 * DAY + 3 * HOUR, subject="Schema",
        la=4, ld=0, lt=0, nf=2, nd=2, ns=2, entropy=_h(3 / 4, 1 / 4),
        entropy_norm=_h(3 / 4, 1 / 4), fix=False, is_revert=False,
        ndev=0, age=0.0, nuc=0,
        # c1 and c3 are both 2 whole years back; the merge m6 is not a change
        exp=2, rexp=1 / 3 + 1 / 3, sexp=2, author_file_commits=0, first_touch_files=2,
        owned_share=0.0, author_tenure_days=800 + 3 / 24,
        touches_critical=True, n_critical_files=1, critical_areas="migrations",
        n_test_files=0, n_config_files=0, n_migration_files=1, n_dependency_files=1,
        ai_provenance="human", ai_tool="", ai_evidence="", ai_line_share=0.5,
        ai_lines_added=2,  # the note {"ai_lines": 2}
        hour=13, weekday=2, n_added_files=2, n_deleted_files=0, n_renamed_files=0,
        n_binary_files=0, files="migrations/0001_init.sql;requirements.txt",
        **content(dependency_lines=1),
    ),
    "c9": dict(
        author_email="198982749+copilot@users.noreply.github.com",
        author_time=T0 + 801 * DAY, commit_time=T0 + 801 * DAY, subject="Caf\ufffd update",
        la=1, ld=0, lt=1, nf=1, nd=1, ns=1, entropy=0.0, entropy_norm=0.0,
        fix=False, is_revert=False,
        ndev=1, age=1 - 3 / 24, nuc=1,
        exp=0, rexp=0.0, sexp=0, author_file_commits=0, first_touch_files=1, owned_share=0.0,
        author_tenure_days=0.0,
        touches_critical=False, n_critical_files=0, critical_areas="",
        n_test_files=0, n_config_files=0, n_migration_files=0, n_dependency_files=1,
        ai_provenance="ai_agent", ai_tool="copilot",
        ai_evidence="author:copilot-swe-agent[bot]", ai_line_share=None,
        hour=10, weekday=3, n_added_files=0, n_deleted_files=0, n_renamed_files=0,
        n_binary_files=0, files="requirements.txt",
        **content(dependency_lines=1),
    ),
}  # fmt: skip

# The touched files' own past (riskml.mine.file_past), hand-computed for the same story.
# Commit indices: c1 0, c2 1, c3 2, c4 3, c5 4, c7 5, c8 6, c9 7; c2 is the only fix.
_NO_PAST = dict(
    file_fixes=0,
    file_fixes_decay=0.0,
    dir_fixes=0,
    file_reverts=0,
    age_min=0.0,
    age_max=0.0,
    file_age_min=0.0,
    file_age_max=0.0,
    minor_contributors=0,
    minor_share=0.0,
    top_owner_share=1.0,
    author_share_min=0.0,
    coupled_partners=0,
    coupled_missing=0,
    coupled_missing_share=0.0,
    recent_file_commits=0,
    recent_churn=0,
    recent_devs=0,
)
PAST = {
    "c1": _NO_PAST,
    "c2": _NO_PAST | dict(  # app.py: c1 by alice (4 lines)
        age_min=1.0, age_max=1.0, file_age_min=1.0, file_age_max=1.0,
        recent_file_commits=1, recent_churn=4, recent_devs=1,
    ),
    "c3": _NO_PAST | dict(  # README, pay.py (c1), app.py through its rename (c1, c2 the fix)
        file_fixes=1, file_fixes_decay=0.5 ** ((1 + 1 / 24) / 90), dir_fixes=1,  # src/
        age_min=1 + 1 / 24, age_max=2 + 1 / 24, file_age_min=2 + 1 / 24, file_age_max=2 + 1 / 24,
        top_owner_share=1 / 2, author_share_min=1 / 2,  # app.py: alice 1, bob 1
        recent_file_commits=2, recent_churn=3 + 2 + 4 + 4, recent_devs=2,
    ),
    "c4": _NO_PAST,
    "c5": _NO_PAST | dict(  # main.py: c1, c2, c3; 3 coupling commits, no partner in 3 of them
        file_fixes=1, file_fixes_decay=0.5 ** (3 / 90), dir_fixes=1,
        age_min=2 - 1 / 24, age_max=2 - 1 / 24, file_age_min=4.0, file_age_max=4.0,
        top_owner_share=2 / 3, author_share_min=1 / 3,
        recent_file_commits=3, recent_churn=4 + 4 + 1, recent_devs=2,
    ),
    "c7": _NO_PAST | dict(  # main.py (c1 c2 c3 c5), test_main.py (c4); nothing in 30 days
        file_fixes=1, file_fixes_decay=0.5 ** (399 / 90), dir_fixes=1,
        age_min=396.0, age_max=397.0, file_age_min=397.0, file_age_max=400.0,
        top_owner_share=2 / 4, author_share_min=0.0,  # carol never touched main.py
    ),
    "c8": _NO_PAST,
    "c9": _NO_PAST | dict(  # requirements.txt: c8 by alice, 1 line
        age_min=1 - 3 / 24, age_max=1 - 3 / 24, file_age_min=1 - 3 / 24, file_age_max=1 - 3 / 24,
        recent_file_commits=1, recent_churn=1, recent_devs=1,
    ),
}  # fmt: skip
for _name, _columns in PAST.items():
    EXPECTED[_name].update(_columns)
for _row in EXPECTED.values():  # the model the markers name, the AI lines of the note
    _row.setdefault("ai_model", "")
    _row.setdefault("ai_lines_added", None)


@pytest.fixture
def history(hand_history) -> tuple[Path, dict[str, str]]:
    """The session's hand-built history: these tests only read it."""
    return hand_history


def _expected_frame(sha: dict[str, str], names=None) -> pd.DataFrame:
    names = names or list(EXPECTED)
    rows = []
    for name in names:
        row = {"commit": sha[name], "repo": "history", **EXPECTED[name]}
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in ("author_time", "commit_time"):
        frame[col] = pd.to_datetime(frame[col], unit="s", utc=True).dt.as_unit("ns")
    # each history count among the changes before it (tests/mine/test_recent.py pins the rule)
    from riskml.mine.recent import RECENT_COLUMNS, SUFFIX, trailing_percentiles

    if names == list(EXPECTED):
        for col in RECENT_COLUMNS:
            frame[col + SUFFIX] = trailing_percentiles(frame[col].tolist(), 3000)
    from riskml.mine.table import normalize

    return normalize(frame[list(COLUMNS)])


def test_every_column_exact(history, tmp_path: Path):
    repo, sha = history
    out = tmp_path / "changes.parquet"
    table = mine(repo, out=out)
    expected = _expected_frame(sha)
    assert list(table.columns) == list(COLUMNS)
    assert table["commit"].tolist() == expected["commit"].tolist()  # m6 (merge) is not a row
    for col in COLUMNS:
        if COLUMNS[col] == "float":
            pd.testing.assert_series_equal(table[col], expected[col], check_exact=False, rtol=1e-12)
        else:
            assert table[col].tolist() == expected[col].tolist(), col
    pd.testing.assert_frame_equal(read_table(out), table)
    assert state_path(out).is_dir()


def test_dtypes(history, tmp_path: Path):
    repo, _ = history
    table = mine(repo, out=tmp_path / "c.parquet")
    assert str(table["author_time"].dtype) == "datetime64[ns, UTC]"
    assert table["la"].dtype == "int64"
    assert table["fix"].dtype == bool
    assert table["entropy"].dtype == "float64"
    assert table["ai_line_share"].isna().tolist() == [
        EXPECTED[n]["ai_line_share"] is None for n in EXPECTED
    ]


def test_csv_round_trip_is_exact(history, tmp_path: Path):
    repo, _ = history
    parquet = mine(repo, out=tmp_path / "c.parquet")
    csv = mine(repo, out=tmp_path / "c.csv")
    pd.testing.assert_frame_equal(parquet, csv)
    pd.testing.assert_frame_equal(read_table(tmp_path / "c.csv"), parquet)


def test_state_holds_history_after_last_commit(history, tmp_path: Path):
    repo, sha = history
    out = tmp_path / "c.parquet"
    mine(repo, out=out)
    state = load_state(state_path(out))
    assert state.last_commit == sha["c9"]
    assert state.n_rows == 8 and state.n_commits == 8
    # payments/pay.py was deleted, src/app.py renamed: neither is a live file any more
    assert sorted(state.files) == [
        "README.md",
        "assets/logo.png",
        "config/app.yaml",
        "migrations/0001_init.sql",
        "requirements.txt",
        "src/main.py",
        "tests/test_main.py",
    ]
    main = state.files["src/main.py"]
    assert {a: len(c) for a, c in main.authors.items()} == {
        "alice@x.example": 2,
        "bob@x.example": 2,
        "carol@x.example": 1,
    }
    assert main.lines == 9
    assert main.last_time == T0 + 400 * DAY
    assert state.files["assets/logo.png"].lines == 0
    assert state.files["requirements.txt"].lines == 2
    alice = state.authors["alice@x.example"]
    assert alice.first_time == T0
    assert alice.times == [T0, T0 + 2 * DAY + HOUR, T0 + 800 * DAY + 3 * HOUR]
    assert sorted(alice.subsystems) == ["", "migrations", "payments", "src"]


def test_prefix_rows_equal_full_rows(history, tmp_path: Path):
    """Leak test: history that ends at c7 (after the merge) gives the same rows up to c7."""
    repo, sha = history
    full = mine(repo, out=tmp_path / "full.parquet")
    prefix = mine(repo, rev=sha["c7"], out=tmp_path / "prefix.parquet")
    assert prefix["commit"].tolist() == [sha[n] for n in ("c1", "c2", "c3", "c4", "c5", "c7")]
    pd.testing.assert_frame_equal(prefix, full.iloc[: len(prefix)].reset_index(drop=True))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_incremental_equals_full(history, tmp_path: Path, suffix: str):
    repo, sha = history
    full = mine(repo, out=tmp_path / f"full{suffix}")
    out = tmp_path / f"inc{suffix}"
    first = mine(repo, rev=sha["c3"], out=out)
    before = out.read_bytes()
    assert len(first) == 3
    second = mine(repo, rev=sha["c7"], out=out)
    assert second.attrs["new_rows"] == 3
    third = mine(repo, out=out)
    assert third.attrs["new_rows"] == 2
    pd.testing.assert_frame_equal(third, full)
    pd.testing.assert_frame_equal(read_table(out), full)
    if suffix == ".csv":  # old rows are not rewritten at all
        assert out.read_bytes().startswith(before)
    again = mine(repo, out=out)
    assert again.attrs["new_rows"] == 0
    pd.testing.assert_frame_equal(again, full)


def test_state_features_equal_mined_row(history, tmp_path: Path):
    from riskml.mine import records_for

    repo, sha = history
    full = mine(repo, out=tmp_path / "full.parquet")
    out = tmp_path / "prefix.parquet"
    mine(repo, rev=sha["c7"], out=out)
    state = load_state(state_path(out))
    record = records_for(repo, [sha["c8"]])[0]
    record["ai_note"] = '{"ai_lines": 2}'
    row = state.features(record)
    expected = full.iloc[6].to_dict()
    assert row["commit"] == sha["c8"]
    for col in COLUMNS:
        got = row[col]
        want = expected[col]
        if col in ("author_time", "commit_time"):
            want = int(want.timestamp())
        if isinstance(want, float) and pd.isna(want):
            assert got is None, col
        else:
            assert got == pytest.approx(want, rel=1e-12) if isinstance(want, float) else got == want
    assert state.n_rows == 6  # features() does not change the state
    state.add(record)
    assert state.n_rows == 7 and state.last_commit == sha["c8"]
    assert state.features(record)["exp"] == 3  # now c8 itself is history


def test_records_for_shape(history):
    from riskml.mine import records_for

    repo, sha = history
    rec = records_for(repo, [sha["c3"]])[0]
    assert rec == {
        "commit": sha["c3"],
        "parents": [sha["c2"]],
        "author_name": "Alice",
        "author_email": "alice@x.example",
        "committer_email": "alice@x.example",
        "author_time": T0 + 2 * DAY + HOUR,
        "commit_time": T0 + 2 * DAY + 2 * HOUR,
        "message": "Refactor the app\n\nCo-Authored-By: Claude Opus 4 <noreply@anthropic.com>\n",
        "files": [
            {"path": "README.md", "old_path": None, "added": 0, "deleted": 1, "binary": False,
             "status": "M", "lines_before": 3, "key_lines": 0},
            {"path": "payments/pay.py", "old_path": None, "added": 0, "deleted": 2,
             "binary": False, "status": "D", "lines_before": 2, "key_lines": 0},
            {"path": "src/main.py", "old_path": "src/app.py", "added": 1, "deleted": 0,
             "binary": False, "status": "R", "lines_before": 6, "key_lines": 0},
        ],
        # the diff content: tokens of the added line, then of the deleted ones (file order)
        "content": {"tokens": "+l7 -r3 -p1 -p2", "error_handling": 0, "concurrency": 0,
                    "null_checks": 0, "sql": 0, "todo_added": 0, "comments_only": False,
                    "skipped_files": 0},
    }  # fmt: skip
    binary = records_for(repo, [sha["c2"]])[0]["files"][0]
    assert binary == {
        "path": "assets/logo.png",
        "old_path": None,
        "added": 0,
        "deleted": 0,
        "binary": True,
        "status": "A",
        "lines_before": 0,
        "key_lines": 0,
    }
    merge = records_for(repo, [sha["m6"]])[0]
    assert merge["parents"] == [sha["c5"], sha["c4"]] and merge["files"] == []


def test_record_for_diff_combines_a_range(history):
    from riskml.mine import record_for_diff

    repo, sha = history
    rec = record_for_diff(repo, sha["c7"], sha["c9"])
    assert rec["commit"] == sha["c9"] and rec["parents"] == [sha["c7"]]
    assert rec["author_email"] == "198982749+copilot@users.noreply.github.com"
    assert [(f["path"], f["status"], f["added"], f["lines_before"]) for f in rec["files"]] == [
        ("migrations/0001_init.sql", "A", 3, 0),
        ("requirements.txt", "A", 2, 0),
    ]


def test_record_for_worktree(history, tmp_path: Path):
    import shutil

    from riskml.mine import record_for_worktree

    repo, _ = history
    work = tmp_path / "clone"
    shutil.copytree(repo, work)
    (work / "src" / "main.py").write_text("l1\n", encoding="utf-8")
    (work / "new.txt").write_text("a\nb", encoding="utf-8")
    rec = record_for_worktree(work, "Dev@Example.com")
    assert rec["commit"] == "worktree" and rec["author_email"] == "dev@example.com"
    assert rec["message"] == ""
    assert [(f["path"], f["status"], f["added"], f["deleted"], f["lines_before"])
            for f in rec["files"]] == [("src/main.py", "M", 0, 8, 9), ("new.txt", "A", 2, 0, 0)]  # fmt: skip


def test_mine_file_writes_the_same_table(history, tmp_path: Path):
    from riskml.mine.miner import mine_file

    repo, _ = history
    expected = mine(repo, out=tmp_path / "frame.parquet")
    result = mine_file(repo, out=tmp_path / "file.parquet")
    assert (result.new_rows, result.total_rows) == (8, 8)
    assert result.state == state_path(tmp_path / "file.parquet")
    pd.testing.assert_frame_equal(read_table(result.out), expected)
    pd.testing.assert_frame_equal(pd.read_parquet(result.out), expected)
    again = mine_file(repo, out=result.out)
    assert (again.new_rows, again.total_rows) == (0, 8)


@pytest.mark.parametrize(
    ("message", "fix", "revert"),
    [
        ("Fix crash in checkout", True, False),
        ("FIXES the login", True, False),
        ("fixing flaky test", True, False),
        ("bugfix: null pointer", True, False),
        ("Hotfixes for release", True, False),
        ("Patched the parser", True, False),
        ("Regression in totals", True, False),
        ("Close #12", True, False),
        ("PROJ-12 implement export", True, False),
        ("Add prefix fixture", False, False),
        ("Use UTF-8 and SHA-256 everywhere", False, False),
        ("x86-64 build, py-3 support", False, False),
        ("debug logging", False, False),
        ('Revert "Add export"\n\nThis reverts commit 0123456789abcdef.', False, True),
        ("Undo export\n\nThis reverts commit abcdef1.", False, True),
        ("Reverted the export by hand", False, False),
    ],
)
def test_purpose(message: str, fix: bool, revert: bool):
    from riskml.config import MineConfig
    from riskml.mine.features import purpose

    assert purpose({"message": message}, MineConfig()) == {"fix": fix, "is_revert": revert}
