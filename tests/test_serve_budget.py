"""`riskml serve`'s per-request time budget, on a real server on 127.0.0.1.

A copy of the scoring world (tests/score/test_score.py) gets two branches no request can score
within the budget: one of commits that each move 990 files (git's rename detection compares
every pair), and one whose only new file git blocks on reading (its loose object is a named
pipe, as a stuck network file system would hold it). Each is answered 503 naming the budget,
its git processes are killed, and the next request is answered as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import gitrepo
import httpx
import pytest
from procs import git_children
from test_score import World, build_world, git
from test_serve import free_port, wait_up

# end to end: a real server over a mined, labelled and trained world
pytestmark = pytest.mark.slow

BUDGET_S = 2
MOVES, FILES, LINES = 6, 990, 200
MESSAGE = (
    f"scoring ran out of its time budget of {BUDGET_S} s ([serve] request_timeout_seconds) "
    "and was stopped"
)


def add_moving_branch(repo: Path, name: str) -> None:
    """Branch ``name`` off main: a commit adding FILES files of LINES lines, then MOVES - 1
    commits each moving them all to a new folder with one line in seven edited (git
    fast-import)."""
    base = git(repo, "rev-parse", "main")
    at = int(git(repo, "log", "-1", "--format=%at", "main"))
    stream = [f"reset refs/heads/{name}\nfrom {base}\n"]
    for i in range(MOVES):
        message = f"move the tables, step {i}"
        stream.append(f"commit refs/heads/{name}\n"
                      f"committer Bulk <bulk@acme.example> {at + 60 * (i + 1)} +0000\n"
                      f"data {len(message)}\n{message}\n")  # fmt: skip
        if i:
            stream.append(f"D tables{i - 1}\n")
        for f in range(FILES):
            data = "".join(
                f"row_{f}_{j} = {j * (i + 1) if j % 7 == i % 7 else j}\n" for j in range(LINES)
            )
            stream.append(f"M 100644 inline tables{i}/t{f}.py\ndata {len(data)}\n{data}\n")
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"],
                   input="".join(stream).encode(), check=True)  # fmt: skip


def add_stuck_branch(repo: Path, name: str) -> None:
    """Branch ``name`` off main: one commit adding a file whose blob git blocks on reading."""
    git(repo, "checkout", "-q", "-b", name, "main")
    sha = gitrepo.commit(repo, "Add the stuck file", {"stuck.txt": "never read\n"})
    git(repo, "checkout", "-q", "main")
    blob = git(repo, "rev-parse", f"{sha}:stuck.txt")
    loose = repo / ".git" / "objects" / blob[:2] / blob[2:]
    loose.unlink()
    os.mkfifo(loose)


@pytest.fixture(scope="module")
def world(tmp_path_factory, mlflow_uri) -> World:
    return build_world(tmp_path_factory, mlflow_uri)


@pytest.fixture(scope="module")
def budget_server(world, tmp_path_factory):
    """`riskml serve` with a budget of BUDGET_S on a copy of the world's repository and data
    (the shared world is never changed); (base URL, server process)."""
    root = tmp_path_factory.mktemp("budget_world")
    repo = root / "repo"
    shutil.copytree(world.repo, repo, symlinks=True)
    shutil.copytree(world.root / "data" / "repo", root / "data" / "repo")
    add_moving_branch(repo, "moves")
    add_stuck_branch(repo, "stuck")
    config = root / "riskml.toml"
    text = world.config.read_text(encoding="utf-8").replace(str(world.repo), str(repo))
    text = text.replace("[serve]\n", f"[serve]\nrequest_timeout_seconds = {BUDGET_S}\n", 1)
    config.write_text(text, encoding="utf-8")
    port = free_port()
    env = dict(os.environ)
    env.pop("RISKML_API_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskml", "serve", "--config", str(config), "--port", str(port),
         "--model", world.uri],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/healthz", proc)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_no_git_children(pid: int, seconds: float = 30) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := git_children(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_a_request_past_its_budget_is_503_and_the_next_one_is_answered(world, budget_server):
    base, proc = budget_server
    single = {"repo": "repo", "rev": world.pending}
    with httpx.Client(base_url=base, timeout=120) as client:
        # the first request loads the state, the tables and the tier reference; that shared
        # work runs to its end even when the request runs out of time, so a retry gets further
        for _ in range(30):
            first = client.post("/v1/score", json=single)
            if first.status_code == 200:
                break
            assert (first.status_code, first.json()) == (503, {"detail": MESSAGE})
        assert first.status_code == 200, first.text
        for head in ("moves", "stuck"):
            late = client.post("/v1/score", json={"repo": "repo", "base": "main", "head": head})
            assert (late.status_code, late.json()) == (503, {"detail": MESSAGE}), head
            assert wait_no_git_children(proc.pid) == []
        after = client.post("/v1/score", json=single)
        assert (after.status_code, after.json()) == (200, first.json())
        assert client.get("/healthz").json()["model_loaded"] is True
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    log = err.decode("utf-8", "replace")
    for head in ("moves", "stuck"):
        assert f"POST /v1/score repo main..{head} stopped after its time budget of 2 s" in log
