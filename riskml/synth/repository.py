"""`riskml synth`'s entry point: :func:`generate` a repository with its incidents and truth."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from riskml.errors import RiskmlError
from riskml.synth.history import History
from riskml.synth.output import write_incidents, write_truth

MARKER_FILE = "synth.json"


@dataclass(frozen=True)
class SynthResult:
    """Where :func:`generate` wrote its outputs."""

    repo: Path
    incidents: Path
    truth: Path


def _git_env(home: Path) -> dict[str, str]:
    """An environment in which no system, global or user git configuration can leak in."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "SYSTEMROOT", "TMPDIR")}
    keep.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "TZ": "UTC",
        }
    )
    return keep


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RiskmlError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER_FILE).is_file():
            raise RiskmlError(f"--out {out} is a non-empty directory not made by riskml synth")
        for name in ("repo", "incidents.csv", "truth.csv", MARKER_FILE):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RiskmlError(f"--out {out}: cannot create: {exc.strerror}") from None


def generate(
    out: Path, commits: int = 2000, seed: int = 0, start: str = "2021-01-04"
) -> SynthResult:
    """Generate a repository of ``commits`` non-merge commits with its incidents and truth.

    ``out/repo`` is a git repository (branch ``main``, checked out), ``out/incidents.csv`` the
    incidents opened before the last commit, ``out/truth.csv`` one row per non-merge commit.
    The same ``commits``, ``seed`` and ``start`` always give the same SHAs. An existing ``out``
    made by an earlier run is replaced; any other non-empty ``out`` is refused (RiskmlError).
    """
    if isinstance(commits, bool) or not isinstance(commits, int) or commits < 1:
        raise RiskmlError(f"--commits must be a positive integer, got {commits!r}")
    try:
        start_day = date.fromisoformat(start)
    except (TypeError, ValueError):
        raise RiskmlError(f"--start must be a date YYYY-MM-DD, got {start!r}") from None
    if shutil.which("git") is None:
        raise RiskmlError("git is not installed (riskml synth runs git fast-import)")
    out = Path(out)
    _prepare(out)
    repo = out / "repo"
    gen = History(commits, seed, start_day)
    with tempfile.TemporaryDirectory(prefix="riskml-synth-") as tmp:
        tmpdir = Path(tmp)
        home = tmpdir / "home"
        home.mkdir()
        env = _git_env(home)
        init = subprocess.run(
            ["git", "init", "-q", "--template=", "-b", "main", str(repo)],
            env=env,
            capture_output=True,
        )
        if init.returncode != 0:  # a full disk, a folder that cannot be written
            reason = (init.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
            raise RiskmlError(f"cannot create the repository {repo}: git init: {reason}")
        shas = gen.run(repo, env, tmpdir)
        heads = subprocess.run(
            ["git", "-C", str(repo), "for-each-ref", "--format=%(refname)", "refs/heads/feature/"],
            check=True,
            env=env,
            capture_output=True,
        ).stdout.decode()
        deletes = "".join(f"delete {ref}\n" for ref in heads.split())
        subprocess.run(
            ["git", "-C", str(repo), "update-ref", "--stdin"],
            input=deletes.encode(),
            check=True,
            env=env,
            capture_output=True,
        )
        subprocess.run(
            ["git", "-C", str(repo), "reset", "-q", "--hard", "main"],
            check=True,
            env=env,
            capture_output=True,
        )
        listing = subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname)",
            ],
            check=True,
            env=env,
            capture_output=True,
        ).stdout
        objects = sorted(listing.decode().split())
    end = max(max(c.time, c.ctime) for c in gen.commits)
    incidents = out / "incidents.csv"
    truth = out / "truth.csv"
    write_incidents(incidents, gen.incidents, shas, end, objects)
    write_truth(truth, gen.commits, shas, end)
    (out / MARKER_FILE).write_text(
        json.dumps({"commits": commits, "seed": seed, "start": start}, sort_keys=True) + "\n"
    )
    return SynthResult(repo=repo, incidents=incidents, truth=truth)
