"""The changes table as ``mine`` builds it: rows to a frame; reading and writing are
:mod:`riskml.tables`' (re-exported here under mine's names)."""

from __future__ import annotations

from riskml.tables import CHANGES_COLUMNS as COLUMNS
from riskml.tables import normalize_changes as normalize
from riskml.tables import read_changes as read_table
from riskml.tables import table_format
from riskml.tables import write_changes as write_table

__all__ = ["COLUMNS", "normalize", "read_table", "table_format", "to_frame", "write_table"]


def to_frame(rows: list[dict], columns: list[str] | None = None):
    """Rows (dicts with epoch-second times) -> the changes table with its exact dtypes
    (``columns``: all of :data:`COLUMNS` unless told, e.g. a table mined without the
    diff-content extras)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(columns or COLUMNS))
    for col in ("author_time", "commit_time"):
        frame[col] = pd.to_datetime(frame[col].astype("int64"), unit="s", utc=True)
    return normalize(frame)
