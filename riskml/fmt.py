"""One way to print a number that may be missing, shared by the reasons, the bench table and
the run summary, so a NaN reads the same wherever it is shown (each caller picks the word);
and numbers and spans of days rounded for people (the reasons a reviewer reads)."""

from __future__ import annotations

import math
from typing import Any


def is_missing(value: Any) -> bool:
    """True for ``None`` and a float NaN (the two ways a metric or feature is absent)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def number_text(value: Any, digits: int, missing: str, whole: bool = False) -> str:
    """``value`` with ``digits`` decimals, or ``missing`` for None and NaN.

    ``whole``: a whole number is printed without decimals (``3``, not ``3.00``). A value that is
    not a number raises ``TypeError`` or ``ValueError``, as ``float()`` does.
    """
    if value is None:
        return missing
    number = float(value)
    if math.isnan(number):
        return missing
    if whole and number.is_integer():
        return str(int(number))
    return f"{number:.{digits}f}"


def people_number(value: Any, missing: str = "unknown") -> str:
    """A number rounded for people, not for machines: whole numbers as they are, ``226``;
    from 100 on, the nearest whole number (``961``); from 10, one decimal (``12.3``); below,
    two at most (``0.87``, ``0.5``). Trailing zeros go. ``missing`` for None and NaN."""
    if is_missing(value):
        return missing
    number = float(value)
    if math.isinf(number) or number.is_integer():
        return number_text(number, 0, missing, whole=True)
    size = abs(number)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2
    text = f"{number:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def duration_text(days: Any, missing: str = "unknown") -> str:
    """A span of days as people say it: ``9 hours`` under a day, ``12 days`` under a year,
    ``2.6 years`` from one year on (365.25 days a year, one decimal)."""
    if is_missing(days):
        return missing
    days = float(days)
    if math.isinf(days):
        return "forever"
    if abs(days) < 1:
        hours = round(abs(days) * 24)
        return "under an hour" if hours == 0 else f"{hours} hour{'' if hours == 1 else 's'}"
    if abs(days) < 365:
        whole = round(days)
        return f"{whole} day{'' if abs(whole) == 1 else 's'}"
    years = round(days / 365.25, 1)
    return f"{people_number(years)} year{'' if years == 1 else 's'}"
