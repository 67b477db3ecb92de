"""The one boundary of the changes and labels tables on disk (as pandas' ``io/common.py``).

Every stage reads and writes these two tables here, so there is one rule for each fact:

* the format comes from the suffix: ``.parquet``/``.pq`` is Parquet, ``.csv`` is CSV, anything
  else a :class:`RiskmlError`;
* the dtypes of ../shared/spec/features.md and labels.md (and the extra columns of docs/) are
  restored on every read, whatever the format, so a CSV reads back as the Parquet would;
* a file that is missing, of another kind (a CSV renamed ``.parquet``), lacks required columns
  or belongs to another repository is one line naming it;
* which repository a table belongs to is its root commit (:func:`riskml.gitio.root_commit`):
  a Parquet table carries it in its schema metadata (``riskml.repository``), a CSV changes
  table through the companions ``mine`` wrote for it (:mod:`riskml.snapshot`); a reader puts
  it in ``frame.attrs["root_commit"]`` (None when the table has none: an older one, a public
  or a user's own table, a CSV labels table) and :func:`check_repository` /
  :func:`check_same_repository` refuse a table of another repository;
* every write goes to a temporary file in the same directory and is renamed over the target,
  so a killed or failed write leaves the old file whole; the changes table and its tokens file
  change together with the mining state (:mod:`riskml.snapshot`).

The little parsers every reader needs live here too: ``;``-joined lists (:func:`split_list`),
UTC timestamps (:func:`as_utc`) and the cut-off date (:func:`parse_cutoff`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from riskml import snapshot
from riskml.errors import NO_SPACE_ERRNOS, NoSpaceError, RiskmlError, no_space  # noqa: F401 (re-exported for the writers' callers)

# Column order of the changes table (../shared/spec/features.md, then the extras of docs/features.md).
CHANGES_COLUMNS: dict[str, str] = {
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
    "ai_model": "str",
    "ai_lines_added": "float",
    "hour": "int",
    "weekday": "int",
    "n_added_files": "int",
    "n_deleted_files": "int",
    "n_renamed_files": "int",
    "n_binary_files": "int",
    # the touched files' own past (docs/features.md; riskml.mine.file_past)
    "file_fixes": "int",
    "file_fixes_decay": "float",
    "dir_fixes": "int",
    "file_reverts": "int",
    "age_min": "float",
    "age_max": "float",
    "file_age_min": "float",
    "file_age_max": "float",
    "minor_contributors": "int",
    "minor_share": "float",
    "top_owner_share": "float",
    "author_share_min": "float",
    "coupled_partners": "int",
    "coupled_missing": "int",
    "coupled_missing_share": "float",
    "recent_file_commits": "int",
    "recent_churn": "int",
    "recent_devs": "int",
    # riskml.mine.recent.RECENT_PCT_COLUMNS: each history count among the recent changes
    "lt_recent_pct": "float",
    "ndev_recent_pct": "float",
    "age_recent_pct": "float",
    "nuc_recent_pct": "float",
    "exp_recent_pct": "float",
    "rexp_recent_pct": "float",
    "sexp_recent_pct": "float",
    "author_file_commits_recent_pct": "float",
    "author_tenure_days_recent_pct": "float",
    "files": "str",
    # the diff-content extras (docs/features.md); a table mined before them has none
    "error_handling": "int",
    "concurrency": "int",
    "null_checks": "int",
    "config_key_lines": "int",
    "sql_statements": "int",
    "dependency_lines": "int",
    "test_lines_deleted": "int",
    "todo_added": "int",
    "comments_only": "bool",
}
# Columns a changes table may lack (mined by an earlier riskml): read without them.
OPTIONAL_CHANGES_COLUMNS = (
    "error_handling",
    "concurrency",
    "null_checks",
    "config_key_lines",
    "sql_statements",
    "dependency_lines",
    "test_lines_deleted",
    "todo_added",
    "comments_only",
)
# Provenance columns added after the first tables were mined (docs/provenance.md): a table
# without them is read as it is; `riskml mine` re-mines it rather than append to it.
AI_DETAIL_COLUMNS = ("ai_model", "ai_lines_added")
# The tokens file of a changes table (docs/features.md): commit, then the compact text.
TOKENS_COLUMNS = ("commit", "tokens")
TOKENS_FILE = "tokens.parquet"  # among the table's companions (riskml.snapshot)
# The Parquet schema metadata key of a table's repository: {"root_commit": "<40 hex>"}.
IDENTITY_KEY = b"riskml.repository"

# The labels table (../shared/spec/labels.md; ``evidence`` from docs/labels.md). Nullable
# strings ("nstr") are null when empty; ``label`` is the nullable Int8 of the Parquet file.
LABELS_COLUMNS: dict[str, str] = {
    "commit": "str",
    "label": "int8",
    "label_source": "nstr",
    "incident_ids": "nstr",
    "severity": "nstr",
    "known_at": "time",
    "evidence": "nstr",
}
# What a labels table must hold to be used at all; the others are optional (older tables).
LABELS_REQUIRED = ("commit", "label")

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}

# pandas' default NA spellings, for the columns that are not strings (a subject "NA" must stay).
_NA_VALUES = ["", "NA", "N/A", "NaN", "nan", "NaT", "<NA>", "null", "None", "-NaN", "-nan"]


# --------------------------------------------------------------------------- little parsers


def split_list(value: Any) -> list[str]:
    """A ``;``-joined cell (``critical_areas``, ``incident_ids``, ``files``) as its items.

    Items are stripped, empty ones dropped; a missing cell (None, NaN, NA) is ``[]``.
    """
    if value is None or not isinstance(value, str):
        return [] if _is_missing(value) else split_list(str(value))
    return [item.strip() for item in value.split(";") if item.strip()]


def join_list(items: Iterable[str]) -> str:
    """Items as one ``;``-joined cell, the inverse of :func:`split_list`."""
    return ";".join(items)


def _is_missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes are values, not missing
        return False


def as_utc(series):
    """Timestamps as UTC ``datetime64[ns, UTC]``: epoch seconds, ISO strings or datetimes.

    Naive times are taken as UTC; aware ones converted.
    """
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        out = pd.to_datetime(series, unit="s", utc=True)
    else:
        out = pd.to_datetime(series, utc=True)
    return out.dt.as_unit("ns") if hasattr(out, "dt") else out


def parse_cutoff(value: Any, *, name: str = "cutoff"):
    """A cut-off date/time (ISO-8601 text, a datetime or a Timestamp) as a UTC Timestamp.

    ``None`` or ``""`` is ``None`` (no cut-off); anything unparsable is a :class:`RiskmlError`
    naming ``name`` (the option or parameter the user gave).
    """
    import pandas as pd

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise RiskmlError(f"invalid {name}: {value!r} (expected an ISO-8601 date/time)")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


# --------------------------------------------------------------------------- formats


def table_format(path: str | Path) -> str:
    """``"parquet"`` or ``"csv"`` from the suffix; anything else is a :class:`RiskmlError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise RiskmlError(
            f"unsupported table format {suffix or '(none)'!r} for {path}: use .parquet or .csv"
        )
    return SUFFIXES[suffix]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _read_raw(path: Path, what: str, columns: dict[str, str], data: bytes | None = None):
    """The file (or its bytes ``data``, as read once) as read by its format's reader, strings
    kept as written (CSV: no NA guessing)."""
    import pandas as pd

    fmt = table_format(path)
    if data is None:
        if not path.is_file():
            raise RiskmlError(f"{what} table not found: {path}")
        data = path.read_bytes()
    try:
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        header = pd.read_csv(io.BytesIO(data), nrows=0).columns
        strings = [c for c in header if columns.get(c) in ("str", "nstr")]
        return pd.read_csv(
            io.BytesIO(data),
            dtype=dict.fromkeys(strings, str),
            keep_default_na=False,
            na_values={c: _NA_VALUES for c in header if c not in strings},
            float_precision="round_trip",
        )
    except RiskmlError:
        raise
    except Exception as exc:  # pyarrow/CSV parser errors: the user's file is not such a table
        kind = "Parquet" if fmt == "parquet" else "CSV"
        raise RiskmlError(
            f"{path}: not a readable {kind} {what} table ({_first_line(exc)})"
        ) from None


def _require(frame, path: Path, what: str, required: Iterable[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise RiskmlError(f"{path}: not a {what} table of this riskml version (missing {shown})")


def _check_repo(frame, path: Path, what: str, repo_name: str | None) -> None:
    if repo_name is None or "repo" not in frame.columns or not len(frame):
        return
    others = sorted({str(r) for r in frame["repo"].dropna()} - {"", str(repo_name)})
    if others:
        raise RiskmlError(
            f"{path}: a {what} table of repository {others[0]!r}, not {str(repo_name)!r}"
        )


def _cast(frame, columns: dict[str, str], path: Path | None = None):
    """Each known column present cast to its contract dtype; other columns left as they are."""
    frame = frame.copy()
    for col, kind in columns.items():
        if col in frame.columns:
            try:
                frame[col] = _cast_column(frame[col], kind)
            except (ValueError, TypeError, OverflowError) as exc:
                where = f"{path}: " if path is not None else ""
                raise RiskmlError(
                    f"{where}column {col!r} is not {_KIND_NAMES[kind]} ({_first_line(exc)})"
                ) from None
    return frame


_KIND_NAMES = {
    "int": "integer",
    "int8": "0/1/empty",
    "float": "numeric",
    "bool": "True/False",
    "str": "text",
    "nstr": "text",
    "time": "a timestamp",
}


def _cast_column(s, kind: str):
    import pandas as pd

    if kind == "int":
        return s.astype("int64")
    if kind == "int8":
        return pd.to_numeric(s, errors="coerce").astype("Int8")
    if kind == "float":
        return pd.to_numeric(s, errors="coerce").astype("float64")
    if kind == "bool":
        if s.dtype != bool:
            s = s.map(lambda v: v if isinstance(v, bool) else str(v) == "True")
        return s.astype(bool)
    if kind == "str":
        return s.fillna("").astype(str)
    if kind == "nstr":
        s = s.astype("string")
        return s.mask(s == "")
    return as_utc(s)


def normalize_changes(frame, path: Path | None = None):
    """The changes table with every contract column cast to its dtype (times UTC in ns,
    strings ``str`` with empty for missing, an empty share NaN)."""
    return _cast(frame, CHANGES_COLUMNS, path)


def normalize_labels(frame, path: Path | None = None):
    """The labels table with its dtypes: ``commit`` str, ``label`` Int8, the text columns
    nullable strings (empty = null), ``known_at`` UTC."""
    frame = _cast(frame, LABELS_COLUMNS, path)
    if "commit" in frame.columns:
        frame["commit"] = frame["commit"].astype("string")
    return frame


# --------------------------------------------------------------------------- readers


def read_changes(
    path: str | Path,
    *,
    repo_name: str | None = None,
    required: Iterable[str] | None = None,
):
    """Read a changes table (Parquet or CSV) with the exact dtypes ``riskml mine`` wrote.

    ``required``: the columns the caller needs (default: every column of the contract, and
    then only those, in contract order — the diff-content extras of
    :data:`OPTIONAL_CHANGES_COLUMNS` only when the table has them; with a shorter list the file's other columns are kept,
    for readers such as ``trends`` that take a scored table). ``repo_name``: the repository the
    table must belong to (its ``repo`` column). ``attrs["root_commit"]``: its repository's
    identity, when known. Every failure is one :class:`RiskmlError`.
    """
    path = Path(path)
    table_format(path)
    if not path.is_file():
        raise RiskmlError(f"changes table not found: {path}")
    return changes_of(snapshot.read(path), repo_name=repo_name, required=required)


def changes_of(snap: snapshot.Snapshot, *, repo_name=None, required=None):
    """The changes table of a snapshot (its bytes as read), as :func:`read_changes` reads it."""
    path = snap.table
    frame = _read_raw(path, "changes", CHANGES_COLUMNS, snap.data)
    full = required is None
    if full:
        optional = (*OPTIONAL_CHANGES_COLUMNS, *AI_DETAIL_COLUMNS)
        required = [c for c in CHANGES_COLUMNS if c not in optional]
    _require(frame, path, "changes", required)
    _check_repo(frame, path, "changes", repo_name)
    if full:
        frame = frame[[c for c in CHANGES_COLUMNS if c in frame.columns]]
    frame = normalize_changes(frame, path)
    root = _parquet_root(path, snap.data) or snap.root_commit
    return _with_identity(frame, root, f"{path}: a changes table")


def read_changes_and_tokens(path: str | Path, *, repo_name=None, required=None):
    """``(changes, tokens)``: the changes table (:func:`read_changes`) and the tokens file of
    exactly that table (:func:`read_tokens`; None without one), read as one snapshot so a
    ``mine`` finishing meanwhile gives the old pair or the new one."""
    path = Path(path)
    table_format(path)
    if not path.is_file():
        raise RiskmlError(f"changes table not found: {path}")

    def both(snap):
        changes = changes_of(snap, repo_name=repo_name, required=required)
        return changes, tokens_of(snap)

    return snapshot.read_with(path, both)


def read_labels(
    path: str | Path, *, repo_name: str | None = None, commits=None, changes=None
) -> Any:
    """Read a labels table (Parquet or CSV) with the dtypes of labels.md.

    ``repo_name`` is checked against a ``repo`` column when the table has one. ``changes``
    (the changes table it goes with, as read here) refuses a labels table that records another
    repository (:func:`check_same_repository`), then, as ``commits`` (the changes table's
    commits) does, one that shares none of its commits (the check left for tables without a
    recorded repository). ``attrs["root_commit"]``: the repository it was labelled from, when
    recorded (Parquet). Every failure is one :class:`RiskmlError`.
    """
    path = Path(path)
    table_format(path)
    if not path.is_file():
        raise RiskmlError(f"labels table not found: {path}")
    data = path.read_bytes()
    frame = _read_raw(path, "labels", LABELS_COLUMNS, data)
    _require(frame, path, "labels", LABELS_REQUIRED)
    _check_repo(frame, path, "labels", repo_name)
    labels = normalize_labels(frame, path)
    _check_label_values(labels, path)
    labels = _with_identity(labels, _parquet_root(path, data), f"{path}: a labels table")
    if changes is not None:
        check_same_repository(changes, labels)
        commits = changes["commit"] if commits is None else commits
    if commits is not None and len(labels):
        known = {str(c) for c in commits}
        if known and not any(str(c) in known for c in labels["commit"]):
            raise RiskmlError(
                f"{path}: a labels table of another repository "
                f"(none of its {len(labels)} commits is in the changes table)"
            )
    return labels


# --------------------------------------------------------------------------- repository identity


_IDENTITY_ATTRS = ("root_commit", "what")


def _with_identity(frame, root: str | None, what: str):
    frame.attrs["root_commit"] = root
    frame.attrs["what"] = what  # how a refusal names the table: "<path>: a changes table"
    return frame


def _parquet_root(path: Path, data: bytes) -> str | None:
    """The root commit a Parquet file's schema metadata records (None: CSV, or none)."""
    if table_format(path) != "parquet":
        return None
    return _root_in(io.BytesIO(data))


def _root_in(source) -> str | None:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(source).metadata or {}
        value = json.loads(meta[IDENTITY_KEY]).get("root_commit") if IDENTITY_KEY in meta else None
    except (ValueError, AttributeError, OSError):
        return None  # metadata that is not ours: no identity, as for a user's own table
    return value if isinstance(value, str) else None


def table_root(path: str | Path) -> str | None:
    """The root commit a Parquet table records, from its footer alone (None: CSV, none
    recorded, no such file). A CSV changes table's is its snapshot's (:func:`read_changes`)."""
    path = Path(path)
    if table_format(path) != "parquet" or not path.is_file():
        return None
    return _root_in(path)


def identity_metadata(root: str | None) -> dict[bytes, bytes]:
    """The Parquet schema metadata that records ``root`` (nothing when it is None)."""
    return {} if root is None else {IDENTITY_KEY: json.dumps({"root_commit": root}).encode()}


def check_repository(root: str | None, repo: str | Path, what: str, hint: str = "") -> None:
    """Refuse (one :class:`RiskmlError`) a file recording root commit ``root`` for ``repo``
    when ``repo`` does not hold that commit: it was made from another repository.

    ``what`` names the file (``"<path>: a labels table"``), ``hint`` what to do. A file with no
    recorded root cannot be checked and passes; so does any file in a shallow clone, whose
    root may be cut off.
    """
    from riskml.gitio import has_commit, is_shallow

    if root is None or has_commit(repo, root) or is_shallow(repo):
        return
    raise RiskmlError(
        f"{what} of another repository (its root commit {root[:12]} is not in {repo})"
        + (f"; {hint}" if hint else "")
    )


def check_table_repository(frame, repo: str | Path, hint: str = "") -> None:
    """:func:`check_repository` for a table read here (its ``attrs``)."""
    check_repository(frame.attrs.get("root_commit"), repo, _what(frame), hint)


def check_same_repository(frame, other) -> None:
    """Refuse two tables read here that record different repositories (e.g. the labels of
    one repository with the changes table of another); unrecorded ones pass."""
    a, b = frame.attrs.get("root_commit"), other.attrs.get("root_commit")
    if a is not None and b is not None and a != b:
        raise RiskmlError(
            f"{_what(other)} of another repository than {_what(frame).split(': ')[0]} "
            f"(root commits {b[:12]} and {a[:12]})"
        )


def _what(frame) -> str:
    return frame.attrs.get("what") or "the table"


def _check_label_values(labels, path: Path) -> None:
    """One row per commit, each label 0, 1 or missing (labels.md)."""
    bad = labels["label"].notna() & ~labels["label"].isin([0, 1])
    if bad.any():
        first = labels.loc[bad].iloc[0]
        raise RiskmlError(
            f"{path}: {int(bad.sum())} label(s) not 0, 1 or empty "
            f"(first: commit {first['commit']}, label {first['label']})"
        )
    repeated = labels["commit"].duplicated(keep=False)
    if repeated.any():
        raise RiskmlError(
            f"{path}: {int(labels.loc[repeated, 'commit'].nunique())} commit(s) appear more than "
            f"once (first: {labels.loc[repeated, 'commit'].iloc[0]}); a labels table has one "
            "row per commit"
        )


def count_rows(path: str | Path) -> int:
    """Rows of a table on disk without reading it whole (0 when there is no file)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        return 0
    try:
        if table_format(path) == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        return len(pd.read_csv(path, usecols=["commit"]))
    except RiskmlError:
        raise
    except Exception as exc:  # same verdict as a full read
        raise RiskmlError(f"{path}: not a readable table ({_first_line(exc)})") from None


# --------------------------------------------------------------------------- writers


def no_space_message(exc: OSError) -> str:
    """The one line of a no-space error that escaped every writer (the CLI's last resort)."""
    where = exc.filename or "a file"
    return f"no space left writing {where}" + ("" if exc.filename else f" ({exc.strerror})")


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """For the block that writes ``path``: a full disk (:func:`no_space`) becomes one
    :class:`~riskml.errors.NoSpaceError` naming ``path``; other errors pass unchanged. The
    block removes its own temporary files (as :func:`atomic_write` does)."""
    try:
        yield
    except OSError as exc:
        if no_space(exc):
            raise NoSpaceError(path) from None
        raise


def make_parent(path: str | Path) -> Path:
    """Create the folder ``path`` goes into (and its parents); a folder that cannot be made
    (a file in the way, a read-only or full file system) is one :class:`RiskmlError`."""
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if no_space(exc):
            raise NoSpaceError(path) from None
        in_the_way = next(
            (p for p in (parent, *parent.parents) if p.exists() and not p.is_dir()), None
        )
        if in_the_way is not None:
            reason = f"{in_the_way} is a file, not a folder"
        else:
            reason = exc.strerror or type(exc).__name__
        raise RiskmlError(f"cannot create the folder {parent}: {reason}") from None
    return parent


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    A write that fails or is killed midway leaves the old file whole and (on failure) no
    temporary file behind; the rename is atomic on one file system. A full disk is one
    :class:`~riskml.errors.NoSpaceError` naming ``path`` (:func:`writing`).
    """
    path = Path(path)
    make_parent(path)
    # a unique name the writer creates itself, so the file gets the umask's mode as a plain
    # write would (mkstemp's 0600 would hide the tables from other readers of a shared data/)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    with writing(path):
        try:
            write(tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def write_frame(frame, path: str | Path, *, root: str | None = None) -> Path:
    """Write any DataFrame (Parquet or CSV by suffix, no index) atomically; e.g. the trends
    table, which is not one of the two contract tables but follows the same rules. ``root``:
    the repository's root commit, recorded in a Parquet file's metadata."""
    return atomic_write(path, frame_writer(frame, path, root=root))


def frame_writer(frame, path: str | Path, *, root: str | None = None) -> Callable[[Path], None]:
    """``write(tmp)``: ``frame`` in ``path``'s format written to ``tmp`` (for
    :func:`atomic_write` or :func:`riskml.snapshot.commit`)."""
    if table_format(path) == "csv":
        return lambda tmp: frame.to_csv(tmp, index=False)
    return lambda tmp: _write_parquet(frame, tmp, root)


def _write_parquet(frame, tmp: Path, root: str | None, compression: str = "snappy") -> None:
    """``frame.to_parquet(tmp, index=False)``; with ``root``, the same table (pandas' own
    metadata, so it reads back the same) with the repository's identity in its schema
    metadata."""
    if root is None:
        if frame.attrs.keys() & set(_IDENTITY_ATTRS):  # what a reader set is not data
            frame = frame.copy(deep=False)
            frame.attrs = {k: v for k, v in frame.attrs.items() if k not in _IDENTITY_ATTRS}
        frame.to_parquet(tmp, index=False, compression=compression)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), **identity_metadata(root)}
    pq.write_table(table.replace_schema_metadata(metadata), tmp, compression=compression)


def write_changes(frame, path: str | Path, *, append_to=None, root: str | None = None) -> Path:
    """Write the changes table; with ``append_to`` (the table on disk, as read) add ``frame``
    after it (:func:`changes_writer`)."""
    return atomic_write(path, changes_writer(frame, path, append_to=append_to, root=root))


def changes_writer(
    frame, path: str | Path, *, append_to=None, root: str | None = None, old: bytes | None = None
) -> Callable[[Path], None]:
    """``write(tmp)`` for the changes table ``path``: ``frame``, after ``append_to`` when given.

    A CSV append copies the old bytes (``old``, else the file's) and adds the new lines (old
    rows byte-identical); a Parquet append rewrites the old rows as read plus the new ones, and
    records ``root``. A CSV whose columns are not riskml's is refused here, before any write.
    """
    import pandas as pd

    path = Path(path)
    fmt = table_format(path)
    if fmt == "csv" and append_to is not None:
        data = old if old is not None else path.read_bytes()
        header = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
        if header != ",".join(frame.columns) or list(append_to.columns) != list(frame.columns):
            raise RiskmlError(
                f"{path}: its columns are not in riskml's order; cannot append (re-mine it)"
            )

        def append(tmp: Path) -> None:
            tmp.write_bytes(data)
            with tmp.open("a", encoding="utf-8", newline="") as fh:
                if data and not data.endswith(b"\n"):
                    fh.write("\n")
                frame.to_csv(fh, index=False, header=False)

        return append
    full = frame if append_to is None else pd.concat([append_to, frame], ignore_index=True)
    return frame_writer(full, path, root=root)


# --------------------------------------------------------------------------- the tokens file


def tokens_path(changes: str | Path) -> Path:
    """The tokens file of the changes table ``changes`` as it is now: ``tokens.parquet`` among
    its companions (``data/<repo>/changes.state/<digest>.<n>/``, :mod:`riskml.snapshot`);
    for a table without companions, where an earlier riskml kept it
    (``<stem>.tokens.parquet`` beside the table)."""
    changes = Path(changes)
    if changes.is_file():
        found = tokens_file(snapshot.read(changes))
        if found is not None:
            return found
    return snapshot.legacy_tokens_path(changes)


def tokens_file(snap: snapshot.Snapshot) -> Path | None:
    """The tokens file of a snapshot's table (its companion, else an earlier riskml's file
    beside a table without companions), or None when it has none."""
    if snap.companions is not None:
        path = snap.companion(TOKENS_FILE)
        return path if path.is_file() else None
    legacy = snapshot.legacy_tokens_path(snap.table)
    return legacy if legacy.is_file() else None


def tokens_of(snap: snapshot.Snapshot):
    """The tokens file of a snapshot's table (:func:`read_tokens`), or None without one."""
    path = tokens_file(snap)
    return read_tokens(path) if path is not None else None


def read_tokens(path: str | Path):
    """The tokens file (``commit``, ``tokens`` as strings, one row per row of its table, in
    the table's order); a missing or foreign file is one :class:`RiskmlError`."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise RiskmlError(f"tokens file not found: {path}")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:
        raise RiskmlError(f"{path}: not a readable tokens file ({_first_line(exc)})") from None
    _require(frame, path, "tokens", TOKENS_COLUMNS)
    frame = frame[list(TOKENS_COLUMNS)].copy()
    for column in TOKENS_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def read_tokens_beside(changes: str | Path):
    """The tokens file of the changes table ``changes`` as it is now (:func:`read_tokens`), or
    None when there is none (a table mined before the diff content, a public table). To read
    a table and its tokens as one pair, use :func:`read_changes_and_tokens`."""
    changes = Path(changes)
    if not changes.is_file():
        return None
    return snapshot.read_with(changes, tokens_of)


def attach_tokens(changes, tokens):
    """``changes`` with the ``tokens`` column of a tokens file (``""`` for a change it lacks),
    what the text component reads; ``changes`` as it is when ``tokens`` is None."""
    if tokens is None:
        return changes
    text = dict(zip(tokens["commit"].astype(str), tokens["tokens"], strict=True))
    out = changes.copy()
    out["tokens"] = [text.get(c, "") for c in changes["commit"].astype(str)]
    return out


def write_tokens(frame, path: str | Path, *, append_to=None, root: str | None = None) -> Path:
    """Write a tokens file (Parquet, zstd) atomically (``mine`` writes it among the new
    companions of its table, :mod:`riskml.snapshot`); with ``append_to`` (the file as read)
    ``frame``'s rows come after its rows. ``root``: the repository's identity."""
    import pandas as pd

    full = frame if append_to is None else pd.concat([append_to, frame], ignore_index=True)
    full = full[list(TOKENS_COLUMNS)]
    return atomic_write(path, lambda tmp: _write_parquet(full, tmp, root, compression="zstd"))


def write_labels(frame, path: str | Path, *, root: str | None = None) -> Path:
    """Write the labels table (Parquet or CSV by suffix) atomically. ``root``: the labelled
    repository's root commit (default ``frame.attrs["root_commit"]``, as ``label`` sets it),
    recorded in a Parquet table's metadata; a CSV table has nowhere to keep it."""
    if root is None:
        root = frame.attrs.get("root_commit")
    return write_frame(frame, path, root=root)


def write_json(obj: Any, path: str | Path) -> Path:
    """Write a JSON side file (e.g. ``labels.report.json``) atomically, indented, UTF-8."""
    text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# --------------------------------------------------------------------------- the fleet dataset

# `riskml fleet`'s union of its repositories (docs/fleet.md): one Parquet file per project,
# ``project=<name>/part-0.parquet`` (Hive partitioning: Dask and pyarrow read ``project`` back as
# a categorical column), each row one change with its label columns and its diff's tokens.
FLEET_PARTITION = "project"
FLEET_COLUMNS: dict[str, str] = {
    **CHANGES_COLUMNS,
    **{column: kind for column, kind in LABELS_COLUMNS.items() if column != "commit"},
    "tokens": "str",
}
# written last into the dataset's folder; a folder without it is not replaced
FLEET_MARKER = "_fleet.json"


def fleet_schema():
    """The Arrow schema of every file of the fleet dataset, whatever a project's table lacks,
    so the files of all projects read as one table."""
    import pyarrow as pa

    types = {
        "str": pa.string(),
        "nstr": pa.string(),
        "int": pa.int64(),
        "int8": pa.int8(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "time": pa.timestamp("ns", tz="UTC"),
    }
    return pa.schema([(column, types[kind]) for column, kind in FLEET_COLUMNS.items()])


def fleet_part_path(dataset: str | Path, project: str) -> Path:
    """Where one project's file of the fleet dataset goes (its name percent-encoded, as
    pyarrow's Hive partitioning decodes it)."""
    from urllib.parse import quote

    return Path(dataset) / f"{FLEET_PARTITION}={quote(project, safe='')}" / "part-0.parquet"


def write_fleet_part(frame, dataset: str | Path, project: str) -> Path:
    """Write one project's rows (:data:`FLEET_COLUMNS`; a column the project lacks is null)
    as its file of the fleet dataset, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = _cast(frame, FLEET_COLUMNS)
    for column in FLEET_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    table = pa.Table.from_pandas(
        frame[list(FLEET_COLUMNS)], schema=fleet_schema(), preserve_index=False
    )
    path = fleet_part_path(dataset, project)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_fleet(path: str | Path, columns: list[str] | None = None):
    """The fleet dataset as a Dask DataFrame (``project`` among its columns, categorical);
    a folder that is not one is one :class:`RiskmlError`."""
    import dask.dataframe as dd

    path = Path(path)
    if not (path / FLEET_MARKER).is_file():
        raise RiskmlError(f"{path}: not a fleet dataset (no {FLEET_MARKER}; see riskml fleet)")
    return dd.read_parquet(path, columns=columns)
