"""riskml.train.by_provenance: "are AI changes riskier here?" — counts, bootstrap intervals, and
verdicts that never claim a difference the data cannot show (generated data, exact values)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.train.by_provenance import (
    MIN_CHANGES,
    MIN_INCIDENTS,
    comparison_text,
    provenance_lines,
    provenance_report,
)
from riskml.train.metrics import evaluate
from riskml.train.rolling import combine_folds, format_rolling


def generated(n_human: int, n_ai: int, human_rate: float, ai_rate: float, seed: int = 0):
    """Changes whose incidents are drawn at a known rate per class: assisted and agent changes
    alternate among the AI ones; risk = the class's rate plus noise."""
    rng = np.random.default_rng(seed)
    provenance = ["human"] * n_human + [("ai_assisted", "ai_agent")[i % 2] for i in range(n_ai)]
    rate = np.array([human_rate] * n_human + [ai_rate] * n_ai)
    label = (rng.random(len(rate)) < rate).astype(float)
    risk = np.clip(rate + rng.normal(0, 0.05, len(rate)), 0, 1)
    return provenance, risk, label


def by_class(report: dict) -> dict:
    return {row["class"]: row for row in report["classes"]}


def by_compared(report: dict) -> dict:
    return {row["class"]: row for row in report["comparisons"]}


def test_the_thresholds_are_30_changes_and_5_incidents_per_class():
    assert (MIN_CHANGES, MIN_INCIDENTS) == (30, 5)


def test_a_measured_difference_is_claimed_with_its_interval():
    provenance, risk, label = generated(400, 200, 0.05, 0.30)
    report = provenance_report(provenance, risk, label, resamples=500, seed=1)
    classes = by_class(report)
    assert [(c["class"], c["changes"], c["labelled"]) for c in report["classes"]] == [
        ("human", 400, 400), ("ai_assisted", 100, 100), ("ai_agent", 100, 100), ("bot", 0, 0),
        ("ai", 200, 200),
    ]  # fmt: skip
    human, ai = classes["human"], classes["ai"]
    assert human["incidents"] == int(label[:400].sum()) and ai["incidents"] == int(
        label[400:].sum()
    )
    assert human["incident_rate"] == label[:400].mean()
    assert human["incident_rate_low"] < human["incident_rate"] < human["incident_rate_high"]
    assert classes["bot"]["mean_risk"] is None and classes["bot"]["incident_rate"] is None
    rate = by_compared(report)["ai"]["incident_rate"]
    assert rate["verdict"] == "higher" and rate["low"] > 0
    assert rate["difference"] == ai["incident_rate"] - human["incident_rate"]
    assert comparison_text(report, by_compared(report)["ai"], "incident_rate") == (
        f"ai vs human, incident rate: higher {rate['difference']:+.3f} "
        f"[{rate['low']:+.3f}, {rate['high']:+.3f}]"
    )
    # the same inputs and seed, the same intervals
    assert provenance_report(provenance, risk, label, resamples=500, seed=1) == report


def test_an_interval_including_zero_is_no_measurable_difference():
    provenance, risk, label = generated(300, 300, 0.2, 0.2, seed=2)
    report = provenance_report(provenance, risk, label, resamples=500)
    for row in report["comparisons"]:
        for key in ("mean_risk", "incident_rate"):
            part = row[key]
            assert part["low"] < 0 < part["high"], (row["class"], key)
            assert part["verdict"] == "no_difference"
            assert ": no measurable difference " in comparison_text(report, row, key)


def test_too_few_ai_changes_or_incidents_to_tell():
    # 20 AI changes (10 of each class): fewer than 30, nothing is compared
    provenance, risk, label = generated(300, 20, 0.05, 0.5, seed=3)
    report = provenance_report(provenance, risk, label, resamples=200)
    ai = by_compared(report)["ai"]
    assert (ai["mean_risk"]["verdict"], ai["incident_rate"]["verdict"]) == (
        "too_few_changes", "too_few_changes"
    )  # fmt: skip
    assert comparison_text(report, ai, "mean_risk") == (
        "ai vs human, mean risk: too few changes to tell (20 vs 300 changes; need 30)"
    )
    assert comparison_text(report, ai, "incident_rate") == (
        "ai vs human, incident rate: too few changes to tell (20 vs 300 labelled; need 30)"
    )
    # enough AI changes but only 3 incidents among them: mean risk compared, the rate not
    provenance = ["human"] * 100 + ["ai_agent"] * 40
    label = np.array([1.0] * 10 + [0.0] * 90 + [1.0] * 3 + [0.0] * 37)
    risk = np.array([0.1] * 100 + [0.2] * 40)
    report = provenance_report(provenance, risk, label, resamples=200)
    agent = by_compared(report)["ai_agent"]
    assert agent["mean_risk"]["verdict"] == "higher"
    assert agent["incident_rate"]["verdict"] == "too_few_incidents"
    assert comparison_text(report, agent, "incident_rate") == (
        "ai_agent vs human, incident rate: too few incidents to tell (3 vs 10 incidents; need 5)"
    )
    # unlabelled changes count as changes, not as labelled ones
    unlabelled = provenance_report(provenance, risk, np.full(140, np.nan), resamples=10)
    assert by_class(unlabelled)["ai_agent"]["labelled"] == 0
    assert by_compared(unlabelled)["ai_agent"]["incident_rate"]["verdict"] == "too_few_changes"
    lines = provenance_lines(report)
    assert lines[:4] == [
        "By AI provenance (95 % bootstrap intervals)",
        "  class        changes  mean risk             incidents  incident rate",
        f"  human            100  0.100 [0.100, 0.100]     10/100  {_span(by_class(report)['human'])}",
        f"  ai_agent          40  0.200 [0.200, 0.200]       3/40  {_span(by_class(report)['ai_agent'])}",
    ]
    assert lines[4:8] == [
        "  against human changes (ai: both AI classes together):",
        "    ai_assisted, mean risk: too few changes to tell (0 vs 100 changes; need 30)",
        "    ai_assisted, incident rate: too few changes to tell",  # 82 columns: wrapped
        "      (0 vs 100 labelled; need 30)",
    ]
    agent_risk = by_compared(report)["ai_agent"]["mean_risk"]
    assert lines[8:11] == [
        f"    ai_agent, mean risk: higher +0.100 [{agent_risk['low']:+.3f}, "
        f"{agent_risk['high']:+.3f}]",
        "    ai_agent, incident rate: too few incidents to tell",
        "      (3 vs 10 incidents; need 5)",
    ]
    assert max(len(line) for line in lines) <= 80


def _span(row: dict) -> str:
    return (
        f"{row['incident_rate']:.3f} [{row['incident_rate_low']:.3f}, "
        f"{row['incident_rate_high']:.3f}]"
    )


def test_the_rolling_evaluation_reports_it_over_the_pooled_test_windows():
    provenance, risk, label = generated(120, 80, 0.05, 0.4, seed=4)
    n = len(label)
    preds, rows, metrics = [], [], []
    for k, part in enumerate((slice(0, n // 2), slice(n // 2, n))):
        m = len(label[part])
        preds.append(
            pd.DataFrame(
                {
                    "commit": [f"c{k}{i}" for i in range(m)],
                    "label": label[part],
                    "effort": np.ones(m),
                    "risk_riskml": risk[part],
                    "tier": ["low"] * m,
                }
            )
        )
        rows.append(pd.DataFrame({"ai_provenance": provenance[part]}))
        metrics.append({"riskml": evaluate(label[part], risk[part], np.ones(m)), "split": {}})
    result = combine_folds(metrics, preds, bootstrap=100, seed=3, test_frames=rows)
    assert result.provenance == provenance_report(provenance, risk, label, resamples=100, seed=3)
    assert result.summary()["provenance"]["comparisons"][2]["class"] == "ai"
    printed = format_rolling(result).splitlines()
    assert "By AI provenance, pooled test windows (95 % bootstrap intervals)" in printed
    # without the rows' provenance there is no report
    assert combine_folds(metrics, preds, bootstrap=0).provenance is None
