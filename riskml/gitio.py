"""Thin, safe access to the ``git`` command line, shared by every stage.

Every user-supplied revision goes through :func:`resolve_rev` before git sees it as anything
but a revision, so option syntax (``--output=…``, ``-n1``) can never reach git as an option.
Failures that are the user's (not a repository, unknown rev) raise :class:`RiskmlError`.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

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


@functools.lru_cache(maxsize=64)
def _filters_of(repo: str) -> tuple[str, ...]:
    """The filter drivers the repository's configuration defines (``filter.<name>.*``)."""
    proc = subprocess.run(
        ["git", "-C", repo, "config", "--name-only", "--get-regexp", r"^filter\."],
        capture_output=True,
        env=git_env(),
    )
    names = set()
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        _, _, rest = line.partition(".")
        name, _, _ = rest.rpartition(".")
        if name:
            names.add(name)
    return tuple(sorted(names))


def _filter_overrides(repo: str | Path) -> dict[str, str]:
    out = {}
    for name in _filters_of(str(repo)):
        out[f"filter.{name}.clean"] = "cat"
        out[f"filter.{name}.smudge"] = "cat"
        out[f"filter.{name}.process"] = ""
        out[f"filter.{name}.required"] = "false"
    return out


def run_git(repo: str | Path, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
    """Run ``git -C repo args…`` and return its stdout as bytes.

    Raises :class:`RiskmlError` with git's first error line when ``check`` and git fails.
    """
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=input,
        capture_output=True,
        env=git_env(repo),
    )
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
    proc = subprocess.run(
        ["git", "-C", str(p), "rev-parse", "--is-bare-repository", "--absolute-git-dir"],
        capture_output=True,
        env=git_env(),
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
    proc = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{rev}^{{commit}}",
        ],
        capture_output=True,
        env=git_env(),
    )
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
