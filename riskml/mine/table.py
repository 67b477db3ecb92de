"""The changes table on disk: columns, dtypes, Parquet or CSV by suffix, appends that keep old rows."""

from __future__ import annotations

import os
from pathlib import Path

from riskml.errors import RiskmlError

# Column order of the changes table (../shared/spec/features.md, then the extras of docs/features.md).
COLUMNS: dict[str, str] = {
    "commit": "str",
    "repo": "str",
    "author_email": "str",
    "author_time": "time",
    "commit_time": "time",
    "subject": "str",
    "la": "int",
    "ld": "int",
    "lt": "int",
    "nf": "int",
    "nd": "int",
    "ns": "int",
    "entropy": "float",
    "entropy_norm": "float",
    "fix": "bool",
    "is_revert": "bool",
    "ndev": "int",
    "age": "float",
    "nuc": "int",
    "exp": "int",
    "rexp": "float",
    "sexp": "int",
    "author_file_commits": "int",
    "first_touch_files": "int",
    "owned_share": "float",
    "author_tenure_days": "float",
    "touches_critical": "bool",
    "n_critical_files": "int",
    "critical_areas": "str",
    "n_test_files": "int",
    "n_config_files": "int",
    "n_migration_files": "int",
    "n_dependency_files": "int",
    "ai_provenance": "str",
    "ai_tool": "str",
    "ai_evidence": "str",
    "ai_line_share": "float",
    "hour": "int",
    "weekday": "int",
    "n_added_files": "int",
    "n_deleted_files": "int",
    "n_renamed_files": "int",
    "n_binary_files": "int",
    "files": "str",
}
SUFFIXES = (".parquet", ".csv")


def table_format(path: str | Path) -> str:
    """``"parquet"`` or ``"csv"`` from the suffix; anything else is a :class:`RiskmlError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise RiskmlError(
            f"unsupported table format {suffix or '(none)'!r} for {path}: use .parquet or .csv"
        )
    return suffix[1:]


def to_frame(rows: list[dict]):
    """Rows (dicts with epoch-second times) -> the changes table with its exact dtypes."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("author_time", "commit_time"):
        frame[col] = pd.to_datetime(frame[col].astype("int64"), unit="s", utc=True)
    return normalize(frame)


def normalize(frame):
    """Cast every column to its dtype (times UTC in ns, strings as ``str``, empty share NaN)."""
    import pandas as pd

    frame = frame.copy()
    for col, kind in COLUMNS.items():
        s = frame[col]
        if kind == "int":
            frame[col] = s.astype("int64")
        elif kind == "float":
            frame[col] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif kind == "bool":
            if s.dtype != bool:
                s = s.map(lambda v: v if isinstance(v, bool) else str(v) == "True")
            frame[col] = s.astype(bool)
        elif kind == "str":
            frame[col] = s.fillna("").astype(str)
        else:
            frame[col] = pd.to_datetime(s, utc=True).dt.as_unit("ns")
    return frame


def read_table(path: str | Path):
    """Read a changes table written by ``riskml mine`` (either format) with its exact dtypes."""
    import pandas as pd

    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise RiskmlError(f"changes table not found: {path}")
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            strings = {c: str for c, k in COLUMNS.items() if k == "str"}
            frame = pd.read_csv(
                path, dtype=strings, keep_default_na=False, float_precision="round_trip"
            )
    except Exception as exc:  # unreadable file: the user's, not ours
        raise RiskmlError(f"{path}: cannot read the changes table ({exc})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise RiskmlError(
            f"{path}: not a changes table of this riskml version (missing {', '.join(missing[:5])})"
        )
    return normalize(frame[list(COLUMNS)])


def write_table(frame, path: str | Path, append_to=None) -> None:
    """Write ``frame``; with ``append_to`` (the existing table) add the new rows after it.

    CSV appends the new lines to the file (old bytes untouched); Parquet rewrites the file
    from the old rows as read plus the new ones. Both go through a temporary file and a rename.
    """
    import pandas as pd

    path = Path(path)
    fmt = table_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        if append_to is not None:
            data = path.read_bytes()
            header = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
            if header != ",".join(COLUMNS):
                raise RiskmlError(
                    f"{path}: its columns are not in riskml's order; cannot append (re-mine it)"
                )
            tmp.write_bytes(data)
            with tmp.open("a", encoding="utf-8", newline="") as fh:
                if data and not data.endswith(b"\n"):
                    fh.write("\n")
                frame.to_csv(fh, index=False, header=False)
        else:
            frame.to_csv(tmp, index=False)
    else:
        full = frame if append_to is None else pd.concat([append_to, frame], ignore_index=True)
        full.to_parquet(tmp, index=False)
    os.replace(tmp, path)
