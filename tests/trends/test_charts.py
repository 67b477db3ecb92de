"""riskml.trends.charts: the rolling means and bands (exact values), and what each chart shows."""

from __future__ import annotations

import math

import matplotlib.dates as mdates
import numpy as np
import pytest
from sixteen_weeks import WINDOW_DAYS, sixteen_weeks

from riskml.trends.charts import chart_figures, pooled_band, pooled_mean, rolling_sum, write_charts
from riskml.trends.table import label_horizon, trends_table

CHARTS = ["risk.png", "tiers.png", "ai_vs_human.png", "incidents.png", "areas.png"]


@pytest.fixture(scope="module")
def figures():
    scored = sixteen_weeks()
    table = trends_table(scored, "W", ["auth", "infra", "payments"])
    _, horizon = label_horizon(scored, WINDOW_DAYS)
    return chart_figures(
        table, scored=scored, period="W", horizon=horizon, window_days=WINDOW_DAYS
    ), horizon


def test_rolling_means_are_pooled_over_the_changes_of_the_window():
    assert rolling_sum([1, 2, 3, 4], 2).tolist() == [1, 3, 5, 7]
    # a quiet period weighs less: (0.1 x 2 + 0.4 x 1) / 3, then (0.4 x 1 + 0.3 x 3) / 4
    mean = pooled_mean([0.1, 0.4, 0.3], [2, 1, 3], window=2, least=1)
    assert mean.tolist() == pytest.approx([0.1, 0.6 / 3, 1.3 / 4])
    # a window with fewer changes than `least` draws nothing; a NaN mean of an empty period
    # does not poison the window
    sparse = pooled_mean([0.2, np.nan, 0.5], [1, 0, 1], window=3, least=2)
    assert np.isnan(sparse[:2]).all() and sparse[2] == pytest.approx(0.35)


def test_the_band_is_a_normal_interval_of_the_pooled_mean():
    steps = np.array([0, 0, 1, 1, 1])
    risk = np.array([0.2, 0.4, 0.1, 0.3, 0.5])
    mean, low, high = pooled_band(steps, risk, 2, window=2, least=2)
    assert mean.tolist() == pytest.approx([0.3, 0.3])
    half0 = 1.96 * math.sqrt(np.var([0.2, 0.4], ddof=1) / 2)
    half1 = 1.96 * math.sqrt(np.var(risk, ddof=1) / 5)
    assert low.tolist() == pytest.approx([0.3 - half0, 0.3 - half1])
    assert high.tolist() == pytest.approx([0.3 + half0, 0.3 + half1])
    _, low, _ = pooled_band(np.array([0, 0]), np.array([0.0, 0.9]), 1, window=1, least=2)
    assert low.tolist() == [0.0]  # kept within [0, 1]


def test_every_chart_has_dates_and_its_legend_outside_the_axes(figures):
    figs, _ = figures
    assert list(figs) == CHARTS
    for name, fig in figs.items():
        assert all(ax.get_legend() is None for ax in fig.axes), name
        assert len(fig.legends) == 1, name
        formatter = fig.axes[-1].xaxis.get_major_formatter()
        assert isinstance(formatter, mdates.ConciseDateFormatter), name


def test_rolling_mean_over_faint_points(figures):
    figs, _ = figures
    top = figs["risk.png"].axes[0]
    lines = {line.get_label(): line for line in top.get_lines()}
    assert lines["mean risk, each period"].get_alpha() == 0.3
    assert lines["mean risk, each period"].get_linestyle() == "None"
    assert lines["mean risk, 4-period mean"].get_linestyle() == "-"
    # 16 busy weeks of 4 changes: the last point pools w12 .. w15, mean 0.4
    assert lines["mean risk, 4-period mean"].get_ydata()[-1] == pytest.approx(0.4)


def test_ai_and_human_on_one_axis_with_bands_and_counts(figures):
    figs, _ = figures
    top, counts = figs["ai_vs_human.png"].axes
    labels = [line.get_label() for line in top.get_lines()]
    assert "AI-provenance, 4-period mean" in labels and "human, 4-period mean" in labels
    bands = [c.get_label() for c in top.collections]
    assert bands == ["human, 95 % band", "AI-provenance, 95 % band"]
    # counts below, stacked: 2 human and 2 AI changes a week
    heights = [round(p.get_height()) for p in counts.patches]
    assert heights == [2] * 32


def test_the_not_final_window_is_shaded_on_the_incidents_chart(figures):
    figs, horizon = figures
    ax = figs["incidents.png"].axes[0]
    (span,) = [p for p in ax.patches if p.get_label().startswith("labels not final")]
    assert span.get_label() == "labels not final (60-day window): can still rise"
    left = span.get_x()
    assert mdates.num2date(left).replace(tzinfo=None) == horizon.tz_convert(None).to_pydatetime()


def test_critical_areas_are_small_multiples_on_one_scale(figures):
    figs, _ = figures
    fig = figs["areas.png"]
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [
        "auth (2 changes)",
        "infra (0 changes)",
        "payments (3 changes)",
    ]
    assert len(fig.axes) == 4  # a 2 x 2 grid, the fourth hidden
    assert len({ax.get_ylim() for ax in visible}) == 1


def test_write_charts_saves_each_at_100_dpi(tmp_path):
    from PIL import Image

    scored = sixteen_weeks(labels=False)
    paths = write_charts(trends_table(scored, "W"), tmp_path, scored=scored)
    assert [p.name for p in paths] == ["risk.png", "tiers.png", "ai_vs_human.png", "areas.png"]
    assert Image.open(paths[0]).size == (1100, 480)
