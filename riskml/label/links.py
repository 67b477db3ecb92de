"""Evidence that ties a change to an incident: commit messages, reverts, incident ids.

Messages come from one ``git cat-file --batch`` over the changes' SHAs (the changes table holds
only subjects). A revert is what :func:`riskml.gitio.parse_revert` says it is: a
``This reverts commit <sha>`` line or, when that line is missing, a ``Revert "<subject>"``
subject, matched to the most recent earlier change with exactly that subject.
"""

from __future__ import annotations

import re
from pathlib import Path

from riskml.gitio import parse_revert, read_objects, run_git, subject_of

# Link sources, strongest first (labels.md).
SOURCES = ("culprit", "revert", "szz_incident", "szz_fix")
SOURCE_RANK = {s: i for i, s in enumerate(SOURCES)}


def read_messages(repo: str | Path, shas: list[str]) -> dict[str, str]:
    """Full commit messages by SHA, in one ``git cat-file --batch`` (UTF-8, bad bytes replaced).

    SHAs git does not know, or that name something other than a commit, are left out.
    """
    out: dict[str, str] = {}
    for sha, (kind, body) in read_objects(repo, shas).items():
        if kind == "commit":
            out[sha] = body.partition(b"\n\n")[2].decode("utf-8", "replace")
    return out


def find_reverts(
    repo: str | Path, order: list[str], messages: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Map each revert commit to the commit it reverts.

    ``order`` is the changes' SHAs oldest first (subject matches look backwards from the
    revert). Returns ({revert: reverted}, reverts whose target could not be found).
    """
    from riskml.label.incidents import resolve_commits

    named: dict[str, str] = {}
    by_subject: dict[str, str] = {}
    unresolved: list[str] = []
    for sha in order:
        parsed = parse_revert(messages.get(sha, ""))
        if parsed is None:
            continue
        target, subject = parsed
        if target is not None:
            named[sha] = target
        else:
            by_subject[sha] = subject
    resolved = resolve_commits(repo, list(named.values()))
    reverts: dict[str, str] = {}
    for sha, target in named.items():
        full = resolved.get(target, "missing")
        if len(full) == 40:
            reverts[sha] = full
        else:
            unresolved.append(sha)
    if by_subject:
        latest: dict[str, str] = {}  # subject -> most recent change with it, so far
        for sha in order:
            want = by_subject.get(sha)
            if want is not None:
                if want in latest:
                    reverts[sha] = latest[want]
                else:
                    unresolved.append(sha)
            latest[subject_of(messages.get(sha, ""))] = sha
    return reverts, unresolved


def incident_mentions(messages: dict[str, str], pattern: str) -> dict[str, list[str]]:
    """Incident ids each message mentions (``config.label.incident_pattern``), in order."""
    rx = re.compile(pattern)
    out = {}
    for sha, msg in messages.items():
        ids = list(dict.fromkeys(m.group(0) for m in rx.finditer(msg)))
        if ids:
            out[sha] = ids
    return out


def expand_merges(repo: str | Path, shas: list[str]) -> dict[str, list[str]]:
    """For each merge commit among ``shas``, the non-merge commits it brought in.

    An incident's fix is often recorded as a pull request's merge commit, whose own diff
    PyDriller does not give; the commits of the merged branch (``merge^1..merge^2``) are the
    fix. Non-merge commits are not in the result.
    """
    if not shas:
        return {}
    out = run_git(
        repo,
        "rev-list",
        "--no-walk=unsorted",
        "--parents",
        "--stdin",
        input="".join(f"{s}\n" for s in dict.fromkeys(shas)).encode(),
    )
    merges: dict[str, list[str]] = {}
    for line in out.decode().splitlines():
        sha, *parents = line.split()
        if len(parents) > 1:
            brought: list[str] = []
            for other in parents[1:]:
                listed = run_git(
                    repo, "rev-list", "--no-merges", "--reverse", f"{parents[0]}..{other}"
                )
                brought.extend(s for s in listed.decode().split() if s not in brought)
            merges[sha] = brought
    return merges
