"""The mining state: the history of files and authors as of the last mined commit.

``riskml mine`` feeds every change through :meth:`MiningState.add` in author-time order; the
history features of a change (files' authors, changes and age; the author's experience and
familiarity) are computed from the state *before* the change is recorded, so a row never sees
its own or a later commit. The state is saved among the companions of the changes table
(:mod:`riskml.snapshot`, ``data/<repo>/changes.state/<digest>.<n>/``) so that a later ``mine``
continues incrementally and ``score`` / ``serve`` compute the same row for a pending change
with :meth:`MiningState.features` without re-mining.

On disk it is data, never code: ``state.json`` holds the scalars, the repository's identity
and the configuration that shapes rows; one Arrow IPC file per history (``files.arrow``,
``paths.arrow``, ``authors.arrow``, ``emails.arrow``, ``past.arrow``, ``author_ids.arrow``,
``dir_fixes.arrow``, ``recent.arrow``, ``seen.arrow``, ``alive.arrow``) holds the rest as
columns of numbers and strings, variable-length lists as Arrow list columns. Reading checks
each file's columns and types and builds the objects itself; nothing in a file names a class
or a function.
"""

from __future__ import annotations

import json
from bisect import bisect_right, insort
from pathlib import Path

from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.mine import features as fg
from riskml.mine import file_past as fp
from riskml.mine.recent import RecentWindow

# 2: the touched files' own past (riskml.mine.file_past); 3: the recent window of
# riskml.mine.recent; 4: Arrow and JSON instead of a pickle, with the repository's root commit.
# A state of another version is re-mined from scratch by `riskml mine` rather than continued
# (OutdatedStateError); a version-3 pickle (``<stem>.state.joblib``) is never read at all.
STATE_VERSION = 4
STATE_FORMAT = "riskml mining state"
STATE_FILE = "state.json"
DAY = 86400
# A "whole year" for rexp: 365.25 days, in seconds (an integer, so bucket edges are exact).
YEAR = 31_557_600


def state_path(out: str | Path) -> Path:
    """Where the state of the table ``out`` lives: the ``<stem>.state`` directory beside it,
    which holds the companions of each version of the table (:mod:`riskml.snapshot`)."""
    from riskml.snapshot import state_dir

    return state_dir(out)


class FileHistory:
    """One file (renames followed): its earlier commits by author, last change, line count,
    and what :mod:`riskml.mine.file_past` reads (fixes, reverts, churn, co-changes)."""

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

    # copies in memory (score's scratch state for a branch's own commits); never on disk
    def __getstate__(self):
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


class AuthorHistory:
    """One author: the times of their commits (sorted), first commit, commits per subsystem."""

    __slots__ = ("times", "first_time", "subsystems")

    def __init__(self, first_time: int) -> None:
        self.times: list[int] = []
        self.first_time = first_time
        self.subsystems: dict[str, list[int]] = {}  # subsystem -> indices of their commits

    def __getstate__(self):  # copies in memory, as FileHistory's
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

    def __init__(
        self, repo_name: str, config: Config | None = None, root_commit: str | None = None
    ) -> None:
        self.version = STATE_VERSION
        self.repo_name = repo_name
        self.root_commit = root_commit  # the repository's identity (riskml.gitio.root_commit)
        self.config = config or Config()
        self.files: dict[str, FileHistory] = {}
        self.authors: dict[str, AuthorHistory] = {}
        self.n_commits = 0  # changes recorded (the next commit index)
        self.n_rows = 0  # rows of the table this state belongs to
        self.seen: set[str] = set()  # commits handled: rows, merges and skipped ones
        self.last_commit: str | None = None
        self.last_key: tuple[int, int, str] | None = None  # (author_time, generation, sha)
        self.recent = RecentWindow(self.config.mine.recent_window)
        self.past = fp.PastIndex()  # what each commit index stands for (file_past)
        self.alive: set[int] = set()  # fids of the live files (a partner must be one)
        self.next_fid = 0
        self._paths: fg.PathClassifier | None = None

    # -- persistence -------------------------------------------------------------------------
    def __getstate__(self) -> dict:  # copies in memory (riskml.score.history); never on disk
        d = dict(self.__dict__)
        d["_paths"] = None
        return d

    def __setstate__(self, d: dict) -> None:
        self.__dict__.update(d)

    def save(self, directory: str | Path) -> None:
        """Write the state into ``directory`` (created if needed): ``state.json`` and the
        Arrow files of :mod:`riskml.mine.state_files`.

        Not atomic by itself: ``mine`` saves into the new companions' directory of its table,
        which :func:`riskml.snapshot.commit` renames into place whole.
        """
        from riskml.mine import state_files

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        parts = state_files.write_parts(self, directory)
        scalars = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "repo_name": self.repo_name,
            "root_commit": self.root_commit,
            "config": config_fingerprint(self.config),
            "n_commits": self.n_commits,
            "n_rows": self.n_rows,
            "last_commit": self.last_commit,
            "last_key": list(self.last_key) if self.last_key is not None else None,
            "next_fid": self.next_fid,
            "recent_window": self.recent.size,
            "parts": parts,
        }
        text = json.dumps(scalars, indent=1) + "\n"
        (directory / STATE_FILE).write_text(text, encoding="utf-8")

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


def load_state(path: str | Path) -> MiningState:
    """Read a state saved by ``riskml mine``; anything else is a :class:`RiskmlError`.

    ``path``: the directory holding ``state.json`` (a snapshot's companions), or the table's
    ``<stem>.state`` directory, whose current snapshot is the one of the table beside it. An
    earlier riskml's pickle (``*.state.joblib``) is refused unread ("re-run `riskml mine`");
    a state of another format version is an :class:`OutdatedStateError`.
    """
    path = Path(path)
    if path.name.endswith(".joblib") and path.is_file():
        raise OutdatedStateError(legacy_message(path), 3)
    if path.is_dir() and not (path / STATE_FILE).is_file():
        path = _current_companions(path)
    if not path.is_dir():
        raise RiskmlError(f"mining state not found: {path}")
    return read_state(path)


def legacy_message(path: Path, command: str = "riskml mine") -> str:
    """What to say of an earlier riskml's pickled state ``path`` (never unpickled)."""
    return (
        f"{path}: a mining state of an earlier riskml (a pickle, which riskml no longer reads); "
        f"re-run `{command}`, which mines the table again from scratch"
    )


def _current_companions(directory: Path) -> Path:
    """The companions' directory of the current snapshot of the table a ``<stem>.state``
    directory belongs to."""
    from riskml.snapshot import read
    from riskml.tables import SUFFIXES

    stem = directory.name.removesuffix(".state")
    for suffix in SUFFIXES:
        table = directory.with_name(stem + suffix)
        if table.is_file():
            snap = read(table)
            if snap.companions is not None:
                return snap.companions
    raise RiskmlError(f"mining state not found: no table beside {directory} has one")


def read_state(directory: Path) -> MiningState:
    """The state saved in ``directory`` (``state.json`` and its Arrow files)."""
    from riskml.config import config_from_dict
    from riskml.mine import state_files

    try:
        scalars = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RiskmlError(f"mining state not found: {directory / STATE_FILE}") from None
    except (OSError, ValueError) as exc:
        raise RiskmlError(
            f"{directory}: not a riskml mining state ({type(exc).__name__})"
        ) from None
    if not isinstance(scalars, dict) or scalars.get("format") != STATE_FORMAT:
        raise RiskmlError(f"{directory}: not a riskml mining state")
    version = scalars.get("version")
    if version != STATE_VERSION:
        raise OutdatedStateError(
            f"{directory}: a mining state of format {version}, not {STATE_VERSION} (written by "
            "another riskml version): run `riskml mine` again, which re-mines it from scratch",
            version,
        )
    try:
        config = config_from_dict(scalars["config"])
        state = MiningState(
            str(scalars["repo_name"]), config, _optional_str(scalars, "root_commit")
        )
        state.n_commits = _int(scalars, "n_commits")
        state.n_rows = _int(scalars, "n_rows")
        state.last_commit = _optional_str(scalars, "last_commit")
        key = scalars["last_key"]
        state.last_key = None if key is None else (int(key[0]), int(key[1]), str(key[2]))
        state.next_fid = _int(scalars, "next_fid")
        state.recent = RecentWindow(_int(scalars, "recent_window"))
        state_files.read_parts(state, directory, scalars["parts"])
    except (KeyError, TypeError, ValueError, IndexError, RiskmlError) as exc:
        raise RiskmlError(f"{directory}: not a riskml mining state ({_reason(exc)})") from None
    except OSError as exc:  # the Arrow reader's errors (ArrowInvalid is an OSError too)
        raise RiskmlError(f"{directory}: not a riskml mining state ({_reason(exc)})") from None
    return state


def _int(d: dict, key: str) -> int:
    value = d[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} is not an integer")
    return value


def _optional_str(d: dict, key: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} is not text")
    return value


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
