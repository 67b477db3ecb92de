"""The range a pre-push hook scores, from pre-commit's variables or the branch's push target,
in a real repository with a real remote."""

from __future__ import annotations

from pathlib import Path

import gitrepo
import pytest
import yaml
from gitrepo import git

from riskml.ci.prepush import ZERO, push_range

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pushed(tmp_path: Path):
    """A clone whose main is pushed to a bare remote, then two local commits not pushed."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    work = gitrepo.init(tmp_path / "work")
    first = gitrepo.commit(work, "Start", {"a.py": "A = 1\n"}, when=1_700_000_000)
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "-u", "origin", "main")
    second = gitrepo.commit(work, "Grow", {"b.py": "B = 2\n"}, when=1_700_000_100)
    third = gitrepo.commit(work, "Grow more", {"c.py": "C = 3\n"}, when=1_700_000_200)
    return work, first, second, third


def test_pre_commits_variables_are_the_range(pushed):
    work, first, _, third = pushed
    env = {"PRE_COMMIT_FROM_REF": first, "PRE_COMMIT_TO_REF": third}
    assert push_range(work, env) == f"{first}..{third}"


def test_without_them_the_push_target_then_the_upstream_stands_for_the_remote(pushed):
    work, _, _, third = pushed
    assert push_range(work, {}) == "HEAD@{push}..HEAD"
    # pre-commit leaves FROM unset when the push holds the root commit: the push target again
    assert push_range(work, {"PRE_COMMIT_TO_REF": third}) == f"HEAD@{{push}}..{third}"
    git(work, "config", "remote.pushDefault", "nowhere")  # no push target: the upstream
    assert push_range(work, {}) == "HEAD@{upstream}..HEAD"


def test_nothing_to_compare_with_is_none(pushed, tmp_path):
    work, first, _, _ = pushed
    assert push_range(work, {"PRE_COMMIT_FROM_REF": first, "PRE_COMMIT_TO_REF": ZERO}) is None
    lonely = gitrepo.init(tmp_path / "lonely")
    gitrepo.commit(lonely, "Only", {"x.py": "X = 0\n"}, when=1_700_000_000)
    assert push_range(lonely, {}) is None
    assert push_range(lonely, {"PRE_COMMIT_FROM_REF": ZERO, "PRE_COMMIT_TO_REF": first}) is None


def test_the_hook_is_declared_for_the_pre_push_stage():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook == {
        "id": "riskml-pre-push",
        "name": "riskml deploy risk",
        "description": "Scores the commits being pushed; fails the push per --fail-on "
        "(give it in args).",
        "entry": "riskml ci pre-push",
        "language": "python",
        "stages": ["pre-push"],
        "pass_filenames": False,
        "always_run": True,
        "require_serial": True,
        "verbose": True,
    }
