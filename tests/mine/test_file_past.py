"""The touched files' own past (riskml.mine.file_past): exact values on hand-built histories,
no leak from later commits, incremental equals one-shot, pending changes from the state, and
an older state re-mined rather than continued."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import pandas as pd
import pytest
from gitrepo import commit, git, init

from riskml.mine import MiningWarning, load_state, mine, records_for, state_path
from riskml.mine.state import STATE_VERSION, MiningState, OutdatedStateError

T0 = 1_672_653_600  # Monday 2023-01-02 10:00 UTC
DAY = 86_400


def f(path: str, status: str = "M", added: int = 1, deleted: int = 0, old: str | None = None):
    """One touched file of a raw record (docs/architecture.md)."""
    return {"path": path, "old_path": old, "added": added, "deleted": deleted, "binary": False,
            "status": status, "lines_before": 0}  # fmt: skip


class Story:
    """Raw commit records fed straight into a :class:`MiningState`, oldest first."""

    def __init__(self) -> None:
        self.state = MiningState("story")
        self.n = 0

    def record(self, t: float, who: str, files: list[dict], message: str = "Change") -> dict:
        self.n += 1
        return {
            "commit": f"{self.n:040x}", "parents": [], "author_name": who,
            "author_email": f"{who}@x.example", "committer_email": f"{who}@x.example",
            "author_time": int(t), "commit_time": int(t), "message": message, "files": files,
        }  # fmt: skip

    def add(self, t: float, who: str, files: list[dict], message: str = "Change") -> dict:
        return self.state.add(self.record(t, who, files, message))

    def pending(self, t: float, who: str, files: list[dict], message: str = "Change") -> dict:
        before = pickle.dumps(self.state)
        row = self.state.features(self.record(t, who, files, message))
        assert pickle.dumps(self.state) == before  # a pending change leaves the state as it was
        return row


def test_fixes_count_once_decay_by_age_and_directories_take_the_worst():
    s = Story()
    s.add(T0, "alice", [f("a.py", "A"), f("b.py", "A"), f("lib/c.py", "A")], "initial")
    s.add(T0 + 10 * DAY, "bob", [f("a.py"), f("b.py")], "Fix overflow")  # one fix, two files
    s.add(T0 + 20 * DAY, "bob", [f("lib/c.py")], "Fix race")
    s.add(T0 + 25 * DAY, "bob", [f("lib/d.py", "A")], "fixes #3")
    s.add(T0 + 30 * DAY, "carol", [f("b.py")], 'Revert "x"\n\nThis reverts commit abcdef1.')

    both = s.pending(T0 + 100 * DAY, "alice", [f("a.py"), f("b.py")])
    assert both["file_fixes"] == 1  # the fix touching a.py and b.py is one commit
    assert both["file_fixes_decay"] == pytest.approx(0.5 ** (90 / 90))
    assert both["dir_fixes"] == 1  # the root directory saw one fix
    assert both["file_reverts"] == 1

    spread = s.pending(T0 + 100 * DAY, "alice", [f("a.py"), f("lib/c.py")])
    assert spread["file_fixes"] == 2
    assert spread["file_fixes_decay"] == pytest.approx(0.5 ** (90 / 90) + 0.5 ** (80 / 90))
    assert spread["dir_fixes"] == 2  # lib/ saw two fixes (c.py, d.py), the root one: the max
    assert spread["file_reverts"] == 0

    fresh = s.pending(T0 + 100 * DAY, "alice", [f("new/x.py", "A")])
    assert (fresh["file_fixes"], fresh["file_fixes_decay"], fresh["dir_fixes"]) == (0, 0.0, 0)


def test_time_since_last_change_and_since_creation_follow_renames():
    s = Story()
    s.add(T0, "alice", [f("a.py", "A")])
    s.add(T0 + 10 * DAY, "alice", [f("b.py", "A")])
    s.add(T0 + 15 * DAY, "alice", [f("a.py")])
    s.add(T0 + 16 * DAY, "alice", [f("src/a2.py", "R", 0, 0, old="a.py")])
    row = s.pending(T0 + 20 * DAY, "bob", [f("src/a2.py"), f("b.py"), f("n.py", "A")])
    assert (row["age_min"], row["age_max"]) == (4.0, 10.0)  # the new file n.py has no past
    assert (row["file_age_min"], row["file_age_max"]) == (10.0, 20.0)  # a2.py was born as a.py
    assert row["age"] == pytest.approx((4 + 10 + 0) / 3)  # the mean of the contract, unchanged


def test_minor_contributors_are_under_five_percent_of_a_files_commits():
    s = Story()
    s.add(T0, "alice", [f("big.txt", "A"), f("small.txt", "A")])
    for k in range(1, 20):
        s.add(T0 + k * DAY, "alice", [f("big.txt")])
    s.add(T0 + 20 * DAY, "bob", [f("big.txt")])
    # 21 commits: bob's 1 is 4.8 % -> minor
    row = s.pending(T0 + 30 * DAY, "bob", [f("big.txt")])
    assert (row["minor_contributors"], row["minor_share"]) == (1, 1 / 2)
    assert row["top_owner_share"] == 20 / 21
    assert row["author_share_min"] == 1 / 21

    s.add(T0 + 21 * DAY, "carol", [f("big.txt")])
    row = s.pending(T0 + 30 * DAY, "bob", [f("big.txt"), f("small.txt")])
    assert row["minor_contributors"] == 2  # bob and carol, 1 of 22 each
    assert row["minor_share"] == 2 / 3
    assert row["top_owner_share"] == 20 / 22  # the less-owned of big.txt (20/22), small.txt (1/1)
    assert row["author_share_min"] == 0.0  # bob never touched small.txt


def test_exactly_five_percent_is_not_minor():
    s = Story()
    s.add(T0, "alice", [f("x.txt", "A")])
    for k in range(1, 19):
        s.add(T0 + k * DAY, "alice", [f("x.txt")])
    s.add(T0 + 19 * DAY, "bob", [f("x.txt")])
    row = s.pending(T0 + 30 * DAY, "alice", [f("x.txt")])  # bob: 1 of 20 = 5 %
    assert (row["minor_contributors"], row["minor_share"]) == (0, 0.0)
    assert row["top_owner_share"] == 19 / 20 and row["author_share_min"] == 19 / 20


def test_coupling_counts_strong_partners_left_out():
    s = Story()
    s.add(T0, "alice", [f("a.py", "A"), f("b.py", "A")])
    s.add(T0 + DAY, "alice", [f("a.py"), f("b.py")])
    s.add(T0 + 2 * DAY, "alice", [f("a.py"), f("b.py")])
    s.add(T0 + 3 * DAY, "alice", [f("a.py")])
    s.add(T0 + 4 * DAY, "alice", [f("a.py"), f("c.py", "A")])
    # a.py: 5 commits, 3 with b.py (support 3, confidence 0.6), 1 with c.py (support 1)
    alone = s.pending(T0 + 9 * DAY, "bob", [f("a.py")])
    assert (alone["coupled_partners"], alone["coupled_missing"]) == (1, 1)
    assert alone["coupled_missing_share"] == 1.0
    pair = s.pending(T0 + 9 * DAY, "bob", [f("a.py"), f("b.py")])
    assert (pair["coupled_partners"], pair["coupled_missing"]) == (2, 0)  # a.py <-> b.py
    assert pair["coupled_missing_share"] == 0.0
    with_c = s.pending(T0 + 9 * DAY, "bob", [f("c.py")])  # c.py: 1 commit, below the support
    assert (with_c["coupled_partners"], with_c["coupled_missing"]) == (0, 0)

    # a bulk commit of 31 files is no evidence of coupling: nothing changes
    bulk = [f("a.py"), f("b.py")] + [f(f"gen/{k}.py", "A") for k in range(29)]
    s.add(T0 + 5 * DAY, "alice", bulk, "reformat")
    assert s.pending(T0 + 9 * DAY, "bob", [f("a.py")])["coupled_missing"] == 1
    assert s.state.files["a.py"].n_coupled == 5

    # a renamed partner is the same file; a deleted one is no partner any more
    s.add(T0 + 6 * DAY, "alice", [f("lib/b.py", "R", 0, 0, old="b.py")])
    assert s.pending(T0 + 9 * DAY, "bob", [f("a.py")])["coupled_missing"] == 1
    assert s.pending(T0 + 9 * DAY, "bob", [f("a.py"), f("lib/b.py")])["coupled_missing"] == 0
    s.add(T0 + 7 * DAY, "alice", [f("lib/b.py", "D", 0, 1)])
    gone = s.pending(T0 + 9 * DAY, "bob", [f("a.py")])
    assert (gone["coupled_partners"], gone["coupled_missing"]) == (0, 0)


def test_coupling_needs_half_of_the_files_commits():
    s = Story()
    s.add(T0, "alice", [f("a.py", "A"), f("b.py", "A")])
    s.add(T0 + DAY, "alice", [f("a.py"), f("b.py")])
    s.add(T0 + 2 * DAY, "alice", [f("a.py"), f("b.py")])
    for k in range(3, 7):
        s.add(T0 + k * DAY, "alice", [f("a.py")])
    # a.py: 3 of 7 commits with b.py (43 %): b.py is not a strong partner of a.py ...
    assert s.pending(T0 + 9 * DAY, "bob", [f("a.py")])["coupled_partners"] == 0
    # ... but a.py is one of b.py (3 of 3)
    row = s.pending(T0 + 9 * DAY, "bob", [f("b.py")])
    assert (row["coupled_partners"], row["coupled_missing"]) == (1, 1)


def test_recent_activity_is_the_last_thirty_days():
    s = Story()
    s.add(T0, "alice", [f("a.py", "A", 5), f("b.py", "A", 7)])
    s.add(T0 + 10 * DAY, "bob", [f("a.py", "M", 2, 1), f("b.py", "M", 4, 0)])
    s.add(T0 + 31 * DAY, "carol", [f("a.py", "M", 1)])
    row = s.pending(T0 + 40 * DAY, "dave", [f("a.py"), f("b.py")])
    # from T0+10d (on the boundary, included): bob's commit (both files) and carol's
    assert row["recent_file_commits"] == 2
    assert row["recent_churn"] == (2 + 1) + 4 + 1
    assert row["recent_devs"] == 2
    quiet = s.pending(T0 + 80 * DAY, "dave", [f("a.py")])
    assert (quiet["recent_file_commits"], quiet["recent_churn"], quiet["recent_devs"]) == (0, 0, 0)


def test_pending_row_equals_the_row_it_gets_when_added():
    s = Story()
    s.add(T0, "alice", [f("a.py", "A"), f("b.py", "A")], "initial")
    s.add(T0 + DAY, "bob", [f("a.py"), f("b.py")], "Fix it")
    s.add(T0 + 2 * DAY, "bob", [f("a.py"), f("b.py")])
    s.add(T0 + 3 * DAY, "carol", [f("a.py"), f("b.py")])
    record = s.record(T0 + 4 * DAY, "dave", [f("a.py")], "Tune")
    pending = s.state.features(record)
    assert s.state.add(record) == pending
    assert pending["coupled_missing"] == 1 and pending["file_fixes"] == 1


# ------------------------------------------------------------------ on a real repository


def build_past(root: Path) -> tuple[Path, dict[str, str]]:
    """A small history where every signal of the touched files' past shows up.

    k1..k3 alice/bob change core.py + core_test.py together (k2 a fix); k4 bob changes
    core.py alone; k5 carol reverts k4; k6 alice renames core_test.py to tests/core_test.py;
    k7 bob fixes core.py; k8 carol changes core.py alone; k9 alice both files.
    """
    repo = init(root / "past")
    who = {"alice": ("Alice", "alice@x.example"), "bob": ("Bob", "bob@x.example"),
           "carol": ("Carol", "carol@x.example")}  # fmt: skip
    sha = {}
    body = {"core.py": "a\n", "core_test.py": "t\n"}

    def change(name, person, day, message, paths):
        for p in paths:
            body[p] = body.get(p, "") + f"{name}\n"
        sha[name] = commit(repo, message, {p: body[p] for p in paths}, when=T0 + day * DAY,
                           who=who[person])  # fmt: skip

    change("k1", "alice", 0, "initial", ["core.py", "core_test.py"])
    change("k2", "bob", 1, "Fix parsing", ["core.py", "core_test.py"])
    change("k3", "alice", 2, "More cases", ["core.py", "core_test.py"])
    change("k4", "bob", 3, "Speed up", ["core.py"])
    body["core.py"] = body["core.py"].replace("k4\n", "")
    sha["k5"] = commit(repo, f'Revert "Speed up"\n\nThis reverts commit {sha["k4"]}.\n',
                       {"core.py": body["core.py"]}, when=T0 + 4 * DAY, who=who["carol"])  # fmt: skip
    git(repo, "mv", "core_test.py", "tests_core.py")
    body["tests_core.py"] = body.pop("core_test.py")
    sha["k6"] = commit(repo, "Move the test", when=T0 + 5 * DAY, who=who["alice"])
    change("k7", "bob", 40, "Fix the speed-up", ["core.py"])
    change("k8", "carol", 41, "Docs", ["core.py"])
    change("k9", "alice", 42, "Both again", ["core.py", "tests_core.py"])
    return repo, sha


@pytest.fixture(scope="module")
def past_repo(tmp_path_factory):
    return build_past(tmp_path_factory.mktemp("past"))


def test_mined_rows_carry_the_past(past_repo, tmp_path: Path):
    repo, sha = past_repo
    table = mine(repo, out=tmp_path / "changes.parquet").set_index("commit")
    k8 = table.loc[sha["k8"]]  # core.py: k1..k5, k7; core_test.py is its strong partner
    assert (k8["file_fixes"], k8["file_reverts"]) == (2, 1)
    assert k8["file_fixes_decay"] == pytest.approx(0.5 ** (40 / 90) + 0.5 ** (1 / 90))
    # core_test.py (renamed since) changed with core.py in k1..k3: 3 of core.py's 6 commits
    assert (k8["coupled_partners"], k8["coupled_missing"]) == (1, 1)
    assert k8["dir_fixes"] == 2
    k9 = table.loc[sha["k9"]]
    assert (k9["recent_file_commits"], k9["recent_devs"], k9["recent_churn"]) == (2, 2, 2)
    assert (k9["age_min"], k9["age_max"]) == (1.0, 37.0)
    assert k9["file_age_max"] == 42.0 and k9["file_age_min"] == 42.0  # the rename keeps its birth
    k4 = table.loc[sha["k4"]]  # core.py: 3 commits, all with core_test.py
    assert (k4["coupled_partners"], k4["coupled_missing"], k4["coupled_missing_share"]) == (
        1,
        1,
        1.0,
    )


def test_prefix_gives_the_same_rows(past_repo, tmp_path: Path):
    repo, sha = past_repo
    full = mine(repo, out=tmp_path / "full.parquet")
    prefix = mine(repo, rev=sha["k6"], out=tmp_path / "prefix.parquet")
    assert len(prefix) == 6
    pd.testing.assert_frame_equal(prefix, full.iloc[:6].reset_index(drop=True))


def test_incremental_mine_equals_one_shot(past_repo, tmp_path: Path):
    repo, sha = past_repo
    full = mine(repo, out=tmp_path / "full.parquet")
    out = tmp_path / "inc.parquet"
    mine(repo, rev=sha["k3"], out=out)
    mine(repo, rev=sha["k7"], out=out)
    pd.testing.assert_frame_equal(mine(repo, out=out), full)


def test_pending_change_from_the_saved_state(past_repo, tmp_path: Path):
    repo, sha = past_repo
    full = mine(repo, out=tmp_path / "full.parquet")
    out = tmp_path / "prefix.parquet"
    mine(repo, rev=sha["k8"], out=out)
    state = load_state(state_path(out))
    row = state.features(records_for(repo, [sha["k9"]])[0])
    expected = full.iloc[-1]
    for column in ("file_fixes", "file_fixes_decay", "dir_fixes", "file_reverts", "age_min",
                   "age_max", "file_age_min", "file_age_max", "minor_contributors",
                   "minor_share", "top_owner_share", "author_share_min", "coupled_partners",
                   "coupled_missing", "coupled_missing_share", "recent_file_commits",
                   "recent_churn", "recent_devs"):  # fmt: skip
        assert row[column] == pytest.approx(expected[column]), column


def test_a_state_of_the_previous_format_is_re_mined(past_repo, tmp_path: Path):
    import json
    import shutil

    from riskml import snapshot
    from riskml.tables import changes_writer

    repo, sha = past_repo
    full = mine(repo, out=tmp_path / "full.parquet")
    out = tmp_path / "old.parquet"
    old = mine(repo, rev=sha["k5"], out=out)
    # what another riskml would have written: a table without these columns, a state of
    # format 3, committed together as mine commits them
    before = snapshot.read(out).companions

    def companions(directory: Path) -> None:
        for path in before.iterdir():
            if path.name != "snapshot.json":
                shutil.copyfile(path, directory / path.name)
        scalars = json.loads((directory / "state.json").read_text())
        (directory / "state.json").write_text(json.dumps({**scalars, "version": 3}))

    short = old.drop(columns=["file_fixes", "recent_devs"])
    snapshot.commit(out, companions, write_table=changes_writer(short, out))
    with pytest.raises(OutdatedStateError, match="format 3, not 4"):
        load_state(state_path(out))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = mine(repo, out=out)
    assert any(
        issubclass(w.category, MiningWarning) and "re-mining every row" in str(w.message)
        for w in caught
    )
    assert table.attrs["new_rows"] == len(full)
    pd.testing.assert_frame_equal(table, full)
    assert load_state(state_path(out)).version == STATE_VERSION == 4
