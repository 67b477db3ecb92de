"""The review rules by AI provenance in the trends: AI changes per tier and per tool, and what
the rules cost in the review budget — exact values on the sixteen generated weeks."""

from __future__ import annotations

import dataclasses

import pandas as pd
from sixteen_weeks import WINDOW_DAYS, sixteen_weeks

from riskml.config import AIReviewConfig, Config, ReviewConfig
from riskml.trends import trends_table, with_review_policy
from riskml.trends.budget import budget_frame, budget_metrics, budget_text, review_budget


def at(frame: pd.DataFrame, week: int, day: int) -> int:
    return week * 4 + day


def with_rule_inputs() -> pd.DataFrame:
    """The sixteen weeks with the columns the rules read: AI tools (claude assists, copilot is
    the agent, its w15 change names no tool), critical paths where an area is set, and:

    * w2's assisted change at 0.1 (low) on auth: the code owner it needs is an extra review;
    * w5's agent change (0.3, medium) on payments: raised to high, an extra review;
    * w5's and w15's assisted changes (medium, high) and w15's agent change (high) on payments:
      the rules apply, their tiers already require a code owner;
    * line-level shares 0.8 on w14's assisted change and 0.6 on w3's first human change.
    """
    frame = sixteen_weeks()
    frame["ai_tool"] = frame["ai_provenance"].map(
        {"ai_assisted": "claude", "ai_agent": "copilot", "human": ""}
    )
    frame.loc[at(frame, 15, 1), "ai_tool"] = ""
    frame.loc[at(frame, 5, 1), "critical_areas"] = "payments"
    frame.loc[at(frame, 2, 0), ["risk", "tier", "critical_areas"]] = [0.1, "low", "auth"]
    frame["touches_critical"] = frame["critical_areas"] != ""
    frame["ai_line_share"] = float("nan")
    frame.loc[at(frame, 14, 0), "ai_line_share"] = 0.8
    frame.loc[at(frame, 3, 2), "ai_line_share"] = 0.6
    frame["n_test_files"] = 0.0
    return frame


def test_the_rules_are_applied_to_each_scored_change_after_its_tier():
    scored = with_review_policy(with_rule_inputs(), Config())
    applied = scored[scored["policy_rules"] != ""]
    assert [
        (i // 4, i % 4, r.tier, r.policy_tier, r.policy_rules, r.policy_stricter)
        for i, r in zip(applied.index, applied.itertuples(), strict=True)
    ] == [
        (2, 0, "low", "low", "ai_assisted_critical", True),
        (3, 2, "low", "low", "mostly_ai_lines", False),
        (5, 0, "medium", "medium", "ai_assisted_critical", False),
        (5, 1, "medium", "high", "ai_agent_critical", True),
        (14, 0, "high", "high", "mostly_ai_lines", False),
        (15, 0, "high", "high", "ai_assisted_critical", False),
        (15, 1, "high", "high", "ai_agent_critical", False),
    ]
    off = dataclasses.replace(Config(), review=ReviewConfig(ai=AIReviewConfig(enabled=False)))
    none = with_review_policy(with_rule_inputs(), off)
    assert (none["policy_rules"] == "").all() and (none["policy_tier"] == none["tier"]).all()
    assert not none["policy_stricter"].any()


def test_trends_count_ai_changes_per_class_tier_and_tool():
    table = trends_table(with_review_policy(with_rule_inputs(), Config()), "W")
    tools = sorted(c for c in table.columns if c.startswith("ai.tool."))
    assert tools == [
        "ai.tool.claude.changes",
        "ai.tool.copilot.changes",
        "ai.tool.unknown.changes",
    ]
    assert table[tools].sum().tolist() == [16.0, 15.0, 1.0]
    week = table.set_index("step")
    columns = [
        "ai_assisted.changes", "ai_agent.changes", "ai.tier.low.changes",
        "ai.tier.medium.changes", "ai.tier.high.changes", "ai.tier.critical.changes",
        "ai.tool.claude.changes", "ai.tool.copilot.changes", "ai.tool.unknown.changes",
        "policy.changes", "policy.raised", "policy.extra_reviews",
    ]  # fmt: skip
    assert week.loc[2, columns].tolist() == [1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1]
    assert week.loc[5, columns].tolist() == [1, 1, 0, 2, 0, 0, 1, 1, 0, 2, 1, 1]
    assert week.loc[9, columns].tolist() == [1, 1, 0, 2, 0, 0, 1, 1, 0, 0, 0, 0]
    assert week.loc[15, columns].tolist() == [1, 1, 0, 0, 2, 0, 1, 0, 1, 2, 0, 0]
    assert table["policy.changes"].sum() == 7
    # without the rules applied there are no policy columns; AI changes of no known tool
    plain = trends_table(sixteen_weeks(), "W")
    assert not [c for c in plain.columns if c.startswith("policy.")]
    assert [c for c in plain.columns if c.startswith("ai.tool.")] == ["ai.tool.unknown.changes"]
    assert plain["ai.tool.unknown.changes"].sum() == 32.0
    assert plain["ai.tier.medium.changes"].sum() == 24.0  # w0 .. w11: both AI changes


def test_the_budget_shows_what_the_rules_cost_beside_the_model_only_gate():
    scored = with_review_policy(with_rule_inputs(), Config())
    budget = review_budget(scored, window_days=WINDOW_DAYS, weeks=16)
    assert [(g["tier"], g["gated"]) for g in budget["gates"]] == [
        ("low", 64), ("medium", 39), ("high", 8), ("critical", 0)
    ]  # fmt: skip
    assert budget["policy"] == {
        "changes": 7,
        "raised": 1,
        "extra_reviews": 2,
        "extra_reviews_per_week": 0.125,
        "rules": [
            {"rule": "ai_agent_critical", "changes": 2},
            {"rule": "ai_assisted_critical", "changes": 3},
            {"rule": "mostly_ai_lines", "changes": 2},
        ],
        "gates": [
            {"tier": "low", "gated": 64, "gated_per_week": 4.0, "extra": 0, "extra_per_week": 0.0},
            {"tier": "medium", "gated": 39, "gated_per_week": 2.4375, "extra": 0, "extra_per_week": 0.0},
            {"tier": "high", "gated": 9, "gated_per_week": 0.5625, "extra": 1, "extra_per_week": 0.0625},
            {"tier": "critical", "gated": 0, "gated_per_week": 0.0, "extra": 0, "extra_per_week": 0.0},
        ],
    }  # fmt: skip
    text = budget_text(budget, "sixteen").splitlines()
    assert text[7:11] == [
        "  review rules by AI provenance ([review.ai]): applied to 7 changes, raised 1",
        "    extra reviews: 2 (0.1/week) beside the model-only gate",
        "    rules: ai_agent_critical 2, ai_assisted_critical 3, mostly_ai_lines 2",
        "    gated/week with them: low 4.0, medium 2.4, high 0.6 (+0.1), critical 0.0",
    ]
    assert max(len(line) for line in text) <= 80
    metrics = budget_metrics(budget)
    assert {k: v for k, v in metrics.items() if k.startswith("budget.policy.")} == {
        "budget.policy.changes": 7.0,
        "budget.policy.raised": 1.0,
        "budget.policy.extra_reviews": 2.0,
        "budget.policy.extra_reviews_per_week": 0.125,
        "budget.policy.ai_agent_critical.changes": 2.0,
        "budget.policy.ai_assisted_critical.changes": 3.0,
        "budget.policy.mostly_ai_lines.changes": 2.0,
        "budget.policy.low.gated": 64.0,
        "budget.policy.low.gated_per_week": 4.0,
        "budget.policy.low.extra": 0.0,
        "budget.policy.medium.gated": 39.0,
        "budget.policy.medium.gated_per_week": 2.4375,
        "budget.policy.medium.extra": 0.0,
        "budget.policy.high.gated": 9.0,
        "budget.policy.high.gated_per_week": 0.5625,
        "budget.policy.high.extra": 1.0,
        "budget.policy.critical.gated": 0.0,
        "budget.policy.critical.gated_per_week": 0.0,
        "budget.policy.critical.extra": 0.0,
    }
    frame = budget_frame(budget)
    assert frame["policy_gated"].tolist() == [64, 39, 9, 0]
    assert frame["policy_extra"].tolist() == [0, 0, 1, 0]
    # the last 4 weeks: the rules applied to w14's and w15's three changes, at no extra cost
    recent = review_budget(scored, window_days=WINDOW_DAYS, weeks=4)["policy"]
    assert (recent["changes"], recent["raised"], recent["extra_reviews"]) == (3, 0, 0)
    assert [r["changes"] for r in recent["rules"]] == [1, 1, 1]
    # the rules not applied: no policy part
    assert review_budget(sixteen_weeks(), window_days=WINDOW_DAYS, weeks=4)["policy"] is None
