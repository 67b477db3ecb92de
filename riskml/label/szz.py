"""SZZ through PyDriller's blame: the commits that last touched the lines a fix changed.

Each fix commit is traced with :meth:`pydriller.Git.get_commits_last_modified_lines`, which
blames ``fix^`` with ``-w`` (whitespace changes never move the blame), skips blank and
comment-only deleted lines, and honours ``.git-blame-ignore-revs``; the fix's diff is taken
with PyDriller's ``skip_whitespaces`` (``-w``). On top of PyDriller this
module skips a deleted line whose stripped text is added back in the same file by the fix
(a whitespace-only or moved line, not the bug).

Results are plain rows ``{"fix", "n_files", "candidates": {path: [sha, ...]}}``, computed in
joblib worker processes over batches of fix commits and cached on disk by fix SHA, so relabelling
after new commits or incidents only traces fixes not seen before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from riskml.gitio import git_env, run_git

CACHE_VERSION = "2"  # bump when what a traced row holds changes
IGNORE_REVS_FILE = ".git-blame-ignore-revs"


def _szz_git(path: str, ignore_comments: bool):
    """A PyDriller ``Git`` that filters lines as configured and leaves the repo config alone."""
    from git import Repo
    from pydriller import Git

    class SZZGit(Git):
        def __init__(self, path: str) -> None:
            self._ignore_comments = ignore_comments
            self.skip_lines: frozenset[str] = frozenset()
            self.blame_lines: list[int] = []
            self._commits: dict[str, object] = {}
            super().__init__(path)
            # PyDriller's own whitespace option: the fix's diff is taken with -w, so lines it
            # only re-indents or re-spaces are not "deleted" at all.
            self._conf.set_value("skip_whitespaces", True)

        def _open_repository(self) -> None:
            # PyDriller writes blame.markUnblamableLines=true into the repository's config;
            # give it to every git command of this Repo through the environment instead.
            # The same environment carries the configuration that keeps the repository's own
            # commands (fsmonitor, filters) from running (riskml.gitio.git_env).
            self._repo = Repo(str(self.path))
            env = git_env(self.path, extra={"blame.markUnblamableLines": "true"})
            self._repo.git.update_environment(
                **{k: v for k, v in env.items() if k.startswith("GIT_")}
            )
            if self._conf.get("main_branch") is None:
                self._discover_main_branch(self._repo)

        def _get_blame(self, commit_hash: str, path: str, hashes_to_ignore_path=None):
            # PyDriller blames the whole file; only the deleted lines are read, so blame just
            # those ranges (-L) and put each output line back at its line number. A file the
            # fix only adds to needs no blame at all.
            wanted = self.blame_lines
            if not wanted:
                return []
            ranges: list[list[int]] = []
            for n in wanted:
                if ranges and n == ranges[-1][1] + 1:
                    ranges[-1][1] = n
                else:
                    ranges.append([n, n])
            args = ["-w", "--no-textconv", commit_hash + "^"]
            for a, b in ranges:
                args += ["-L", f"{a},{b}"]
            if hashes_to_ignore_path is not None:
                args += ["--ignore-revs-file", hashes_to_ignore_path]
            out = self.repo.git.blame(*args, "--", path).split("\n")
            lines = [""] * wanted[-1]
            for n, text in zip((n for a, b in ranges for n in range(a, b + 1)), out, strict=False):
                lines[n - 1] = text
            return lines

        def _useless_line(self, line: str) -> bool:  # called with the stripped line
            if not line or line in self.skip_lines:
                return True
            return self._ignore_comments and Git._useless_line(line)

        def get_commit(self, commit_id: str):
            # PyDriller resolves every blamed line's abbreviated SHA; many repeat.
            found = self._commits.get(commit_id)
            if found is None:
                found = self._commits[commit_id] = super().get_commit(commit_id)
            return found

    return SZZGit(path)


def trace_fixes(
    repo: str,
    fixes: list[str],
    ignore_comments: bool = True,
    ignore_revs: str | None = None,
    skip_globs: list[str] | None = None,
    store: str | None = None,
) -> list[dict]:
    """SZZ for each fix commit, in this process. Returns one plain row per fix.

    Files matching ``skip_globs`` (e.g. the test globs) are counted but not traced. With
    ``store`` (a cache folder), each row is written there (atomically) as soon as it is
    traced, so a run killed half-way keeps what it did.
    """
    from wcmatch import glob

    flags = glob.GLOBSTAR | glob.DOTGLOB  # as riskml.mine matches its globs
    git = _szz_git(repo, ignore_comments)
    rows = []
    try:
        for sha in fixes:
            commit = git.get_commit(sha)
            mods = list(commit.modified_files)  # each access re-runs git diff: take it once
            found: dict[str, set[str]] = {}
            for mod in mods:
                path = mod.new_path or mod.old_path
                if skip_globs and glob.globmatch(path, skip_globs, flags=flags):
                    continue
                parsed = mod.diff_parsed
                git.skip_lines = frozenset(line.strip() for _, line in parsed["added"])
                git.blame_lines = sorted({n for n, _ in parsed["deleted"]})
                last = git.get_commits_last_modified_lines(
                    commit, modification=mod, hashes_to_ignore_path=ignore_revs
                )
                for path, shas in last.items():
                    found.setdefault(path, set()).update(shas)
            row = {
                "fix": sha,
                "n_files": len(mods),
                "candidates": {p: sorted(s) for p, s in sorted(found.items())},
            }
            rows.append(row)
            _write_cached(Path(store) if store is not None else None, row)  # the checkpoint
            git._commits.clear()
    finally:
        git.clear()
    return rows


def _clean_ignore_revs(repo: Path, work: Path) -> tuple[str | None, str]:
    """``.git-blame-ignore-revs`` reduced to full SHAs of commits git knows (so blame never fails).

    Returns (path of the cleaned file or None, digest of its content for the cache key).
    """
    src = repo / IGNORE_REVS_FILE
    if not src.is_file():
        return None, "none"
    from riskml.label.incidents import resolve_commits

    given = []
    for line in src.read_text(encoding="utf-8", errors="replace").splitlines():
        token = line.split("#", 1)[0].strip()
        if token:
            given.append(token)
    resolved = resolve_commits(repo, given)
    full = sorted({v for v in resolved.values() if len(v) == 40})
    if not full:
        return None, "none"
    content = "".join(f"{s}\n" for s in full)
    digest = hashlib.sha1(content.encode()).hexdigest()[:12]
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"ignore-revs-{digest}"
    if not out.is_file():
        out.write_text(content)
    return str(out), digest


def _cache_key(ignore_comments: bool, revs_digest: str, skip_globs: list[str] | None) -> str:
    globs = hashlib.sha1(json.dumps(skip_globs or []).encode()).hexdigest()[:8]
    return f"v{CACHE_VERSION}-c{int(ignore_comments)}-r{revs_digest}-s{globs}"


def run_szz(
    repo: Path,
    fixes: list[str],
    ignore_comments: bool = True,
    workers: int = 1,
    cache_dir: Path | None = None,
    skip_globs: list[str] | None = None,
) -> tuple[dict[str, dict], dict]:
    """Trace ``fixes`` (full SHAs), reusing cached results. Returns ({fix: row}, stats).

    ``stats``: ``traced`` (new work), ``cached`` (read from ``cache_dir``).
    """
    import tempfile

    fixes = list(dict.fromkeys(fixes))
    tmp = None
    if cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="riskml-szz-")
        work = Path(tmp.name)
    else:
        work = Path(cache_dir)
    try:
        ignore_revs, digest = _clean_ignore_revs(repo, work)
        store = (
            work / _cache_key(ignore_comments, digest, skip_globs)
            if cache_dir is not None
            else None
        )
        results: dict[str, dict] = {}
        todo = []
        for sha in fixes:
            cached = _read_cached(store, sha)
            if cached is not None:
                results[sha] = cached
            else:
                todo.append(sha)
        rows = _trace_parallel(
            str(repo), todo, ignore_comments, ignore_revs, workers, skip_globs,
            str(store) if store is not None else None,
        )  # fmt: skip
        for row in rows:  # each already in the cache (written by the process that traced it)
            results[row["fix"]] = row
    finally:
        if tmp is not None:
            tmp.cleanup()
    return results, {"traced": len(todo), "cached": len(fixes) - len(todo)}


def _trace_parallel(
    repo: str,
    todo: list[str],
    ignore_comments: bool,
    ignore_revs: str | None,
    workers: int,
    skip_globs: list[str] | None,
    store: str | None = None,
) -> list[dict]:
    if not todo:
        return []
    workers = max(1, min(int(workers), len(todo)))
    if workers == 1:
        return trace_fixes(repo, todo, ignore_comments, ignore_revs, skip_globs, store)
    from joblib import delayed

    from riskml.processes import parallel

    # A few batches per worker: one PyDriller Git per batch, even load at the tail.
    n_batches = min(len(todo), workers * 4)
    batches = [todo[i::n_batches] for i in range(n_batches)]
    parts = parallel(workers)(  # workers that exit when this process dies
        delayed(trace_fixes)(repo, batch, ignore_comments, ignore_revs, skip_globs, store)
        for batch in batches
    )
    order = {sha: i for i, sha in enumerate(todo)}
    return sorted((row for part in parts for row in part), key=lambda r: order[r["fix"]])


def _cache_path(store: Path, sha: str) -> Path:
    return store / sha[:2] / f"{sha}.json"


def _read_cached(store: Path | None, sha: str) -> dict | None:
    if store is None:
        return None
    path = _cache_path(store, sha)
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # absent or torn: trace again
    return row if isinstance(row, dict) and row.get("fix") == sha else None


def _write_cached(store: Path | None, row: dict) -> None:
    if store is None:
        return
    from riskml.tables import atomic_write

    text = json.dumps(row, sort_keys=True)
    # atomic: a concurrent reader sees the old or the new file; a full disk leaves no .tmp
    atomic_write(_cache_path(store, row["fix"]), lambda tmp: tmp.write_text(text))


def commit_times(repo: Path, shas: list[str]) -> dict[str, int]:
    """Committer times (epoch seconds) of commits, in one ``git log --no-walk --stdin``."""
    if not shas:
        return {}
    out = run_git(
        repo, "log", "--no-walk=unsorted", "--format=%H %ct", "--stdin",
        input="".join(f"{s}\n" for s in shas).encode(),
    )  # fmt: skip
    times = {}
    for line in out.decode().splitlines():
        sha, _, t = line.partition(" ")
        times[sha] = int(t)
    return times
