"""A table, state or SZZ cache used with another repository than its own: the real CLI says so
in one line and exits 2 (an SZZ cache: a warning, and it is not used), before any work.

Each file records its repository's root commit (riskml.gitio.root_commit); two generated
repositories have two. An earlier riskml's pickled state is refused unread.
"""

from __future__ import annotations

import pickle
import shutil

import pytest

from riskml.gitio import root_commit

pytestmark = pytest.mark.slow  # the real CLI in subprocesses


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two generated repositories, ``shop`` and ``other``, each mined and labelled (proxy
    labels, SZZ cached) under ``data/``; ``mixed`` holds shop's table and state with other's
    labels; ``csv`` shop's table as CSV."""
    from riskml.label import label
    from riskml.mine import mine
    from riskml.synth import generate
    from riskml.tables import write_labels

    root = tmp_path_factory.mktemp("identity")
    repos = {
        name: generate(root / "gen" / name, commits=80, seed=seed).repo
        for name, seed in (("shop", 1), ("other", 2))
    }
    data = root / "data"
    for name, repo in repos.items():
        paths = data / name
        changes = mine(repo, out=paths / "changes.parquet", repo_name=name)
        result = label(repo, changes, cache_dir=paths / "szz-cache")
        write_labels(result.labels, paths / "labels.parquet")
    shutil.copytree(data / "shop", data / "mixed", ignore=shutil.ignore_patterns("labels*"))
    shutil.copyfile(data / "other" / "labels.parquet", data / "mixed" / "labels.parquet")
    mine(repos["shop"], out=root / "csv" / "changes.csv", repo_name="shop")
    return {
        "root": root,
        "data": data,
        "shop": repos["shop"],
        "other": repos["other"],
        "shop_root": root_commit(repos["shop"])[:12],
        "other_root": root_commit(repos["other"])[:12],
    }


def _fill(text: str, w: dict) -> str:
    return text.format(
        data=w["data"], root=w["root"], shop=w["shop"], other=w["other"],
        shop_root=w["shop_root"], other_root=w["other_root"],
    )  # fmt: skip


CASES = [
    pytest.param(
        ("mine", "--repo", "{other}", "--repo-name", "shop", "--data-dir", "{data}"),
        "{data}/shop/changes.parquet: the changes table of another repository (its root commit "
        "{shop_root} is not in {other}); mine it into another --out (or --repo-name)",
        id="mine into a table of another repository",
    ),
    pytest.param(
        ("score", "--repo", "{other}", "--repo-name", "shop", "--data-dir", "{data}",
         "--rev", "HEAD"),
        "{data}/shop/changes.state: the mining state of another repository (its root commit "
        "{shop_root} is not in {other}); run `riskml mine --repo {other}` (or give its own "
        "--state / --repo-name)",
        id="score with the state of another repository",
    ),
    pytest.param(
        ("score", "--repo", "{shop}", "--repo-name", "mixed", "--data-dir", "{data}",
         "--rev", "HEAD"),
        "{data}/mixed/labels.parquet: a labels table of another repository (its root commit "
        "{other_root} is not in {shop}); run `riskml label --repo {shop}`",
        id="score with labels of another repository",
    ),
    pytest.param(
        ("label", "--repo", "{other}", "--changes", "{data}/shop/changes.parquet",
         "--out", "{root}/never.parquet"),
        "{data}/shop/changes.parquet: a changes table of another repository (its root commit "
        "{shop_root} is not in {other}); label it with the repository it was mined from",
        id="label a changes table of another repository",
    ),
    pytest.param(
        ("label", "--repo", "{other}", "--changes", "{root}/csv/changes.csv",
         "--out", "{root}/never.parquet"),
        "{root}/csv/changes.csv: a changes table of another repository (its root commit "
        "{shop_root} is not in {other}); label it with the repository it was mined from",
        id="label a CSV changes table of another repository (known from its state)",
    ),
    pytest.param(
        ("trends", "--changes", "{data}/shop/changes.parquet",
         "--labels", "{data}/other/labels.parquet"),
        "{data}/other/labels.parquet: a labels table of another repository than "
        "{data}/shop/changes.parquet (root commits {other_root} and {shop_root})",
        id="trends with labels of another repository",
    ),
    pytest.param(
        ("train", "--changes", "{data}/shop/changes.parquet",
         "--labels", "{data}/other/labels.parquet", "--no-mlflow", "--out-dir", "{root}/never"),
        "{data}/other/labels.parquet: a labels table of another repository than "
        "{data}/shop/changes.parquet (root commits {other_root} and {shop_root})",
        id="train with labels of another repository",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), CASES)
def test_a_file_of_another_repository_is_one_line_and_exit_2(cli, world, args, message):
    before = {p: p.stat().st_mtime_ns for p in world["data"].rglob("*") if p.is_file()}
    done = cli(*(_fill(a, world) for a in args), cwd=world["root"])
    assert done.returncode == 2, done.stderr
    # the error is the last line (train says first what it reads), and the only one
    lines = done.stderr.splitlines()
    assert lines[-1] == f"riskml: error: {_fill(message, world)}"
    assert [line for line in lines if not line.startswith("reading ")] == lines[-1:]
    after = {p: p.stat().st_mtime_ns for p in world["data"].rglob("*") if p.is_file()}
    assert after == before  # nothing written
    assert not (world["root"] / "never.parquet").exists()
    assert not (world["root"] / "never").exists()


def test_an_szz_cache_of_another_repository_is_not_used(cli, world, tmp_path):
    """Labelling ``other`` with shop's SZZ cache: one warning, every fix traced afresh, the
    cache left as it was; its own cache is used (and records its repository)."""
    import json

    shop_cache = world["data"] / "shop" / "szz-cache"
    recorded = json.loads((shop_cache / "repository.json").read_text())
    assert recorded == {"root_commit": root_commit(world["shop"])}
    before = sorted(p.name for p in shop_cache.rglob("*"))
    args = ("label", "--repo", str(world["other"]), "--changes",
            str(world["data"] / "other" / "changes.parquet"))  # fmt: skip
    done = cli(*args, "--out", str(tmp_path / "labels.parquet"), "--cache-dir", str(shop_cache))
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        f"riskml: warning: {shop_cache}: an SZZ cache of another repository (its root commit "
        f"{world['shop_root']} is not in {world['other']}); not used: every fix is traced again "
        "and nothing is cached (remove the folder to cache again)\n"
    )
    report = json.loads((tmp_path / "labels.report.json").read_text())
    assert report["szz"]["cached"] == 0 and report["szz"]["traced"] > 0
    assert sorted(p.name for p in shop_cache.rglob("*")) == before
    own = world["data"] / "other" / "szz-cache"
    again = cli(*args, "--out", str(tmp_path / "own.parquet"), "--cache-dir", str(own))
    assert again.returncode == 0 and again.stderr == ""
    report = json.loads((tmp_path / "own.report.json").read_text())
    assert report["szz"]["traced"] == 0 and report["szz"]["cached"] > 0


class _Runs:
    """Pickles as a call of ``os.system``: what a crafted state file would hold."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_score_refuses_an_earlier_riskmls_pickled_state_unread(cli, world, tmp_path):
    mark = tmp_path / "ran"
    old = tmp_path / "data" / "shop"
    old.mkdir(parents=True)
    shutil.copyfile(world["data"] / "shop" / "changes.parquet", old / "changes.parquet")
    (old / "changes.state.joblib").write_bytes(pickle.dumps(_Runs(f"touch {mark}")))
    for extra in ((), ("--state", str(old / "changes.state.joblib"))):
        done = cli("score", "--repo", str(world["shop"]), "--repo-name", "shop", "--data-dir",
                   str(tmp_path / "data"), "--rev", "HEAD", *extra)  # fmt: skip
        assert done.returncode == 2
        assert done.stderr == (
            f"riskml: error: {old / 'changes.state.joblib'}: a mining state of an earlier riskml "
            f"(a pickle, which riskml no longer reads); re-run `riskml mine --repo "
            f"{world['shop']}`, which mines the table again from scratch\n"
        )
    assert not mark.exists()
