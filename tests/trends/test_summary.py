"""riskml.trends.summary: the manager's summary of sixteen generated weeks, exact values."""

from __future__ import annotations

import numpy as np
import pytest
from sixteen_weeks import WINDOW_DAYS, sixteen_weeks

from riskml.trends.summary import (
    manager_summary,
    mean_difference,
    summary_markdown,
    summary_metrics,
    summary_text,
)

AREAS = ["infra", "auth", "payments"]
HEAD = {"repo": "sixteen", "model": "change-risk v2"}


@pytest.fixture(scope="module")
def summary():
    return manager_summary(sixteen_weeks(), window_days=WINDOW_DAYS, areas=AREAS)


def test_mean_difference_is_a_seeded_percentile_bootstrap():
    a, b = np.array([0.1, 0.4, 0.9, 0.2]), np.array([0.3, 0.3, 0.0])
    # the same draws, one resample at a time: each sample resampled on its own
    rng = np.random.default_rng(0)
    draws_a = rng.integers(0, 4, size=(1000, 4))
    draws_b = rng.integers(0, 3, size=(1000, 3))
    diffs = [a[i].mean() - b[j].mean() for i, j in zip(draws_a, draws_b, strict=True)]
    low, high = np.quantile(diffs, [0.025, 0.975])
    assert mean_difference(a, b) == {
        "difference": pytest.approx(0.4 - 0.2),
        "low": pytest.approx(low),
        "high": pytest.approx(high),
    }
    assert mean_difference(a, b) == mean_difference(a, b)  # seeded: the same every time
    same = mean_difference(np.full(5, 0.3), np.full(7, 0.3))
    assert (same["low"], same["high"]) == (0.0, 0.0)


def test_risk_now_against_the_4_and_12_weeks_before(summary):
    frame = sixteen_weeks()
    week = np.arange(64) // 4
    now, before4, before12 = week >= 12, (week >= 8) & (week < 12), week < 12
    risk = frame["risk"].to_numpy()
    assert (summary["cutoff"], summary["horizon"]) == (
        "2024-04-18T10:00:00+00:00",
        "2024-02-18T10:00:00+00:00",
    )
    current = summary["risk"]["now"]
    assert current == {
        "from": "2024-03-25",
        "to": "2024-04-21",
        "weeks": 4,
        "changes": 16,
        "mean_risk": pytest.approx(0.4),
        "high_share": 0.5,
    }
    four, twelve = summary["risk"]["before"]
    assert (four["from"], four["to"], four["changes"]) == ("2024-02-26", "2024-03-24", 16)
    assert (twelve["from"], twelve["to"], twelve["changes"]) == ("2024-01-01", "2024-03-24", 48)
    assert four["mean_risk"] == pytest.approx(0.2) and twelve["mean_risk"] == pytest.approx(0.2)
    for row, mask in ((four, before4), (twelve, before12)):
        diff = mean_difference(risk[now], risk[mask])
        assert {k: row[k] for k in diff} == diff
        assert row["difference"] == pytest.approx(0.2) and row["low"] > 0
        assert row["direction"] == "up"


def test_the_riskiest_critical_areas_of_the_last_weeks(summary):
    # infra is configured but untouched; payments was touched before too, auth was not
    assert summary["areas"] == [
        {"area": "payments", "changes": 2, "mean_risk": 0.5, "high_changes": 2,
         "before_mean_risk": 0.3},
        {"area": "auth", "changes": 2, "mean_risk": 0.3, "high_changes": 0,
         "before_mean_risk": None},
    ]  # fmt: skip


def test_ai_provenance_against_human_changes_over_13_weeks(summary):
    ai = summary["ai"]
    assert {k: ai[k] for k in ("from", "to", "weeks", "ai_changes", "human_changes")} == {
        "from": "2024-01-22",
        "to": "2024-04-21",
        "weeks": 13,
        "ai_changes": 26,
        "human_changes": 26,
    }
    # 18 AI changes at 0.3 and 8 at 0.5; 18 human ones at 0.1 and 8 at 0.3
    assert ai["ai_mean_risk"] == pytest.approx(9.4 / 26)
    assert ai["human_mean_risk"] == pytest.approx(4.2 / 26)
    frame = sixteen_weeks().iloc[12:]
    diff = mean_difference(
        frame.loc[frame["ai_provenance"] != "human", "risk"].to_numpy(),
        frame.loc[frame["ai_provenance"] == "human", "risk"].to_numpy(),
    )
    assert {k: ai[k] for k in diff} == diff
    assert ai["verdict"] == "riskier"


def test_too_few_ai_changes_to_tell():
    few = manager_summary(sixteen_weeks(ai_weeks=range(12, 16)), window_days=WINDOW_DAYS)
    assert (few["ai"]["ai_changes"], few["ai"]["human_changes"]) == (8, 44)
    assert few["ai"]["verdict"] == "too_few" and "difference" not in few["ai"]
    lines = summary_text(few).splitlines()
    assert lines[10:12] == [
        "  AI-marked: 8 changes, mean risk 0.500; human: 44 changes, 0.218",
        "  too few AI changes to tell (at least 20 of each are needed)",
    ]
    assert "Too few AI changes to tell (at least 20 of each are needed)." in summary_markdown(few)
    assert "summary.ai.difference" not in summary_metrics(few)


def test_incidents_per_4_weeks_with_the_blocks_inside_the_label_window_not_final(summary):
    incidents = summary["incidents"]
    assert incidents["unit"] == "incidents"
    assert [(b["from"], b["to"], b["changes"], b["count"], b["final"]) for b in incidents["blocks"]] == [
        ("2023-11-06", "2023-12-03", 0, 0, True),
        ("2023-12-04", "2023-12-31", 0, 0, True),
        ("2024-01-01", "2024-01-28", 16, 2, True),  # INC-1 (twice) and INC-2
        ("2024-01-29", "2024-02-25", 16, 0, False),  # ends after the horizon, 2024-02-18
        ("2024-02-26", "2024-03-24", 16, 0, False),
        ("2024-03-25", "2024-04-21", 16, 1, False),  # INC-3
    ]  # fmt: skip
    assert [b["per_week"] for b in incidents["blocks"]] == [0, 0, 0.5, 0, 0, 0.25]
    # proxy labels carry no incident id: the changes labelled 1 are counted instead
    proxy = sixteen_weeks().assign(incident_ids="")
    blocks = manager_summary(proxy, window_days=WINDOW_DAYS)["incidents"]
    assert blocks["unit"] == "incident-causing changes"
    assert [b["count"] for b in blocks["blocks"]] == [0, 0, 3, 0, 0, 1]
    assert manager_summary(sixteen_weeks(labels=False), window_days=60)["incidents"] is None


def test_the_printed_summary_fits_80_columns(summary):
    text = summary_text(summary, HEAD)
    four, twelve = summary["risk"]["before"]
    ai = summary["ai"]

    def interval(row):
        return f"{row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]"

    classes = {row["class"]: row for row in summary["provenance"]["classes"]}
    both = summary["provenance"]["comparisons"][2]["mean_risk"]
    assert both["difference"] == pytest.approx(0.2)

    def span(name, key):
        row = classes[name]
        return f"{row[key]:.3f} [{row[key + '_low']:.3f}, {row[key + '_high']:.3f}]"

    assert text.splitlines() == [
        "riskml trends: sixteen, 64 changes to 2024-04-18, model change-risk v2",
        "Risk now: mean 0.400 in the last 4 weeks (2024-03-25 .. 2024-04-21: 16 changes)",
        "  against               mean  changes  difference [interval]      direction",
        f"  the 4 weeks before   0.200       16  {interval(four):<26} up",
        f"  the 12 weeks before  0.200       48  {interval(twelve):<26} up",
        "  high or critical: 50 % of the last 4 weeks' changes, 0 % in the 12 before",
        "Riskiest critical areas, last 4 weeks  changes   mean  12 wk before  high+",
        "  payments                                   2  0.500         0.300      2",
        "  auth                                       2  0.300           n/a      0",
        "AI-provenance against human changes, last 13 weeks (from 2024-01-22)",
        "  AI-marked: 26 changes, mean risk 0.362; human: 26 changes, 0.162",
        f"  difference {interval(ai)}: AI-marked changes are riskier",
        "AI provenance, all changes; labels to 2024-02-18 (95 % bootstrap intervals)",
        "  class        changes  mean risk             incidents  incident rate",
        f"  human             32  {span('human', 'mean_risk')}       1/14  "
        f"{span('human', 'incident_rate')}",
        f"  ai_assisted       16  {span('ai_assisted', 'mean_risk')}        1/7  "
        f"{span('ai_assisted', 'incident_rate')}",
        f"  ai_agent          16  {span('ai_agent', 'mean_risk')}        1/7  "
        f"{span('ai_agent', 'incident_rate')}",
        "  against human changes (ai: both AI classes together):",
        "    ai_assisted, mean risk: too few changes to tell (16 vs 32 changes; need 30)",
        "    ai_assisted, incident rate: too few changes to tell",
        "      (7 vs 14 labelled; need 30)",
        "    ai_agent, mean risk: too few changes to tell (16 vs 32 changes; need 30)",
        "    ai_agent, incident rate: too few changes to tell (7 vs 14 labelled; need 30)",
        f"    ai, mean risk: higher {interval(both)}",
        "    ai, incident rate: too few changes to tell (14 vs 14 labelled; need 30)",
        "  fewer than 30 changes or 5 incidents in a class: not compared;",
        "  an interval including 0: no measurable difference; mean risk is the model's",
        "Incidents per week caused by each 4 weeks' changes",
        "  from       11-06   12-04   01-01   01-29   02-26   03-25",
        "  per week    0.00    0.00    0.50    0.00*   0.00*   0.25*",
        "  * not final: inside the 60-day labelling window, can still rise",
        "  labels final for changes committed up to 2024-02-18 (cut-off 2024-04-18)",
        "[a, b]: 95 % bootstrap interval of a difference in mean risk",
    ]
    assert max(len(line) for line in text.splitlines()) <= 80
    assert summary_text(manager_summary(sixteen_weeks(labels=False), window_days=60)).endswith(
        "Incidents: no labels given\n[a, b]: 95 % bootstrap interval of a difference in mean risk"
    )


def test_the_markdown_description(summary):
    note = summary_markdown(summary, {**HEAD, "charts": ["charts/risk.png", "charts/areas.png"]})
    four = summary["risk"]["before"][0]
    assert note.startswith(
        "**riskml trends: sixteen, 64 changes to 2024-04-18, model change-risk v2**\n\n"
        "### Risk now\n\n"
        "Mean risk **0.400** over the last 4 weeks (2024-03-25 to 2024-04-21, 16 changes).\n"
    )
    assert (
        f"| the 4 weeks before | 0.200 | 16 | {four['difference']:+.3f} [{four['low']:+.3f}, "
        f"{four['high']:+.3f}] | up |"
    ) in note
    assert "| payments | 2 | 0.500 | 0.300 | 2 |\n| auth | 2 | 0.300 | n/a | 0 |" in note
    assert "| AI-marked | 26 | 0.362 |\n| human | 26 | 0.162 |" in note
    assert (
        "| per week | 0.00 | 0.00 | 0.50 | 0.00 *not final* | 0.00 *not final* | 0.25 *not final* |"
    ) in note
    assert (
        "### By AI provenance (all changes)\n\n"
        "Incident rates over the changes committed up to 2024-02-18 (final labels).\n"
    ) in note
    assert (
        "\n- ai vs human, incident rate: too few changes to tell (14 vs 14 labelled; need 30)\n"
        in (note)
    )
    assert "Artifacts: `charts/risk.png`, `charts/areas.png`." in note


def test_the_summary_metrics(summary):
    metrics = summary_metrics(summary)
    four = summary["risk"]["before"][0]
    assert metrics["summary.provenance.human.changes"] == 32.0
    assert metrics["summary.provenance.ai_agent.incidents"] == 1.0
    assert metrics["summary.provenance.ai_agent.incident_rate"] == pytest.approx(1 / 7)
    assert metrics["summary.provenance.ai_vs_human.mean_risk.difference"] == pytest.approx(0.2)
    metrics = {k: v for k, v in metrics.items() if not k.startswith("summary.provenance.")}
    assert {k: v for k, v in metrics.items() if not k.startswith("summary.before_12w")} == {
        "summary.now.changes": 16.0,
        "summary.now.mean_risk": pytest.approx(0.4),
        "summary.now.high_share": 0.5,
        "summary.before_4w.mean_risk": pytest.approx(0.2),
        "summary.before_4w.difference": pytest.approx(0.2),
        "summary.before_4w.low": four["low"],
        "summary.before_4w.high": four["high"],
        "summary.before_4w.direction": 1.0,
        "summary.ai.changes": 26.0,
        "summary.ai.mean_risk": pytest.approx(9.4 / 26),
        "summary.human.changes": 26.0,
        "summary.human.mean_risk": pytest.approx(4.2 / 26),
        "summary.ai.difference": pytest.approx(0.2),
        "summary.ai.low": summary["ai"]["low"],
        "summary.ai.high": summary["ai"]["high"],
        "summary.incidents.final_per_week": 0.5,
        "summary.incidents.not_final_per_week": 0.25,
        "summary.incidents.not_final_blocks": 3.0,
    }
    assert metrics["summary.before_12w.direction"] == 1.0
