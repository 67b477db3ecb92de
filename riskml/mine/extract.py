"""Raw commit records from git in a few batched calls (the hot path of `riskml mine`).

One ``git log --no-walk=unsorted --stdin -z --raw --numstat -M`` stream gives every commit's
identities, times, message, statuses, blob ids and line counts; one ``git cat-file --batch``
stream gives the line counts of the pre-change blobs that cannot be derived from an earlier
change in the same batch (``lines(new blob) = lines(old blob) + added - deleted``). No per-file
git call, no PyDriller object crosses a process boundary: a record is a plain dict
(docs/architecture.md, "The raw commit record").
"""

from __future__ import annotations

import subprocess
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from riskml.errors import RiskmlError
from riskml.gitio import git_env, has_commits, resolve_rev, run_git

# Starts every commit in the log stream; a commit message cannot hold NUL, a path would have to
# start with \x01RISKML\x02 to fake it.
_MARK = b"\x00\x01RISKML\x02"
_FORMAT = "%x00%x01RISKML%x02%H%x00%P%x00%aN%x00%aE%x00%cE%x00%at%x00%ct%x00%B%x00%x03"
_HEADER_FIELDS = 8
# Options that pin the output whatever the user's git configuration says.
_LOG_OPTS = (
    "-z",
    "--raw",
    "--numstat",
    "-M",
    "--no-abbrev",
    "--diff-merges=off",
    "--no-show-signature",
    "--no-relative",
    "--no-ext-diff",
    "--no-textconv",
    "--diff-algorithm=myers",
    "--no-color",
)
_GITLINK = "160000"
_NULL_SHA = "0" * 40
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class MiningWarning(UserWarning):
    """Something in the repository could not be read; the rest is mined."""


def _path(raw: bytes) -> str:
    # Paths are bytes in git; backslashreplace keeps distinct paths distinct and valid UTF-8.
    return raw.decode("utf-8", "backslashreplace")


def _parse_diff(tokens: list[bytes]) -> list[dict]:
    """Pair the ``--raw`` entries with the ``--numstat`` entries of one commit (same order)."""
    raw: list[tuple[str, str, str, str, str, str | None]] = []
    stats: list[tuple[int | None, int | None, str]] = []
    i, n = 0, len(tokens)
    while i < n and (not tokens[i] or tokens[i].startswith(b":")):
        tok = tokens[i]
        i += 1
        if not tok:
            continue
        meta = tok[1:].decode("ascii", "replace").split()
        old_mode, new_mode, old_blob, new_blob, status = meta[:5]
        if status[0] in "RC":
            old_path, new_path = _path(tokens[i]), _path(tokens[i + 1])
            i += 2
        else:
            old_path, new_path = None, _path(tokens[i])
            i += 1
        raw.append((old_mode, new_mode, old_blob, new_blob, status[0], old_path, new_path))
    while i < n:
        tok = tokens[i]
        i += 1
        if not tok:
            continue
        parts = tok.split(b"\t", 2)
        if len(parts) != 3:
            continue
        added = None if parts[0] == b"-" else int(parts[0])
        deleted = None if parts[1] == b"-" else int(parts[1])
        if parts[2]:
            path = _path(parts[2])
        else:  # a rename: old and new path follow as their own tokens
            path = _path(tokens[i + 1])
            i += 2
        stats.append((added, deleted, path))
    by_path = {}
    if len(stats) != len(raw) or any(s[2] != r[6] for s, r in zip(stats, raw, strict=False)):
        by_path = {s[2]: s for s in stats}
    files = []
    for k, (old_mode, new_mode, old_blob, new_blob, status, old_path, new_path) in enumerate(raw):
        stat = by_path.get(new_path) if by_path else stats[k]
        added, deleted = (stat[0], stat[1]) if stat else (0, 0)
        binary = added is None or deleted is None
        if status not in "AMDR":
            status = "R" if status == "C" else "M"  # T (type change), U, X: a modification
        files.append(
            {
                "path": new_path,
                "old_path": old_path,
                "added": 0 if binary else added,
                "deleted": 0 if binary else deleted,
                "binary": binary,
                "status": status,
                "lines_before": 0,
                # internal, dropped before a record leaves this module
                "_old_blob": old_blob,
                "_new_blob": new_blob,
                "_gitlink": old_mode == _GITLINK or new_mode == _GITLINK,
            }
        )
    return files


def _parse_commit(chunk: bytes) -> dict:
    """One commit of the log stream (without the leading mark) -> record without lines_before."""
    head = chunk.split(b"\x00", _HEADER_FIELDS - 1)
    sha, parents, name, email, cemail, at, ct = (h.decode("utf-8", "replace") for h in head[:7])
    message, _, rest = head[7].partition(b"\x00\x03")
    return {
        "commit": sha,
        "parents": parents.split(),
        "author_name": name,
        "author_email": email.strip().lower(),
        "committer_email": cemail.strip().lower(),
        "author_time": int(at or 0),
        "commit_time": int(ct or 0),
        "message": message.decode("utf-8", "replace"),
        "files": _parse_diff(rest.lstrip(b"\x00\n").split(b"\x00")),
    }


def _log_stream(repo: Path, shas: list[str]) -> tuple[list[dict], int]:
    """Run one batched ``git log`` over ``shas``; return the complete records and git's status.

    When git dies part-way (a blob missing from the object store), the records before the one
    it was writing are complete; the caller retries the rest.
    """
    proc = subprocess.Popen(
        ["git", "-C", str(repo), "log", "--no-walk=unsorted", "--stdin", *_LOG_OPTS,
         f"--format={_FORMAT}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=git_env(),
    )  # fmt: skip
    feeder = threading.Thread(target=_feed, args=(proc.stdin, shas), daemon=True)
    feeder.start()
    stderr: list[bytes] = []
    drain = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
    drain.start()
    records = []
    buf = b""
    while True:
        block = proc.stdout.read(1 << 20)
        if not block:
            break
        buf += block
        parts = buf.split(_MARK)
        buf = parts.pop()
        records.extend(_parse_commit(p) for p in parts if p)
    code = proc.wait()
    feeder.join()
    drain.join()
    if buf and code == 0:
        records.append(_parse_commit(buf))
    if code != 0:
        _log_stream.last_error = b"".join(stderr).decode("utf-8", "replace").strip()
    return records, code


def _feed(pipe, shas: list[str]) -> None:
    try:
        pipe.write("".join(f"{s}\n" for s in shas).encode())
        pipe.close()
    except BrokenPipeError:
        pass


def _count_lines(data: bytes) -> int:
    """Lines as ``git diff`` counts them: an unterminated last line is a line."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def blob_lines(repo: Path, blobs: Iterable[str]) -> dict[str, int | None]:
    """Line counts of blobs via one ``git cat-file --batch`` stream; None for a missing blob."""
    wanted = list(dict.fromkeys(blobs))
    if not wanted:
        return {}
    proc = subprocess.Popen(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=git_env(),
    )
    feeder = threading.Thread(target=_feed, args=(proc.stdin, wanted), daemon=True)
    feeder.start()
    out: dict[str, int | None] = {}
    reader = proc.stdout
    for sha in wanted:
        header = reader.readline().split()
        if len(header) != 3:
            out[sha] = None
            continue
        size = int(header[2])
        data = reader.read(size)
        reader.read(1)
        out[sha] = _count_lines(data) if header[1] == b"blob" else 0
    proc.wait()
    feeder.join()
    return out


def _fill_lines_before(repo: Path, records: list[dict]) -> None:
    """Set ``lines_before`` of every file: exact line count in the parent (0 new/binary/gitlink).

    A blob changed earlier in the same batch is derived from that change instead of read.
    A record whose pre-change blob is missing gets ``lines_before`` None on that file.
    """
    derived: set[str] = set()
    fetch: list[str] = []
    for rec in records:
        for f in rec["files"]:
            if f["binary"] or f["_gitlink"]:
                continue
            if f["status"] in "MR" and f["_old_blob"] not in derived:
                fetch.append(f["_old_blob"])
            if f["status"] != "D":
                derived.add(f["_new_blob"])
    lines: dict[str, int | None] = blob_lines(repo, fetch) if fetch else {}
    for rec in records:
        for f in rec["files"]:
            if f["binary"] or f["_gitlink"] or f["status"] == "A":
                before = 0
            elif f["status"] == "D":
                before = f["deleted"]
            else:
                before = lines.get(f["_old_blob"])
            f["lines_before"] = before
            if not f["binary"] and not f["_gitlink"] and f["status"] != "D":
                new = None if before is None else before + f["added"] - f["deleted"]
                lines.setdefault(f["_new_blob"], new)


def _clean(rec: dict) -> dict:
    for f in rec["files"]:
        for key in ("_old_blob", "_new_blob", "_gitlink"):
            f.pop(key, None)
    return rec


def records_for(repo: str | Path, shas: list[str]) -> list[dict]:
    """Raw records (docs/architecture.md) of ``shas``, in the order given.

    Merges come back with their identity and no files. A commit git cannot diff (a blob
    missing from the object store) is left out with a :class:`MiningWarning`.
    """
    repo = Path(repo)
    shas = list(shas)
    records: list[dict] = []
    todo = shas
    while todo:
        got, code = _log_stream(repo, todo)
        if code == 0:
            records.extend(got)
            break
        # Only records followed by another commit's mark are complete; git died on the next one
        # (or on the one after, which the retry below then finds at the head of the rest).
        records.extend(got)
        done = len(got)
        if done >= len(todo):
            break
        bad = todo[done]
        alone, code1 = _log_stream(repo, [bad])
        if code1 == 0 and alone:
            records.extend(alone)
        else:
            reason = getattr(_log_stream, "last_error", "").splitlines()
            warnings.warn(
                f"skipped commit {bad[:12]}: git cannot read it "
                f"({reason[0] if reason else 'unknown error'})",
                MiningWarning,
                stacklevel=2,
            )
        todo = todo[done + 1 :]
    _fill_lines_before(repo, records)
    kept = []
    for rec in records:
        if any(f["lines_before"] is None for f in rec["files"]):
            warnings.warn(
                f"skipped commit {rec['commit'][:12]}: a blob before the change is missing",
                MiningWarning,
                stacklevel=2,
            )
            continue
        kept.append(_clean(rec))
    return kept


def list_commits(repo: str | Path, rev: str = "HEAD") -> list[tuple[str, list[str], int]]:
    """Every commit reachable from ``rev`` as (sha, parents, author_time), parents first."""
    sha = resolve_rev(repo, rev)
    out = run_git(
        repo,
        "log",
        "--topo-order",
        "--reverse",
        "--no-show-signature",
        "--format=%H %at %P",
        sha,
    )
    commits = []
    for line in out.decode("ascii", "replace").splitlines():
        parts = line.split()
        if parts:
            commits.append((parts[0], parts[2:], int(parts[1])))
    return commits


def shallow_boundary(repo: str | Path) -> set[str]:
    """Commits whose parents a shallow clone does not have (their diff is not their change)."""
    path = run_git(repo, "rev-parse", "--git-path", "shallow").decode().strip()
    p = Path(path) if Path(path).is_absolute() else Path(repo) / path
    if not p.is_file():
        return set()
    return {line.strip() for line in p.read_text().splitlines() if line.strip()}


def _diff_files(repo: Path, *args: str) -> list[dict]:
    out = run_git(repo, "diff", *_LOG_OPTS[:5], "--no-ext-diff", "--no-textconv",
                  "--no-relative", "--diff-algorithm=myers", "--no-color", *args)  # fmt: skip
    return _parse_diff(out.split(b"\x00"))


def _message(repo: Path, sha: str) -> tuple[str, str, str, int, int, str]:
    out = run_git(repo, "log", "-1", "--no-show-signature",
                  "--format=%aN%x00%aE%x00%cE%x00%at%x00%ct%x00%B", sha)  # fmt: skip
    name, email, cemail, at, ct, msg = out.split(b"\x00", 5)
    return (name.decode("utf-8", "replace"), email.decode("utf-8", "replace").strip().lower(),
            cemail.decode("utf-8", "replace").strip().lower(), int(at), int(ct),
            msg.decode("utf-8", "replace"))  # fmt: skip


def record_for_diff(repo: str | Path, base: str, head: str) -> dict:
    """``BASE..HEAD`` combined as one change, authored as HEAD (identity, times, message)."""
    repo = Path(repo)
    base_sha, head_sha = resolve_rev(repo, base), resolve_rev(repo, head)
    files = _diff_files(repo, base_sha, head_sha)
    name, email, cemail, at, ct, msg = _message(repo, head_sha)
    rec = {"commit": head_sha, "parents": [base_sha], "author_name": name,
           "author_email": email, "committer_email": cemail, "author_time": at,
           "commit_time": ct, "message": msg, "files": files}  # fmt: skip
    return _finish_single(repo, rec)


def record_for_worktree(repo: str | Path, author_email: str) -> dict:
    """The uncommitted change (staged, unstaged and untracked files) against HEAD, as one record.

    ``commit`` is ``"worktree"``, times are now, the message is empty.
    """
    repo = Path(repo)
    parents = []
    if has_commits(repo):
        parents = [resolve_rev(repo, "HEAD")]
    files = _diff_files(repo, parents[0] if parents else _EMPTY_TREE)
    untracked = run_git(repo, "ls-files", "-z", "--others", "--exclude-standard")
    top = Path(run_git(repo, "rev-parse", "--show-toplevel").decode().strip())
    for raw in untracked.split(b"\x00"):
        if not raw:
            continue
        try:
            data = (top / raw.decode("utf-8", "surrogateescape")).read_bytes()
        except OSError:
            continue
        binary = b"\x00" in data[:8000]
        files.append({"path": _path(raw), "old_path": None,
                      "added": 0 if binary else _count_lines(data), "deleted": 0,
                      "binary": binary, "status": "A", "lines_before": 0,
                      "_old_blob": _NULL_SHA, "_new_blob": _NULL_SHA, "_gitlink": False})  # fmt: skip
    now = int(time.time())
    rec = {"commit": "worktree", "parents": parents, "author_name": "",
           "author_email": (author_email or "").strip().lower(), "committer_email": "",
           "author_time": now, "commit_time": now, "message": "", "files": files}  # fmt: skip
    return _finish_single(repo, rec)


def _finish_single(repo: Path, rec: dict) -> dict:
    _fill_lines_before(repo, [rec])
    if any(f["lines_before"] is None for f in rec["files"]):
        raise RiskmlError(f"a blob before the change {rec['commit'][:12]} is missing")
    return _clean(rec)


def iter_chunks(items: list, n: int) -> Iterator[list]:
    """``items`` cut into ``n`` contiguous, nearly equal slices (no empty slice)."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    start = 0
    for k in range(n):
        end = start + size + (1 if k < extra else 0)
        if end > start:
            yield items[start:end]
        start = end
