"""The review rules by AI provenance (``[review.ai]``): each rule's exact outcome, a team that
turns them off or loosens one, and how the table and Markdown say it (no model, no git)."""

from __future__ import annotations

import dataclasses

from riskml.config import AIReviewConfig, Config, ReviewConfig
from riskml.score.policy import (
    CODE_OWNER_CHECK,
    OTHER_OWNER_CHECK,
    ai_policy,
    policy_entries,
    review_for,
    stricter_review,
)
from riskml.score.render import render

AGENT_ON_PAYMENTS = {
    "ai_provenance": "ai_agent",
    "ai_tool": "copilot",
    "touches_critical": True,
    "n_critical_files": 1,
    "critical_areas": "payments",
    "n_test_files": 0,
    "author_email": "198982749+copilot@users.noreply.github.com",
    "committer_email": "dana@acme.example",
}
ASSISTED_ON_AUTH = {
    "ai_provenance": "ai_assisted",
    "ai_tool": "claude",
    "touches_critical": True,
    "critical_areas": "auth",
    "n_test_files": 0,
    "author_email": "erin@acme.example",
}


def with_rules(**rules) -> Config:
    return dataclasses.replace(
        Config(), review=ReviewConfig(ai=dataclasses.replace(AIReviewConfig(), **rules))
    )


def test_an_agent_change_on_a_critical_path_is_high_and_needs_another_code_owner():
    outcome = ai_policy("medium", AGENT_ON_PAYMENTS, Config())
    assert outcome.tier == "high"
    assert policy_entries(outcome) == [
        {
            "rule": "ai_agent_critical",
            "effect": (
                "tier raised to high from medium; requires approval by a code owner other than "
                "the author and committer: not 198982749+copilot@users.noreply.github.com or "
                "dana@acme.example"
            ),
            "reason": "an AI agent (copilot) authored it and it touches a critical path (payments)",
        }
    ]
    review = review_for(outcome.tier, Config(), AGENT_ON_PAYMENTS, outcome)
    assert review == {
        "min_reviewers": 2,
        "code_owner": True,
        "senior": False,
        "rollout": "staged",
        "checks": ["tests touched or added", "staged rollout", OTHER_OWNER_CHECK],
        "check_status": [
            {"check": "tests touched or added", "status": "required"},
            {"check": "staged rollout", "status": "required"},
            {"check": OTHER_OWNER_CHECK, "status": "required"},
        ],
    }
    assert stricter_review("medium", outcome, Config()) is True
    # already critical: the tier stays, the approval is still required
    critical = ai_policy("critical", AGENT_ON_PAYMENTS, Config())
    assert critical.tier == "critical" and not critical.raised
    assert critical.rules[0]["effect"].startswith("tier at least high (already critical); ")
    # off a critical path, or by a human, the rule does not apply
    assert ai_policy("low", {**AGENT_ON_PAYMENTS, "touches_critical": False,
                             "n_critical_files": 0}, Config()).rules == []  # fmt: skip
    assert ai_policy("low", {**AGENT_ON_PAYMENTS, "ai_provenance": "human"}, Config()).rules == []


def test_an_assisted_change_on_a_critical_path_needs_a_code_owners_review():
    outcome = ai_policy("low", ASSISTED_ON_AUTH, Config())
    assert outcome.tier == "low"
    assert policy_entries(outcome) == [
        {
            "rule": "ai_assisted_critical",
            "effect": "requires review by a code owner",
            "reason": "an AI tool (claude) co-wrote it and it touches a critical path (auth)",
        }
    ]
    review = review_for("low", Config(), ASSISTED_ON_AUTH, outcome)
    assert (review["min_reviewers"], review["code_owner"], review["checks"]) == (
        1,
        True,
        [CODE_OWNER_CHECK],
    )
    assert review["check_status"] == [{"check": CODE_OWNER_CHECK, "status": "required"}]
    assert stricter_review("low", outcome, Config()) is True
    # a medium change already needs a code owner: the rule says so and costs no extra review
    medium = ai_policy("medium", ASSISTED_ON_AUTH, Config())
    assert medium.rules[0]["effect"] == (
        "requires review by a code owner (the tier already requires one)"
    )
    assert stricter_review("medium", medium, Config()) is False


def test_mostly_ai_written_lines_need_tests_met_when_a_test_file_is_touched():
    row = {"ai_provenance": "human", "ai_line_share": 0.75, "n_test_files": 0}
    outcome = ai_policy("low", row, Config())
    assert policy_entries(outcome) == [
        {
            "rule": "mostly_ai_lines",
            "effect": "requires tests touched or added (required: it touches no test file)",
            "reason": "75 % of its added lines are AI-written (line-level notes), at least 50 %",
        }
    ]
    assert review_for("low", Config(), row, outcome)["check_status"] == [
        {"check": "tests touched or added", "status": "required"}
    ]
    tested = {**row, "n_test_files": 2}
    met = ai_policy("medium", tested, Config())
    assert (
        met.rules[0]["effect"] == "requires tests touched or added (met: it touches 2 test files)"
    )
    # the tier already lists the check: it is not repeated, and it is met
    assert review_for("medium", Config(), tested, met)["check_status"] == [
        {"check": "tests touched or added", "status": "met"}
    ]
    assert stricter_review("medium", met, Config()) is False
    # exactly at the share applies; below it, or without notes (no share), does not
    assert ai_policy("low", {**row, "ai_line_share": 0.5}, Config()).rules != []
    assert ai_policy("low", {**row, "ai_line_share": 0.49}, Config()).rules == []
    assert ai_policy("low", {**row, "ai_line_share": None}, Config()).rules == []
    assert ai_policy("low", {**row, "ai_line_share": float("nan")}, Config()).rules == []


def test_a_team_that_turns_the_policy_off_gets_the_models_tier_and_review():
    off = with_rules(enabled=False)
    for row in (AGENT_ON_PAYMENTS, ASSISTED_ON_AUTH, {"ai_line_share": 1.0}):
        outcome = ai_policy("low", row, off)
        assert (outcome.tier, outcome.rules, outcome.code_owner, outcome.checks) == (
            "low", [], False, []
        )  # fmt: skip
        assert review_for("low", off, row, outcome) == review_for("low", off, row)


def test_a_team_that_loosens_the_rules():
    loose = with_rules(
        agent_critical_tier="medium", agent_critical_other_owner=False, mostly_ai_share=0.9
    )
    outcome = ai_policy("low", AGENT_ON_PAYMENTS, loose)
    assert outcome.tier == "medium"
    assert policy_entries(outcome)[0]["effect"] == "tier raised to medium from low"
    assert outcome.checks == [] and not outcome.code_owner
    assert ai_policy("medium", AGENT_ON_PAYMENTS, loose).rules[0]["effect"] == (
        "tier at least medium (already medium)"
    )
    assert ai_policy("low", {"ai_line_share": 0.75}, loose).rules == []
    assert ai_policy("low", {"ai_line_share": 0.9}, loose).rules[0]["rule"] == "mostly_ai_lines"
    # with both of its parts off, the agent rule does not apply at all
    none = with_rules(agent_critical_tier="", agent_critical_other_owner=False)
    assert ai_policy("low", AGENT_ON_PAYMENTS, none).rules == []


def scored(tier: str, row: dict, config: Config) -> dict:
    outcome = ai_policy(tier, row, config)
    return {
        "id": "c" * 40,
        "risk": 0.05,
        "tier": outcome.tier,
        "review": review_for(outcome.tier, config, row, outcome),
        "reasons": [],
        "features": {"subject": "Retry the charge", **row},
        "tier_floor": None,
        "policy": policy_entries(outcome),
        "commits": ["c" * 40],
    }


def test_the_table_and_markdown_say_which_rule_applied_and_why():
    result = {"changes": [scored("medium", AGENT_ON_PAYMENTS, Config())], "model": {}}
    sentence = (
        "review rule ai_agent_critical: an AI agent (copilot) authored it and it touches a "
        "critical path (payments): tier raised to high from medium; requires approval by a code "
        "owner other than the author and committer: not "
        "198982749+copilot@users.noreply.github.com or dana@acme.example"
    )
    table = render(result, "table")
    assert table.splitlines()[2].endswith(
        f"  high  2 reviewers, incl. code owner; rollout staged  {sentence}"
    )
    md = render(result, "markdown")
    assert f"\n- {sentence}\n" in md
    assert (
        "Checks: tests touched or added: required; staged rollout: required; approval by a code "
        "owner other than the author and committer: required"
    ) in md
