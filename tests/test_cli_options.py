"""The shared CLI options end to end: --data-dir everywhere, renamed --cutoff, bad riskml.toml."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# the real CLI in subprocesses, end to end
pytestmark = pytest.mark.slow


def _tiny_repo(path: Path) -> Path:
    """A repository of three dated commits (a fix among them), enough to mine and label."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ann", "GIT_AUTHOR_EMAIL": "ann@example.com",
           "GIT_COMMITTER_NAME": "Ann", "GIT_COMMITTER_EMAIL": "ann@example.com"}  # fmt: skip
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for day, (name, message) in enumerate(
        [("app.py", "add app"), ("util.py", "add util"), ("app.py", "fix crash in app")], 1
    ):
        file = path / name
        file.write_text((file.read_text() if file.exists() else "") + f"line {day}\n")
        stamp = f"2024-01-0{day}T12:00:00+00:00"
        subprocess.run(["git", "-C", str(path), "add", name], check=True)
        subprocess.run(
            ["git", "-C", str(path), "commit", "-q", "-m", message],
            check=True,
            env={**env, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
        )
    return path


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    """The tiny repository mined into a data root that is not ./data (module-wide, read-only)."""
    from conftest import run_cli

    root = tmp_path_factory.mktemp("options")
    repo = _tiny_repo(root / "shop")
    done = run_cli("mine", "--repo", str(repo), "--data-dir", str(root / "store"), cwd=root)
    assert done.returncode == 0, done.stderr
    return root, repo


def test_mine_writes_under_data_dir(mined) -> None:
    root, _ = mined
    assert (root / "store" / "shop" / "changes.parquet").is_file()
    assert (root / "store" / "shop" / "changes.state").is_dir()
    assert not (root / "data").exists()


def test_label_reads_and_writes_under_data_dir_and_old_cutoff_still_works(cli, mined) -> None:
    root, repo = mined
    store = root / "store"
    done = cli("label", "--repo", str(repo), "--data-dir", str(store), "--cutoff",
               "2024-06-01", cwd=root)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["riskml: warning: --cutoff is deprecated, use --as-of"]
    labels = store / "shop" / "labels.parquet"
    assert done.stdout.splitlines()[-1] == (
        f"wrote {labels} and {store / 'shop' / 'labels.report.json'}"
    )
    import pandas as pd

    first = pd.read_parquet(labels)
    again = cli("label", "--repo", str(repo), "--data-dir", str(store), "--as-of",
                "2024-06-01", cwd=root)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    assert again.stdout.splitlines()[-1] == done.stdout.splitlines()[-1]
    assert pd.read_parquet(labels).equals(first)


@pytest.mark.parametrize(
    ("verb", "old", "new"),
    [("label", "--cutoff", "--as-of"), ("train", "--cutoff", "--test-start")],
)
def test_old_and_new_spelling_together_is_a_user_error(cli, mined, verb, old, new) -> None:
    root, repo = mined
    done = cli(verb, "--repo", str(repo), old, "2024-01-02", new, "2024-01-02", cwd=root)
    assert done.returncode == 2
    assert done.stderr == f"riskml: error: give {new} only ({old} is its deprecated spelling)\n"


def test_renamed_options_are_documented_under_their_new_names(cli) -> None:
    label = cli("label", "--help", env={"COLUMNS": "200"})
    train = cli("train", "--help", env={"COLUMNS": "200"})
    assert "--as-of" in label.stdout and "--cutoff" not in label.stdout
    assert "--test-start" in train.stdout and "--cutoff" not in train.stdout


def test_score_looks_for_the_state_under_data_dir(cli, mined) -> None:
    root, repo = mined
    done = cli("score", "--repo", str(repo), "--rev", "HEAD", "--data-dir", str(root / "other"),
               cwd=root)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"riskml: error: no mining state at {root / 'other' / 'shop' / 'changes.state'}: "
        f"run `riskml mine --repo {repo}` first (scoring never mines the whole history)\n"
    )


@pytest.mark.parametrize("verb", ["mine", "label", "train", "score", "serve", "trends", "run",
                                  "demo"])  # fmt: skip
def test_every_data_verb_takes_config_and_data_dir(cli, verb) -> None:
    done = cli(verb, "--help", env={"COLUMNS": "200"})
    assert done.returncode == 0
    assert "--config" in done.stdout and "--data-dir" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("label", "--repo", "{repo}"), "riskml.toml: [label] window_days: must be > 0, got -3"),
        (("mine", "--repo", "{repo}", "--out", "{out}"),
         "riskml.toml: [label] window_days: must be > 0, got -3"),
        (("score", "--repo", "{repo}", "--rev", "HEAD"),
         "riskml.toml: [label] window_days: must be > 0, got -3"),
        (("train", "--repo", "{repo}", "--no-mlflow"),
         "riskml.toml: [label] window_days: must be > 0, got -3"),
        (("trends", "--config", "{repo}/riskml.toml", "--repo-name", "shop"),
         "riskml.toml: [label] window_days: must be > 0, got -3"),
    ],
)  # fmt: skip
def test_a_bad_riskml_toml_is_one_line_before_any_work(cli, tmp_path, args, message) -> None:
    repo = _tiny_repo(tmp_path / "shop")
    (repo / "riskml.toml").write_text("[label]\nwindow_days = -3\n")
    out = tmp_path / "changes.parquet"
    argv = [a.format(repo=repo, out=out) for a in args]
    done = cli(*argv, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == f"riskml: error: {message}\n"
    assert not out.exists()
    assert not (tmp_path / "data").exists()


MODEL_NAME_RULE = (
    "must be an MLflow registered-model name (without '/', ':', '\\' or NUL, not '.' nor "
    "starting with '..')"
)


@pytest.mark.parametrize(
    ("verb", "name", "problem"),
    [
        ("train", " ", "must be a non-empty name without surrounding spaces, got ' '"),
        ("train", " risk", "must be a non-empty name without surrounding spaces, got ' risk'"),
        ("train", "", "must be a non-empty name without surrounding spaces, got ''"),
        ("train", "team/risk", f"{MODEL_NAME_RULE}, got 'team/risk'"),
        ("train", "a:b", f"{MODEL_NAME_RULE}, got 'a:b'"),
        ("fleet-train", " ", "must be a non-empty name without surrounding spaces, got ' '"),
        ("fleet-train", "..", f"{MODEL_NAME_RULE}, got '..'"),
    ],
)
def test_a_bad_model_name_is_one_line_before_training(cli, tmp_path, verb, name, problem) -> None:
    """--model-name follows the [train] model_name rule, on every verb taking it."""
    done = cli(verb, "--model-name", name, "--no-mlflow", "--out-dir", str(tmp_path / "out"),
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == f"riskml: error: --model-name {name!r}: {problem}\n"
    assert not (tmp_path / "out").exists()


def test_a_lightgbm_parameter_lightgbm_rejects_is_one_line_before_any_work(cli, tmp_path) -> None:
    repo = _tiny_repo(tmp_path / "shop")
    (repo / "riskml.toml").write_text("[train]\nlgbm_params = {num_leaves = 1}\n")
    done = cli("train", "--repo", str(repo), "--no-mlflow", "--out-dir", str(tmp_path / "out"),
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "riskml: error: riskml.toml: [train] lgbm_params: num_leaves: must be in [2, 131072], "
        "got 1\n"
    )
    assert not (tmp_path / "out").exists()
