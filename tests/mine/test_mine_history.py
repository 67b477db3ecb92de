"""`riskml mine` on a generated history: no leak from the future, incremental == full,
workers == one process, and the saved state reproduces the next row."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from riskml.mine import COLUMNS, load_state, mine, records_for, state_path
from riskml.mine.extract import list_commits
from riskml.mine.miner import order_commits
from riskml.mine.provenance import read_ai_notes


@pytest.fixture(scope="module")
def full(synth_small, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("mine_full") / "changes.parquet"
    return mine(synth_small.repo, out=out)


def _clean_cut(repo: Path, fraction: float) -> str:
    """A non-merge commit X near ``fraction`` of history where no branch is open: every commit
    before X (in mining order) is an ancestor of X and every later one is not."""
    ordered = order_commits(list_commits(repo))
    shas = [key[2] for key, _ in ordered]
    start = int(len(shas) * fraction)
    for i in range(start, len(shas)):
        if len(ordered[i][1]) != 1:
            continue  # a merge is not a row of its own
        ancestors = set(
            subprocess.run(
                ["git", "-C", str(repo), "rev-list", shas[i]],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
        )
        if set(shas[: i + 1]) == ancestors:
            return shas[i]
    raise AssertionError("no clean cut in the generated history")


def test_generated_history_is_mined_whole(synth_small, full):
    repo = synth_small.repo
    no_merges = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--no-merges", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(full["commit"]) == sorted(no_merges)
    assert full["author_time"].is_monotonic_increasing
    assert list(full.columns) == list(COLUMNS)
    # every kind of change the generator makes shows up
    assert full["n_renamed_files"].sum() > 0 and full["n_binary_files"].sum() > 0
    assert set(full["ai_provenance"]) == {"human", "ai_assisted", "ai_agent", "bot"}
    assert full["is_revert"].any() and full["fix"].any() and full["touches_critical"].any()
    # la/ld agree with git's own numstat for every commit
    numstat = subprocess.run(
        ["git", "-C", str(repo), "log", "--no-merges", "--numstat", "-M", "--format=@%H"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    totals: dict[str, list[int]] = {}
    current = None
    for line in numstat.splitlines():
        if line.startswith("@"):
            current = line[1:]
            totals[current] = [0, 0, 0]
        elif line.strip():
            a, d, _ = line.split("\t", 2)
            totals[current][0] += 0 if a == "-" else int(a)
            totals[current][1] += 0 if d == "-" else int(d)
            totals[current][2] += 1
    got = {r.commit: [r.la, r.ld, r.nf] for r in full.itertuples()}
    assert got == totals


def test_provenance_matches_the_generator_truth(synth_small, full):
    """Provenance is decided from the identity as written, not the .mailmap'ed display name:
    an aider-authored commit of an author whose name .mailmap rewrites stays ``ai_agent``."""
    truth = pd.read_csv(synth_small.truth, dtype=str, keep_default_na=False)
    expected = {
        row.commit: (row.ai_provenance, row.ai_tool)
        for row in truth[["commit", "ai_provenance", "ai_tool"]].itertuples()
    }
    got = {
        row.commit: (row.ai_provenance, row.ai_tool)
        for row in full[["commit", "ai_provenance", "ai_tool"]].itertuples()
    }
    assert got == expected


def test_lt_is_the_line_count_in_the_parent(synth_small, full):
    """lt against a direct count of every touched file's blob in the first parent."""
    repo = synth_small.repo
    sample = full.iloc[::7]
    for rec in records_for(repo, sample["commit"].tolist()):
        total = 0
        for f in rec["files"]:
            if f["status"] == "A" or f["binary"]:
                continue
            src = f["old_path"] or f["path"]
            data = subprocess.run(
                ["git", "-C", str(repo), "cat-file", "blob", f"{rec['parents'][0]}:{src}"],
                capture_output=True,
                check=True,
            ).stdout
            total += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        assert sample.loc[sample["commit"] == rec["commit"], "lt"].item() == total


def test_prefix_rows_equal_full_rows(synth_small, full, tmp_path: Path):
    """The leak test: rows of history that ends at X equal the same rows of the whole history."""
    cut = _clean_cut(synth_small.repo, 0.6)
    prefix = mine(synth_small.repo, rev=cut, out=tmp_path / "prefix.parquet")
    n = len(prefix)
    assert 0 < n < len(full)
    assert prefix["commit"].iloc[-1] == cut
    pd.testing.assert_frame_equal(prefix, full.iloc[:n].reset_index(drop=True))


def test_incremental_equals_full(synth_small, full, tmp_path: Path):
    out = tmp_path / "inc.parquet"
    cut = _clean_cut(synth_small.repo, 0.5)
    first = mine(synth_small.repo, rev=cut, out=out)
    table = mine(synth_small.repo, out=out)
    assert table.attrs["new_rows"] == len(full) - len(first)
    pd.testing.assert_frame_equal(table, full)


def test_two_workers_equal_one(synth_small, full, tmp_path: Path, monkeypatch):
    from riskml.mine import extract, miner

    # small ranges, so each worker starts ranges with nothing derived (cat-file reads)
    monkeypatch.setattr(miner, "MIN_CHUNK_COMMITS", 10)
    monkeypatch.setattr(miner, "CHUNK_COMMITS", 90)
    cut = []
    real = extract.iter_chunks
    monkeypatch.setattr(extract, "iter_chunks", lambda items, n: cut.extend(real(items, n)) or cut)
    table = mine(synth_small.repo, out=tmp_path / "w2.parquet", workers=2)
    assert len(cut) == -(-len(full) // 90) and sum(len(c) for c in cut) == len(full)
    pd.testing.assert_frame_equal(table, full)
    a = load_state(state_path(tmp_path / "w2.parquet"))
    assert a.n_rows == len(full)


def test_state_features_equal_the_next_mined_row(synth_small, full, tmp_path: Path):
    repo = synth_small.repo
    cut = _clean_cut(repo, 0.7)
    out = tmp_path / "prefix.parquet"
    prefix = mine(repo, rev=cut, out=out)
    state = load_state(state_path(out))
    notes = read_ai_notes(repo)
    nxt = full.iloc[len(prefix) : len(prefix) + 25]
    for rec in records_for(repo, nxt["commit"].tolist()):
        rec["ai_note"] = notes.get(rec["commit"])
        row = state.add(rec)
        expected = nxt[nxt["commit"] == rec["commit"]].iloc[0]
        for col in COLUMNS:
            want = expected[col]
            if col in ("author_time", "commit_time"):
                want = int(want.timestamp())
            got = row[col]
            if isinstance(want, float) and pd.isna(want):
                assert got is None, col
            else:
                assert got == want, (rec["commit"], col)


def test_provenance_reads_the_identity_as_written(tmp_path: Path):
    """.mailmap may rewrite the display name; provenance still sees the name as committed."""
    repo = tmp_path / "mapped"
    env = {
        "GIT_AUTHOR_NAME": "Maria Lopez (aider)",
        "GIT_AUTHOR_EMAIL": "mlopez@example.com",
        "GIT_AUTHOR_DATE": "2024-01-01T10:00:00Z",
        "GIT_COMMITTER_DATE": "2024-01-01T10:00:00Z",
    }
    import os

    run_env = {**os.environ, **env}
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / ".mailmap").write_text("Maria Lopez <mlopez@example.com>\n")
    (repo / "app.py").write_text("print('hi')\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=run_env)
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-qm", "feat: greet"], check=True, env=run_env
    )
    table = mine(repo, out=tmp_path / "changes.parquet")
    row = table.iloc[0]
    assert (row["ai_provenance"], row["ai_tool"], row["ai_evidence"]) == (
        "ai_agent",
        "aider",
        "author:(aider)",
    )


def _same_row(a: dict, b: dict) -> bool:
    """Equal rows, a missing value (NaN) equal to itself."""
    return a.keys() == b.keys() and all(
        x == y or (isinstance(x, float) and isinstance(y, float) and x != x and y != y)
        for x, y in zip(a.values(), b.values(), strict=True)
    )


def _histories(state) -> tuple:
    """Everything a state holds, as plain values (dict orders included)."""
    files = list(dict.fromkeys(state.files.values()))
    return (
        [(path, files.index(h)) for path, h in state.files.items()],
        [tuple(getattr(h, name) for name in h.__slots__) for h in files],
        [(email, a.times, a.first_time, a.subsystems) for email, a in state.authors.items()],
        list(state.past.times), list(state.past.author_of),
        list(state.past.author_ids.items()), list(state.past.dir_fixes.items()),
        {c: (list(state.recent.order[c]), state.recent.sorted[c]) for c in state.recent.order},
        state.recent.size, state.seen, state.alive, state.n_commits, state.n_rows,
        state.last_commit, state.last_key, state.next_fid, state.repo_name, state.root_commit,
    )  # fmt: skip


def test_a_saved_state_gives_the_rows_of_the_state_never_saved(synth_small, full, tmp_path):
    """save -> load: the state read back holds what the one in memory holds, and computes the
    same rows, exactly, for the commits that come next (features, then add)."""
    from riskml.mine.state import MiningState

    repo = synth_small.repo
    notes = read_ai_notes(repo)
    records = records_for(repo, full["commit"].tolist())
    for rec in records:
        rec["ai_note"] = notes.get(rec["commit"])
    cut = int(len(records) * 0.7)
    live = MiningState("repo", root_commit="0" * 40)
    for rec in records[:cut]:
        live.add(rec)
    live.seen.add("f" * 40)  # a merge the table has no row for
    live.save(tmp_path / "state")
    loaded = load_state(tmp_path / "state")
    assert _histories(loaded) == _histories(live)
    for rec in records[cut:]:
        assert _same_row(loaded.features(rec), live.features(rec)), rec["commit"]
        assert _same_row(loaded.add(rec), live.add(rec)), rec["commit"]
    assert _histories(loaded) == _histories(live)
    # and the rows are the mined table's
    row = full.iloc[-1].to_dict()
    assert loaded.last_commit == row["commit"] and loaded.n_rows == len(full)
