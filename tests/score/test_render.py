"""What release tooling reads from a score: the summary and gate, the checks, subjects beside
SHAs, the empty range, the hint for a state mined under another name (no model, no git)."""

from __future__ import annotations

import json
from pathlib import Path

from riskml.config import Config
from riskml.score.history import missing_state_message
from riskml.score.policy import SCHEMA_VERSION, check_status, review_for, summary
from riskml.score.render import change_subject, gate_failure_line, gate_text, render

BRANCH = "a" * 40 + ".." + "b" * 40
MODEL = {
    "name": "change-risk",
    "version": "4",
    "run_id": "r1",
    "thresholds": {"medium": 0.1, "high": 0.3, "critical": 0.6},
}


def change(change_id: str, tier: str, risk: float, subject: str, **features) -> dict:
    features = {"subject": subject, "author_email": "erin@acme.example", **features}
    return {
        "id": change_id,
        "risk": risk,
        "tier": tier,
        "review": review_for(tier, Config(), features),
        "reasons": [],
        "features": features,
        "tier_floor": None,
        "commits": [change_id],
    }


def result_of(changes: list[dict], fail_on: str | None = None) -> dict:
    return {
        "summary": summary(changes, fail_on),
        "changes": changes,
        "model": MODEL,
        "warnings": [],
    }


CHANGES = [
    {**change(BRANCH, "high", 0.41, "Test login throttle"), "commits": ["e" * 40, "b" * 40]},
    change("e" * 40, "critical", 0.72, "Add login throttle"),
    change("b" * 40, "low", 0.02, "Test login throttle", n_test_files=1),
]


def test_the_summary_names_the_highest_tier_and_the_gate_verdict():
    assert summary(CHANGES) == {
        "highest_tier": "critical",
        "changes": 3,
        "gate": None,
        "schema_version": 1,
    }
    assert summary(CHANGES, "high")["gate"] == {
        "fail_on": "high",
        "passed": False,
        "failing": [BRANCH, "e" * 40],
    }
    assert summary(CHANGES, "CRITICAL")["gate"] == {
        "fail_on": "critical",
        "passed": False,
        "failing": ["e" * 40],
    }
    assert summary(CHANGES[2:], "medium")["gate"] == {
        "fail_on": "medium",
        "passed": True,
        "failing": [],
    }
    assert summary([], "low") == {
        "highest_tier": None,
        "changes": 0,
        "gate": {"fail_on": "low", "passed": True, "failing": []},
        "schema_version": SCHEMA_VERSION,
    }


def test_a_failed_gate_is_one_line_naming_each_change_and_its_tier():
    assert gate_failure_line(result_of(CHANGES, "high")) == (
        "gate failed (--fail-on high): aaaaaaaaaa..bbbbbbbbbb high (risk 0.410), "
        "eeeeeeeeee critical (risk 0.720)"
    )
    assert gate_failure_line(result_of(CHANGES, "high"), limit=1) == (
        "gate failed (--fail-on high): aaaaaaaaaa..bbbbbbbbbb high (risk 0.410) and 1 more"
    )
    assert gate_failure_line(result_of(CHANGES[2:], "medium")) is None
    assert gate_failure_line(result_of(CHANGES)) is None


def test_the_gate_verdict_is_in_the_table_and_the_markdown():
    failed = result_of(CHANGES, "high")
    assert gate_text(failed) == (
        "gate --fail-on high: failed (2 changes at high or above: "
        "aaaaaaaaaa..bbbbbbbbbb, eeeeeeeeee)"
    )
    assert render(failed, "table").splitlines()[-1] == gate_text(failed)
    assert (
        "\nGate `--fail-on high`: ❌ **failed** — 2 changes at high or above: "
        "`aaaaaaaaaa..bbbbbbbbbb`, `eeeeeeeeee`.\n"
    ) in render(failed, "markdown")
    passed = result_of(CHANGES[2:], "medium")
    assert gate_text(passed) == "gate --fail-on medium: passed (no change at medium or above)"
    assert "\nGate `--fail-on medium`: ✅ **passed** — no change at medium or above.\n" in render(
        passed, "markdown"
    )


def test_an_empty_range_says_nothing_to_score_in_every_format():
    empty = result_of([], "high")
    assert json.loads(render(empty, "json"))["changes"] == []
    assert render(empty, "table").splitlines() == [
        "nothing to score: no pending changes in the range",
        "",
        "model: change-risk v4 (tiers: medium ≥ 0.100, high ≥ 0.300, critical ≥ 0.600)",
        "gate --fail-on high: passed (no change at high or above)",
    ]
    assert render(empty, "markdown") == (
        "### riskml: deploy risk\n\n"
        "Nothing to score: no pending changes in the range.\n\n"
        "Gate `--fail-on high`: ✅ **passed** — no change at high or above.\n\n"
        "<sub>model change-risk v4, run `r1`</sub>\n"
    )


def test_each_check_is_marked_met_or_required():
    config = Config()
    with_tests = review_for("high", config, {"n_test_files": 2})
    assert with_tests["checks"] == ["tests touched or added", "staged rollout"]
    assert with_tests["check_status"] == [
        {"check": "tests touched or added", "status": "met"},
        {"check": "staged rollout", "status": "required"},
    ]
    assert review_for("high", config, {"n_test_files": 0})["check_status"][0]["status"] == (
        "required"
    )
    assert check_status("tests touched or added", {}) == "required"  # unknown is not met
    assert check_status("tests touched or added", {"n_test_files": float("nan")}) == "required"
    assert check_status("Tests touched or added", {"n_test_files": 1}) == "met"
    assert "check_status" not in review_for("high", config)  # the policy alone
    md = render(result_of(CHANGES), "markdown")
    assert md.count("Checks: ") == 2  # the low change has none
    assert "Checks: tests touched or added: required; staged rollout: required\n" in md
    assert (
        "Checks: tests touched or added: required; canary rollout with on-call sign-off: "
        "required; no deploy outside working hours: required\n"
    ) in md


def test_subjects_say_what_each_change_is():
    assert change_subject(CHANGES[0]) == "2 commits, last: Test login throttle"
    assert change_subject(CHANGES[1]) == "Add login throttle"
    merge = {**change("m" * 40, "medium", 0.2, "Merge branch 'feature'"),
             "commits": ["e" * 40, "b" * 40]}  # fmt: skip
    assert change_subject(merge) == "Merge branch 'feature' (merges 2 commits)"
    worktree = {**change("worktree", "low", 0.01, ""), "commits": []}
    assert change_subject(worktree) == "uncommitted changes"
    rows = {k: v for k, v in change("0", "low", 0.01, "From a feature row").items()
            if k != "commits"}  # fmt: skip
    assert change_subject(rows) == "From a feature row"


def test_a_subject_in_the_markdown_mentions_no_one():
    mention = change("f" * 40, "low", 0.01, "Fix @alice's | pipe")
    md = render(result_of([mention]), "markdown")
    assert "| Fix @\u200balice's \\| pipe | erin@acme.example |" in md


def test_no_state_under_the_folder_name_names_repo_name_and_what_is_there(tmp_path: Path):
    data = tmp_path / "data"
    for name in ("shop", "demo"):
        (data / name).mkdir(parents=True)
        (data / name / "changes.state.joblib").write_bytes(b"")
    (data / "empty").mkdir()  # a folder without state is not listed
    wanted = data / "checkout" / "changes.state.joblib"
    assert missing_state_message(wanted, Path("/src/checkout")) == (
        f"no mining state at {wanted}: mined under another name? pass --repo-name NAME "
        f"({data} has the mining state of: demo, shop); else run `riskml mine --repo "
        "/src/checkout` first (scoring never mines the whole history)"
    )
    lonely = tmp_path / "other" / "repo" / "changes.state.joblib"
    assert missing_state_message(lonely, Path("/src/repo")) == (
        f"no mining state at {lonely}: run `riskml mine --repo /src/repo` first "
        "(scoring never mines the whole history)"
    )
