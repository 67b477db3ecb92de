"""riskml.run.choose_pending: which commits `riskml run` scores as pending (small git repos)."""

from __future__ import annotations

from pathlib import Path

import gitrepo
import pytest
from gitrepo import git

from riskml.errors import RiskmlError
from riskml.run import choose_pending, detect_main_branch


def commit(repo: Path, name: str) -> str:
    """Add the file ``name`` (its own name as content) in a commit ``add <name>``."""
    return gitrepo.commit(repo, f"add {name}", {name: name + "\n"})


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str], list[str]]:
    """main: m0 m1 m2; feature (checked out) branches at m1 with f0 f1."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    main = [commit(path, f"m{i}") for i in range(2)]
    git(path, "checkout", "-q", "-b", "feature")
    feature = [commit(path, f"f{i}") for i in range(2)]
    git(path, "checkout", "-q", "main")
    main.append(commit(path, "m2"))
    git(path, "checkout", "-q", "feature")
    return path, main, feature


def test_pending_are_the_commits_not_on_the_main_branch(repo):
    path, main, feature = repo
    base, head, commits, how = choose_pending(path, main_branch="main")
    # HEAD forked from main at m1: the history is trained up to the fork point.
    assert (base, head, commits) == (main[1], feature[1], feature)
    assert how == "the commits on HEAD not yet on main"


def test_main_branch_is_detected(repo):
    path, main, feature = repo
    assert detect_main_branch(path) == "main"
    assert choose_pending(path)[2] == feature


def test_last_n_commits(repo):
    path, main, feature = repo
    base, head, commits, how = choose_pending(path, pending=1)
    assert (base, head, commits) == (feature[0], feature[1], [feature[1]])
    assert how == "HEAD~1..HEAD (the last 1 first-parent commits and what they merged)"


def test_nothing_pending_on_the_main_branch(repo):
    path, main, _ = repo
    git(path, "checkout", "-q", "main")
    base, head, commits, _ = choose_pending(path, main_branch="main")
    assert (base, head, commits) == (main[2], main[2], [])
    assert choose_pending(path)[3] == "HEAD is on main (--pending N scores its last N commits)"


def test_bad_pending_requests(repo):
    path, _, _ = repo
    with pytest.raises(RiskmlError, match="unknown main branch"):
        choose_pending(path, main_branch="no-such-branch")
    with pytest.raises(RiskmlError, match="leave some to train on"):
        choose_pending(path, pending=4)  # HEAD has 4 commits
    with pytest.raises(RiskmlError, match="not both"):
        choose_pending(path, pending=1, main_branch="main")
