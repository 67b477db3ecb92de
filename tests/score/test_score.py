"""`riskml score`: tiers, review policy, formats, model resolution, incremental history, the CLI.

The world (a generated repository, mined, labelled, trained and registered in the session's
MLflow store, plus pending changes on top) is built once and shared with tests/test_serve.py.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import gitrepo
import pandas as pd
import pytest
from gitrepo import git

from riskml.config import Config, ReviewPolicy, load_config
from riskml.errors import RiskmlError
from riskml.score import fails_gate, review_for, score
from riskml.score.history import RepoHistory
from riskml.score.policy import at_least, check_tier
from riskml.score.render import render, short_id

# end to end: the world is a generated repository mined, labelled and trained
pytestmark = pytest.mark.slow

MODEL = "score-test-risk"
DAY = 86400


def commit_as(repo: Path, email: str, when: int, message: str, files: dict[str, str]) -> str:
    """Append ``files`` (path -> text) and commit them as ``email`` at epoch ``when``."""
    who = (email.split("@")[0], email)
    return gitrepo.commit(repo, message, files, who=who, when=when, append=True)


@dataclass
class World:
    root: Path  # cwd of every CLI call: data/repo/… and models/ live here
    repo: Path
    config: Path
    mined_head: str  # the last non-merge commit `riskml mine` saw
    pending: str  # a new commit on main touching payments/ (not mined)
    base: str  # == pending: where the feature branch starts
    feature: list[str]  # two commits on branch `feature`
    uri: str  # models:/<MODEL>@champion


_WORLD: dict[str, World] = {}


def build_world(tmp_path_factory, mlflow_uri: str) -> World:
    """Generate 600 commits, mine, label, train + register; then add pending work. Once."""
    if "world" in _WORLD:
        return _WORLD["world"]
    from conftest import run_cli

    from riskml.synth import generate

    root = tmp_path_factory.mktemp("score_world")
    synth = generate(root / "gen", commits=600, seed=7)
    repo = synth.repo
    config = root / "riskml.toml"
    config.write_text(
        "[label]\nwindow_days = 30\n"
        f'[train]\nmodel_name = "{MODEL}"\n'
        "[serve]\nmodel_refresh_seconds = 0.5\n"
        f'[serve.repos]\nrepo = "{repo}"\n',
        encoding="utf-8",
    )
    for args in (
        ("mine", "--repo", str(repo), "--config", str(config)),
        ("label", "--repo", str(repo), "--config", str(config),
         "--changes", "data/repo/changes.parquet", "--incidents", str(synth.incidents)),
        ("train", "--repo", str(repo), "--config", str(config)),
    ):  # fmt: skip
        done = run_cli(*args, cwd=root)
        assert done.returncode == 0, done.stderr[-3000:]
    mined_head = git(repo, "rev-list", "--no-merges", "-n", "1", "HEAD")
    last = int(git(repo, "log", "-1", "--format=%at"))
    pending = commit_as(
        repo, "dana@acme.example", last + DAY, "Change payment rounding",
        {"payments/rounding.py": "def round_amount(x):\n    return round(x, 2)\n" * 20},
    )  # fmt: skip
    git(repo, "checkout", "-q", "-b", "feature")
    f1 = commit_as(
        repo, "erin@acme.example", last + 2 * DAY, "Add login throttle",
        {"auth/throttle.py": "LIMIT = 5\n" * 30},
    )  # fmt: skip
    f2 = commit_as(
        repo, "erin@acme.example", last + 3 * DAY, "Test login throttle",
        {"auth/throttle.py": "WINDOW = 60\n", "tests/test_throttle.py": "def test():\n    pass\n"},
    )  # fmt: skip
    git(repo, "checkout", "-q", "main")
    world = World(root, repo, config, mined_head, pending, pending, [f1, f2],
                  f"models:/{MODEL}@champion")  # fmt: skip
    _WORLD["world"] = world
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory, mlflow_uri) -> World:
    return build_world(tmp_path_factory, mlflow_uri)


def score_cli(world: World, *args: str):
    from conftest import run_cli

    return run_cli("score", "--repo", str(world.repo), "--config", str(world.config), *args,
                   cwd=world.root)  # fmt: skip


# --------------------------------------------------------------------------- policy


def test_review_policy_defaults_follow_scoring_md():
    config = Config()
    assert review_for("low", config) == {
        "min_reviewers": 1, "code_owner": False, "senior": False, "rollout": "normal",
        "checks": [],
    }  # fmt: skip
    assert review_for("high", config) == {
        "min_reviewers": 2, "code_owner": True, "senior": False, "rollout": "staged",
        "checks": ["tests touched or added", "staged rollout"],
    }  # fmt: skip
    critical = review_for("CRITICAL", config)
    assert (critical["min_reviewers"], critical["senior"], critical["rollout"]) == (
        2,
        True,
        "canary",
    )
    assert "no deploy outside working hours" in critical["checks"]


def test_review_policy_from_config(tmp_path):
    path = tmp_path / "riskml.toml"
    path.write_text('[tiers.review.medium]\nmin_reviewers = 3\nchecks = ["design review"]\n')
    config = load_config(path)
    assert review_for("medium", config) == {
        "min_reviewers": 3, "code_owner": False, "senior": False, "rollout": "normal",
        "checks": ["design review"],
    }  # fmt: skip
    assert config.tiers.review["low"] == ReviewPolicy(1, False, False, "normal", [])


def test_tier_order_and_gate():
    assert [at_least(t, "high") for t in ("low", "medium", "high", "critical")] == [
        False, False, True, True,
    ]  # fmt: skip
    result = {"changes": [{"tier": "low"}, {"tier": "high"}]}
    assert fails_gate(result, "high") is True
    assert fails_gate(result, "critical") is False
    assert fails_gate(result, None) is False
    with pytest.raises(RiskmlError, match="unknown tier 'severe'"):
        check_tier("severe")


# --------------------------------------------------------------------------- formats

RESULT = {
    "changes": [
        {
            "id": "a" * 40 + ".." + "b" * 40,
            "risk": 0.4123,
            "tier": "high",
            "review": review_for("high", Config()),
            "reasons": [
                {
                    "feature": "n_critical_files",
                    "value": 2,
                    "effect": 0.5,
                    "text": "touches 2 files on critical paths (raises risk)",
                },
                {
                    "feature": "exp",
                    "value": 3,
                    "effect": 0.2,
                    "text": "author has 3 earlier commits (raises risk)",
                },
            ],  # fmt: skip
            "features": {
                "la": 10,
                "subject": "Test login throttle",
                "author_email": "erin@acme.example",
                "n_test_files": 1,
            },
            "commits": ["e" * 40, "b" * 40],
        },
        {
            "id": "c" * 40,
            "risk": 0.02,
            "tier": "low",
            "review": review_for("low", Config()),
            "reasons": [],
            "features": {"la": 1, "subject": "Fix typo", "author_email": "dana@acme.example"},
            "commits": ["c" * 40],
        },
    ],
    "model": {
        "name": "change-risk",
        "version": "4",
        "run_id": "r1",
        "thresholds": {"medium": 0.1, "high": 0.3, "critical": 0.6},
    },  # fmt: skip
    "warnings": [],
}


def test_short_ids():
    assert short_id("a" * 40) == "aaaaaaaaaa"
    assert short_id("a" * 40 + ".." + "b" * 40) == "aaaaaaaaaa..bbbbbbbbbb"
    assert short_id("worktree") == "worktree"


def test_table_format():
    lines = render(RESULT, "table").splitlines()
    assert lines[0].split() == [
        "change", "subject", "author", "risk", "tier", "review", "top", "reasons",
    ]  # fmt: skip
    assert lines[2] == (
        "aaaaaaaaaa..bbbbbbbbbb  2 commits, last: Test login throttle  erin@acme.example  "
        "0.412  high  2 reviewers, incl. code owner; rollout staged  "
        "touches 2 files on critical paths (raises risk); author has 3 earlier commits (raises risk)"
    )
    assert lines[3] == (
        f"cccccccccc              {'Fix typo':<36}  dana@acme.example  "
        "0.020  low   1 reviewer; rollout normal"
    )
    assert lines[-2:] == [
        "model: change-risk v4 (tiers: medium ≥ 0.100, high ≥ 0.300, critical ≥ 0.600)",
        "gate: none (--fail-on not set)",
    ]


def test_markdown_format_is_a_pr_comment():
    text = render(RESULT, "markdown")
    assert text.startswith("### riskml: deploy risk\n")
    assert "Highest tier: **high** 🟠 (risk 0.412) — requires 2 reviewers, incl. code owner" in text
    assert "\nGate: none (`--fail-on` not set).\n" in text
    assert (
        "| `aaaaaaaaaa..bbbbbbbbbb` | 2 commits, last: Test login throttle | erin@acme.example "
        "| 0.412 | 🟠 high | 2 reviewers, incl. code owner; rollout staged |"
    ) in text
    assert "| `cccccccccc` | Fix typo | dana@acme.example | 0.020 | 🟢 low |" in text
    assert "- touches 2 files on critical paths (raises risk)" in text
    # the branch touches a test file: that check is met, the rollout is still required
    assert "Checks: tests touched or added: met; staged rollout: required" in text
    assert text.rstrip().endswith("<sub>model change-risk v4, run `r1`</sub>")


FLOORED = {
    "id": "d" * 40,
    "risk": 0.031,
    "tier": "medium",
    "review": review_for("medium", Config()),
    "reasons": [
        {"feature": "la", "value": 4, "effect": 0.1, "text": "adds 4 lines (raises risk)"},
    ],
    "features": {
        "la": 4,
        "touches_critical": True,
        "critical_areas": "auth;payments",
        "subject": "Tighten session checks",
        "author_email": "ann@acme.example",
    },
    "tier_floor": {"rule": "critical_path", "tier_by_risk": "low", "areas": ["auth", "payments"]},
}


def test_a_floored_tier_says_why_in_every_format():
    from riskml.score.render import floor_text

    result = {**RESULT, "changes": [FLOORED]}
    why = "touches a critical path (auth, payments): tier raised to medium from low"
    assert floor_text(FLOORED) == why
    assert floor_text(RESULT["changes"][0]) is None
    table = render(result, "table").splitlines()
    assert table[2].startswith(
        "dddddddddd  Tighten session checks  ann@acme.example  0.031  medium"
    )
    assert table[2].endswith(f"{why}; adds 4 lines (raises risk)")
    markdown = render(result, "markdown")
    assert f"- {why}\n- adds 4 lines (raises risk)\n" in markdown


def test_tier_floor_is_set_only_where_the_floor_raised_the_tier():
    from riskml.score import _tier_floor

    row = {"critical_areas": "infra"}
    assert _tier_floor("medium", "low", row) == {
        "rule": "critical_path",
        "tier_by_risk": "low",
        "areas": ["infra"],
    }
    assert _tier_floor("high", "high", row) is None
    assert _tier_floor("medium", "low", {})["areas"] == []


def test_json_format_round_trips_and_unknown_format_is_an_error():
    assert json.loads(render(RESULT, "json")) == RESULT
    with pytest.raises(RiskmlError, match="unknown format 'xml'"):
        render(RESULT, "xml")


# --------------------------------------------------------------------------- model resolution


def test_alias_resolution_reads_the_registry_without_mlflow(world):
    from mlflow import MlflowClient

    from riskml.score.model import resolve_version

    mv = MlflowClient().get_model_version_by_alias(MODEL, "champion")
    fast = resolve_version(world.uri)
    assert (fast.name, fast.version, fast.run_id) == (MODEL, str(mv.version), mv.run_id)
    assert resolve_version(f"models:/{MODEL}/{mv.version}").run_id == mv.run_id
    with pytest.raises(RiskmlError, match="has no alias 'nope'"):
        resolve_version(f"models:/{MODEL}@nope")
    assert resolve_version("runs:/abc/model") is None


def test_remote_artifacts_are_cached_by_name_and_version(world, tmp_path):
    """Artifacts not on the local file system: downloaded once into models/.cache/, reused
    while the registry's run_id matches, refreshed when it does not."""
    from riskml.score.model import load_version, resolve_version

    mv = resolve_version(world.uri)
    mv.storage = "s3://elsewhere/artifacts"  # not local: must go through the cache
    first = load_version(mv, world.uri, cache_root=tmp_path)
    meta = tmp_path / ".cache" / MODEL / mv.version / "registry.json"
    assert json.loads(meta.read_text()) == {
        "name": MODEL,
        "version": mv.version,
        "run_id": mv.run_id,
    }
    stamp = meta.stat().st_mtime_ns
    again = load_version(mv, world.uri, cache_root=tmp_path)
    assert meta.stat().st_mtime_ns == stamp  # reused, not downloaded again
    assert again.model.thresholds == first.model.thresholds
    mv.run_id = "another-run"
    load_version(mv, world.uri, cache_root=tmp_path)
    assert json.loads(meta.read_text())["run_id"] == "another-run"


# --------------------------------------------------------------------------- history


def test_pending_row_equals_the_row_mine_writes_later(world, tmp_path):
    """Scoring a new commit computes exactly the row `riskml mine` appends for it afterwards."""
    from riskml.mine import mine

    config = load_config(world.config)
    history = RepoHistory(world.repo, world.root / "data/repo/changes.state", config)
    before = history.state.n_rows
    row = history.row_for_rev(world.pending)
    assert history.state.n_rows == before  # the pending commit itself is not recorded
    copy = tmp_path / "data"
    shutil.copytree(world.root / "data/repo", copy)
    table = mine(world.repo, rev=world.pending, out=copy / "changes.parquet", config=config)
    assert table.attrs["new_rows"] == 1
    from riskml.mine.table import to_frame

    mined = table[table["commit"] == world.pending].reset_index(drop=True)
    pd.testing.assert_frame_equal(to_frame([row]), mined)


def test_already_mined_commit_comes_from_the_table(world):
    config = load_config(world.config)
    history = RepoHistory(world.repo, world.root / "data/repo/changes.state", config)
    row = history.row_for_rev(world.mined_head)
    from riskml.mine import read_table

    table = read_table(world.root / "data/repo/changes.parquet")
    expected = table[table["commit"] == world.mined_head].iloc[0]
    assert row["nuc"] == expected["nuc"] and row["exp"] == expected["exp"]
    assert row["author_time"] == int(expected["author_time"].timestamp())


def test_a_range_of_mined_commits_keeps_their_mined_rows(world):
    from riskml.mine import read_table

    config = load_config(world.config)
    history = RepoHistory(world.repo, world.root / "data/repo/changes.state", config)
    base = git(world.repo, "rev-list", "--no-merges", "-n", "1", f"{world.mined_head}~3")
    warnings: list[str] = []
    rows = history.rows_for_range(base, world.mined_head, warnings)
    table = read_table(world.root / "data/repo/changes.parquet").set_index("commit")
    for sha, row in rows[1:]:
        assert (row["exp"], row["nuc"], row["ndev"]) == tuple(
            table.loc[sha, ["exp", "nuc", "ndev"]]
        )
    assert len(warnings) == 1 and "already in the mined history" in warnings[0]


def test_missing_state_is_a_user_error(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    with pytest.raises(RiskmlError, match="no mining state"):
        RepoHistory(repo, tmp_path / "none.state")


# --------------------------------------------------------------------------- stage function


def test_a_trailing_model_is_tiered_against_the_newest_changes_it_never_trained_on(world):
    """[tiers] reference = "trailing": the thresholds are re-cut from the model's risk on the
    newest unseen changes of the table (each scored as `score --rev` scores it)."""
    import copy

    from riskml.score import tier_reference
    from riskml.score.model import load_model
    from riskml.tables import read_changes

    config = load_config(world.config)
    loaded = load_model(world.uri, config)
    loaded.model = copy.copy(loaded.model)
    shares = {"critical": 0.1, "high": 0.2, "medium": 0.3}
    loaded.model.info = {
        **loaded.model.info,
        "tier_reference": {"trailing": {"window": 20, "min_reference": 5, "shares": shares}},
    }
    history = RepoHistory(world.repo, world.root / "data/repo/changes.state", config)
    changes = read_changes(world.root / "data/repo/changes.parquet")
    since = pd.Timestamp(loaded.model.info["train_end"])
    unseen = changes[changes["author_time"] > since].sort_values("author_time").tail(20)
    assert len(unseen) == 20
    risks = sorted(
        score(history, rev=sha, model=loaded, config=config)["changes"][0]["risk"]
        for sha in unseen["commit"]
    )[::-1]
    thresholds, reference = tier_reference(history, loaded)
    assert reference == {"rows": "trailing", "n": 20, "since": since.isoformat()}
    # the 2nd, 6th and 12th riskiest of the 20 (10 %, 30 %, 60 % of them)
    expected = {"critical": risks[1], "high": risks[5], "medium": risks[11]}
    assert thresholds == pytest.approx(expected, rel=1e-9)
    result = score(history, rev=world.pending, model=loaded, config=config)
    assert result["model"]["tier_reference"] == reference
    assert result["model"]["thresholds"] == thresholds
    # too few unseen changes: the thresholds stored with the version
    loaded.model.info["tier_reference"]["trailing"]["min_reference"] = 10**6
    history.cache.clear()
    assert tier_reference(history, loaded) == (loaded.thresholds, {"rows": "stored"})


def test_score_function_rev(world):
    config = load_config(world.config)
    state = world.root / "data/repo/changes.state"
    result = score(world.repo, rev=world.pending, config=config, state=state)
    (change,) = result["changes"]
    assert change["id"] == world.pending
    assert result["model"]["name"] == MODEL and result["model"]["version"] == "1"
    thresholds = result["model"]["thresholds"]
    by_risk = "low"
    for tier in ("medium", "high", "critical"):
        if change["risk"] >= thresholds[tier]:
            by_risk = tier
    # touches payments/: never below the critical-path floor (medium)
    assert change["features"]["touches_critical"] is True
    assert change["tier"] == (by_risk if at_least(by_risk, "medium") else "medium")
    assert change["review"] == review_for(change["tier"], config, change["features"])
    assert 1 <= len(change["reasons"]) <= 5
    assert {"feature", "value", "effect", "text"} <= set(change["reasons"][0])
    assert (
        change["features"]["la"] == 40 and change["features"]["author_email"] == "dana@acme.example"
    )
    assert "files" not in change["features"]


def test_a_pending_change_is_scored_with_the_tokens_of_its_diff(world):
    """The pending commit's tokens come from its own diff at scoring time; the model's text
    component reads them (the world's model was trained with the tokens file)."""
    from riskml.score.model import load_model

    config = load_config(world.config)
    history = RepoHistory(world.repo, world.root / "data/repo/changes.state", config)
    row = history.row_for_rev(world.pending)
    # 20 times "def round_amount(x):" / "return round(x, 2)" added: numbers are not tokens
    assert row["tokens"] == "+def:20 +round_amount:20 +x:40 +return:20 +round:20"
    model = load_model(world.uri, config).model
    assert model.text is not None and model.text_mode == "blend"
    from riskml.score import pending_frame

    frame = pending_frame([row])
    margin = model.text_margin(frame)
    assert margin[0] == pytest.approx(model.text.margin([row["tokens"]])[0])
    without = model.raw_score(frame.drop(columns=["tokens"]))
    assert model.raw_score(frame)[0] != pytest.approx(without[0])  # the tokens count
    result = score(history, rev=world.pending, model=load_model(world.uri, config), config=config)
    assert "tokens" not in result["changes"][0]["features"]


def test_a_mined_commit_gets_its_tokens_from_the_tokens_file_or_its_diff(world, tmp_path):
    from riskml.mine import records_for
    from riskml.tables import read_tokens, tokens_path

    config = load_config(world.config)
    history = RepoHistory(world.repo, world.root / "data/repo/changes.state", config)
    row = history.row_for_rev(world.mined_head)
    tokens = read_tokens(tokens_path(world.root / "data/repo/changes.parquet"))
    expected = tokens.set_index("commit").loc[world.mined_head, "tokens"]
    assert row["tokens"] == expected
    assert expected == records_for(world.repo, [world.mined_head])[0]["content"]["tokens"]
    # without the tokens file (a table mined before it): from the commit's own diff
    copy = tmp_path / "data"
    shutil.copytree(world.root / "data/repo", copy)
    tokens_path(copy / "changes.parquet").unlink()
    history = RepoHistory(world.repo, copy / "changes.state", config)
    assert history.row_for_rev(world.mined_head)["tokens"] == expected


def test_a_worktree_change_tokens_include_untracked_files(world, tmp_path):
    config = load_config(world.config)
    work = tmp_path / "clone"
    shutil.copytree(world.repo, work)
    (work / "notes.py").write_text("lock = make_lock()\n", encoding="utf-8")
    history = RepoHistory(work, world.root / "data/repo/changes.state", config)
    row = history.row_for_worktree("dev@x.example")
    assert row["tokens"] == "+lock +make_lock" and row["concurrency"] == 2


def test_score_function_needs_exactly_one_selector(world):
    with pytest.raises(RiskmlError, match="exactly one"):
        score(world.repo, rev="HEAD", worktree=True, config=Config())


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli_json(world) -> dict:
    done = score_cli(world, "--rev", world.pending)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cli_rev_json_table_markdown(world, cli_json):
    (change,) = cli_json["changes"]
    assert change["id"] == world.pending
    thresholds = cli_json["model"]["thresholds"]
    by_risk = max(
        ("low", *(t for t in ("medium", "high", "critical") if change["risk"] >= thresholds[t])),
        key=["low", "medium", "high", "critical"].index,
    )
    assert change["features"]["touches_critical"] is True  # it touches payments/
    expected = None
    if by_risk == "low":
        expected = {"rule": "critical_path", "tier_by_risk": "low", "areas": ["payments"]}
    assert change["tier_floor"] == expected
    table = score_cli(world, "--rev", world.pending, "--format", "table")
    assert table.returncode == 0, table.stderr
    first = table.stdout.splitlines()[2]
    assert first.startswith(
        f"{world.pending[:10]}  Change payment rounding  dana@acme.example  "
        f"{change['risk']:.3f}  {change['tier']}"
    )
    md = score_cli(world, "--rev", world.pending, "--format", "markdown")
    assert md.returncode == 0, md.stderr
    assert (
        f"| `{world.pending[:10]}` | Change payment rounding | dana@acme.example | "
        f"{change['risk']:.3f} |"
    ) in md.stdout
    assert md.stdout.startswith("### riskml: deploy risk")
    assert "\nGate: none (`--fail-on` not set).\n" in md.stdout


def test_cli_json_has_the_summary_the_commits_and_each_checks_status(world, cli_json):
    (change,) = cli_json["changes"]
    assert list(cli_json) == ["summary", "changes", "model", "warnings"]
    assert cli_json["summary"] == {
        "highest_tier": change["tier"],
        "changes": 1,
        "gate": None,
        "schema_version": 1,
    }
    assert change["commits"] == [world.pending]
    assert change["policy"] == []  # a human's change: no review rule by AI provenance applies
    assert change["features"]["subject"] == "Change payment rounding"
    # the pending commit touches no test file: every check of its tier is still required
    assert change["review"]["check_status"] == [
        {"check": check, "status": "required"} for check in change["review"]["checks"]
    ]


def test_cli_range_scores_the_branch_and_each_commit(world):
    done = score_cli(world, "--range", "main..feature")
    assert done.returncode == 0, done.stderr
    changes = json.loads(done.stdout)["changes"]
    assert [c["id"] for c in changes] == [f"{world.base}..{world.feature[1]}", *world.feature]
    assert [c["commits"] for c in changes] == [world.feature, world.feature[:1], world.feature[1:]]
    # the second commit adds tests/test_throttle.py: "tests touched or added" is met by it and
    # by the branch, still required of the first commit (when its tier asks for it)
    assert [c["features"]["n_test_files"] for c in changes] == [1, 0, 1]
    for c, status in zip(changes, ("met", "required", "met"), strict=True):
        tests = [s["status"] for s in c["review"]["check_status"]
                 if s["check"] == "tests touched or added"]  # fmt: skip
        assert tests == ([status] if "tests touched or added" in c["review"]["checks"] else [])
    combined, first, second = (c["features"] for c in changes)
    # the combined change: both commits' files, authored as the head commit
    assert combined["nf"] == 2 and combined["la"] == 33
    assert combined["author_email"] == "erin@acme.example"
    # each commit in order: the second sees the first as history
    assert first["exp"] == 0 and second["exp"] == 1
    assert second["author_file_commits"] == 1


def test_cli_worktree_uses_git_user_email(world):
    git(world.repo, "config", "user.email", "Wt@Acme.Example")
    (world.repo / "README.md").write_text("pending edit\n", encoding="utf-8")
    try:
        done = score_cli(world, "--worktree", "--format", "json")
    finally:
        git(world.repo, "checkout", "--", "README.md")
        git(world.repo, "config", "--unset", "user.email")
    assert done.returncode == 0, done.stderr
    (change,) = json.loads(done.stdout)["changes"]
    assert change["id"] == "worktree"
    assert change["features"]["author_email"] == "wt@acme.example"
    assert change["features"]["nf"] == 1


def test_cli_fail_on_exits_3(world, cli_json):
    (change,) = cli_json["changes"]
    tier = change["tier"]
    gated = score_cli(world, "--rev", world.pending, "--fail-on", tier, "--format", "table")
    assert gated.returncode == 3, gated.stderr
    assert world.pending[:10] in gated.stdout  # the report is printed before the gate
    assert gated.stdout.splitlines()[-1] == (
        f"gate --fail-on {tier}: failed (1 change at {tier} or above: {world.pending[:10]})"
    )
    # one line on stderr naming the change and its tier
    assert gated.stderr == (
        f"riskml: gate failed (--fail-on {tier}): {world.pending[:10]} {tier} "
        f"(risk {change['risk']:.3f})\n"
    )
    as_json = score_cli(world, "--rev", world.pending, "--fail-on", tier)
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout)["summary"]["gate"] == {
        "fail_on": tier, "passed": False, "failing": [world.pending],
    }  # fmt: skip
    md = score_cli(world, "--rev", world.pending, "--fail-on", tier, "--format", "markdown")
    assert md.returncode == 3
    assert (
        f"\nGate `--fail-on {tier}`: ❌ **failed** — 1 change at {tier} or above: "
        f"`{world.pending[:10]}`.\n"
    ) in md.stdout
    if tier != "critical":
        passed = score_cli(world, "--rev", world.pending, "--fail-on", "critical")
        assert passed.returncode == 0 and passed.stderr == ""
        assert json.loads(passed.stdout)["summary"]["gate"] == {
            "fail_on": "critical", "passed": True, "failing": [],
        }  # fmt: skip


def test_cli_empty_range_is_nothing_to_score_in_every_format(world):
    """A pull request with nothing new (BASE..HEAD holds no commit) passes any gate."""
    done = score_cli(world, "--range", "HEAD..HEAD", "--fail-on", "low")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["changes"] == []
    assert result["summary"] == {
        "highest_tier": None,
        "changes": 0,
        "gate": {"fail_on": "low", "passed": True, "failing": []},
        "schema_version": 1,
    }
    assert done.stderr == "riskml: nothing to score: no pending changes in the range HEAD..HEAD\n"
    # a head already in main (a merged branch): nothing of its own left
    merged = score_cli(world, "--range", f"main..{world.mined_head}")
    assert merged.returncode == 0 and json.loads(merged.stdout)["changes"] == []
    table = score_cli(world, "--range", "HEAD..HEAD", "--format", "table", "--fail-on", "low")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0] == "nothing to score: no pending changes in the range"
    assert table.stdout.splitlines()[-1] == (
        "gate --fail-on low: passed (no change at low or above)"
    )
    md = score_cli(world, "--range", "HEAD..HEAD", "--format", "markdown")
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith(
        "### riskml: deploy risk\n\nNothing to score: no pending changes in the range.\n\n"
        "Gate: none (`--fail-on` not set).\n\n<sub>model "
    )


def test_cli_a_mined_merge_is_scored_as_the_branch_it_merged(world):
    """A merge already in the mined history (no row of its own): its first-parent diff as one
    change, exactly what `--range MERGE^1..MERGE` gives as the branch's combined change."""
    merge = git(world.repo, "rev-list", "--merges", "-n", "1", world.mined_head)
    first_parent = git(world.repo, "rev-parse", f"{merge}^1")
    merged = git(world.repo, "rev-list", "--reverse", "--topo-order", "--no-merges",
                 merge, f"^{first_parent}").split()  # fmt: skip
    assert merged
    done = score_cli(world, "--rev", merge)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    (change,) = result["changes"]
    assert change["id"] == merge and change["commits"] == merged
    assert change["features"]["subject"] == git(world.repo, "log", "-1", "--format=%s", merge)
    assert (
        f"merge {merge[:12]} is already in the mined history: scored as the branch it merged "
        f"against the history mined so far, which includes its {len(merged)} commit(s)"
    ) in result["warnings"]
    branch = json.loads(score_cli(world, "--range", f"{merge}^1..{merge}").stdout)["changes"][0]
    assert branch["id"] == f"{first_parent}..{merge}" and branch["commits"] == merged
    assert change["risk"] == branch["risk"]
    assert change["features"] == branch["features"]
    numstat = git(world.repo, "diff", "--numstat", first_parent, merge).splitlines()
    assert change["features"]["la"] == sum(int(line.split()[0]) for line in numstat
                                           if line.split()[0] != "-")  # fmt: skip


def test_cli_a_pending_merge_is_scored_as_the_branch_it_merged(world, tmp_path):
    clone = tmp_path / "repo"
    shutil.copytree(world.repo, clone)
    git(clone, "checkout", "-q", "-b", "merged", "main")
    git(clone, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature")
    git(clone, "checkout", "-q", "main")
    merge = git(clone, "rev-parse", "merged")
    state = str(world.root / "data/repo/changes.state")
    args = ("score", "--repo", str(clone), "--config", str(world.config), "--state", state)
    from conftest import run_cli

    done = run_cli(*args, "--rev", "merged", cwd=world.root)
    assert done.returncode == 0, done.stderr
    (change,) = json.loads(done.stdout)["changes"]
    assert change["id"] == merge and change["commits"] == world.feature
    branch = json.loads(run_cli(*args, "--range", "main..merged", cwd=world.root).stdout)
    combined = branch["changes"][0]
    # the same row; scored alone rather than beside the branch's commits (last bit may differ)
    assert change["risk"] == pytest.approx(combined["risk"], rel=1e-12)
    assert {k: v for k, v in change["features"].items() if k != "commit"} == {
        k: v for k, v in combined["features"].items() if k != "commit"
    }
    table = run_cli(*args, "--rev", "merged", "--format", "table", cwd=world.root)
    assert table.stdout.splitlines()[2].startswith(
        f"{merge[:10]}  Merge branch 'feature' (merges 2 commits)  "
    )


def test_cli_an_agent_change_on_a_critical_path_gets_the_ai_review_rule(world, tmp_path):
    """The `policy` key through the real CLI: an AI agent's commit touching payments/ is at
    least high and needs a code owner other than its author and committer; a team that turns
    the rules off gets the model's tier and review back."""
    from conftest import run_cli

    from riskml.score.policy import OTHER_OWNER_CHECK, at_least

    clone = tmp_path / "repo"
    shutil.copytree(world.repo, clone)
    last = int(git(clone, "log", "-1", "--format=%at"))
    gitrepo.write(clone, {"payments/refund.py": "def refund(x):\n    return -x\n" * 10})
    agent = "198982749+copilot-swe-agent[bot]@users.noreply.github.com"
    env = {
        "GIT_AUTHOR_NAME": "copilot-swe-agent[bot]",
        "GIT_AUTHOR_EMAIL": agent,
        "GIT_COMMITTER_NAME": "dana",
        "GIT_COMMITTER_EMAIL": "dana@acme.example",
        "GIT_AUTHOR_DATE": f"@{last + DAY} +0000",
        "GIT_COMMITTER_DATE": f"@{last + DAY} +0000",
    }
    git(clone, "commit", "-q", "-m", "Add refunds", env=env)  # fmt: skip
    state = str(world.root / "data/repo/changes.state")
    args = ("score", "--repo", str(clone), "--state", state, "--rev", "HEAD")
    done = run_cli(*args, "--config", str(world.config), cwd=world.root)
    assert done.returncode == 0, done.stderr
    (change,) = json.loads(done.stdout)["changes"]
    assert change["features"]["ai_provenance"] == "ai_agent"
    assert change["features"]["ai_tool"] == "copilot"
    off = tmp_path / "off.toml"
    off.write_text(world.config.read_text() + "[review.ai]\nenabled = false\n")
    (plain,) = json.loads(run_cli(*args, "--config", str(off), cwd=world.root).stdout)["changes"]
    assert plain["policy"] == [] and plain["risk"] == change["risk"]
    assert OTHER_OWNER_CHECK not in plain["review"]["checks"]
    # the rule applies after the model's tier (and the critical-path floor): at least high
    model_tier = plain["tier"]
    raised = not at_least(model_tier, "high")
    assert change["tier"] == ("high" if raised else model_tier)
    tier_effect = (
        f"tier raised to high from {model_tier}" if raised
        else f"tier at least high (already {model_tier})"
    )  # fmt: skip
    assert change["policy"] == [
        {
            "rule": "ai_agent_critical",
            "effect": f"{tier_effect}; requires {OTHER_OWNER_CHECK}: not {agent} or "
            "dana@acme.example",
            "reason": "an AI agent (copilot) authored it and it touches a critical path (payments)",
        }
    ]
    assert change["review"]["code_owner"] is True
    assert {"check": OTHER_OWNER_CHECK, "status": "required"} in change["review"]["check_status"]
    table = run_cli(*args, "--config", str(world.config), "--format", "table", cwd=world.root)
    assert "review rule ai_agent_critical: an AI agent (copilot) authored it" in table.stdout


def test_cli_state_mined_under_another_name_is_a_hint_to_repo_name(world, tmp_path):
    checkout = tmp_path / "checkout"
    shutil.copytree(world.repo, checkout)
    from conftest import run_cli

    args = ("score", "--repo", str(checkout), "--config", str(world.config), "--rev", "HEAD")
    done = run_cli(*args, cwd=world.root)
    assert done.returncode == 2
    assert done.stderr == (
        "riskml: error: no mining state at data/checkout/changes.state: mined under "
        "another name? pass --repo-name NAME (data has the mining state of: repo); else run "
        f"`riskml mine --repo {checkout}` first (scoring never mines the whole history)\n"
    )
    assert run_cli(*args, "--repo-name", "repo", cwd=world.root).returncode == 0


def test_cli_local_model_directory_gives_the_same_risk(world, cli_json):
    registry = cli_json
    local = score_cli(world, "--rev", world.pending, "--model", str(world.root / "models" / MODEL))
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["changes"][0]["risk"] == registry["changes"][0]["risk"]


@pytest.mark.parametrize(
    "args, message",
    [
        (("--rev=--output=/tmp/x",), "invalid revision"),
        (("--rev=-n1",), "invalid revision"),
        (("--rev", "HEAD;id"), "invalid revision"),
        (("--rev", "0" * 40), "unknown revision"),
        (("--range", "main"), "invalid range"),
        (("--rev", "HEAD", "--format", "xml"), "unknown --format"),
        (("--rev", "HEAD", "--fail-on", "severe"), "unknown tier"),
        (("--rev", "HEAD", "--model", "models:/nobody@champion"), "has no alias"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(world, args, message):
    done = score_cli(world, *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_scored_reasons_say_what_lowers_a_low_risk_change_one_per_fact(world):
    """Reasons that make sense, through scoring: a change its risk alone puts in low hears
    what keeps it low first; one reason per fact; numbers against the repository's changes."""
    from riskml.score import score_frame
    from riskml.score.model import load_model
    from riskml.tables import read_changes
    from riskml.train.reasons import group_of

    config = load_config(world.config)
    frame = read_changes(world.root / "data/repo/changes.parquet").tail(60)
    changes = score_frame(frame, load_model(world.uri, config), config, top=5)
    low = [c for c in changes if (c["tier_floor"] or {}).get("tier_by_risk", c["tier"]) == "low"]
    raised = [c for c in changes if c not in low]
    assert low and raised
    for change in low:
        assert change["reasons"][0]["effect"] < 0
        assert change["reasons"][0]["text"].endswith("(lowers risk)")
    for change in raised:
        assert change["reasons"][0]["effect"] > 0
    for change in changes:
        groups = [group_of(r["feature"]) for r in change["reasons"]]
        assert len(groups) == len(set(groups))
    texts = [r["text"] for c in changes for r in c["reasons"]]
    assert any("% of changes" in t or "% of recent changes" in t for t in texts)
    assert not any(" days before" in t and "." in t.split(" days before")[0][-4:] for t in texts)
