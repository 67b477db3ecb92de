"""The output files next to the repository: incidents.csv (labels.md) and truth.csv.

truth.csv is the ground truth a test can compare against: one row per non-merge commit with
whether it is a culprit, its hidden risk, its incident and its real AI provenance.
"""

from __future__ import annotations

import bisect
import csv
from datetime import UTC, datetime
from pathlib import Path

from riskml.label.incidents import INCIDENT_FIELDS
from riskml.synth.records import Commit, Incident

INCIDENT_COLUMNS = INCIDENT_FIELDS
TRUTH_COLUMNS = [
    "commit",
    "seq",
    "author_time",
    "commit_time",
    "author_email",
    "role",
    "branch",
    "is_culprit",
    "risk",
    "incident_id",
    "incident_listed",
    "link",
    "fix_for",
    "reverts",
    "ai_provenance",
    "ai_tool",
    "ai_lines",
    "ai_model",
    "la",
    "ld",
    "critical",
    "files",
    "flags",
]


def unique_prefix(sha: str, length: int, objects: list[str]) -> str:
    """``sha[:length]``, lengthened until no other object in the repository shares it."""
    i = bisect.bisect_left(objects, sha)
    neighbours = [objects[j] for j in (i - 1, i + 1) if 0 <= j < len(objects)]
    while length < 40 and any(o.startswith(sha[:length]) for o in neighbours):
        length += 1
    return sha[:length]


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_incidents(
    path: Path, incidents: list[Incident], shas: dict[int, str], end: int, objects: list[str]
) -> None:
    """Write the incidents opened by ``end`` (the last commit) to ``path``, oldest first."""
    rows = []
    for inc in incidents:
        if inc.opened > end:
            continue
        culprits = fixes = ""
        if inc.kind == "culprit":
            culprits = unique_prefix(shas[inc.culprit.mark], inc.culprit_prefix, objects)
        if inc.list_fix and inc.fixes:
            fixes = ";".join(shas[f.mark] for f in inc.fixes)
        rows.append(
            {
                "incident_id": inc.id,
                "opened_at": _iso(inc.opened),
                "severity": inc.severity,
                "culprit_commits": culprits,
                "fix_commits": fixes,
                "title": inc.title,
                "service": inc.service,
            }
        )
    rows.sort(key=lambda row: (row["opened_at"], row["incident_id"]))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, INCIDENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _link(inc: Incident, end: int) -> str:
    if inc.opened > end:
        return "unopened"
    if not inc.fixes:
        return "culprit" if inc.kind == "culprit" else "unresolved"
    return inc.kind


def write_truth(path: Path, commits: list[Commit], shas: dict[int, str], end: int) -> None:
    """Write one ground-truth row per non-merge commit, in history order, to ``path``."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, TRUTH_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for c in commits:
            inc = c.incident
            listed = inc is not None and inc.opened <= end
            writer.writerow(
                {
                    "commit": shas[c.mark],
                    "seq": c.seq,
                    "author_time": _iso(c.time),
                    "commit_time": _iso(c.ctime or c.time),
                    "author_email": c.key.lower(),
                    "role": c.role,
                    "branch": c.branch,
                    "is_culprit": int(c.culprit),
                    "risk": f"{c.risk:.6f}",
                    "incident_id": inc.id if listed else "",
                    "incident_listed": int(listed),
                    "link": _link(inc, end) if inc is not None else "",
                    "fix_for": c.fix_for,
                    "reverts": shas[c.reverts.mark] if c.reverts is not None else "",
                    "ai_provenance": c.ai_class,
                    "ai_tool": c.ai_tool,
                    "ai_lines": "" if c.ai_lines is None else c.ai_lines,
                    "ai_model": c.ai_model,
                    "la": c.la,
                    "ld": c.ld,
                    "critical": int(c.critical),
                    "files": ";".join(dict.fromkeys(c.paths)),
                    "flags": ";".join(c.flags),
                }
            )
