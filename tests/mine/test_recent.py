"""History counts ranked among the recent changes (riskml.mine.recent)."""

from __future__ import annotations

import dataclasses

import pytest

from riskml.config import Config
from riskml.mine import mine
from riskml.mine.recent import (
    RECENT_COLUMNS,
    RECENT_PCT_COLUMNS,
    RecentWindow,
    percentile_of,
    trailing_percentiles,
)


def test_percentile_is_the_mid_rank_among_the_values():
    assert percentile_of([], 7.0) == 0.5
    assert percentile_of([1.0, 2.0, 3.0, 4.0], 0.0) == 0.0
    assert percentile_of([1.0, 2.0, 3.0, 4.0], 9.0) == 1.0
    assert percentile_of([1.0, 2.0, 2.0, 4.0], 2.0) == 0.5  # (1 + 0.5 × 2) / 4
    assert percentile_of([1.0, 2.0, 2.0, 4.0], 3.0) == 0.75


def test_trailing_percentiles_look_only_at_the_window_before():
    values = [5, 1, 5, 9, 0, 5]
    assert trailing_percentiles(values, 100) == [0.5, 0.0, 0.75, 1.0, 0.0, 0.6]
    # a window of 2: each value against the two before it only
    assert trailing_percentiles(values, 2) == [0.5, 0.0, 0.75, 1.0, 0.0, 0.5]


def test_window_rows_match_the_trailing_function():
    window = RecentWindow(2)
    rows = [{c: v for c in RECENT_COLUMNS} for v in (5, 1, 5, 9, 0, 5)]
    got = []
    for row in rows:
        got.append(window.percentiles(row)["exp_recent_pct"])
        window.push(row)
    assert got == trailing_percentiles([5, 1, 5, 9, 0, 5], 2)
    assert list(window.order["exp"]) == [0.0, 5.0]


@pytest.mark.parametrize("size", [3000, 25])
def test_mined_table_ranks_each_count_among_the_previous_changes(synth_small, tmp_path, size):
    cfg = Config()
    cfg = dataclasses.replace(cfg, mine=dataclasses.replace(cfg.mine, recent_window=size))
    table = mine(synth_small.repo, out=tmp_path / "changes.parquet", config=cfg)
    at = list(table.columns).index("files")
    assert list(table.columns[at - len(RECENT_PCT_COLUMNS) : at]) == list(RECENT_PCT_COLUMNS)
    # the table is in mining order: each row against the `size` rows mined before it
    for column, pct in zip(RECENT_COLUMNS, RECENT_PCT_COLUMNS, strict=True):
        assert table[pct].tolist() == trailing_percentiles(table[column].tolist(), size)
    assert table["exp_recent_pct"].iloc[0] == 0.5
