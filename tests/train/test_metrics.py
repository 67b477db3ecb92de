"""Every metric of evaluation.md against small examples computed by hand."""

from __future__ import annotations

import math

import pytest

from riskml.train.metrics import (
    capture_at,
    effort_of,
    evaluate,
    popt,
    recall_at_effort,
    tier_rates,
)

# ten changes, three positives; risk strictly decreasing, so the ranking is the row order
Y10 = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
RISK10 = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
EFFORT10 = [10] * 10


def test_effort_is_la_plus_ld_at_least_one():
    assert effort_of([0, 3, 5], [0, 4, 0]).tolist() == [1.0, 7.0, 5.0]


def test_capture_at_k_is_the_share_of_positives_in_the_top_k_percent():
    # top ceil(0.5) = 1 change: the first positive of three
    assert capture_at(Y10, RISK10, 5) == pytest.approx(1 / 3)
    assert capture_at(Y10, RISK10, 10) == pytest.approx(1 / 3)
    # top 3 changes: 1, 0, 1
    assert capture_at(Y10, RISK10, 30) == pytest.approx(2 / 3)


def test_capture_ties_keep_the_input_order():
    assert capture_at([0, 1], [0.5, 0.5], 50) == 0.0
    assert capture_at([1, 0], [0.5, 0.5], 50) == 1.0


def test_recall_at_20_percent_effort():
    # equal efforts: 20 % of 100 is the first two changes (1, 0) -> 1 of 3 positives
    assert recall_at_effort(Y10, RISK10, EFFORT10, 0.2) == pytest.approx(1 / 3)
    # ranked by risk / effort: 0.9/1, 0.5/2, 0.2/4, 0.1/3; budget 2 of 10 takes only the first
    assert recall_at_effort([1, 0, 1, 0], [0.9, 0.1, 0.5, 0.2], [1, 3, 2, 4], 0.2) == 0.5
    # the first change alone exceeds the budget: nothing inspected
    assert recall_at_effort([1, 0, 1, 0], [0.2, 0.9, 0.5, 0.1], [1, 3, 2, 4], 0.2) == 0.0


def test_popt_by_hand():
    # model order by risk/effort (.3, .25, .2, .025): efforts 3,2,1,4 labels 0,1,1,0 -> area .525
    # optimal (density desc): efforts 1,2,3,4 labels 1,1,0,0 -> area .875
    # worst (density asc, larger effort first): efforts 4,3,2,1 labels 0,0,1,1 -> area .125
    value = popt([1, 0, 1, 0], [0.2, 0.9, 0.5, 0.1], [1, 3, 2, 4])
    assert value == pytest.approx(1 - (0.875 - 0.525) / (0.875 - 0.125))
    assert value == pytest.approx(8 / 15)


def test_popt_is_one_for_the_optimal_order_and_zero_for_the_worst():
    y, effort = [1, 0, 1, 0], [1, 3, 2, 4]
    assert popt(y, [1.0, 0.0, 1.0, 0.0], effort) == pytest.approx(1.0)
    # risk/effort ascending along the true density: the worst order
    assert popt(y, [0.001, 0.9, 0.01, 0.95], effort) == pytest.approx(0.0)


def test_popt_with_ties_in_risk():
    # equal risks: order by risk/effort = 1/effort -> efforts 1,2,2,3 labels 0,1,1,0 -> .625
    value = popt([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5], [2, 2, 1, 3])
    assert value == pytest.approx(1 - (0.75 - 0.625) / (0.75 - 0.25))


def test_popt_without_positives_is_nan():
    assert math.isnan(popt([0, 0], [0.1, 0.2], [1, 1]))


def test_tier_rates():
    rates = tier_rates([1, 0, 1, 0], ["critical", "low", "high", "low"])
    assert rates["critical"] == {"n": 1, "share": 0.25, "positive_share": 0.5, "incident_rate": 1.0}
    assert rates["high"] == {"n": 1, "share": 0.25, "positive_share": 0.5, "incident_rate": 1.0}
    assert rates["low"] == {"n": 2, "share": 0.5, "positive_share": 0.0, "incident_rate": 0.0}
    assert rates["medium"]["n"] == 0 and math.isnan(rates["medium"]["incident_rate"])


def test_evaluate_has_every_key_of_evaluation_md():
    out = evaluate(Y10, RISK10, EFFORT10, tiers=["critical"] + ["low"] * 9)
    for key in (
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "capture_at_5",
        "capture_at_10",
        "capture_at_30",
        "recall_at_20_effort",
        "popt",
        "tier_rates",
    ):
        assert key in out
    # positives at 0.9, 0.7, 0.05 against 7 negatives: 7 + 6 + 0 of 21 pairs ordered right
    assert out["roc_auc"] == pytest.approx(13 / 21)
    # average precision: (1/1 + 2/3 + 3/10) / 3
    assert out["pr_auc"] == pytest.approx((1 + 2 / 3 + 3 / 10) / 3)
    assert out["capture_at_30"] == pytest.approx(2 / 3)
    assert out["n"] == 10 and out["positives"] == 3 and out["base_rate"] == pytest.approx(0.3)
    assert out["tier_rates"]["critical"]["incident_rate"] == 1.0


def test_brier_and_log_loss():
    out = evaluate([1, 0], [0.8, 0.4], [1, 1])
    assert out["brier"] == pytest.approx((0.2**2 + 0.4**2) / 2)
    assert out["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)


def test_tier_order_and_model_names_come_from_their_one_owner():
    from riskml.config import TIERS
    from riskml.score.policy import tier_rank
    from riskml.train.metrics import MODELS, TIER_ORDER
    from riskml.train.model import TIER_RANK

    assert TIER_ORDER == ("critical", "high", "medium", "low") == tuple(reversed(TIERS))
    assert TIER_RANK == {"low": 0, "medium": 1, "high": 2, "critical": 3}
    assert [tier_rank(t) for t in TIERS] == [TIER_RANK[t] for t in TIERS]
    assert MODELS == ("riskml", "lapredict", "kamei_lr")
