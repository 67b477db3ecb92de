"""History features for pending changes: the saved mining state, kept current incrementally.

A :class:`RepoHistory` holds one repository's mining state (``data/<repo>/changes.state.joblib``)
in memory. Before a change is scored, the main-line commits that come before it and that the
state has not seen yet are mined into it (only those, never the whole history), so ``exp``,
``nuc``, ``age``… count every earlier commit. The saved state file is never rewritten: the
mined changes table and its state stay in step for ``riskml mine``'s own incremental runs.

Which history a pending change sees (scoring.md leaves it open; docs/scoring.md):

- ``rev X``: the main line (``[score] mainline``, default ``HEAD``) up to
  ``merge-base(X^, mainline)`` — for a commit on the main line that is its parent. A commit
  the state already holds is not re-mined: its row is the one computed when it entered the
  state (the mined changes table, or this scorer's own additions).
- ``BASE..HEAD``: the main line up to ``merge-base(BASE, mainline)``; the combined change is
  scored against it, then each commit of the range oldest first, each seeing the ones before
  it (on a scratch copy of the state, so the shared state only ever holds main-line commits).
- the work tree: the main line up to ``merge-base(HEAD, mainline)``.

Thread safety: one lock per repository guards the state and its additions.
"""

from __future__ import annotations

import pickle
import threading
from datetime import UTC, datetime
from pathlib import Path

from riskml.config import Config, data_paths
from riskml.errors import RiskmlError
from riskml.gitio import ensure_repo, resolve_rev, run_git
from riskml.jsonvalue import plain
from riskml.mine.miner import order_commits
from riskml.tables import SUFFIXES

# Rows of pending commits kept for repeated requests (release tooling polls the same commit).
PENDING_CACHE = 1024
# Columns of a row that feed other stages rather than a reviewer.
HIDDEN = ("files", "tokens")


def _rev_list(repo: Path, *args: str) -> list[str]:
    return run_git(repo, "rev-list", *args).decode("ascii").split()


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """The best common ancestor of two full SHAs, or None for unrelated histories."""
    out = run_git(repo, "merge-base", a, b, check=False).decode().strip()
    return out or None


class RepoHistory:
    """One repository's mining state, brought up to date on demand; safe to share across threads.

    ``state_path`` defaults to ``data/<repo name>/changes.state.joblib``; the changes table
    is the one the state was saved beside, the labels table ``labels.parquet`` beside it.
    """

    def __init__(
        self,
        repo: str | Path,
        state_path: str | Path | None = None,
        config: Config | None = None,
        changes_path: str | Path | None = None,
        labels_path: str | Path | None = None,
        repo_name: str | None = None,
    ) -> None:
        from riskml.mine.state import config_fingerprint, load_state

        self.repo = ensure_repo(repo)
        self.config = config or Config()
        self.name = repo_name or self.repo.name
        paths = data_paths(self.name)
        self.state_path = Path(state_path) if state_path else paths.state
        if not self.state_path.is_file():
            raise RiskmlError(missing_state_message(self.state_path, self.repo))
        self.changes_path = Path(changes_path) if changes_path else _beside(self.state_path)
        self.labels_path = (
            Path(labels_path) if labels_path else self.state_path.with_name("labels.parquet")
        )
        self.lock = threading.RLock()
        self.state = load_state(self.state_path)
        self.warnings: list[str] = []
        if config_fingerprint(self.state.config) != config_fingerprint(self.config):
            self.warnings.append(
                "the configuration differs from the one the history was mined with; "
                "features use the mined one (re-mine to apply the new one)"
            )
        from riskml.mine.extract import ContentReader

        # diff content read as the history was mined (its configuration files), whatever the
        # state's age: a model with a text component needs a pending change's tokens
        self.reader = ContentReader(self.state.config.mine.config_globs)
        self.added: dict[str, dict] = {}  # rows of the commits this scorer mined into the state
        self._tables: tuple | None = None
        self._tables_key: tuple | None = None
        self.cache: dict[str, tuple] = {}  # name -> (key, value) of what scoring derives
        self._incidents = None  # IncidentIndex of the tables
        self._incidents_key: tuple | None = None
        self._index: dict[str, int] = {}  # commit -> row position in the changes table
        self._index_key: tuple | None = None
        # pending commit -> (size of the history it was computed against, its row, its record)
        self._pending: dict[str, tuple[int, dict, dict]] = {}
        self._tokens: dict[str, str] = {}  # mined commit -> its tokens (read from its diff)
        self._tokens_file: dict[str, str] = {}  # the tokens file beside the table, by commit
        self._tokens_file_key: int | None = None

    # -- keeping the state current ---------------------------------------------------------
    def mainline(self) -> str:
        return resolve_rev(self.repo, self.config.score.mainline)

    def knows(self, sha: str) -> bool:
        """True when ``sha`` (a full SHA) is a commit this history has read from the repository."""
        return sha in self.state.seen or sha in self.added or sha in self._pending

    def covers(self, sha: str) -> bool:
        """True when the state already holds commit ``sha``."""
        return sha in self.state.seen

    def advance(self, target: str | None) -> int:
        """Mine into the state the commits reachable from ``target`` that it has not seen.

        Caller holds :attr:`lock`. Returns the number of commits added.
        """
        if target is None or self.covers(target):
            return 0
        from riskml.mine.extract import records_for

        # The history is closed under ancestry (every commit reachable from a mined one was
        # handled), so excluding the last recorded commit's ancestors only drops seen commits.
        last = self.state.last_commit
        args = ("log", "--topo-order", "--reverse", "--no-show-signature", "--format=%H %at %P")
        try:
            out = run_git(self.repo, *args, target, *([f"^{last}"] if last else []))
        except RiskmlError:  # the last commit is gone (rewritten history): walk it all
            out = run_git(self.repo, *args, target)
        commits = []
        for line in out.decode("ascii", "replace").splitlines():
            sha, at, *parents = line.split()
            if sha not in self.state.seen:
                commits.append((sha, parents, int(at)))
        todo = []
        for key, parents in order_commits(commits):  # mine's order: author time, then topology
            if len(parents) > 1:
                self.state.seen.add(key[2])  # merges are not changes of their own
            else:
                todo.append(key)
        if not todo:
            return 0
        # commits scored while pending were read already
        by_sha = {key[2]: self._pending[key[2]][2] for key in todo if key[2] in self._pending}
        unread = [key[2] for key in todo if key[2] not in by_sha]
        records = self.with_notes(records_for(self.repo, unread, self.reader)) if unread else []
        by_sha.update((rec["commit"], rec) for rec in records)
        for key in todo:
            rec = by_sha.get(key[2])
            if rec is not None:
                self.added[key[2]] = self.state.add(rec)
                self._pending.pop(key[2], None)
            self.state.seen.add(key[2])
        return len(by_sha)

    def with_notes(self, records: list[dict]) -> list[dict]:
        """Attach the git-ai note of each commit (``ai_line_share``), as ``riskml mine`` does."""
        from riskml.mine.provenance import read_ai_notes

        notes = read_ai_notes(self.repo, self.state.config.ai.notes_ref) if records else {}
        for rec in records:
            rec["ai_note"] = notes.get(rec["commit"])
        return records

    # -- rows of pending changes -----------------------------------------------------------
    def row_for_rev(self, sha: str) -> dict:
        """The changes-table row of commit ``sha`` (epoch-second times) as it would enter history
        (:meth:`change_for_rev` without the commits it is made of)."""
        return self.change_for_rev(sha)[0]

    def change_for_rev(self, sha: str, warnings: list[str] | None = None) -> tuple[dict, list[str]]:
        """``(row, commits)`` of commit ``sha``: its changes-table row (epoch-second times) as
        it would enter history, and the non-merge commits the change is made of (``[sha]``).

        A merge commit is scored as the branch it merged: its diff against its first parent
        (``sha^1..sha`` as one change, authored as the merge), ``commits`` the merged ones,
        oldest first. A merge not yet in the history sees the main line up to its first
        parent; one the state already holds (merges have no row of their own) is scored
        against the history mined so far, which then includes the merged commits (said in
        ``warnings``).
        """
        from riskml.mine.extract import record_for_diff, records_for

        mined = None
        mined_merge = False
        with self.lock:
            if sha in self.added:
                return dict(self.added[sha]), [sha]
            if self.covers(sha):
                mined = self._mined_row(sha)
                mined_merge = mined is None
        if mined is not None:
            mined["tokens"] = self._mined_tokens(sha)  # not in the table: beside it
            return mined, [sha]
        with self.lock:
            cached = self._pending.get(sha)
            if cached is not None and cached[0] == self.state.n_commits:
                # same commit, same history: the same row
                return dict(cached[1]), list(cached[2].get("merged") or [sha])
        records = records_for(self.repo, [sha], self.reader)
        if not records:
            raise RiskmlError(f"git cannot read commit {sha[:12]}")
        parents = records[0]["parents"]
        if mined_merge and len(parents) < 2:
            raise RiskmlError(
                f"{sha[:12]} is already in the mined history but not in {self.changes_path} "
                "(re-mine the repository: the table and its state disagree)"
            )
        merged = None
        if len(parents) > 1:
            records = [record_for_diff(self.repo, parents[0], sha, self.reader)]
            merged = _rev_list(
                self.repo, "--reverse", "--topo-order", "--no-merges", sha, f"^{parents[0]}"
            )
        record = self.with_notes(records)[0]
        if merged is not None:
            record["merged"] = merged  # a merge never enters the state: no column reads it
        if mined_merge and warnings is not None:
            warnings.append(
                f"merge {sha[:12]} is already in the mined history: scored as the branch it "
                "merged against the history mined so far, which includes its "
                f"{len(merged)} commit(s)"
            )
        with self.lock:
            if parents and not self.covers(parents[0]):
                self.advance(merge_base(self.repo, parents[0], self.mainline()))
            row = self.state.features(record)
            if len(self._pending) >= PENDING_CACHE:
                self._pending.pop(next(iter(self._pending)))
            self._pending[sha] = (self.state.n_commits, row, record)
            return dict(row), list(merged or [sha])

    def rows_for_range(
        self, base: str, head: str, warnings: list[str] | None = None
    ) -> list[tuple[str, dict]]:
        """``[("BASE..HEAD", combined row), (sha, row), …]``, the commits oldest first; ``[]``
        when HEAD holds no commit that BASE does not (nothing to score).

        Commits of the range the state already holds (mined) keep their mined rows; the
        combined change then cannot be scored without them in its history, which is said in
        ``warnings``. :meth:`range_commits` lists the commits the combined change is made of.
        """
        from riskml.mine.extract import record_for_diff, records_for

        if not _rev_list(self.repo, "--max-count=1", head, f"^{base}"):
            return []
        shas = self.range_commits(base, head)
        cap = self.config.score.max_range_commits
        if len(shas) > cap:
            from riskml.errors import TooLargeError

            raise TooLargeError(
                f"range {base[:12]}..{head[:12]} holds {len(shas)} commits, more than "
                f"[score] max_range_commits ({cap})"
            )
        # the branch as one change: what HEAD adds since it forked from BASE (as a pull
        # request shows it), so commits that landed on BASE's side later are not counted
        fork = merge_base(self.repo, base, head) or base
        combined = record_for_diff(self.repo, fork, head, self.reader)
        records = self.with_notes(records_for(self.repo, shas, self.reader)) if shas else []
        target = merge_base(self.repo, base, self.mainline())
        with self.lock:
            self.advance(target)
            out = [(f"{base}..{head}", self.state.features(combined))]
            held = {rec["commit"]: self.row_for_rev(rec["commit"]) for rec in records
                    if self.covers(rec["commit"])}  # fmt: skip
            # a scratch copy for the branch's own commits (pickle: 2x faster than deepcopy)
            scratch = pickle.loads(pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL))
        if held and warnings is not None:
            warnings.append(
                f"{len(held)} commit(s) of {base[:12]}..{head[:12]} are already in the mined "
                "history: they keep their mined rows, and the combined change's history "
                "includes them"
            )
        for rec in records:
            sha = rec["commit"]
            out.append((sha, held[sha] if sha in held else scratch.add(rec)))
        return out

    def range_commits(self, base: str, head: str) -> list[str]:
        """The non-merge commits of ``BASE..HEAD``, oldest first (each a change of its own)."""
        return _rev_list(self.repo, "--reverse", "--topo-order", "--no-merges", head, f"^{base}")

    def row_for_worktree(self, author_email: str) -> dict:
        """The uncommitted changes of the work tree as one change by ``author_email``."""
        from riskml.mine.extract import record_for_worktree

        rec = record_for_worktree(self.repo, author_email, self.reader)
        if not rec["files"]:
            raise RiskmlError(f"no uncommitted changes in {self.repo}")
        head = run_git(self.repo, "rev-parse", "--verify", "--quiet", "HEAD", check=False)
        head = head.decode().strip()
        target = merge_base(self.repo, head, self.mainline()) if head else None
        with self.lock:
            self.advance(target)
            return self.state.features(rec)

    # -- the mined tables ------------------------------------------------------------------
    def tables(self):
        """``(changes, labels)`` DataFrames (None when absent), re-read when a file changes."""
        key = (_mtime(self.changes_path), _mtime(self.labels_path))
        with self.lock:
            if self._tables is None or key != self._tables_key:
                from riskml.tables import read_changes, read_labels

                changes = read_changes(self.changes_path) if key[0] is not None else None
                labels = read_labels(self.labels_path) if key[1] is not None else None
                self._tables, self._tables_key = (changes, labels), key
            return self._tables

    def tables_key(self) -> tuple | None:
        """The version of :meth:`tables` (changes' and labels' modification times)."""
        self.tables()
        with self.lock:
            return self._tables_key

    def incidents(self):
        """The :class:`~riskml.train.dataset.IncidentIndex` of the labels table (positive links
        with their culprits' files and authors), or None without a changes or labels table.

        Built once per version of the tables (:meth:`tables`), so a request's past-incident
        counts are a few bisections rather than a join of the whole history.
        """
        changes, labels = self.tables()
        with self.lock:
            if self._incidents_key != self._tables_key:
                index = None
                if changes is not None and labels is not None and "label" in labels.columns:
                    from riskml.train.dataset import IncidentIndex

                    index = IncidentIndex(changes[["commit", "files", "author_email"]], labels)
                self._incidents, self._incidents_key = index, self._tables_key
            return self._incidents

    def recent_label_history(self, window: int) -> dict[str, list[float]]:
        """The label-history counts of the newest ``window`` changes of the table, each sorted.

        What a pending change's ``past_incidents_*_recent_pct`` is ranked against (the
        training table computes the same percentile over the changes before each one).
        Cached with :meth:`tables`; empty lists without a changes or labels table.
        """
        from riskml.train.dataset import LABEL_HISTORY_COLUMNS

        changes, _ = self.tables()
        index = self.incidents()
        with self.lock:
            key = (self._tables_key, window)
            if getattr(self, "_recent_key", None) != key:
                out: dict[str, list[float]] = {c: [] for c in LABEL_HISTORY_COLUMNS}
                if changes is not None and index is not None:
                    newest = changes.sort_values("author_time", kind="stable").tail(window)
                    rows = newest[["commit", "author_time", "files", "author_email"]]
                    counts = index.counts(rows.astype({"files": object}))
                    out = {c: sorted(counts[c].astype(float).tolist()) for c in out}
                self._recent, self._recent_key = out, key
            return self._recent

    def _mined_row(self, sha: str) -> dict | None:
        changes, _ = self.tables()
        if changes is None:
            return None
        with self.lock:
            if self._index_key != self._tables_key:
                self._index = {c: i for i, c in enumerate(changes["commit"].tolist())}
                self._index_key = self._tables_key
            position = self._index.get(sha)
        if position is None:
            return None
        row = changes.iloc[position].to_dict()
        for column in ("author_time", "commit_time"):
            row[column] = int(row[column].timestamp())
        return row

    def mined_tokens(self) -> dict[str, str]:
        """commit -> tokens of the tokens file beside the changes table (``{}`` without one),
        re-read when the file changes."""
        from riskml.tables import tokens_path

        path = tokens_path(self.changes_path)
        key = _mtime(path)
        with self.lock:
            if key != self._tokens_file_key:
                table = {}
                if key is not None:
                    from riskml.tables import read_tokens

                    frame = read_tokens(path)
                    table = dict(
                        zip(frame["commit"].tolist(), frame["tokens"].tolist(), strict=True)
                    )
                self._tokens_file, self._tokens_file_key = table, key
            return self._tokens_file

    def _mined_tokens(self, sha: str) -> str:
        """The tokens of a mined commit: from the tokens file `mine` wrote beside the table, else
        read from the commit's own diff (git runs outside the lock)."""
        known = self.mined_tokens().get(sha)
        if known is not None:
            return known
        with self.lock:
            known = self._tokens.get(sha)
        if known is not None:
            return known
        from riskml.mine.extract import records_for

        records = records_for(self.repo, [sha], self.reader)
        tokens = records[0]["content"]["tokens"] if records else ""
        with self.lock:
            if len(self._tokens) >= PENDING_CACHE:
                self._tokens.pop(next(iter(self._tokens)))
            self._tokens[sha] = tokens
        return tokens


def missing_state_message(state_path: Path, repo: Path) -> str:
    """Why there is no state at ``state_path``, and what to do: ``--repo-name`` when the data
    root beside it holds the mining state of other repositories (a checkout whose folder is
    not the name it was mined under), else ``riskml mine``."""
    root = state_path.parent.parent
    try:
        names = sorted(
            p.parent.name for p in root.glob(f"*/{state_path.name}")
            if p.is_file() and p != state_path
        )  # fmt: skip
    except OSError:
        names = []
    mine = f"run `riskml mine --repo {repo}` first (scoring never mines the whole history)"
    if not names:
        return f"no mining state at {state_path}: {mine}"
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return (
        f"no mining state at {state_path}: mined under another name? pass --repo-name NAME "
        f"({root} has the mining state of: {shown}); else {mine}"
    )


def _beside(state_path: Path) -> Path:
    """The changes table a state was saved beside (``changes.state.joblib`` -> ``changes.*``)."""
    stem = state_path.name.split(".state", 1)[0]
    for suffix in SUFFIXES:
        candidate = state_path.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return state_path.with_name(stem + ".parquet")


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


TIME_COLUMNS = ("author_time", "commit_time")


def public_features(row: dict) -> dict:
    """A row as the JSON ``features`` object: plain values, times as ISO-8601 UTC, without
    bulky input-only columns."""
    out = {}
    for key, value in row.items():
        if key in HIDDEN:
            continue
        if key in TIME_COLUMNS and isinstance(value, int | float) and not isinstance(value, bool):
            value = datetime.fromtimestamp(value, UTC)
        out[key] = plain(value)
    return out
