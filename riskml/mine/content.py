"""What a change's diff says beyond its size: the tokens of its added and deleted lines and the
counts the content flags are made of (docs/features.md, "Diff content").

:mod:`riskml.mine.extract` asks git for the patch with ``-p -U1`` in the same ``git log``
stream as ``--raw`` (one context line: the least that keeps git's diff exactly the one
``--numstat`` counts, since git trims the common tail of both sides before diffing only at
``-U0``), and hands each commit's patch here, cut into file sections. :func:`commit_content`
turns it into plain values:

- ``tokens``: the identifier tokens of the added lines (``+name``) and of the deleted lines
  (``-name``) with their counts, as one compact string (:func:`format_bag`);
- the raw counts the flags of :func:`riskml.mine.features.content_flags` are made of
  (keywords, null checks, SQL statements, TODO markers, comment and code lines), and per file
  the key-value lines (``key: value``, ``key = value``) that count in configuration files.

Work per byte is done by C code (``bytes.translate`` / ``split``, ``bytes.count``, a handful of
regular expressions run only where a token says they can match), so the content costs about as
much as git's own patch output. Binary files, submodules and huge files (more than
:data:`MAX_FILE_LINES` changed lines or :data:`MAX_SECTION_BYTES` of patch: vendored or generated
code) are left out silently.
"""

from __future__ import annotations

import re
from collections import Counter

# a file with more changed lines than this (numstat) contributes no tokens and no counts
MAX_FILE_LINES = 5000
# a file whose patch is larger than this (a minified file: few lines, megabytes) neither
MAX_SECTION_BYTES = 1 << 20
# tokens longer than this are dropped (encoded data, not names)
MAX_TOKEN_CHARS = 64
# distinct tokens kept per commit and side, the most frequent first (ties by token)
MAX_TOKENS_PER_SIDE = 1000

# bytes.translate table: identifier characters stay, every other byte becomes a space
_IDENT = bytes(
    c if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 95) else 32 for c in range(256)
)
_DIGITS = frozenset("0123456789")

ERROR_WORDS = frozenset({"try", "catch", "except", "finally", "throw", "raise"})
# sub-words (camelCase / snake_case parts, lower-cased) that name concurrency
CONCURRENCY_WORDS = frozenset(
    {
        "lock", "locks", "locked", "locking", "unlock", "trylock", "deadlock",
        "synchronized", "synchronize", "synchronization",
        "thread", "threads", "threaded", "threadlocal",
        "async", "await", "atomic", "atomically", "volatile",
        "mutex", "semaphore", "concurrent", "concurrency", "concurrently",
        "executor", "executors", "latch", "barrier", "notify", "notifyall",
    }
)  # fmt: skip
TODO_WORDS = frozenset({"TODO", "FIXME", "HACK", "XXX"})
NULL_WORDS = frozenset({"null", "None", "nil"})
NULL_CALLS = frozenset({"isNull", "nonNull", "requireNonNull", "isNotNull", "notNull"})
# a comparison with null / None / nil, either way round (bytes.count: "== null" also counts
# JavaScript's "=== null")
NULL_PATTERNS = {
    w: tuple(p.encode() for p in (f"== {w}", f"!= {w}", f"=={w}", f"!={w}", f"{w} ==", f"{w} !="))
    + ((b"is None", b"is not None") if w == "None" else ())
    for w in ("null", "None", "nil")
}
SQL_VERBS = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "TRUNCATE"}
)
# a statement needs one of these after its verb: only then are the patches searched
SQL_OBJECTS = frozenset(
    {"FROM", "INTO", "SET", "TABLE", "INDEX", "VIEW", "SEQUENCE", "SCHEMA", "DATABASE", "TRIGGER"}
)
_SQL_BODY = (
    r"(?:SELECT\s(?:[^\n;]*?\s)?FROM|INSERT\s+INTO|UPDATE\s+[\w.`\"\[\]]+\s+SET|DELETE\s+FROM"
    r"|(?:CREATE|ALTER|DROP)\s+(?:TABLE|INDEX|VIEW|SEQUENCE|SCHEMA|DATABASE|TRIGGER)"
    r"|TRUNCATE\s+TABLE)\b"
)
# statements as code embeds them (upper-case keywords); any case inside a .sql file
SQL_RE = re.compile(rb"\b" + _SQL_BODY.encode())
SQL_ANY_CASE_RE = re.compile(rb"(?i)\b" + _SQL_BODY.encode())
# a changed line that sets a key: `key: value`, `key = value`, `"key": value`, `KEY=value`
KEY_LINE_RE = re.compile(rb"(?m)^[+-][ \t]*[\"']?[A-Za-z_][\w.\-]*[\"']?[ \t]*[:=]")
# what a comment line starts with, after its indentation
COMMENT_STARTS = (b"//", b"/*", b"*", b"#", b"--", b"<!--", b"-->", b";", b"%", b'"""', b"'''")

# a token can name concurrency only if it holds one of these (most tokens are skipped on it)
_CONC_STEM = re.compile(
    r"(?i)lock|synchroni|thread|async|await|atomic|volatile|mutex|semaphore|concurren|executor"
    r"|latch|barrier|notify"
)
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# token -> bit set of the categories above, remembered across commits (cleared when large)
_KIND: dict[str, int] = {}
_KIND_LIMIT = 500_000
_ERROR, _CONC, _TODO, _NULL, _SQL = 1, 2, 4, 8, 16


def _kind(token: str) -> int:
    kind = _KIND.get(token)
    if kind is None:
        kind = 0
        if token in ERROR_WORDS:
            kind |= _ERROR
        if token in TODO_WORDS:
            kind |= _TODO
        if token in NULL_WORDS or token in NULL_CALLS:
            kind |= _NULL
        if token in SQL_VERBS:
            kind |= _SQL
        if _CONC_STEM.search(token) and any(
            w.lower() in CONCURRENCY_WORDS for w in subwords(token)
        ):
            kind |= _CONC
        if len(_KIND) >= _KIND_LIMIT:
            _KIND.clear()
        _KIND[token] = kind
    return kind


def subwords(token: str) -> list[str]:
    """``ReentrantReadWriteLock`` -> Reentrant, Read, Write, Lock; ``io_thread`` -> io, thread."""
    return [w for part in token.split("_") for w in _CAMEL.findall(part)]


def tokens_of(text: bytes) -> Counter:
    """Identifier tokens of ``text`` (runs of ASCII letters, digits and ``_`` that do not start
    with a digit, at most :data:`MAX_TOKEN_CHARS` long) with their counts; case kept."""
    counts = Counter(text.translate(_IDENT).decode("ascii").split())
    drop = [t for t in counts if t[0] in _DIGITS or len(t) > MAX_TOKEN_CHARS]
    for t in drop:
        del counts[t]
    return counts


def format_bag(added: Counter, deleted: Counter, limit: int = MAX_TOKENS_PER_SIDE) -> str:
    """The compact text of a change's tokens: ``+name:count`` for added lines, ``-name:count``
    for deleted lines (``:1`` left out), space-separated,
    at most ``limit`` tokens per side (the most frequent, ties by token), each side in the order
    the tokens first appear in the diff. ``""`` when the change has none."""
    parts = []
    for sign, counts in (("+", added), ("-", deleted)):
        items = counts.items()
        if len(counts) > limit:
            items = sorted(items, key=lambda kv: (-kv[1], kv[0]))[:limit]
        parts.extend(f"{sign}{t}" if n == 1 else f"{sign}{t}:{n}" for t, n in items)
    return " ".join(parts)


def parse_bag(text: str) -> dict[str, int]:
    """:func:`format_bag`'s text back as ``{"+name": count, "-name": count}``."""
    out: dict[str, int] = {}
    if not text or not isinstance(text, str):
        return out
    for item in text.split():
        name, _, n = item.partition(":")
        out[name] = int(n) if n else 1
    return out


def _sections(patch: bytes) -> list[bytes]:
    """The patch cut at each file's ``diff --git`` header (header line included)."""
    if not patch:
        return []
    parts = patch.split(b"\ndiff --git ")
    parts[0] = parts[0].removeprefix(b"diff --git ")
    return parts


def _unquote(text: bytes) -> bytes:
    """A path as git writes it in a patch header, C-quoted (``"a/caf\\303\\251"``) or plain."""
    if not text.startswith(b'"'):
        return text
    out = bytearray()
    i, n = 1, len(text)
    simple = {ord("n"): 10, ord("t"): 9, ord('"'): 34, ord("\\"): 92, ord("a"): 7, ord("b"): 8,
              ord("f"): 12, ord("r"): 13, ord("v"): 11}  # fmt: skip
    while i < n and text[i] != 34:
        c = text[i]
        if c == 92 and i + 1 < n:
            nxt = text[i + 1]
            if 48 <= nxt <= 55:
                out.append(int(text[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(simple.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def _new_path(header: bytes, path: bytes) -> bool:
    """Whether a section's ``diff --git`` header line names ``path`` as its new path."""
    if header.endswith(b" b/" + path):
        return True
    if header.endswith(b'"'):
        quote = header.rfind(b' "b/')
        return quote >= 0 and _unquote(header[quote + 1 :]) == b"b/" + path
    return False


def align_sections(patch: bytes, paths: list[str]) -> list[tuple[bytes, int | None]]:
    """Each file section of ``patch`` with the position of its file among ``paths`` (the
    ``--raw`` entries' new paths): in order when there is one section per file (git writes
    them in the ``--raw`` order), else by each header's new path (a type change is two
    sections of one file); a section no path matches gets ``None``."""
    sections = _sections(patch)
    if len(sections) == len(paths):
        return list(zip(sections, range(len(paths)), strict=True))
    encoded = [p.encode("utf-8", "surrogateescape") for p in paths]
    out: list[tuple[bytes, int | None]] = []
    k = 0
    for section in sections:
        header = section.split(b"\n", 1)[0]
        match = None
        for j in range(max(0, k - 1), len(paths)):
            if _new_path(header, encoded[j]):
                match, k = j, j + 1
                break
        out.append((section, match))
    return out


def section_counts(section: bytes) -> tuple[int, int, bool]:
    """``(added, deleted, binary)`` lines of one file's section, as ``--numstat`` counts them:
    ``+`` / ``-`` lines after the first hunk header; ``Binary files … differ`` is binary
    (numstat's ``-``)."""
    start = section.find(b"\n@@")
    if start < 0:
        return 0, 0, b"\nBinary files " in section
    body = section[start:]
    return body.count(b"\n+"), body.count(b"\n-"), False


def _sides(body: bytes) -> tuple[bytes, bytes]:
    """``(deleted, added)`` lines of a body (from its first ``\\n@@``), each line still led by
    its ``\\n-`` / ``\\n+``; context lines and hunk headers left out."""
    lines = body.split(b"\n")
    minus = [line for line in lines if line[:1] == b"-"]
    plus = [line for line in lines if line[:1] == b"+"]
    return (b"\n" + b"\n".join(minus) if minus else b""), (
        b"\n" + b"\n".join(plus) if plus else b""
    )


def _comment_or_blank(line: bytes) -> int:
    """0 for a code line, 1 for a comment line, 2 for a blank one (``line`` without its sign)."""
    text = line.strip()
    if not text:
        return 2
    return 1 if text.startswith(COMMENT_STARTS) else 0


def commit_content(files: list[dict], key_file=None) -> dict:
    """The content of one commit: ``files`` are its raw records' files (``added``, ``deleted``,
    ``binary``, ``path``, ``_gitlink``) each with its patch section(s) as
    ``_sections``; ``key_file(path)`` says which files' key-value lines to count (the
    configuration files; None: every file).

    Sets ``key_lines`` on every file (key-value lines added or deleted; 0 when not counted) and
    returns ``{"tokens", "error_handling", "concurrency", "null_checks", "sql", "todo_added",
    "comments_only", "skipped_files"}``: tokens as :func:`format_bag` text, ``comments_only``
    a bool, every other value a count over the files read.
    """
    added_parts: list[bytes] = []
    deleted_parts: list[bytes] = []
    code_bodies: list[bytes] = []  # bodies of the files other than .sql ones
    sql = skipped = 0
    comment, code = 0, False
    for f in files:
        f["key_lines"] = 0
        if f["binary"] or f["_gitlink"]:
            code = True  # a binary or submodule change is not a comment
            continue
        sections = f.get("_sections") or ()
        if (
            f["added"] + f["deleted"] > MAX_FILE_LINES
            or sum(map(len, sections)) > MAX_SECTION_BYTES
        ):
            skipped += 1
            continue
        for section in sections:
            start = section.find(b"\n@@")
            if start < 0:
                continue  # a pure rename, a mode change, an empty file
            body = section[start:]
            minus, plus = _sides(body)
            added_parts.append(plus)
            deleted_parts.append(minus)
            if key_file is None or key_file(f["path"]):
                f["key_lines"] += len(KEY_LINE_RE.findall(body))
            if f["path"].endswith(".sql"):
                sql += len(SQL_ANY_CASE_RE.findall(body))
            else:
                code_bodies.append(body)
            if not code:  # only while no code line was seen: most changes stop at their first
                for line in (minus + plus).split(b"\n"):
                    kind = _comment_or_blank(line[1:])
                    if kind == 0 and line:
                        code = True
                        break
                    comment += kind == 1
    added = b"".join(added_parts)
    deleted = b"".join(deleted_parts)
    tok_added, tok_deleted = tokens_of(added), tokens_of(deleted)
    counts = {_ERROR: 0, _CONC: 0, _NULL: 0, _SQL: 0}
    todo = 0
    memo = _KIND.get
    for side, bag in ((0, tok_added), (1, tok_deleted)):
        for token, n in bag.items():
            kind = memo(token)
            if kind is None:
                kind = _kind(token)
            if kind:
                for bit in counts:
                    if kind & bit:
                        counts[bit] += n
                if kind & _TODO and side == 0:
                    todo += n
    null_checks = 0
    if counts[_NULL]:
        for text, bag in ((added, tok_added), (deleted, tok_deleted)):
            for word, patterns in NULL_PATTERNS.items():
                if word in bag:
                    null_checks += sum(text.count(p) for p in patterns)
            null_checks += sum(bag.get(w, 0) for w in NULL_CALLS)
    if counts[_SQL] and any(w in tok_added or w in tok_deleted for w in SQL_OBJECTS):
        # an upper-case statement verb and object somewhere: look for statements
        sql += sum(
            len(SQL_RE.findall(body))
            for body in code_bodies
            if any(verb.encode() in body for verb in SQL_VERBS)
        )
    return {
        "tokens": format_bag(tok_added, tok_deleted),
        "error_handling": counts[_ERROR],
        "concurrency": counts[_CONC],
        "null_checks": null_checks,
        "sql": sql,
        "todo_added": todo,
        "comments_only": bool(comment) and not code and not skipped,
        "skipped_files": skipped,
    }
