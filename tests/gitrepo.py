"""The one git helper of the tests: make a repository, write files, commit them, run git.

Plain git commands with fixed identities and dates, so the SHAs and times a test asserts are
the same on every machine. conftest.py keeps the user's git configuration out of the tests.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def git_bytes(
    repo: str | Path, *args: str, env: dict | None = None, input: bytes | None = None
) -> bytes:
    """``git -C repo args…``'s stdout as bytes; a failing git fails the test (with its stderr)."""
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        env={**os.environ, **(env or {})},
        input=input,
        capture_output=True,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr.decode('utf-8', 'replace')}")
    return proc.stdout


def git(repo: str | Path, *args: str, env: dict | None = None, input: bytes | None = None) -> str:
    """``git -C repo args…``'s stdout as text (UTF-8, bad bytes replaced), whitespace stripped."""
    return git_bytes(repo, *args, env=env, input=input).decode("utf-8", "replace").strip()


def init(repo: str | Path, branch: str = "main") -> Path:
    """A new empty repository at ``repo`` (created with its parents) on ``branch``."""
    path = Path(repo)
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    git(path, "config", "commit.gpgsign", "false")
    return path


def write(repo: str | Path, files: dict[str, str | bytes | None], append: bool = False) -> None:
    """Write each path's content (text, bytes, or ``None`` to delete it) and stage it."""
    for rel, content in files.items():
        target = Path(repo) / rel
        if content is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode("utf-8") if isinstance(content, str) else content
            with target.open("ab" if append else "wb") as fh:
                fh.write(data)
    if files:
        git(repo, "add", "-A", "--", *files)


def commit(
    repo: str | Path,
    message: str | bytes,
    files: dict[str, str | bytes | None] | None = None,
    *,
    when: int | str | None = None,
    committed: int | str | None = None,
    who: tuple[str, str] | None = None,
    tz: str = "+0000",
    append: bool = False,
) -> str:
    """Write and stage ``files``, commit everything staged, and return the new SHA.

    ``when`` is the author date (epoch seconds, in ``tz``, or an ISO-8601 string), also the
    committer date unless ``committed`` is given; ``who`` is ``(name, email)`` for author and
    committer. ``None`` keeps git's (or the environment's) own.
    """
    write(repo, files or {}, append=append)
    env: dict[str, str] = {}
    if who is not None:
        env.update(GIT_AUTHOR_NAME=who[0], GIT_AUTHOR_EMAIL=who[1])
        env.update(GIT_COMMITTER_NAME=who[0], GIT_COMMITTER_EMAIL=who[1])

    def stamp(t: int | str) -> str:
        return t if isinstance(t, str) else f"@{t} {tz}"

    if when is not None:
        env["GIT_AUTHOR_DATE"] = stamp(when)
        env["GIT_COMMITTER_DATE"] = stamp(when if committed is None else committed)
    elif committed is not None:
        env["GIT_COMMITTER_DATE"] = stamp(committed)
    msg = message if isinstance(message, bytes) else message.encode("utf-8")
    git(repo, "commit", "-q", "--allow-empty", "-F", "-", env=env, input=msg)
    return git(repo, "rev-parse", "HEAD")
