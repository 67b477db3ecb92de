"""Child processes of a process, read from Linux's /proc, for the tests that check riskml
leaves no git process behind (tests/test_time_budget.py, tests/test_serve_budget.py)."""

from __future__ import annotations

from pathlib import Path


def git_children(pid: int) -> list[str]:
    """The command lines of ``pid``'s child processes that are git (zombies included)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:  # the thread ended meanwhile
            continue
        for child in children:
            try:
                args = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if args and Path(args[0].decode()).name == "git":
                found.append(" ".join(a.decode() for a in args if a))
    return found
