"""Feature groups that need only the change itself (no history): one small function per group.

Each group takes the raw record (docs/architecture.md) plus what it needs from the config and
returns a dict of columns, named exactly as in ../shared/spec/features.md. The groups that need
the history of files and authors live in :mod:`riskml.mine.state`.
"""

from __future__ import annotations

import math
import re
import warnings
from datetime import UTC, datetime
from functools import lru_cache

from wcmatch import glob

from riskml.config import AIConfig, Config, MineConfig
from riskml.gitio import parse_revert, subject_of
from riskml.mine.mining_warning import MiningWarning
from riskml.mine.provenance import (
    AI_AGENT,
    AI_ASSISTED,
    HUMAN,
    MalformedNote,
    line_attribution,
    provenance_of,
)
from riskml.tables import OPTIONAL_CHANGES_COLUMNS

# Globs: `**` spans directories (GLOBSTAR); `*` also matches dot-files such as .env (DOTGLOB).
GLOB_FLAGS = glob.GLOBSTAR | glob.DOTGLOB


def subsystem(path: str) -> str:
    """First path component; ``""`` for a file at the root."""
    head, sep, _ = path.partition("/")
    return head if sep else ""


def directory(path: str) -> str:
    """The path without its file name (``""`` at the root)."""
    return path.rpartition("/")[0]


def identity(rec: dict, repo_name: str) -> dict:
    """commit, repo, author_email, author_time, commit_time, subject (times as epoch seconds)."""
    return {
        "commit": rec["commit"],
        "repo": repo_name,
        "author_email": rec["author_email"],
        "author_time": rec["author_time"],
        "commit_time": rec["commit_time"],
        "subject": subject_of(rec["message"]),
    }


def size(rec: dict) -> dict:
    """la, ld, lt, nf, nd, ns, entropy, entropy_norm (Kamei et al. 2013)."""
    files = rec["files"]
    la = ld = lt = 0
    churns = []
    dirs, subs = set(), set()
    for f in files:
        added, deleted = f["added"], f["deleted"]
        la += added
        ld += deleted
        lt += f["lines_before"]
        churns.append(added + deleted)
        path = f["path"]
        dirs.add(directory(path))
        subs.add(subsystem(path))
    nf = len(files)
    total = la + ld
    entropy = 0.0
    if total > 0:
        for churn in churns:
            if churn:
                p = churn / total
                entropy -= p * math.log2(p)
    return {
        "la": la,
        "ld": ld,
        "lt": lt,
        "nf": nf,
        "nd": len(dirs),
        "ns": len(subs),
        "entropy": entropy,
        "entropy_norm": entropy / math.log2(nf) if nf >= 2 else 0.0,
    }


def file_kinds(rec: dict) -> dict:
    """Extras: files added, deleted, renamed and binary among the touched files; ``files``."""
    status = {"A": 0, "D": 0, "R": 0, "M": 0}
    binary = 0
    for f in rec["files"]:
        status[f["status"]] += 1
        binary += bool(f["binary"])
    return {
        "n_added_files": status["A"],
        "n_deleted_files": status["D"],
        "n_renamed_files": status["R"],
        "n_binary_files": binary,
        "files": ";".join(f["path"] for f in rec["files"]),
    }


@lru_cache(maxsize=32)
def _fix_re(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def purpose(rec: dict, cfg: MineConfig) -> dict:
    """fix (configurable pattern over the whole message) and is_revert."""
    message = rec["message"]
    return {
        "fix": bool(_fix_re(cfg.fix_pattern).search(message)),
        "is_revert": parse_revert(message) is not None,
    }


def when(rec: dict) -> dict:
    """Extras: hour of day and weekday (Monday = 0) of the author time, in UTC."""
    t = datetime.fromtimestamp(rec["author_time"], UTC)
    return {"hour": t.hour, "weekday": t.weekday()}


def compile_globs(globs: list[str]):
    """One matcher for a list of globs (wcmatch semantics, GLOB_FLAGS): an object with
    ``match(path)``. wcmatch's regexes joined into one ``re`` pattern, ten times faster than
    ``wcmatch.glob.compile`` per call; wcmatch itself when a glob excludes (``!``)."""
    include, exclude = glob.translate(globs, flags=GLOB_FLAGS)
    if exclude or not include:
        return glob.compile(globs, flags=GLOB_FLAGS)
    return re.compile("|".join(f"(?:{p})" for p in include))


class PathClassifier:
    """Critical areas and change kinds of paths, by the config's globs (results cached per path)."""

    def __init__(self, config: Config) -> None:
        self.areas = {
            name: compile_globs(globs)
            for name, globs in sorted(config.critical_paths.items())
            if globs
        }
        m = config.mine
        self.kinds = {
            "n_test_files": compile_globs(m.test_globs),
            "n_config_files": compile_globs(m.config_globs),
            "n_migration_files": compile_globs(m.migration_globs),
            "n_dependency_files": compile_globs(m.dependency_globs),
        }
        self._cache: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def classify(self, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(critical areas, kinds) matched by ``path``."""
        hit = self._cache.get(path)
        if hit is None:
            areas = tuple(n for n, m in self.areas.items() if m.match(path))
            kinds = tuple(k for k, m in self.kinds.items() if m.match(path))
            hit = self._cache[path] = (areas, kinds)
        return hit

    def __call__(self, rec: dict) -> dict:
        """touches_critical, n_critical_files, critical_areas and the n_*_files kinds."""
        areas: set[str] = set()
        n_critical = 0
        counts = dict.fromkeys(self.kinds, 0)
        for f in rec["files"]:
            file_areas, kinds = self.classify(f["path"])
            if file_areas:
                n_critical += 1
                areas.update(file_areas)
            for k in kinds:
                counts[k] += 1
        return {
            "touches_critical": n_critical > 0,
            "n_critical_files": n_critical,
            "critical_areas": ";".join(sorted(areas)),
            **counts,
        }


# the diff-content columns, owned by the table boundary (the columns an older table may lack)
CONTENT_COLUMNS = OPTIONAL_CHANGES_COLUMNS


def content_flags(rec: dict, paths: PathClassifier) -> dict:
    """Extras from the diff's content (:mod:`riskml.mine.content`), by the change alone.

    Counts over the files read (binary, submodule and huge files are not): error-handling and
    concurrency keywords and null checks in added and deleted lines, key-value lines added or
    deleted in configuration files, SQL statements, TODO/FIXME/HACK/XXX markers added; from
    numstat: lines added and deleted in dependency manifests, lines deleted in test files;
    ``comments_only``: every changed line is a comment or blank, and at least one is a comment.
    ``{}`` for a record read without its content.
    """
    content = rec.get("content")
    if content is None:
        return {}
    key_lines = dependency = test_deleted = 0
    for f in rec["files"]:
        _, kinds = paths.classify(f["path"])
        if not kinds:
            continue
        if "n_config_files" in kinds:
            key_lines += f.get("key_lines", 0)
        if "n_dependency_files" in kinds:
            dependency += f["added"] + f["deleted"]
        if "n_test_files" in kinds:
            test_deleted += f["deleted"]
    return {
        "error_handling": content["error_handling"],
        "concurrency": content["concurrency"],
        "null_checks": content["null_checks"],
        "config_key_lines": key_lines,
        "sql_statements": content["sql"],
        "dependency_lines": dependency,
        "test_lines_deleted": test_deleted,
        "todo_added": content["todo_added"],
        "comments_only": bool(content["comments_only"]),
    }


def provenance(rec: dict, cfg: AIConfig) -> dict:
    """ai_provenance, ai_tool, ai_evidence, ai_model (provenance.md) and the line-level
    ai_line_share, ai_lines_added (the git-ai or Agent Trace note in ``rec["ai_note"]``).

    A note that says AI wrote lines of an otherwise ``human`` commit makes it ``ai_assisted``
    (evidence ``note:git-ai <tool>`` / ``note:agent-trace <tool>``); a note none of the formats
    reads is a :class:`MiningWarning`, and the commit keeps what its identity and trailers say.
    """
    p = provenance_of(rec["author_name"], rec["author_email"], rec["message"], cfg)
    cls, tool, evidence, model = p.ai_provenance, p.ai_tool, p.ai_evidence, p.ai_model
    added = sum(f["added"] for f in rec["files"])
    try:
        lines = line_attribution(rec.get("ai_note"), added)
    except MalformedNote as exc:
        warnings.warn(
            f"commit {rec['commit'][:12]}: its AI note is not a git-ai log nor an Agent Trace "
            f"record ({exc}); its provenance comes from the commit alone",
            MiningWarning,
            stacklevel=2,
        )
        lines = None
    share = ai_lines = None
    if lines is not None:
        share, ai_lines = lines.share, lines.ai_lines
        if cls == HUMAN and lines.source in ("git-ai", "agent-trace") and lines.ai_lines:
            cls, tool = AI_ASSISTED, lines.tool
            evidence = f"note:{lines.source} {tool}".rstrip()
        if cls in (AI_ASSISTED, AI_AGENT) and not model:
            model = lines.model
    return {
        "ai_provenance": cls,
        "ai_tool": tool,
        "ai_evidence": evidence,
        "ai_line_share": share,
        "ai_model": model,
        "ai_lines_added": ai_lines,
    }
