"""A repository whose own configuration names commands: riskml's git calls run none of them.

The generated repository gets, in ``.git/config`` and ``.git/info/attributes`` (so every file
is covered without a commit), an fsmonitor hook, a clean/smudge/process filter, a textconv
driver and an external diff, each leaving a mark file when it runs. Then ``riskml run`` mines,
labels (SZZ blames the fixes), trains and scores the last commits, and ``riskml score
--worktree`` scores an uncommitted edit.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from riskml.synth.hostile import plant_hostile_config

pytestmark = pytest.mark.slow


def test_no_command_of_the_repositorys_config_runs(cli, synth_small, tmp_path, mlflow_uri):
    repo = tmp_path / "repo"
    shutil.copytree(synth_small.repo, repo)
    marks = tmp_path / "marks"
    plant_hostile_config(repo, marks)
    # the hooks do run for plain git here, so a mark would show a real escape
    subprocess.run(["git", "-C", str(repo), "status", "--short"], capture_output=True, check=True)
    assert (marks / "fsmonitor.sh.ran").exists()
    for mark in marks.glob("*.ran"):
        mark.unlink()
    for name in ("clean", "smudge", "process", "textconv"):
        (marks / name).unlink(missing_ok=True)

    work = tmp_path / "work"
    work.mkdir()
    config = work / "riskml.toml"
    config.write_text('[label]\nwindow_days = 30\n[train]\nmodel_name = "hostile-config"\n')
    done = cli("run", "--repo", str(repo), "--incidents", str(synth_small.incidents),
               "--pending", "3", "--config", str(config), "--quiet", cwd=work)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    edited = next(p for p in sorted(repo.rglob("*.py")) if ".git" not in p.parts)
    edited.write_text(edited.read_text() + "\nprint('pending')\n")
    done = cli("score", "--repo", str(repo), "--worktree", "--config", str(config),
               "--format", "json", cwd=work)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in marks.iterdir()) == ["external.sh", "fsmonitor.sh"]
