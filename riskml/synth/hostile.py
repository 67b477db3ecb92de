"""A repository whose own git configuration names commands, each leaving a mark when it runs.

Used by the tests and by the hostile corpus (``benchmarks/hostile.py``) to check that riskml's
git calls run none of a mined repository's configured commands (docs/robustness.md).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

#: ``git config`` keys and values; ``{marks}`` is the folder the marks are written to.
HOSTILE_CONFIG = {
    "core.fsmonitor": "{marks}/fsmonitor.sh",
    "filter.evil.clean": "sh -c 'touch {marks}/clean; cat'",
    "filter.evil.smudge": "sh -c 'touch {marks}/smudge; cat'",
    "filter.evil.process": "sh -c 'touch {marks}/process; cat'",
    "diff.evil.textconv": "sh -c 'touch {marks}/textconv; cat \"$1\"' -",
    "diff.external": "{marks}/external.sh",
}
#: The scripts the configuration runs (each touches ``<name>.ran``), and every mark's name.
HOSTILE_SCRIPTS = ("fsmonitor.sh", "external.sh")
HOSTILE_MARKS = ("clean", "smudge", "process", "textconv", "fsmonitor.sh.ran", "external.sh.ran")


def plant_hostile_config(repo: Path, marks: Path) -> None:
    """Give ``repo`` (a work tree) the commands of :data:`HOSTILE_CONFIG` in ``.git/config`` and
    ``* filter=evil diff=evil`` in ``.git/info/attributes`` (every file covered without a commit);
    ``marks`` is created and holds the scripts."""
    marks.mkdir(parents=True, exist_ok=True)
    for name in HOSTILE_SCRIPTS:
        script = marks / name
        script.write_text(f"#!/bin/sh\ntouch {marks}/{name}.ran\n")
        script.chmod(0o755)
    for key, value in HOSTILE_CONFIG.items():
        subprocess.run(["git", "-C", str(repo), "config", key, value.format(marks=marks)],
                       check=True)  # fmt: skip
    info = repo / ".git" / "info"
    info.mkdir(exist_ok=True)
    (info / "attributes").write_text("* filter=evil diff=evil\n")


def marks_left(marks: Path) -> list[str]:
    """The marks of :data:`HOSTILE_MARKS` present in ``marks``, sorted."""
    return sorted(name for name in HOSTILE_MARKS if (marks / name).exists())
