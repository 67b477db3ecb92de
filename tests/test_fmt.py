"""riskml.fmt: the one NaN-aware number text, as each caller shows it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskml.fmt import is_missing, number_text


def test_missing_is_none_or_a_float_nan():
    assert is_missing(None) and is_missing(math.nan) and is_missing(np.float64("nan"))
    assert not is_missing(0.0) and not is_missing(0) and not is_missing("nan")


def test_number_text_with_the_callers_words():
    assert number_text(0.12345, 4, "-") == "0.1235"
    assert number_text(None, 4, "-") == "-"
    assert number_text(math.nan, 3, "n/a") == "n/a"
    assert number_text(2, 3, "n/a") == "2.000"
    assert number_text(np.float32(0.5), 2, "?") == "0.50"


def test_whole_numbers_drop_their_decimals_only_when_asked():
    assert number_text(3.0, 2, "unknown", whole=True) == "3"
    assert number_text(True, 2, "unknown", whole=True) == "1"
    assert number_text(2.345, 2, "unknown", whole=True) == "2.35"
    assert number_text(math.inf, 2, "unknown", whole=True) == "inf"
    assert number_text(3.0, 2, "unknown") == "3.00"


def test_a_value_that_is_no_number_raises_as_float_does():
    with pytest.raises(ValueError):
        number_text("abc", 2, "-")
    with pytest.raises(TypeError):
        number_text([1], 2, "-")


def test_the_three_callers_keep_their_texts():
    from riskml.run import _fmt as run_fmt
    from riskml.train.public_bench import _fmt as bench_fmt
    from riskml.train.reasons import number as _num

    assert [bench_fmt(v) for v in (None, math.nan, 0.5, 1)] == ["-", "-", "0.5000", "1.0000"]
    assert [run_fmt(v) for v in (None, math.nan, 0.5, "x")] == ["n/a", "n/a", "0.500", "x"]
    assert run_fmt(0.123456, digits=1) == "0.1"
    assert [_num(v) for v in (None, math.nan, 4.0, 0.125, np.int64(7))] == [
        "unknown",
        "unknown",
        "4",
        "0.12",
        "7",
    ]
