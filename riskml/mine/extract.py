"""Raw commit records from git in a few batched calls (the hot path of `riskml mine`).

One ``git log --no-walk=unsorted --stdin -z --raw --numstat -M -p -U1`` stream gives every
commit's identities, times, message, statuses, blob ids, line counts and its patch without
context lines (read into tokens and content counts by :mod:`riskml.mine.content`, then dropped);
one ``git cat-file --batch``
stream gives the line counts of the pre-change blobs that cannot be derived from an earlier
change in the same batch (``lines(new blob) = lines(old blob) + added - deleted``). No per-file
git call, no PyDriller object crosses a process boundary: a record is a plain dict
(docs/architecture.md, "The raw commit record").
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from riskml import budget
from riskml.errors import RiskmlError
from riskml.gitio import git_env, has_commits, resolve_rev, run_git
from riskml.mine.mining_warning import MiningWarning

# Starts every commit in the log stream; a commit message cannot hold NUL, a path would have to
# start with \x01RISKML\x02 to fake it.
_MARK = b"\x00\x01RISKML\x02"
_FORMAT = "%x00%x01RISKML%x02%H%x00%P%x00%an%x00%aE%x00%cE%x00%at%x00%ct%x00%B%x00%x03"
_HEADER_FIELDS = 8
# Options that pin the output whatever the user's git configuration says.
_LOG_OPTS = (
    "-z",
    "--raw",
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
# without the diff content, line counts come from --numstat; with it, from the patch (git then
# computes each diff once, not twice). One context line, not none: at -U0 git trims the common
# tail of both sides before diffing, which changes the diff and so numstat's own counts.
_NUMSTAT_OPTS = ("--numstat",)
_PATCH_OPTS = ("-p", "-U1")
# where a commit's patch starts: after the empty token that ends its -z --numstat entries
_PATCH_START = b"\x00\x00diff --git "
# blocks (up to 1 MiB each) read ahead of the parser: bounds the memory a fast git can fill
_READ_AHEAD_BLOCKS = 256
_GITLINK = "160000"
# Blob ids per cat-file request (41 bytes each): two requests stay well inside a 64 KiB pipe.
_PIPELINED_BLOBS = 400
_NULL_SHA = "0" * 40
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _path(raw: bytes) -> str:
    # Paths are bytes in git; backslashreplace keeps distinct paths distinct and valid UTF-8.
    return raw.decode("utf-8", "backslashreplace")


def _parse_diff(tokens: list[bytes], patch: bytes | None = None) -> list[dict]:
    """Pair the ``--raw`` entries of one commit with their line counts: the ``--numstat``
    entries that follow them (same order), or, given its ``-p -U1`` ``patch``, the ``+`` and
    ``-`` lines of each file's section (the same numbers; ``Binary files … differ`` for
    numstat's ``-``). Each file of a patched commit keeps its section(s) as ``_sections``."""
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
    while patch is None and i < n:
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
    if patch is not None:
        stats = _patch_stats(patch, raw)
    by_path = {}
    if len(stats) != len(raw) or any(s[2] != r[6] for s, r in zip(stats, raw, strict=False)):
        by_path = {s[2]: s for s in stats}
    files = []
    for k, (old_mode, new_mode, old_blob, new_blob, status, old_path, new_path) in enumerate(raw):
        stat = by_path.get(new_path) if by_path else stats[k]
        added, deleted = (stat[0], stat[1]) if stat else (0, 0)
        binary = added is None or deleted is None
        if status == "C":  # only with copy detection, which -M leaves off: a new file
            status, old_path = "A", None
        elif status not in "AMDR":
            status = "M"  # T (type change), U, X: a modification
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
        if patch is not None:
            sections = stat[3] if stat else []
            files[-1]["_sections"] = sections
            # no hunk and no "Binary files" line (a pure rename, a mode change): whether numstat
            # would call it binary is told by its blob (BlobLines)
            files[-1]["_no_hunks"] = not binary and not any(b"\n@@" in x for x in sections)
    return files


def _patch_stats(patch: bytes, raw: list[tuple]) -> list[tuple]:
    """``(added, deleted, path, sections)`` per ``--raw`` entry from the patch (added and deleted
    ``None`` for a binary file, as numstat's ``-``)."""
    from riskml.mine.content import align_sections, section_counts

    paths = [entry[6] for entry in raw]
    per_file: list[list[bytes]] = [[] for _ in raw]
    for section, k in align_sections(patch, paths):
        if k is not None:
            per_file[k].append(section)
    stats = []
    for path, sections in zip(paths, per_file, strict=True):
        added = deleted = 0
        binary = False
        for section in sections:
            a, d, b = section_counts(section)
            added, deleted, binary = added + a, deleted + d, binary or b
        stats.append((None, None, path, sections) if binary else (added, deleted, path, sections))
    return stats


def _split_patch(rest: bytes) -> tuple[bytes, bytes]:
    """``(--raw/--numstat part, patch)`` of one commit's diff output (patch ``b""`` if none)."""
    at = rest.find(_PATCH_START)
    if at < 0:
        if rest.lstrip(b"\x00\n").startswith(b"diff --git "):  # no raw entries before it
            return b"", rest.lstrip(b"\x00\n")
        return rest, b""
    return rest[: at + 1], rest[at + 2 :]


def _parse_commit(chunk: bytes, reader: ContentReader | None = None) -> dict:
    """One commit of the log stream (without the leading mark) -> record without lines_before;
    with a ``reader`` its diff content too (the stream then carries the patch)."""
    head = chunk.split(b"\x00", _HEADER_FIELDS - 1)
    sha, parents, name, email, cemail, at, ct = (h.decode("utf-8", "replace") for h in head[:7])
    message, _, rest = head[7].partition(b"\x00\x03")
    patch = None
    if reader is not None:
        rest, patch = _split_patch(rest)
    files = _parse_diff(rest.lstrip(b"\x00\n").split(b"\x00"), patch)
    record = {
        "commit": sha,
        "parents": parents.split(),
        "author_name": name,
        "author_email": email.strip().lower(),
        "committer_email": cemail.strip().lower(),
        "author_time": int(at or 0),
        "commit_time": int(ct or 0),
        "message": message.decode("utf-8", "replace"),
        "files": files,
    }
    if reader is not None:
        record["content"] = reader(files)
    return record


class ContentReader:
    """Reads a commit's diff content (:func:`riskml.mine.content.commit_content`): which files
    count key-value lines is told by the configuration globs (``[mine] config_globs``).

    Plain data (the globs) crosses process boundaries; the matcher is compiled where it runs.
    """

    def __init__(self, config_globs=None) -> None:
        if config_globs is None:
            from riskml.config import MineConfig

            config_globs = MineConfig().config_globs
        self.config_globs = tuple(config_globs)
        self._match = None

    def __getstate__(self):
        return self.config_globs

    def __setstate__(self, globs) -> None:
        self.config_globs, self._match = globs, None

    def key_file(self, path: str) -> bool:
        if self._match is None:
            from riskml.mine.features import compile_globs

            matcher = compile_globs(list(self.config_globs)) if self.config_globs else None
            self._match = (matcher, {})
        matcher, cache = self._match
        hit = cache.get(path)
        if hit is None:
            hit = cache[path] = matcher is not None and bool(matcher.match(path))
        return hit

    def __call__(self, files: list[dict]) -> dict:
        """The content of a commit whose ``files`` carry their patch sections (``_sections``,
        dropped here)."""
        from riskml.mine.content import commit_content

        return commit_content(files, self.key_file)


class _LogStream:
    """One batched ``git log`` over ``shas``, parsed while git writes it.

    Iterating yields lists of the records git finished (one list per read); a record is only
    complete once the next one's mark arrived (or git exited cleanly). After iteration ``code`` is git's exit status and
    ``error`` its first stderr line. When git dies part-way (a blob missing from the object
    store), the records before the one it was writing have been yielded.
    """

    def __init__(self, repo: Path, shas: list[str], reader: ContentReader | None = None) -> None:
        self.repo, self.shas, self.reader = repo, shas, reader
        self.code: int | None = None
        self.error = ""
        self.warnings: list[str] = []

    def __iter__(self) -> Iterator[list[dict]]:
        proc = budget.popen(
            ["git", "-C", str(self.repo), "log", "--no-walk=unsorted", "--stdin", *_LOG_OPTS,
             *(_PATCH_OPTS if self.reader is not None else _NUMSTAT_OPTS),
             f"--format={_FORMAT}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=git_env(self.repo),
        )  # fmt: skip
        feeder = threading.Thread(target=_feed, args=(proc.stdin, self.shas), daemon=True)
        feeder.start()
        stderr: list[bytes] = []
        drain = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
        drain.start()
        # git's output is read by a thread of its own, so git writes ahead while the records
        # before are parsed (the patch makes the output ten times larger: git would otherwise
        # wait on a full pipe whenever Python parses, and Python on git whenever it diffs)
        blocks: queue.Queue[bytes] = queue.Queue(maxsize=_READ_AHEAD_BLOCKS)
        pump = threading.Thread(target=_pump, args=(proc.stdout, blocks), daemon=True)
        pump.start()
        pieces: list[bytes] = []  # the unparsed output, joined only once a mark arrived
        tail = b""
        try:
            while True:
                block = blocks.get()
                if not block:
                    break
                pieces.append(block)
                window = tail + block  # a mark may straddle two reads
                tail = window[1 - len(_MARK) :]
                if _MARK not in window:
                    continue  # a huge commit: keep reading without copying what we have
                parts = b"".join(pieces).split(_MARK)
                rest = parts.pop()
                pieces = [rest] if rest else []
                batch = [_parse_commit(part, self.reader) for part in parts if part]
                if batch:
                    yield batch
            self.code = proc.wait()
            if pieces and self.code == 0:
                yield [
                    _parse_commit(part, self.reader)
                    for part in b"".join(pieces).split(_MARK)
                    if part
                ]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            while pump.is_alive():  # a consumer that stopped early: unblock the pump
                with contextlib.suppress(queue.Empty):
                    blocks.get(timeout=0.05)
            pump.join()
            feeder.join()
            drain.join()
            proc.stdout.close()
            proc.stderr.close()
        lines = b"".join(stderr).decode("utf-8", "replace").strip().splitlines()
        if self.code:
            self.error = lines[0].removeprefix("fatal: ") if lines else "unknown error"
        else:  # e.g. rename detection skipped on a huge commit: the numbers stand, say so
            self.warnings = list(dict.fromkeys(w.removeprefix("warning: ") for w in lines if w))


def _pump(pipe, blocks: queue.Queue) -> None:
    """Move what git writes into ``blocks`` as it comes; an empty block ends the stream."""
    try:
        while True:
            block = pipe.read1(1 << 20)
            blocks.put(block)
            if not block:
                return
    except (OSError, ValueError):  # the pipe was closed under us
        blocks.put(b"")


def _feed(pipe, shas: list[str]) -> None:
    try:
        pipe.write("".join(f"{s}\n" for s in shas).encode())
        pipe.close()
    except (BrokenPipeError, ValueError):
        pass


def _count_lines(data: bytes) -> int:
    """Lines as ``git diff`` counts them: an unterminated last line is a line."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


class BlobLines:
    """Line counts of blobs: derived from an earlier change (``lines(new) = lines(old) + added -
    deleted``) whenever possible, else read through one persistent ``git cat-file --batch``.

    Reads are pipelined: :meth:`request` asks for the blobs a batch of records will need as
    soon as the batch is parsed, :meth:`fill` reads the answers when the batch is processed,
    so no round trip is waited for while git still has output to parse. At most two small
    requests are unanswered at a time (they fit in the pipe, so writing never blocks); a large
    one is sent in parts, each answered before the next.
    """

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.known: dict[str, int | None] = {}
        # blobs git calls binary (a NUL in the first 8000 bytes), read or made by a binary file
        self.binary: set[str] = set()
        self._produced: set[str] = set()  # blobs an earlier record (in order) derives
        self._requested: set[str] = set()
        self._sent: list[list[str]] = []  # requests in order; answers come back in order
        self._read = 0  # requests whose answers have been read
        self._proc: subprocess.Popen | None = None

    def _send(self, shas: list[str]) -> None:
        if self._proc is None:
            self._proc = budget.popen(
                ["git", "-C", str(self.repo), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=git_env(self.repo),
            )
        try:
            self._proc.stdin.write("".join(f"{sha}\n" for sha in shas).encode())
            self._proc.stdin.flush()
        except BrokenPipeError:
            budget.check()  # the time budget killed it; else cat-file itself died
            raise
        self._sent.append(shas)

    def request(self, records: list[dict]) -> int:
        """Ask for the blobs ``records`` need that no record before them derives; a token."""
        wanted: list[str] = []
        for rec in records:
            for f in rec["files"]:
                if f["binary"] or f["_gitlink"]:
                    continue
                if f["status"] in "MR":
                    old = f["_old_blob"]
                    if (
                        old not in self.known
                        and old not in self._produced
                        and old not in self._requested
                    ):
                        self._requested.add(old)
                        wanted.append(old)
                if f["status"] != "D":
                    self._produced.add(f["_new_blob"])
        if len(wanted) > _PIPELINED_BLOBS:
            for start in range(0, len(wanted), _PIPELINED_BLOBS):
                self._receive(len(self._sent))  # nothing unanswered before a part goes out
                self._send(wanted[start : start + _PIPELINED_BLOBS])
        elif wanted:
            self._receive(len(self._sent) - 1)  # at most one earlier request unanswered
            self._send(wanted)
        return len(self._sent)

    def _receive(self, token: int) -> None:
        while self._read < token:
            out = self._proc.stdout
            for sha in self._sent[self._read]:
                header = out.readline().split()
                if len(header) != 3:  # "<sha> missing"
                    self.known[sha] = None
                    continue
                data = out.read(int(header[2]))
                out.read(1)
                self.known[sha] = _count_lines(data) if header[1] == b"blob" else 0
                if header[1] == b"blob" and b"\x00" in data[:8000]:
                    self.binary.add(sha)
            self._sent[self._read] = []
            self._read += 1

    def fill(self, records: list[dict], token: int | None = None) -> list[bool]:
        """Set ``lines_before`` on every file of ``records``, which come right after every
        record filled before; per record, False when a blob it needs is missing.

        Exact line count in the parent; 0 for new, binary and submodule (gitlink) entries. A
        file the patch showed without hunks (a pure rename, a mode change) whose blob is
        binary becomes binary, as numstat would have said.
        ``token`` is :meth:`request`'s for these records (None: request now).
        """
        self._receive(self.request(records) if token is None else token)
        budget.check()  # a cat-file the time budget killed answers nothing: "missing"
        flags = []
        for rec in records:
            ok = True
            for f in rec["files"]:
                if f.get("_no_hunks") and f["status"] in "MR" and f["_old_blob"] in self.binary:
                    f["binary"] = True
                if f["binary"] and f["status"] != "D":
                    self.binary.add(f["_new_blob"])
                plain = not f["binary"] and not f["_gitlink"]
                if not plain or f["status"] == "A":
                    before = 0
                elif f["status"] == "D":
                    before = f["deleted"]  # every line of a deleted text file is a deleted line
                else:
                    before = self.known.get(f["_old_blob"])
                f["lines_before"] = before
                if before is None:
                    ok = False
                elif plain and f["status"] != "D":
                    self.known.setdefault(f["_new_blob"], before + f["added"] - f["deleted"])
            flags.append(ok)
        return flags

    def close(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(BrokenPipeError):  # killed by a time budget
                self._proc.stdin.close()
            self._proc.stdout.close()
            self._proc.wait()
            self._proc = None


def _clean(rec: dict) -> dict:
    for f in rec["files"]:
        for key in ("_old_blob", "_new_blob", "_gitlink", "_sections", "_no_hunks"):
            f.pop(key, None)
    return rec


def _filled(lines: BlobLines, batch: list[dict], token: int) -> Iterator[dict]:
    for rec, ok in zip(batch, lines.fill(batch, token), strict=True):
        if ok:
            yield _clean(rec)
        else:
            _warn(f"skipped commit {rec['commit'][:12]}: a blob before the change is missing")


def _reader(content: ContentReader | bool | None) -> ContentReader | None:
    if content is True:
        return ContentReader()
    return content or None


def iter_records(
    repo: str | Path, shas: list[str], content: ContentReader | bool = True
) -> Iterator[dict]:
    """Raw records (docs/architecture.md) of ``shas`` in the order given, as git produces them.

    Merges come back with their identity and no files. A commit git cannot read (a blob
    missing from the object store) is left out with a :class:`MiningWarning`. ``content``:
    read each commit's diff content (``record["content"]``, ``file["key_lines"]``) with this
    :class:`ContentReader` (True: the default globs; False: leave it out, git sends no patch).
    """
    repo = Path(repo)
    reader = _reader(content)
    todo = list(shas)
    lines = BlobLines(repo)
    try:
        while todo:
            stream = _LogStream(repo, todo, reader)
            done = 0
            pending: tuple[list[dict], int] | None = None
            for batch in stream:
                budget.check()  # between batches: the time budget of a served request
                token = lines.request(batch)
                if pending is not None:  # one batch behind: its blobs were read meanwhile
                    yield from _filled(lines, *pending)
                    done += len(pending[0])
                pending = (batch, token)
            budget.check()  # a git log the time budget killed ended early: not a failure
            if pending is not None:
                yield from _filled(lines, *pending)
                done += len(pending[0])
            if stream.warnings:
                _warn(f"git: {' '.join(stream.warnings)}")
            if stream.code == 0 or done >= len(todo):
                break
            # git died on the commit after the last complete one (or, if that one's end was cut
            # off, on a later one that the next round finds at the head of the rest).
            bad = todo[done]
            alone = _LogStream(repo, [bad], reader)
            got = [rec for batch in alone for rec in batch]
            if alone.code == 0 and got:
                yield from _filled(lines, got[:1], lines.request(got[:1]))
            else:
                _warn(f"skipped commit {bad[:12]}: git cannot read it ({alone.error})")
            todo = todo[done + 1 :]
    finally:
        lines.close()


def _warn(message: str) -> None:
    warnings.warn(message, MiningWarning, stacklevel=3)


def records_for(
    repo: str | Path, shas: list[str], content: ContentReader | bool = True
) -> list[dict]:
    """Raw records (docs/architecture.md) of ``shas``, in the order given (see iter_records)."""
    return list(iter_records(repo, shas, content))


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


def _diff_files(repo: Path, reader: ContentReader | None, *args: str) -> tuple[list[dict], bytes]:
    """The files of ``git diff args`` and, with a ``reader``, its patch (else ``b""``)."""
    how = _PATCH_OPTS if reader is not None else _NUMSTAT_OPTS
    out = run_git(repo, "diff", *_LOG_OPTS[:4], *how, "--no-ext-diff", "--no-textconv",
                  "--no-relative", "--diff-algorithm=myers", "--no-color", *args)  # fmt: skip
    rest, patch = _split_patch(out) if reader is not None else (out, None)
    return _parse_diff(rest.split(b"\x00"), patch), patch or b""


def _untracked_section(path: bytes, data: bytes) -> bytes:
    """A new file's patch section as ``git diff`` would write it (every line added)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    body = b"".join(b"\n+" + line for line in lines)
    return b"diff --git a/" + path + b" b/" + path + b"\n@@ -0,0 +1 @@" + body


def _message(repo: Path, sha: str) -> tuple[str, str, str, int, int, str]:
    out = run_git(repo, "log", "-1", "--no-show-signature",
                  "--format=%an%x00%aE%x00%cE%x00%at%x00%ct%x00%B", sha)  # fmt: skip
    name, email, cemail, at, ct, msg = out.split(b"\x00", 5)
    return (name.decode("utf-8", "replace"), email.decode("utf-8", "replace").strip().lower(),
            cemail.decode("utf-8", "replace").strip().lower(), int(at), int(ct),
            msg.decode("utf-8", "replace"))  # fmt: skip


def record_for_diff(
    repo: str | Path, base: str, head: str, content: ContentReader | bool = True
) -> dict:
    """``BASE..HEAD`` combined as one change, authored as HEAD (identity, times, message);
    its diff content read as :func:`iter_records` does."""
    repo = Path(repo)
    reader = _reader(content)
    base_sha, head_sha = resolve_rev(repo, base), resolve_rev(repo, head)
    files, patch = _diff_files(repo, reader, base_sha, head_sha)
    name, email, cemail, at, ct, msg = _message(repo, head_sha)
    rec = {"commit": head_sha, "parents": [base_sha], "author_name": name,
           "author_email": email, "committer_email": cemail, "author_time": at,
           "commit_time": ct, "message": msg, "files": files}  # fmt: skip
    if reader is not None:
        rec["content"] = reader(files)
    return _finish_single(repo, rec)


def record_for_worktree(
    repo: str | Path, author_email: str, content: ContentReader | bool = True
) -> dict:
    """The uncommitted change (staged, unstaged and untracked files) against HEAD, as one record.

    ``commit`` is ``"worktree"``, times are now, the message is empty. Untracked text files
    count as added in full, for the diff content too.
    """
    repo = Path(repo)
    reader = _reader(content)
    parents = []
    if has_commits(repo):
        parents = [resolve_rev(repo, "HEAD")]
    files, _ = _diff_files(repo, reader, parents[0] if parents else _EMPTY_TREE)
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
        if reader is not None:
            files[-1]["_sections"] = [] if binary else [_untracked_section(raw, data)]
    now = int(time.time())
    rec = {"commit": "worktree", "parents": parents, "author_name": "",
           "author_email": (author_email or "").strip().lower(), "committer_email": "",
           "author_time": now, "commit_time": now, "message": "", "files": files}  # fmt: skip
    if reader is not None:
        rec["content"] = reader(files)
    return _finish_single(repo, rec)


def _finish_single(repo: Path, rec: dict) -> dict:
    lines = BlobLines(repo)
    try:
        if not lines.fill([rec])[0]:
            raise RiskmlError(f"a blob before the change {rec['commit'][:12]} is missing")
    finally:
        lines.close()
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
