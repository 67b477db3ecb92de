"""Thin, safe access to the ``git`` command line, shared by every stage.

Every user-supplied revision goes through :func:`resolve_rev` before git sees it as anything
but a revision, so option syntax (``--output=…``, ``-n1``) can never reach git as an option.
Failures that are the user's (not a repository, unknown rev) raise :class:`RiskmlError`.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from riskml import budget
from riskml.errors import RiskmlError

# A revision as a user may write it: names, SHAs, ~ ^ @ { } . / - _ and digits; no spaces,
# no shell or option syntax at the start.
_REV_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./~^@{}\-]*$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")

# What `git revert` writes: a `Revert "<subject>"` subject and a `This reverts commit <sha>.` line.
_REVERTS_RE = re.compile(r"This reverts commit ([0-9a-fA-F]{7,40})")
_REVERT_SUBJECT_RE = re.compile(r'^Revert "(.*?)"?$')
# The names a main branch goes by, in the order detect_main_branch tries them.
MAIN_CANDIDATES = ("main", "master", "trunk", "develop")

# git must never prompt, page, or read the user's global hooks or config for our plumbing.
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "LC_ALL": "C",
    "GIT_OPTIONAL_LOCKS": "0",
}


# Commands a repository's own configuration can make git run. riskml reads repositories it did
# not write, so none of them may run: the fsmonitor hook is switched off here for every call;
# external diff and textconv are off through --no-ext-diff / --no-textconv on each diff, log
# and blame; a clean/smudge/process filter is replaced by an identity (see git_env).
SAFE_CONFIG = {"core.fsmonitor": "false", "core.hooksPath": os.devnull}
_UNSAFE_ENV = ("GIT_EXTERNAL_DIFF", "GIT_CONFIG_PARAMETERS", "GIT_DIR", "GIT_WORK_TREE")


def git_env(repo: str | Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every git command riskml runs: no prompt, no pager, the C locale,
    and configuration that runs no command the repository's config names (``SAFE_CONFIG``;
    with ``repo``, each of its filters becomes ``cat``). ``extra``: more config, as ``-c``."""
    env = {k: v for k, v in os.environ.items() if k not in _UNSAFE_ENV}
    env.update(GIT_ENV)
    config = {
        **SAFE_CONFIG,
        **(_filter_overrides(repo) if repo is not None else {}),
        **(extra or {}),
    }
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


# repository -> (the configuration files its filters were read from, their state then, or None
# when it cannot be known, the filter names); see _filters_of
_FILTERS: dict[str, tuple[tuple[str, ...], tuple | None, tuple[str, ...]]] = {}


def _filters_of(repo: str) -> tuple[str, ...]:
    """The filter drivers the configuration git reads for ``repo`` defines (``filter.<name>.*``).

    Every git call needs them, so they are read with one ``git config`` and kept while none of
    the files that configuration comes from changes (their inode, size and times are compared
    on every call): the files git read (the repository's config and what it includes, the
    global and system files) and those that could appear later (an include not written yet,
    ``config.worktree``, the global and system files). `riskml serve` runs for weeks: a filter
    added meanwhile is replaced by ``cat`` from the next git call on.
    """
    cached = _FILTERS.get(repo)
    if cached is not None and cached[1] is not None and _files_state(cached[0]) == cached[1]:
        return cached[2]
    known = tuple(sorted({*(cached[0] if cached else ()), *_standard_config_files()}))
    before = _files_state(known)  # taken before the read: a change during it is seen next call
    names, files = _read_filters(repo)
    # a file not watched before the read (a new include) is watched from the next call on
    state = before if files is not None and set(files) <= set(known) else None
    _FILTERS[repo] = (tuple(sorted({*known, *(files or ())})), state, names)
    return names


def _read_filters(repo: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """``(filter names, the configuration files to watch for them)``: the files git read, the
    files they include (read or not: one may appear) and ``config.worktree``. None for the
    files when they cannot be told (git failed, or named a file relative to a directory other
    than ``repo``)."""
    proc = _run(
        ["git", "-C", repo, "config", "--list", "-z", "--show-scope", "--show-origin"], git_env()
    )
    fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    names, read, watched = set(), set(), set()
    for scope, origin, entry in zip(fields[0::3], fields[1::3], fields[2::3], strict=False):
        key, _, value = entry.partition("\n")
        section, _, rest = key.partition(".")
        name, _, last = rest.rpartition(".")
        if not origin.startswith("file:"):
            continue  # riskml's own settings (GIT_CONFIG_COUNT)
        # relative to where git ran: `repo`, the top of a work tree or a bare git dir
        path = Path(repo, origin[len("file:") :])
        read.add(path)
        if section.lower() == "filter" and name:
            names.add(name)
        if scope == "local":
            watched.add(path.with_name("config.worktree"))
        if section.lower() in ("include", "includeif") and last.lower() == "path" and value:
            watched.add(path.parent / Path(value).expanduser())  # as git resolves it
    known = proc.returncode == 0 and all(p.exists() for p in read)
    files = tuple(sorted(str(p) for p in read | watched))
    return tuple(sorted(names)), (files if known else None)


def _standard_config_files() -> list[str]:
    """The system and global configuration files git reads, whether they exist yet or not."""
    env = os.environ
    out = []
    if env.get("GIT_CONFIG_NOSYSTEM", "").lower() not in ("1", "true", "yes", "on"):
        out.append(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig")
    if env.get("GIT_CONFIG_GLOBAL"):
        out.append(env["GIT_CONFIG_GLOBAL"])
    else:
        xdg = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        out += [
            os.path.join(xdg, "git", "config"),
            os.path.join(os.path.expanduser("~"), ".gitconfig"),
        ]
    return out


def _files_state(paths: tuple[str, ...]) -> tuple:
    """Inode, size and modification times of each path (None for a missing one)."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out.append(None)
            continue
        out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


def _filter_overrides(repo: str | Path) -> dict[str, str]:
    out = {}
    for name in _filters_of(str(repo)):
        out[f"filter.{name}.clean"] = "cat"
        out[f"filter.{name}.smudge"] = "cat"
        out[f"filter.{name}.process"] = ""
        out[f"filter.{name}.required"] = "false"
    return out


def _run(
    args: list[str], env: dict[str, str], input: bytes | None = None
) -> subprocess.CompletedProcess:
    """``subprocess.run(args, capture_output=True)`` under the running work's time budget
    (:mod:`riskml.budget`): killed when it runs out, and then :class:`BudgetExceeded` rather
    than the cut-short output of a killed git."""
    proc = budget.popen(
        args,
        stdin=subprocess.PIPE if input is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        out, err = proc.communicate(input)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    budget.check()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def run_git(repo: str | Path, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
    """Run ``git -C repo args…`` and return its stdout as bytes.

    Raises :class:`RiskmlError` with git's first error line when ``check`` and git fails, and
    :class:`riskml.budget.BudgetExceeded` when the running work's time budget ran out.
    """
    proc = _run(["git", "-C", str(repo), *args], git_env(repo), input=input)
    if check and proc.returncode != 0:
        first = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = first[0] if first else f"git {args[0] if args else ''} failed"
        raise RiskmlError(f"git: {reason.removeprefix('fatal: ')}")
    return proc.stdout


def subject_of(message: str) -> str:
    """The subject of a commit message: its first line, surrounding whitespace removed.

    Lines end at ``\\n`` only, as in git (``str.splitlines`` would also break at form feeds
    and Unicode separators that git keeps inside a subject); whitespace is stripped on both
    sides so ``\\r\\n`` endings and stray indentation do not make two subjects differ. Mining's
    ``subject`` column and label's revert matching both use this, so they agree.
    """
    return message.split("\n", 1)[0].strip()


def parse_revert(message: str) -> tuple[str | None, str | None] | None:
    """What a revert commit's message says it reverts, or ``None`` if it is not a revert.

    Returns ``(sha, None)`` for a ``This reverts commit <sha>`` line anywhere (the SHA as
    written, lower-cased, possibly abbreviated), else ``(None, subject)`` for a subject that
    begins ``Revert "``: the reverted subject with the closing quote removed when present.
    The subject form is deliberately the lenient one (a prefix, as mining's ``is_revert``
    always read it): a revert whose subject was cut before its closing quote is still a
    revert, so label counts it (unresolved if no change has that subject) instead of the
    changes table and the label report disagreeing about how many reverts there are.
    """
    m = _REVERTS_RE.search(message)
    if m:
        return m.group(1).lower(), None
    sm = _REVERT_SUBJECT_RE.match(subject_of(message))
    if sm:
        return None, sm.group(1)
    return None


def read_objects(repo: str | Path, names: list[str]) -> dict[str, tuple[str, bytes]]:
    """Type and raw content of each object named in ``names``, from one ``git cat-file --batch``.

    Returns ``{name: (type, content)}`` with the names as given (``"commit"``, ``"blob"``, …);
    a name git does not know is left out, so a caller tells missing objects by absence.
    Duplicates are asked for once. Mining's streaming reader (:mod:`riskml.mine.extract`) keeps
    its own persistent process: it pipelines requests while parsing, which one call cannot.
    """
    names = list(dict.fromkeys(names))
    if not names:
        return {}
    raw = run_git(repo, "cat-file", "--batch", input="".join(f"{n}\n" for n in names).encode())
    out: dict[str, tuple[str, bytes]] = {}
    pos = 0
    for name in names:
        nl = raw.index(b"\n", pos)
        header = raw[pos:nl].split()
        pos = nl + 1
        # "<name> missing" / "<name> ambiguous" carry no content
        if len(header) < 3 or header[-1] in (b"missing", b"ambiguous"):
            continue
        size = int(header[2])
        out[name] = (header[1].decode("ascii"), raw[pos : pos + size])
        pos += size + 1  # every object is followed by a newline
    return out


def ensure_repo(path: str | Path) -> Path:
    """Return the top level of the git work tree at ``path`` (the git dir of a bare repo), or raise."""
    p = Path(path)
    if not p.exists():
        raise RiskmlError(f"not a git repository: {path} does not exist")
    proc = _run(
        ["git", "-C", str(p), "rev-parse", "--is-bare-repository", "--absolute-git-dir"],
        git_env(),
    )
    if proc.returncode != 0:
        raise RiskmlError(f"not a git repository: {path}")
    bare, git_dir = proc.stdout.decode("utf-8", "replace").splitlines()[:2]
    if bare == "true":
        return Path(git_dir).resolve()
    top = run_git(p, "rev-parse", "--show-toplevel").decode("utf-8", "replace").strip()
    return Path(top).resolve()


def has_commits(repo: str | Path) -> bool:
    return run_git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False) != b""


def detect_main_branch(repo: str | Path) -> str | None:
    """The repository's main branch: ``origin/HEAD``'s target, else main/master/trunk/develop."""
    out = run_git(repo, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False)
    ref = out.decode().strip()
    if ref:
        return ref.removeprefix("refs/remotes/")
    for name in MAIN_CANDIDATES:
        if run_git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}", check=False):
            return name
    return None


def is_shallow(repo: str | Path) -> bool:
    out = run_git(repo, "rev-parse", "--is-shallow-repository", check=False)
    return out.strip() == b"true"


def root_commit(repo: str | Path, rev: str = "HEAD") -> str:
    """The repository's identity: the root commit at the start of ``rev``'s first-parent chain
    (``git rev-list --first-parent --max-parents=0 REV``).

    A history with several roots (another project merged in) has one first-parent chain, so
    the rule picks one of them, the first commit of the main line; commits added on top keep
    it. Tables and states record it; :func:`has_commit` checks it against a repository.
    """
    sha = resolve_rev(repo, rev)
    out = run_git(repo, "rev-list", "--first-parent", "--max-parents=0", sha).decode().split()
    return out[-1]


def has_commit(repo: str | Path, sha: str) -> bool:
    """True when ``repo`` holds the commit ``sha`` (a full SHA), reachable or not."""
    if not isinstance(sha, str) or not _SHA_RE.match(sha):
        return False
    return run_git(repo, "cat-file", "-t", sha, check=False).strip() == b"commit"


def check_rev_syntax(rev: str) -> str:
    """Reject anything that is not plausibly a revision, before any git call."""
    if not isinstance(rev, str) or not rev or len(rev) > 255:
        raise RiskmlError("invalid revision: empty or too long")
    if not _REV_RE.match(rev) or "/../" in f"/{rev}/" or "//" in rev:
        raise RiskmlError(f"invalid revision: {rev!r}")
    return rev


def resolve_rev(repo: str | Path, rev: str) -> str:
    """Resolve ``rev`` to a full commit SHA with ``rev-parse --verify --end-of-options``.

    Raises :class:`RiskmlError` for syntax that is not a revision or an unknown object.
    """
    check_rev_syntax(rev)
    if ".." in rev:
        raise RiskmlError(f"invalid revision: {rev!r} is a range, expected one commit")
    proc = _run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", "--end-of-options",
         f"{rev}^{{commit}}"],
        git_env(),
    )  # fmt: skip
    sha = proc.stdout.decode().strip()
    if proc.returncode != 0 or not _SHA_RE.match(sha):
        raise RiskmlError(f"unknown revision: {rev}")
    return sha


def resolve_range(repo: str | Path, spec: str) -> tuple[str, str]:
    """Resolve ``BASE..HEAD`` to two full SHAs."""
    if spec.count("..") != 1 or "..." in spec:
        raise RiskmlError(f"invalid range: {spec!r}, expected BASE..HEAD")
    base, head = spec.split("..")
    return resolve_rev(repo, base), resolve_rev(repo, head)
