"""riskml.trends.budget: the review budget of sixteen generated weeks, exact values."""

from __future__ import annotations

import pytest
from sixteen_weeks import WINDOW_DAYS, sixteen_weeks

from riskml.errors import RiskmlError
from riskml.trends.budget import budget_frame, budget_metrics, budget_text, review_budget


def test_each_gate_over_the_last_4_weeks():
    # the last 4 weeks: 8 AI changes at 0.5 (high), 8 human ones at 0.3 (medium); one of
    # those human changes caused INC-3
    budget = review_budget(sixteen_weeks(), window_days=WINDOW_DAYS, weeks=4)
    assert {k: budget[k] for k in ("from", "to", "weeks", "changes", "incident_changes")} == {
        "from": "2024-03-25",
        "to": "2024-04-21",
        "weeks": 4,
        "changes": 16,
        "incident_changes": 1,
    }
    assert budget["gates"] == [
        {"tier": "low", "gated": 16, "gated_per_week": 4.0, "share": 1.0, "caught": 1, "capture": 1.0},
        {"tier": "medium", "gated": 16, "gated_per_week": 4.0, "share": 1.0, "caught": 1, "capture": 1.0},
        {"tier": "high", "gated": 8, "gated_per_week": 2.0, "share": 0.5, "caught": 0, "capture": 0.0},
        {"tier": "critical", "gated": 0, "gated_per_week": 0.0, "share": 0.0, "caught": 0, "capture": 0.0},
    ]  # fmt: skip
    # every change of the window was committed after the horizon (2024-02-18 10:00)
    assert budget["labels"] == {
        "not_final_changes": 16,
        "horizon": "2024-02-18T10:00:00+00:00",
        "cutoff": "2024-04-18T10:00:00+00:00",
        "window_days": 60,
    }
    # the newest 4 weeks that ended by the horizon (its own week ends after it): w2 .. w5,
    # whose 16 changes caused no incident
    assert budget["final"] == {
        "from": "2024-01-15",
        "to": "2024-02-11",
        "changes": 16,
        "incident_changes": 0,
        "gates": [{"tier": t, "caught": 0, "capture": None} for t in ("low", "medium", "high", "critical")],
    }  # fmt: skip


def test_a_longer_window_and_its_capture():
    budget = review_budget(sixteen_weeks(), window_days=WINDOW_DAYS, weeks=16)
    # positives: both AI changes of w1 (0.3, medium), its first human one (0.1, low), INC-3's
    # change (0.3, medium); medium or above: every AI change (32) and the last 8 human ones
    assert (budget["changes"], budget["incident_changes"]) == (64, 4)
    assert [(g["tier"], g["gated"], g["caught"], g["capture"]) for g in budget["gates"]] == [
        ("low", 64, 4, 1.0),
        ("medium", 40, 3, 0.75),
        ("high", 8, 0, 0.0),
        ("critical", 0, 0, 0.0),
    ]
    assert budget["gates"][1]["gated_per_week"] == 2.5
    assert budget["labels"]["not_final_changes"] == 36  # w7 .. w15
    # final labels: w0 .. w5 (24 changes), w1's three incident changes, two of them medium
    final = budget["final"]
    assert (final["from"], final["to"], final["changes"], final["incident_changes"]) == (
        "2023-10-23",
        "2024-02-11",
        24,
        3,
    )
    assert [(g["tier"], g["caught"], g["capture"]) for g in final["gates"]] == [
        ("low", 3, 1.0),
        ("medium", 2, pytest.approx(2 / 3)),
        ("high", 0, 0.0),
        ("critical", 0, 0.0),
    ]


def test_the_printed_budget():
    budget = review_budget(sixteen_weeks(), window_days=WINDOW_DAYS, weeks=16)
    text = budget_text(budget, "sixteen")
    assert text.splitlines() == [
        "riskml budget: sixteen, the last 16 weeks (2024-01-01 .. 2024-04-21)",
        "  64 changes, 4 caused an incident",
        "  gate              gated/week  extra reviews  of changes   incidents caught",
        "  tier >= low              4.0             64     100.0 %     4 of 4 (100 %)",
        "  tier >= medium           2.5             40      62.5 %      3 of 4 (75 %)",
        "  tier >= high             0.5              8      12.5 %       0 of 4 (0 %)",
        "  tier >= critical         0.0              0       0.0 %       0 of 4 (0 %)",
        "  labels not final: 36 of the 64 changes were committed after 2024-02-18",
        "  (inside the 60-day labelling window): capture counts incidents known so far",
        "  final labels (2023-10-23 .. 2024-02-11): 24 changes, 3 caused an incident",
        "  caught there: low 100 %, medium 67 %, high 0 %, critical 0 %",
    ]
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_history_too_young_for_final_labels_and_no_labels():
    young = review_budget(sixteen_weeks().iloc[32:], window_days=WINDOW_DAYS, weeks=4)  # w8 ..
    assert young["final"] is None
    assert budget_text(young).splitlines()[-1] == "  no week with final labels yet"
    unlabelled = review_budget(sixteen_weeks(labels=False), window_days=WINDOW_DAYS, weeks=4)
    assert (unlabelled["incident_changes"], unlabelled["labels"]) == (None, None)
    assert [g["capture"] for g in unlabelled["gates"]] == [None] * 4
    assert budget_text(unlabelled).splitlines()[-1] == "  no labels given: the capture is unknown"
    assert budget_metrics(unlabelled) == {
        "budget.weeks": 4.0,
        "budget.changes": 16.0,
        **{f"budget.{t}.gated": g for t, g in zip(("low", "medium", "high", "critical"), (16.0, 16.0, 8.0, 0.0), strict=True)},
        **{f"budget.{t}.gated_per_week": g / 4 for t, g in zip(("low", "medium", "high", "critical"), (16.0, 16.0, 8.0, 0.0), strict=True)},
        **{f"budget.{t}.share": g / 16 for t, g in zip(("low", "medium", "high", "critical"), (16.0, 16.0, 8.0, 0.0), strict=True)},
    }  # fmt: skip


def test_the_table_artifact_and_the_metrics():
    budget = review_budget(sixteen_weeks(), window_days=WINDOW_DAYS, weeks=4)
    frame = budget_frame(budget)
    assert frame.columns.tolist() == [
        "weeks", "from", "to", "tier", "gated", "gated_per_week", "share", "caught", "capture",
        "final_capture",
    ]  # fmt: skip
    assert frame["tier"].tolist() == ["low", "medium", "high", "critical"]
    assert frame["final_capture"].isna().tolist() == [True] * 4  # w2 .. w5: no incident
    metrics = budget_metrics(budget)
    assert (metrics["budget.high.capture"], metrics["budget.high.gated_per_week"]) == (0.0, 2.0)
    assert (metrics["budget.incident_changes"], metrics["budget.not_final_changes"]) == (1.0, 16.0)


def test_weeks_must_be_a_whole_number_of_at_least_one():
    for weeks in (0, -1, 2.5, True):
        with pytest.raises(RiskmlError, match="--weeks must be a whole number of at least 1"):
            review_budget(sixteen_weeks(), window_days=WINDOW_DAYS, weeks=weeks)


@pytest.mark.slow  # the real CLI
def test_budget_cli_bad_input_is_one_line(cli, tmp_path):
    none = cli("budget", cwd=tmp_path)
    assert (none.returncode, none.stderr) == (
        2,
        "riskml: error: give --repo-name NAME or --changes FILE\n",
    )
    weeks = cli("budget", "--repo-name", "nothing", "--weeks", "0", cwd=tmp_path)
    assert (weeks.returncode, weeks.stderr) == (
        2,
        "riskml: error: --weeks must be a whole number of at least 1, got 0\n",
    )
