"""Small hand-built git repositories for the `riskml mine` tests (plain git, fixed dates)."""

from __future__ import annotations

from pathlib import Path

import gitrepo
from gitrepo import git, init

# 2023-01-02 10:00:00 UTC, a Monday
T0 = 1_672_653_600
DAY = 86_400
HOUR = 3_600

ALICE = ("Alice", "alice@x.example")
BOB = ("Bob", "BOB@x.example")  # upper case: the table lower-cases it
BOB_OLD = ("Robert", "Robert@Old.Example")  # mapped to bob@x.example by the mailmap
CAROL = ("Carol", "carol@x.example")
COPILOT = ("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com")


def write(repo: Path, path: str, content: str | bytes) -> None:
    """Write one file (not staged: the histories below stage what they mean to)."""
    p = repo / path
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")


def commit(
    repo: Path,
    who: tuple[str, str],
    when: int,
    message: str | bytes,
    tz: str = "+0000",
    committed: int | None = None,
) -> str:
    """Commit everything staged as ``who`` at epoch ``when``; return the new SHA."""
    return gitrepo.commit(repo, message, who=who, when=when, committed=committed, tz=tz)


def lines(n: int, prefix: str = "l") -> str:
    return "".join(f"{prefix}{i}\n" for i in range(1, n + 1))


def build_history(root: Path) -> tuple[Path, dict[str, str]]:
    """The repository of the exact-value tests; returns (repo, {name: sha}).

    c1 alice  T0              add README.md (3), src/app.py (4), payments/pay.py (2)
    c2 bob    T0+1d           src/app.py +3 -1, add binary assets/logo.png; "Fix crash (#12)"
    c3 alice  T0+2d+1h        rename src/app.py -> src/main.py (+1), README.md -1,
                              delete payments/pay.py; Claude co-author trailer
    c4 carol  T0+3d (branch)  add tests/test_main.py (2), config/app.yaml (1)
    c5 bob    T0+4d (main)    src/main.py +1, as "Robert <Robert@Old.Example>" (mailmap)
    m6 alice  T0+5d           merge of the branch (not a row)
    c7 carol  T0+400d         src/main.py +1, tests/test_main.py -1; Revert "Add tests"
    c8 alice  T0+800d+3h +0200  add migrations/0001_init.sql (3), requirements.txt (1); AI note
    c9 copilot agent T0+801d  requirements.txt +1; a Latin-1 (non-UTF-8) message
    """
    repo = init(root / "history")
    mailmap = root / "mailmap"
    mailmap.write_text("Bob <bob@x.example> <robert@old.example>\n", encoding="utf-8")
    git(repo, "config", "mailmap.file", str(mailmap))
    sha: dict[str, str] = {}

    write(repo, "README.md", lines(3, "r"))
    write(repo, "src/app.py", lines(4))
    write(repo, "payments/pay.py", lines(2, "p"))
    git(repo, "add", "-A")
    sha["c1"] = commit(repo, ALICE, T0, "initial")

    write(repo, "src/app.py", "l1\nL2\nl3\nl4\nl5\nl6\n")
    write(repo, "assets/logo.png", b"\x89PNG\x00\x01\x02\x00binary")
    git(repo, "add", "-A")
    sha["c2"] = commit(repo, BOB, T0 + DAY, "Fix crash in app (#12)")

    git(repo, "mv", "src/app.py", "src/main.py")
    write(repo, "src/main.py", "l1\nL2\nl3\nl4\nl5\nl6\nl7\n")
    write(repo, "README.md", lines(2, "r"))
    git(repo, "rm", "-q", "payments/pay.py")
    git(repo, "add", "-A")
    sha["c3"] = commit(
        repo,
        ALICE,
        T0 + 2 * DAY + HOUR,
        "Refactor the app\n\nCo-Authored-By: Claude Opus 4 <noreply@anthropic.com>\n",
        committed=T0 + 2 * DAY + 2 * HOUR,
    )

    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "tests/test_main.py", lines(2, "t"))
    write(repo, "config/app.yaml", "debug: false\n")
    git(repo, "add", "-A")
    sha["c4"] = commit(repo, CAROL, T0 + 3 * DAY, "Add tests")

    git(repo, "checkout", "-q", "main")
    write(repo, "src/main.py", "l1\nL2\nl3\nl4\nl5\nl6\nl7\nl8\n")
    git(repo, "add", "-A")
    sha["c5"] = commit(repo, BOB_OLD, T0 + 4 * DAY, "Tune main")

    env = {
        "GIT_AUTHOR_NAME": ALICE[0],
        "GIT_AUTHOR_EMAIL": ALICE[1],
        "GIT_AUTHOR_DATE": f"@{T0 + 5 * DAY} +0000",
        "GIT_COMMITTER_NAME": ALICE[0],
        "GIT_COMMITTER_EMAIL": ALICE[1],
        "GIT_COMMITTER_DATE": f"@{T0 + 5 * DAY} +0000",
    }
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch feature", "feature", env=env)
    sha["m6"] = git(repo, "rev-parse", "HEAD").strip()

    write(repo, "src/main.py", "l1\nL2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n")
    write(repo, "tests/test_main.py", lines(1, "t"))
    git(repo, "add", "-A")
    sha["c7"] = commit(
        repo,
        CAROL,
        T0 + 400 * DAY,
        f'Revert "Add tests"\n\nThis reverts commit {sha["c4"]}.\n',
    )

    write(repo, "migrations/0001_init.sql", lines(3, "s"))
    write(repo, "requirements.txt", "pandas\n")
    git(repo, "add", "-A")
    sha["c8"] = commit(repo, ALICE, T0 + 800 * DAY + 3 * HOUR, "Schema", tz="+0200")
    git(repo, "notes", "--ref", "refs/notes/ai", "add", "-m", '{"ai_lines": 2}', sha["c8"])

    write(repo, "requirements.txt", "pandas\nnumpy\n")
    git(repo, "add", "-A")
    sha["c9"] = raw_commit(repo, COPILOT, T0 + 801 * DAY, b"Caf\xe9 update\n")
    return repo, sha


def raw_commit(repo: Path, who: tuple[str, str], when: int, message: bytes) -> str:
    """Commit the index with ``message`` stored byte for byte (git commit would re-encode it)."""
    tree = git(repo, "write-tree").strip()
    parent = git(repo, "rev-parse", "HEAD").strip()
    ident = f"{who[0]} <{who[1]}> {when} +0000".encode()
    body = (
        b"tree " + tree.encode() + b"\nparent " + parent.encode() + b"\nauthor " + ident
        + b"\ncommitter " + ident + b"\n\n" + message
    )  # fmt: skip
    sha = git(repo, "hash-object", "-t", "commit", "-w", "--stdin", input=body).strip()
    git(repo, "update-ref", "HEAD", sha)
    return sha
