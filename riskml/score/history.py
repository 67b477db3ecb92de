"""History features for pending changes: the saved mining state, kept current incrementally.

A :class:`RepoHistory` holds one repository's mining state (``data/<repo>/changes.state/``, the
state of the changes table's current snapshot, :mod:`riskml.snapshot`) in memory. Before a change is scored, the main-line commits that come before it and that the
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

A request's answer depends on the request and the repository only, never on the requests
before it: the saved state is never changed, and the history a change is scored against is
the saved state advanced to its target exactly as a fresh ``riskml score`` advances it (the
same commits, in the same order). Those advanced histories are cached by target
(:data:`HISTORY_CACHE` of them); a new target continues a cached one only when the commits
it adds come after all of that one's in mine's order, else it starts from the saved state
again (the commits' records are cached, so git reads each commit once).

Thread safety: one lock per repository guards the caches; a cached history is never changed.
"""

from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from riskml import budget
from riskml.config import Config, data_paths
from riskml.errors import RiskmlError
from riskml.gitio import ensure_repo, resolve_rev, run_git
from riskml.jsonvalue import plain
from riskml.mine.extract import records_for
from riskml.mine.miner import order_commits
from riskml.tables import SUFFIXES

# Rows of pending commits kept for repeated requests (release tooling polls the same commit);
# also the number of main-line commits' records and of merge bases kept.
PENDING_CACHE = 1024
# Histories advanced to a target kept in memory (each a copy of the state).
HISTORY_CACHE = 4
# Columns of a row that feed other stages rather than a reviewer.
HIDDEN = ("files", "tokens")


def _rev_list(repo: Path, *args: str) -> list[str]:
    return run_git(repo, "rev-list", *args).decode("ascii").split()


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """The best common ancestor of two full SHAs, or None for unrelated histories."""
    out = run_git(repo, "merge-base", a, b, check=False).decode().strip()
    return out or None


@dataclass
class Advanced:
    """The saved state advanced to one target: the saved state plus the main-line commits
    before the target that it lacks (``todo``, in mine's order, and the merges among them)."""

    todo: tuple[str, ...]
    merges: frozenset[str]
    state: object  # riskml.mine.state.MiningState; never changed once built
    added: dict[str, dict] = field(default_factory=dict)  # rows of ``todo`` as they entered

    def continues(self, todo: list[str], merges: set[str]) -> bool:
        """True when this history is a prefix of the one of (``todo``, ``merges``)."""
        n = len(self.todo)
        return tuple(todo[:n]) == self.todo and self.merges <= merges


def _copy(state):
    """A deep copy of a mining state (pickle: 2x faster than deepcopy)."""
    return pickle.loads(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def _put(cache: OrderedDict, key, value, size: int = PENDING_CACHE) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


class RepoHistory:
    """One repository's mining state, brought up to date on demand; safe to share across threads.

    ``state_path`` defaults to ``data/<repo name>/changes.state`` (the directory of the
    changes table's companions; the state read is the one of the table's current bytes, or a
    snapshot's own directory); the changes table is the one beside it, the labels table
    ``labels.parquet`` beside that. A state or labels table of another repository, an
    earlier riskml's pickled state and a table changed since it was mined are one
    :class:`RiskmlError` each, saying to run ``riskml mine``.
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
        from riskml.mine.state import config_fingerprint

        self.repo = ensure_repo(repo)
        self.config = config or Config()
        self.name = repo_name or self.repo.name
        paths = data_paths(self.name)
        self.state_path = Path(state_path) if state_path else paths.state
        self.changes_path = Path(changes_path) if changes_path else _beside(self.state_path)
        self.labels_path = (
            Path(labels_path) if labels_path else self.changes_path.with_name("labels.parquet")
        )
        self.lock = threading.RLock()
        self.state = self._load_state()
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
        # target -> the saved state advanced to it (self.state itself is never changed)
        self._advanced: OrderedDict[str, Advanced] = OrderedDict()
        self._records: OrderedDict[str, dict] = OrderedDict()  # main-line commit -> record
        self._merge_bases: OrderedDict[tuple[str, str], str | None] = OrderedDict()
        self._tables: tuple | None = None
        self._tables_key: tuple | None = None
        self.cache: dict[str, tuple] = {}  # name -> (key, value) of what scoring derives
        self._incidents = None  # IncidentIndex of the tables
        self._incidents_key: tuple | None = None
        self._index: dict[str, int] = {}  # commit -> row position in the changes table
        self._index_key: tuple | None = None
        # pending commit -> (its first parent, the target of the history it was scored
        # against, its row, its record)
        self._pending: OrderedDict[str, tuple[str | None, str | None, dict, dict]] = OrderedDict()
        self._tokens: dict[str, str] = {}  # mined commit -> its tokens (read from its diff)
        self._tokens_path: Path | None = None  # the tokens file of the table as last read
        self._tokens_file: dict[str, str] = {}  # that file, by commit
        self._tokens_file_key: tuple | None = None

    def _load_state(self):
        """The mining state of ``state_path``: a snapshot's own directory, or the state of the
        changes table's current snapshot; an earlier riskml's pickle is refused unread."""
        from riskml import snapshot
        from riskml.mine.state import STATE_FILE, legacy_message, read_state
        from riskml.tables import check_repository, table_root

        command = f"riskml mine --repo {self.repo}"
        again = f"run `{command}`"
        path = self.state_path
        legacy = snapshot.legacy_state_path(self.changes_path)
        if path.name.endswith(".joblib") or (not path.exists() and legacy.is_file()):
            raise RiskmlError(legacy_message(path if path.name.endswith(".joblib") else legacy,
                                             command))  # fmt: skip
        if not path.is_dir():
            raise RiskmlError(missing_state_message(path, self.repo))
        if (path / STATE_FILE).is_file():
            state = read_state(path)
        else:
            if not self.changes_path.is_file():
                raise RiskmlError(
                    f"no changes table {self.changes_path} beside the mining state {path}: {again}"
                )

            def state_of(snap):
                if snap.companions is None:
                    raise RiskmlError(
                        f"{snap.table} has no mining state in {path} (it was changed after "
                        f"`riskml mine` wrote it?): {again}"
                    )
                return read_state(snap.companions)

            state = snapshot.read_with(self.changes_path, state_of)
        check_repository(state.root_commit, self.repo, f"{path}: the mining state",
                         f"{again} (or give its own --state / --repo-name)")  # fmt: skip
        # the labels beside it too, before any work (re-checked whenever they are re-read)
        check_repository(table_root(self.labels_path), self.repo,
                         f"{self.labels_path}: a labels table", self._label_hint())  # fmt: skip
        return state

    def _label_hint(self) -> str:
        return f"run `riskml label --repo {self.repo}`"

    # -- keeping the state current ---------------------------------------------------------
    def mainline(self) -> str:
        return resolve_rev(self.repo, self.config.score.mainline)

    def knows(self, sha: str) -> bool:
        """True when ``sha`` (a full SHA) is a commit this history has read from the repository."""
        with self.lock:
            return sha in self.state.seen or sha in self._pending or sha in self._records

    def covers(self, sha: str) -> bool:
        """True when the saved state holds commit ``sha`` (it was mined)."""
        return sha in self.state.seen

    def merge_base(self, a: str, b: str) -> str | None:
        """:func:`merge_base` of two full SHAs, remembered (it never changes for them)."""
        key = (a, b)
        with self.lock:
            if key in self._merge_bases:
                return self._merge_bases[key]
        found = merge_base(self.repo, a, b)
        with self.lock:
            _put(self._merge_bases, key, found)
        return found

    def target_of(self, commit: str | None) -> str | None:
        """The commit a change based on ``commit`` sees the main line up to:
        ``merge-base(commit, mainline)``; None when the saved state already holds ``commit``
        (the change sees the saved state as it is)."""
        if commit is None or self.covers(commit):
            return None
        return self.merge_base(commit, self.mainline())

    def advanced(self, target: str | None) -> Advanced:
        """The saved state with the commits reachable from ``target`` that it has not seen,
        added in mine's order: what a fresh ``riskml score`` scores a change based on
        ``target`` against, whatever this history was asked before. Never change it.

        Cached by target; built on a copy (of the saved state, or of a cached history it
        continues), so a build stopped by a request's time budget leaves every cache as it was.
        """
        if target is None or self.covers(target):
            return Advanced((), frozenset(), self.state)
        with self.lock:
            known = self._advanced.get(target)
            if known is not None:
                self._advanced.move_to_end(target)
                return known
            todo, merges = self._plan(target)
            start = max(
                (a for a in self._advanced.values() if a.continues(todo, merges)),
                key=lambda a: len(a.todo),
                default=None,
            )
            if start is not None and start.todo == tuple(todo) and start.merges == merges:
                built = start  # another target with the same history (an empty merge)
            else:
                built = self._build(todo, merges, start)
            _put(self._advanced, target, built, HISTORY_CACHE)
            return built

    def _plan(self, target: str) -> tuple[list[str], set[str]]:
        """The commits ``advance`` adds to the saved state for ``target``: the non-merge ones in
        mine's order (author time, then topology), and the merges (only marked seen)."""
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
        todo, merges = [], set()
        for key, parents in order_commits(commits):  # mine's order: author time, then topology
            if len(parents) > 1:
                merges.add(key[2])  # merges are not changes
            else:
                todo.append(key[2])
        return todo, merges

    def _build(self, todo: list[str], merges: set[str], start: Advanced | None) -> Advanced:
        """``start`` (default: the saved state) on a copy, with the rest of ``todo`` added."""
        done = len(start.todo) if start is not None else 0
        rest = todo[done:]
        # commits scored while pending, and main-line commits of earlier builds, were read
        by_sha = {}
        for sha in rest:
            if sha in self._pending:
                by_sha[sha] = self._pending[sha][3]
            elif sha in self._records:
                by_sha[sha] = self._records[sha]
        unread = [sha for sha in rest if sha not in by_sha]
        # read everything before building: a read stopped by a request's time budget
        # (riskml.budget) changes nothing, and the next request reads the same commits
        records = self.with_notes(records_for(self.repo, unread, self.reader)) if unread else []
        budget.check()
        by_sha.update((rec["commit"], rec) for rec in records)
        state = _copy(start.state if start is not None else self.state)
        added = dict(start.added) if start is not None else {}
        state.seen.update(merges)
        for sha in rest:
            rec = by_sha.get(sha)
            if rec is not None:
                added[sha] = state.add(rec)
                _put(self._records, sha, rec)
            state.seen.add(sha)
        return Advanced(tuple(todo), frozenset(merges), state, added)

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
        from riskml.mine.extract import record_for_diff

        mined = None
        mined_merge = False
        if self.covers(sha):
            mined = self._mined_row(sha)
            mined_merge = mined is None
        if mined is not None:
            mined["tokens"] = self._mined_tokens(sha)  # not in the table: beside it
            return mined, [sha]
        with self.lock:
            cached = self._pending.get(sha)
        if cached is not None:
            parent, target, row, record = cached
            if self.target_of(parent) == target:  # same commit, same history: the same row
                with self.lock:
                    self._pending.move_to_end(sha)
                return dict(row), list(record.get("merged") or [sha])
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
        parent = parents[0] if parents else None
        target = self.target_of(parent)
        row = self.advanced(target).state.features(record)
        with self.lock:
            _put(self._pending, sha, (parent, target, row, record))
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
        from riskml.mine.extract import record_for_diff

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
        fork = self.merge_base(base, head) or base
        combined = record_for_diff(self.repo, fork, head, self.reader)
        records = self.with_notes(records_for(self.repo, shas, self.reader)) if shas else []
        history = self.advanced(self.merge_base(base, self.mainline()))
        out = [(f"{base}..{head}", history.state.features(combined))]
        held = {}
        for rec in records:
            sha = rec["commit"]
            if sha in history.added:
                held[sha] = dict(history.added[sha])
            elif sha in history.state.seen:
                held[sha] = self.row_for_rev(sha)
        if held and warnings is not None:
            warnings.append(
                f"{len(held)} commit(s) of {base[:12]}..{head[:12]} are already in the mined "
                "history: they keep their mined rows, and the combined change's history "
                "includes them"
            )
        # a scratch copy for the branch's own commits, each seeing the ones before it
        scratch = _copy(history.state) if len(held) < len(records) else None
        for rec in records:
            budget.check()  # the branch's own commits, on the scratch copy: stop between them
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
        target = self.merge_base(head, self.mainline()) if head else None
        return self.advanced(target).state.features(rec)

    # -- the mined tables ------------------------------------------------------------------
    def tables(self):
        """``(changes, labels)`` DataFrames (None when absent), re-read when a file changes.

        The changes table is read with the path of its own tokens file (one snapshot); a
        labels table of another repository is a :class:`RiskmlError`.
        """
        key = (_mtime(self.changes_path), _mtime(self.labels_path))
        with self.lock:
            if self._tables is None or key != self._tables_key:
                from riskml import snapshot
                from riskml.tables import (
                    changes_of,
                    check_table_repository,
                    read_labels,
                    tokens_file,
                )

                changes, tokens = None, None
                if key[0] is not None:
                    changes, tokens = snapshot.read_with(
                        self.changes_path, lambda snap: (changes_of(snap), tokens_file(snap))
                    )
                labels = read_labels(self.labels_path) if key[1] is not None else None
                if labels is not None:
                    check_table_repository(labels, self.repo, self._label_hint())
                self._tables, self._tables_key = (changes, labels), key
                self._tokens_path = tokens
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
        """commit -> tokens of the tokens file of the changes table as :meth:`tables` last read
        it (``{}`` without one), read when first needed for that version."""
        self.tables()
        with self.lock:
            path = self._tokens_path
            key = (self._tables_key, path)
            if key != self._tokens_file_key:
                table = {}
                if path is not None:
                    from riskml.tables import read_tokens

                    try:
                        frame = read_tokens(path)
                    except RiskmlError:  # removed by a newer mine: tokens come from the diffs
                        frame = None
                    if frame is not None:
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
            if p.is_dir() and p != state_path
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
    """The changes table a state belongs to: ``changes.state`` (or the ``changes.state.joblib``
    of an earlier riskml, or a snapshot directory inside ``changes.state/``) -> ``changes.*``."""
    from riskml.mine.state import STATE_FILE

    if (state_path / STATE_FILE).is_file():
        state_path = state_path.parent
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
