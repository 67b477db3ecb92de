"""`riskml mine` on bad input: one-line reasons (exit 2), or a warning and the rest mined."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import pytest
from test_mine_repos import ALICE, BOB, DAY, T0, commit, git, init, write

from riskml.errors import RiskmlError
from riskml.mine import MiningWarning, load_state, mine, records_for, state_path


@pytest.fixture
def history(hand_history) -> tuple[Path, dict[str, str]]:
    """The session's hand-built history: these tests only read it."""
    return hand_history


def test_not_a_repository(tmp_path: Path):
    with pytest.raises(RiskmlError, match="not a git repository"):
        mine(tmp_path, out=tmp_path / "c.parquet")
    with pytest.raises(RiskmlError, match="does not exist"):
        mine(tmp_path / "nope", out=tmp_path / "c.parquet")


def test_empty_repository(tmp_path: Path):
    repo = init(tmp_path / "empty")
    with pytest.raises(RiskmlError, match="repository has no commits"):
        mine(repo, out=tmp_path / "c.parquet")
    assert not (tmp_path / "c.parquet").exists()


def test_unknown_and_malformed_rev(history, tmp_path: Path):
    repo, _ = history
    with pytest.raises(RiskmlError, match="unknown revision: nope"):
        mine(repo, rev="nope", out=tmp_path / "c.parquet")
    with pytest.raises(RiskmlError, match="invalid revision"):
        mine(repo, rev="--output=/tmp/x", out=tmp_path / "c.parquet")
    assert not (tmp_path / "c.parquet").exists()


def test_unsupported_suffix_and_workers(history, tmp_path: Path):
    repo, _ = history
    with pytest.raises(RiskmlError, match=r"unsupported table format '\.json'"):
        mine(repo, out=tmp_path / "c.json")
    with pytest.raises(RiskmlError, match="--workers must be a positive integer"):
        mine(repo, out=tmp_path / "c.csv", workers=0)


def test_table_without_state_is_refused(history, tmp_path: Path):
    import shutil

    repo, _ = history
    out = tmp_path / "c.csv"
    mine(repo, out=out)
    shutil.rmtree(state_path(out))
    before = out.read_bytes()
    with pytest.raises(RiskmlError, match="exists without its mining state"):
        mine(repo, out=out)
    assert out.read_bytes() == before


def test_table_and_state_that_disagree_are_refused(history, tmp_path: Path):
    """A state copied in from another table (files edited by hand) is not continued."""
    import shutil

    from riskml import snapshot

    repo, sha = history
    out = tmp_path / "c.csv"
    mine(repo, rev=sha["c2"], out=out)
    other = tmp_path / "other.csv"
    mine(repo, rev=sha["c3"], out=other)
    mine_dir, other_dir = snapshot.read(out).companions, snapshot.read(other).companions
    for path in other_dir.iterdir():
        if path.name != "snapshot.json":
            shutil.copyfile(path, mine_dir / path.name)
    with pytest.raises(RiskmlError, match="has 2 rows but its state .* knows 3"):
        mine(repo, out=out)


def test_a_table_changed_after_mining_is_refused(history, tmp_path: Path):
    """The state belongs to the table's bytes as mine wrote them: a table edited since (here
    one row dropped) is not continued, whatever it still shares with the state."""
    import pandas as pd

    repo, _ = history
    out = tmp_path / "c.parquet"
    mine(repo, out=out)
    pd.read_parquet(out).iloc[:-1].to_parquet(out)
    with pytest.raises(RiskmlError, match="was changed after `riskml mine` wrote it"):
        mine(repo, out=out)


def test_other_repository_name_is_refused(history, tmp_path: Path):
    repo, _ = history
    out = tmp_path / "c.parquet"
    mine(repo, out=out)
    with pytest.raises(RiskmlError, match="holds repository 'history', not 'other'"):
        mine(repo, out=out, repo_name="other")


def test_a_table_of_another_repository_is_not_continued(history, tmp_path: Path):
    """The table and its state record the repository's root commit: mining another
    repository into them (the same --repo-name, another folder) is refused, whatever its
    name; a clone of the same repository continues them."""
    from riskml.gitio import root_commit

    repo, _ = history
    out = tmp_path / "c.parquet"
    mine(repo, out=out, repo_name="shop")
    assert load_state(state_path(out)).root_commit == root_commit(repo)
    other = init(tmp_path / "shop")
    write(other, "x.txt", "x\n")
    git(other, "add", "-A")
    commit(other, ALICE, T0, "unrelated")
    before = out.read_bytes()
    with pytest.raises(RiskmlError) as caught:
        mine(other, out=out, repo_name="shop")
    assert str(caught.value) == (
        f"{out}: the changes table of another repository (its root commit "
        f"{root_commit(repo)[:12]} is not in {other}); mine it into another --out "
        "(or --repo-name)"
    )
    assert out.read_bytes() == before
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    assert mine(clone, out=out, repo_name="shop").attrs["new_rows"] == 0


def test_a_full_disk_is_one_line_and_leaves_the_old_set(history, tmp_path: Path, monkeypatch):
    import errno

    from riskml.mine import state_files

    repo, sha = history
    out = tmp_path / "c.parquet"
    mine(repo, rev=sha["c3"], out=out)
    before = _files(tmp_path)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state_files, "write_parts", full)
    with pytest.raises(RiskmlError) as caught:
        mine(repo, out=out)
    assert str(caught.value) == f"no space left writing {out}"
    assert _files(tmp_path) == before  # no temporary file either
    monkeypatch.undo()
    assert len(mine(repo, out=out)) == 8


def test_corrupt_state_is_refused(history, tmp_path: Path):
    import shutil

    from riskml import snapshot

    repo, _ = history
    out = tmp_path / "c.parquet"
    mine(repo, out=out)
    companions = snapshot.read(out).companions
    damaged = tmp_path / "damaged"
    for name, damage in [
        ("state.json", b"not json"),
        ("state.json", b'{"format": "something else"}'),
        ("files.arrow", b"ARROW1 truncated"),
        ("seen.arrow", None),  # missing
    ]:
        shutil.rmtree(damaged, ignore_errors=True)
        shutil.copytree(companions, damaged)
        if damage is None:
            (damaged / name).unlink()
        else:
            (damaged / name).write_bytes(damage)
        with pytest.raises(RiskmlError, match=f"{damaged}: not a riskml mining state"):
            load_state(damaged)
    with pytest.raises(RiskmlError, match="mining state not found"):
        load_state(tmp_path / "missing")


def test_a_state_whose_indices_point_nowhere_is_refused(history, tmp_path: Path):
    """Arrow files of the right shape whose numbers are wrong (a commit index past the
    history) are refused when read, not when a feature needs them."""
    import shutil

    import pyarrow as pa

    from riskml import snapshot

    repo, _ = history
    out = tmp_path / "c.parquet"
    mine(repo, out=out)
    crafted = tmp_path / "crafted"
    shutil.copytree(snapshot.read(out).companions, crafted)
    with pa.OSFile(str(crafted / "files.arrow"), "rb") as source:
        files = pa.ipc.open_file(source).read_all()
    commits = files.column("commits").combine_chunks()
    wrong = pa.LargeListArray.from_arrays(commits.offsets, pa.array([10**6] * len(commits.values)))
    files = files.set_column(files.schema.get_field_index("commits"), "commits", wrong)
    path = crafted / "files.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, files.schema) as writer:
        writer.write_table(files)
    with pytest.raises(RiskmlError) as caught:
        load_state(crafted)
    assert str(caught.value) == (
        f"{crafted}: not a riskml mining state (BadState: commits: an index outside 0..7)"
    )


class _Runs:
    """Pickles as a call of ``os.system``: what a crafted state file would hold."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_a_pickled_state_is_never_read(tmp_path: Path):
    """An earlier riskml's state was a pickle: riskml never unpickles one, so a crafted file
    runs nothing; it is refused with what to do instead."""
    import pickle

    mark = tmp_path / "ran"
    path = tmp_path / "x.state.joblib"
    path.write_bytes(pickle.dumps(_Runs(f"touch {mark}")))
    with pytest.raises(RiskmlError) as caught:
        load_state(path)
    assert str(caught.value) == (
        f"{path}: a mining state of an earlier riskml (a pickle, which riskml no longer "
        "reads); re-run `riskml mine`, which mines the table again from scratch"
    )
    assert not mark.exists()


def test_shallow_clone_warns_and_mines_what_is_there(history, tmp_path: Path):
    repo, sha = history
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "3", f"file://{repo}", str(clone)],
        check=True,
        capture_output=True,
    )
    with pytest.warns(MiningWarning, match=r"shallow clone: .* 3 commits present, and 1 boundary"):
        table = mine(clone, out=tmp_path / "c.parquet")
    # c7's parents are missing, so its diff is not its change: c8 and c9 are mined
    assert table["commit"].tolist() == [sha["c8"], sha["c9"]]
    assert table["lt"].tolist() == [0, 1]
    assert table["exp"].tolist() == [0, 0]  # alice's earlier commits are cut off
    assert table["ndev"].tolist() == [0, 1]


def _loose_object(repo: Path, sha: str) -> Path:
    return repo / ".git" / "objects" / sha[:2] / sha[2:]


def test_missing_blob_skips_the_commits_that_need_it(tmp_path: Path):
    repo = init(tmp_path / "broken")
    write(repo, "a.txt", "only in the lost blob\n")
    write(repo, "b.txt", "b1\n")
    git(repo, "add", "-A")
    c1 = commit(repo, ALICE, T0, "one")
    write(repo, "a.txt", "only in the lost blob\nsecond\n")
    git(repo, "add", "-A")
    c2 = commit(repo, BOB, T0 + DAY, "two")
    write(repo, "b.txt", "b1\nb2\n")
    git(repo, "add", "-A")
    c3 = commit(repo, BOB, T0 + 2 * DAY, "three")
    lost = git(repo, "rev-parse", f"{c1}:a.txt").strip()
    _loose_object(repo, lost).unlink()

    out = tmp_path / "c.parquet"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = mine(repo, out=out)
    messages = [str(w.message) for w in caught if w.category is MiningWarning]
    assert [m.split(":")[0] for m in messages] == [
        f"skipped commit {c1[:12]}",
        f"skipped commit {c2[:12]}",
    ]
    assert table["commit"].tolist() == [c3]
    assert table[["la", "ld", "lt", "ndev", "exp"]].iloc[0].tolist() == [1, 0, 1, 0, 0]
    # skipped commits stay skipped: the next run has nothing new to mine
    again = mine(repo, out=out)
    assert again.attrs["new_rows"] == 0 and again["commit"].tolist() == [c3]


def test_non_utf8_path_and_many_files(tmp_path: Path):
    repo = init(tmp_path / "odd")
    name = os.path.join(os.fsencode(repo), b"caf\xe9.txt")
    with open(name, "wb") as fh:
        fh.write(b"x\n")
    for i in range(1500):
        write(repo, f"many/f{i:04d}.txt", "1\n2\n")
    git(repo, "add", "-A")
    commit(repo, ALICE, T0, "big")
    for i in range(0, 1500, 2):
        write(repo, f"many/f{i:04d}.txt", "1\n")
    git(repo, "add", "-A")
    second = commit(repo, BOB, T0 + DAY, "shrink half")
    table = mine(repo, out=tmp_path / "c.parquet")
    # alone, the 750 blobs before the change are all read from git (in several requests)
    alone = records_for(repo, [second])[0]
    assert sum(f["lines_before"] for f in alone["files"]) == 1500
    assert table["nf"].tolist() == [1501, 750]
    assert table["la"].tolist() == [3001, 0]
    assert table["ld"].tolist() == [0, 750]
    assert table["lt"].tolist() == [0, 1500]
    assert table["ndev"].tolist() == [0, 1]
    assert table["files"].iloc[0].split(";")[0] == "caf\\xe9.txt"


def test_cli_bad_input_is_one_line_exit_2(cli, tmp_path: Path):
    for args, reason in [
        (("--repo", str(tmp_path)), "not a git repository"),
        (("--repo", str(init(tmp_path / "empty"))), "repository has no commits"),
    ]:
        proc = cli("mine", *args, "--out", str(tmp_path / "c.parquet"))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("riskml: error: ")
        assert reason in lines[0]


def test_git_warnings_are_passed_on(tmp_path: Path):
    """A commit too big for rename detection is still mined; git's warning reaches the user."""
    repo = init(tmp_path / "renames")
    git(repo, "config", "diff.renameLimit", "1")
    for i in range(3):
        write(repo, f"old/f{i}.txt", "".join(f"line {k} of {i}\n" for k in range(20)))
    git(repo, "add", "-A")
    commit(repo, ALICE, T0, "add")
    for i in range(3):
        (repo / "old" / f"f{i}.txt").unlink()
        write(repo, f"new/g{i}.txt", "".join(f"line {k} of {i}\n" for k in range(21)))
    git(repo, "add", "-A")
    commit(repo, BOB, T0 + DAY, "move")
    with pytest.warns(MiningWarning, match="git: .*rename detection was skipped"):
        table = mine(repo, out=tmp_path / "c.parquet")
    # without rename detection the move is 3 deletions and 3 additions
    assert table[["nf", "la", "ld", "n_renamed_files"]].iloc[1].tolist() == [6, 63, 60, 0]


def test_csv_with_other_column_order_is_not_appended_to(history, tmp_path: Path):
    import pandas as pd

    repo, sha = history
    out = tmp_path / "c.csv"
    mine(repo, rev=sha["c3"], out=out)
    frame = pd.read_csv(out)
    frame[list(reversed(frame.columns))].to_csv(out, index=False)
    before = out.read_bytes()
    with pytest.raises(RiskmlError, match="was changed after `riskml mine` wrote it"):
        mine(repo, out=out)
    assert out.read_bytes() == before


def test_a_second_writer_of_one_table_waits_for_the_lock(history, tmp_path: Path, monkeypatch):
    """While another `mine` holds ``<out>.lock``, a second one waits, then gives up with one
    line and touches neither the table nor its state."""
    from conftest import lock_held_elsewhere

    repo, _ = history
    out = tmp_path / "c.csv"
    mine(repo, out=out)
    table, state = out.read_bytes(), _files(state_path(out))
    lock = tmp_path / "c.csv.lock"
    with lock_held_elsewhere(lock):
        monkeypatch.setenv("RISKML_MINE_LOCK_TIMEOUT", "0.2")
        with pytest.raises(RiskmlError) as caught:
            mine(repo, out=out)
        assert str(caught.value) == (
            f"another riskml mine is writing {out} (lock {lock}, waited 0.2 s); "
            "try again when it has finished"
        )
        assert (out.read_bytes(), _files(state_path(out))) == (table, state)
    again = mine(repo, out=out)  # the lock is free again: nothing new to mine
    assert again.attrs["new_rows"] == 0
    assert out.read_bytes() == table


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*")
            if p.is_file()}  # fmt: skip
