"""The mining state: the history of files and authors as of the last mined commit.

``riskml mine`` feeds every change through :meth:`MiningState.add` in author-time order; the
history features of a change (files' authors, changes and age; the author's experience and
familiarity) are computed from the state *before* the change is recorded, so a row never sees
its own or a later commit. The state is saved beside the changes table (joblib) so that a later
``mine`` continues incrementally and ``score`` / ``serve`` compute the same row for a pending
change with :meth:`MiningState.features` without re-mining.
"""

from __future__ import annotations

import dataclasses
import pickle
from bisect import bisect_right, insort
from pathlib import Path

from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.mine import features as fg
from riskml.mine import file_past as fp
from riskml.mine.recent import RecentWindow

# 2: the touched files' own past (riskml.mine.file_past); 3: the recent window of
# riskml.mine.recent. A state of another version is re-mined from scratch by `riskml mine`
# rather than continued (OutdatedStateError).
STATE_VERSION = 3
DAY = 86400
# A "whole year" for rexp: 365.25 days, in seconds (an integer, so bucket edges are exact).
YEAR = 31_557_600


def state_path(out: str | Path) -> Path:
    """Where the state of the table ``out`` lives: ``<stem>.state.joblib`` beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.state.joblib")


class FileHistory:
    """One file (renames followed): its earlier commits by author, last change, line count,
    and what :mod:`riskml.mine.file_past` reads (fixes, reverts, churn, co-changes)."""

    # also what it pickles, in this order (a version-1 state has the first five)
    __slots__ = (
        "authors", "commits", "last_time", "lines", "top", "fid", "first_time", "churn", "fixes",
        "reverts", "partners", "n_coupled",
    )  # fmt: skip

    def __init__(self, fid: int = -1) -> None:
        self.authors: dict[str, list[int]] = {}  # author e-mail -> indices of their commits
        self.commits: list[int] = []  # indices of the commits that touched it
        self.last_time: int | None = None  # author time of its last change
        self.lines: int = 0  # line count after its last change (0 when binary)
        self.top = 0  # the most commits any one author made to it
        self.fid = fid  # the file's identity, kept across renames
        self.first_time: int | None = None  # author time of its first change (creation)
        self.churn: list[int] = []  # lines added + deleted by each of ``commits``
        self.fixes: list[int] = []  # indices of its fix commits
        self.reverts: list[int] = []  # indices of its revert commits
        self.partners: dict[int, int] = {}  # fid -> commits changing both (coupling commits)
        self.n_coupled = 0  # its commits of at most file_past.COUPLING_MAX_FILES files

    def __getstate__(self):
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state) -> None:
        if len(state) == 5:  # a version-1 state: readable, so load_state can say it is old
            state = (*state, -1, None, [], [], [], {}, 0)
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


class AuthorHistory:
    """One author: the times of their commits (sorted), first commit, commits per subsystem."""

    __slots__ = ("times", "first_time", "subsystems")

    def __init__(self, first_time: int) -> None:
        self.times: list[int] = []
        self.first_time = first_time
        self.subsystems: dict[str, list[int]] = {}  # subsystem -> indices of their commits

    def __getstate__(self):
        return (self.times, self.first_time, self.subsystems)

    def __setstate__(self, state) -> None:
        self.times, self.first_time, self.subsystems = state


def config_fingerprint(config: Config) -> dict:
    """The parts of the config that change rows (compared on incremental runs)."""
    d = config.to_dict()
    return {"critical_paths": d["critical_paths"], "mine": d["mine"], "ai": d["ai"]}


class MiningState:
    """History of files and authors; turns a raw commit record into a row of the changes table.

    ``features(record)`` treats everything already in the state as earlier than the record.
    """

    def __init__(self, repo_name: str, config: Config | None = None) -> None:
        self.version = STATE_VERSION
        self.repo_name = repo_name
        self.config = config or Config()
        self.files: dict[str, FileHistory] = {}
        self.authors: dict[str, AuthorHistory] = {}
        self.n_commits = 0  # changes recorded (the next commit index)
        self.n_rows = 0  # rows of the table this state belongs to
        self.seen: set[str] = set()  # commits handled: rows, merges and skipped ones
        self.last_commit: str | None = None
        self.last_key: tuple[int, int, str] | None = None  # (author_time, generation, sha)
        self.generation: dict[str, int] = {}
        self.recent = RecentWindow(self.config.mine.recent_window)
        self.past = fp.PastIndex()  # what each commit index stands for (file_past)
        self.alive: set[int] = set()  # fids of the live files (a partner must be one)
        self.next_fid = 0
        # rows carry the diff-content columns and a tokens file is kept beside the table
        # (False for a table mined by a riskml before them: it goes on without)
        self.content = True
        self._paths: fg.PathClassifier | None = None

    # -- persistence -------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        d["_paths"] = None
        return d

    def __setstate__(self, d: dict) -> None:
        d.setdefault("content", False)  # a state saved before the diff-content columns
        self.__dict__.update(d)

    def save(self, path: str | Path) -> None:
        """Write atomically (a temporary file renamed over ``path``).

        A plain pickle, which ``joblib.load`` reads too: joblib's own pickler is pure Python
        and takes ten times longer on the many small objects of a state.
        """
        from riskml.tables import atomic_write

        def dump(tmp: Path) -> None:
            with tmp.open("wb") as fh:
                pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)

        atomic_write(path, dump)  # a failed write (a full disk) leaves no temporary file

    # -- rows --------------------------------------------------------------------------------
    @property
    def paths(self) -> fg.PathClassifier:
        if self._paths is None:
            self._paths = fg.PathClassifier(self.config)
        return self._paths

    def set_config(self, config: Config) -> None:
        self.config = config
        self._paths = None

    def _history_key(self, f: dict) -> str | None:
        if f["status"] == "A":
            return None  # a new file starts a fresh history
        return f["old_path"] if f["status"] == "R" and f["old_path"] else f["path"]

    def features(self, record: dict) -> dict:
        """The changes-table row of ``record`` as if it came right after the state (no mutation).

        A record read with its diff content also gives the content columns and ``tokens``
        (:func:`riskml.mine.content.format_bag` text; kept beside the table, not in it).
        """
        row = fg.identity(record, self.repo_name)
        row.update(fg.size(record))
        row.update(fg.purpose(record, self.config.mine))
        row.update(self._history(record))
        row.update(self._past(record))
        row.update(self.paths(record))
        row.update(fg.provenance(record, self.config.ai))
        row.update(fg.when(record))
        row.update(fg.file_kinds(record))
        row.update(self.recent.percentiles(row))
        row.update(fg.content_flags(record, self.paths))
        if record.get("content") is not None:
            row["tokens"] = record["content"]["tokens"]  # beside the table, not in it
        return row

    def _history(self, record: dict) -> dict:
        t = record["author_time"]
        email = record["author_email"]
        files = record["files"]
        hists = []
        for f in files:
            key = self._history_key(f)
            hists.append(self.files.get(key) if key is not None else None)
        known = [h for h in hists if h is not None and h.commits]

        # History of the touched files
        devs: set[str] = set()
        for h in known:
            devs.update(h.authors)
        if len(known) == 1:
            nuc = len(known[0].commits)
        else:
            nuc = len(set().union(*(h.commits for h in known))) if known else 0
        ages = [max(0, t - h.last_time) / DAY for h in known if h.last_time is not None]
        age = sum(ages) / len(files) if files else 0.0

        # Author experience and familiarity
        a = self.authors.get(email)
        exp = len(a.times) if a else 0
        rexp = _rexp(a.times, t) if a else 0.0
        if a:
            subs = {fg.subsystem(f["path"]) for f in files}
            lists = [a.subsystems[s] for s in subs if s in a.subsystems]
            sexp = len(lists[0]) if len(lists) == 1 else len(set().union(*lists))
        else:
            sexp = 0
        mine_lists = [h.authors[email] for h in known if email in h.authors]
        if len(mine_lists) == 1:
            author_file_commits = len(mine_lists[0])
        else:
            author_file_commits = len(set().union(*mine_lists)) if mine_lists else 0
        first_touch = sum(1 for h in hists if h is None or email not in h.authors)
        owned = sum(1 for h in known if len(h.authors.get(email, ())) == h.top)
        return {
            "ndev": len(devs),
            "age": age,
            "nuc": nuc,
            "exp": exp,
            "rexp": rexp,
            "sexp": sexp,
            "author_file_commits": author_file_commits,
            "first_touch_files": first_touch,
            "owned_share": owned / len(known) if known else 0.0,
            "author_tenure_days": max(0, t - a.first_time) / DAY if a else 0.0,
        }

    def _known(self, record: dict) -> list[FileHistory]:
        """Histories of the touched files that have one (new files have none)."""
        known = []
        for f in record["files"]:
            key = self._history_key(f)
            h = self.files.get(key) if key is not None else None
            if h is not None and h.commits:
                known.append(h)
        return known

    def _past(self, record: dict) -> dict:
        """The touched files' own past (:mod:`riskml.mine.file_past`)."""
        t = record["author_time"]
        known = self._known(record)
        dirs = {fg.directory(f["path"]) for f in record["files"]}
        row = fp.fix_history(known, t, self.past, dirs)
        row.update(fp.recency(known, t))
        row.update(fp.ownership(known, record["author_email"]))
        row.update(fp.coupling(known, self.alive))
        row.update(fp.activity(known, t, self.past))
        return row

    def add(self, record: dict, key: tuple[int, int, str] | None = None) -> dict:
        """The row of ``record`` (as :meth:`features`), then record the change in the history."""
        row = self.features(record)
        self._record(record, fix=row["fix"], revert=row["is_revert"])
        self.recent.push(row)
        self.n_rows += 1
        self.seen.add(record["commit"])
        self.last_commit = record["commit"]
        if key is not None and (self.last_key is None or key > self.last_key):
            self.last_key = key
        return row

    def _new_file(self) -> FileHistory:
        h = FileHistory(self.next_fid)
        self.next_fid += 1
        return h

    def _record(self, record: dict, fix: bool = False, revert: bool = False) -> None:
        idx = self.n_commits
        self.n_commits += 1
        t = record["author_time"]
        email = record["author_email"]
        files = record["files"]
        moved = {
            f["old_path"]: self.files.pop(f["old_path"], None)
            for f in files
            if f["status"] == "R" and f["old_path"]
        }
        alive = self.alive
        surviving: dict[int, FileHistory] = {}
        for f in files:
            if f["status"] == "A":
                h = self._new_file()
            elif f["status"] == "R" and f["old_path"]:
                h = moved.get(f["old_path"]) or self.files.get(f["path"]) or self._new_file()
            else:
                h = self.files.get(f["path"]) or self._new_file()
            mine = h.authors.setdefault(email, [])
            mine.append(idx)
            h.top = max(h.top, len(mine))
            h.commits.append(idx)
            h.churn.append(f["added"] + f["deleted"])
            if fix:
                h.fixes.append(idx)
            if revert:
                h.reverts.append(idx)
            h.last_time = t if h.last_time is None else max(h.last_time, t)
            h.first_time = t if h.first_time is None else min(h.first_time, t)
            h.lines = 0 if f["binary"] else f["lines_before"] + f["added"] - f["deleted"]
            if f["status"] == "D":
                self.files.pop(f["path"], None)  # a deleted file's history ends with it
                alive.discard(h.fid)
                surviving.pop(h.fid, None)
            else:
                old = self.files.get(f["path"])
                if old is not None and old is not h:
                    alive.discard(old.fid)  # replaced by a new file or a file renamed onto it
                self.files[f["path"]] = h
                alive.add(h.fid)
                surviving[h.fid] = h
        if len(files) <= fp.COUPLING_MAX_FILES:
            fp.record_coupling(list(surviving.values()))
        self.past.record(t, email, {fg.directory(f["path"]) for f in files}, fix)
        a = self.authors.get(email)
        if a is None:
            a = self.authors[email] = AuthorHistory(t)
        a.first_time = min(a.first_time, t)
        if a.times and t < a.times[-1]:
            insort(a.times, t)
        else:
            a.times.append(t)
        for s in {fg.subsystem(f["path"]) for f in files}:
            a.subsystems.setdefault(s, []).append(idx)


def _rexp(times: list[int], t: int) -> float:
    """Σ 1/(n+1) over ``times`` (sorted), n = whole years (365.25 days) before ``t``, n ≥ 0."""
    if not times:
        return 0.0
    total = 0.0
    hi_count = len(times)  # commits at or after t count as n = 0
    k = 0
    while hi_count > 0:
        lo = t - (k + 1) * YEAR
        lo_count = bisect_right(times, lo)
        total += (hi_count - lo_count) / (k + 1)
        hi_count = lo_count
        k += 1
    return total


class OutdatedStateError(RiskmlError):
    """A mining state of another format version (``version``): its rows lack (or differ in)
    columns, so ``riskml mine`` re-mines the table from scratch instead of continuing it."""

    def __init__(self, message: str, version) -> None:
        super().__init__(message)
        self.version = version


# Everything a state holds, and nothing else: loading resolves no other name, so a crafted
# file cannot call a function (os.system, eval, …) while it is read; these classes' own
# restoring only sets attributes.
_STATE_CLASSES = {
    ("riskml.mine.state", "MiningState"), ("riskml.mine.state", "FileHistory"),
    ("riskml.mine.state", "AuthorHistory"), ("riskml.mine.recent", "RecentWindow"),
    ("riskml.mine.file_past", "PastIndex"), ("collections", "deque"),
    ("array", "array"), ("array", "_array_reconstructor"),
}  # fmt: skip


class _StateUnpickler(pickle.Unpickler):
    """The mining state's reader: only the state's own classes and the configuration's
    dataclasses may be named (the Python documentation's "restricting globals")."""

    def find_class(self, module: str, name: str):
        from riskml import config as config_module

        allowed = (module, name) in _STATE_CLASSES or (
            module == "riskml.config"
            and dataclasses.is_dataclass(getattr(config_module, name, None))
        )
        if not allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a mining state")
        return super().find_class(module, name)


def load_state(path: str | Path) -> MiningState:
    """Read a state saved by ``riskml mine``; a missing or foreign file is a :class:`RiskmlError`."""
    path = Path(path)
    if not path.is_file():
        raise RiskmlError(f"mining state not found: {path}")
    try:
        with path.open("rb") as fh:
            state = _StateUnpickler(fh).load()
    except Exception as exc:  # a truncated, foreign or crafted file, not a bug of ours
        raise RiskmlError(f"{path}: not a riskml mining state ({type(exc).__name__})") from None
    if not isinstance(state, MiningState):
        raise RiskmlError(f"{path}: not a riskml mining state of version {STATE_VERSION}")
    version = getattr(state, "version", None)
    if version != STATE_VERSION:
        raise OutdatedStateError(
            f"{path}: a mining state of format {version}, not {STATE_VERSION} (written by "
            "another riskml version): run `riskml mine` again, which re-mines it from scratch",
            version,
        )
    if not dataclasses.is_dataclass(state.config):
        raise RiskmlError(f"{path}: mining state without its config")
    return state
