"""riskml.jsonvalue.plain: the one conversion to plain JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from riskml.jsonvalue import plain


def test_missing_values_of_every_kind_become_null():
    assert plain([None, math.nan, math.inf, np.float64("nan"), pd.NaT, pd.NA]) == [None] * 6


def test_numpy_scalars_and_datetimes_become_plain_values():
    value = plain({1: np.int64(3), "b": (np.bool_(True), np.float32(0.5))})
    assert value == {"1": 3, "b": [True, 0.5]}
    assert type(value["1"]) is int and type(value["b"][0]) is bool
    assert plain(pd.Timestamp("2024-05-01T12:00:00Z")) == "2024-05-01T12:00:00+00:00"


def test_the_result_is_strict_json():
    text = json.dumps(plain({"x": [math.nan, np.int64(2)]}), allow_nan=False)
    assert text == '{"x": [null, 2]}'
