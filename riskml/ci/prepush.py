"""What a pre-push hook scores: the commits ``git push`` is about to send.

pre-commit runs a ``pre-push`` hook with ``PRE_COMMIT_FROM_REF`` (the remote's commit, or the
parent of the first commit the remote lacks) and ``PRE_COMMIT_TO_REF`` (the local commit being
pushed); it sets neither when the push holds the repository's root commit, and skips branch
deletions. Outside pre-commit (or without them), the branch's push target ``HEAD@{push}``, then its
upstream ``HEAD@{upstream}``, stands for what the remote has.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from riskml.errors import RiskmlError
from riskml.gitio import resolve_rev

ZERO = "0" * 40


def push_range(repo: str | Path, environ: Mapping[str, str]) -> str | None:
    """``FROM..TO`` of the commits being pushed, or None when there is nothing to compare with
    (a deleted branch, a first push of a whole history, no push target or upstream)."""
    start = environ.get("PRE_COMMIT_FROM_REF", "").strip()
    end = environ.get("PRE_COMMIT_TO_REF", "").strip()
    if end == ZERO:
        return None  # a deletion pushes no commit
    if start and end and start != ZERO:
        return f"{start}..{end}"
    for remote in ("HEAD@{push}", "HEAD@{upstream}"):
        try:
            resolve_rev(repo, remote)
        except RiskmlError:
            continue
        return f"{remote}..{end or 'HEAD'}"
    return None
