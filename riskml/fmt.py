"""One way to print a number that may be missing, shared by the reasons, the bench table and
the run summary, so a NaN reads the same wherever it is shown (each caller picks the word)."""

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
