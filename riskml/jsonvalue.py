"""One conversion of values to plain JSON, shared by the score JSON, the API, the pyfunc and
the MLflow artifacts, so every caller sees the same value for the same change."""

from __future__ import annotations

import math
import sys
from typing import Any


def plain(value: Any) -> Any:
    """A JSON-safe copy of ``value``.

    Dicts and lists are converted item by item (keys as text); numpy scalars become Python
    numbers; NaN, infinities, NaT and NA become ``None``; datetimes become ISO-8601 text;
    anything else that JSON cannot hold becomes its ``str``.
    """
    if value is None:
        return None
    pandas = sys.modules.get("pandas")
    # pandas' NA has no .item() and no isoformat; only a loaded pandas can have made one
    if pandas is not None and value is pandas.NA:
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        try:
            import pandas as pd

            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
