"""Training data: changes joined with labels, leak-free label-history features, public tables.

- :func:`build_dataset` joins the changes table (features.md) with the labels table
  (labels.md) and adds the label-history features of :func:`label_history_features`.
- :func:`feature_columns` says which columns a model reads: every numeric or boolean column of
  the changes table except identity, time and label columns, plus the categoricals of
  :data:`CATEGORICAL_COLUMNS`.
- :func:`load_public_dataset` reads the Kamei/ISSTA'21 and ApacheJIT layouts (evaluation.md)
  into the same internal shape (``commit``, ``author_time``, ``label``, ``known_at``, features).
- :func:`derived_features` adds row-local ratios and time-of-day columns; the model computes
  them itself from the raw columns, at training and at scoring time alike.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from riskml.errors import RiskmlError
from riskml.tables import CHANGES_COLUMNS, attach_tokens

KAMEI_METRICS = (
    "ns", "nd", "nf", "entropy", "la", "ld", "lt", "fix", "ndev", "age", "nuc", "exp", "rexp",
    "sexp",
)  # fmt: skip
LABEL_HISTORY_COLUMNS = ("past_incidents_files", "past_incidents_dirs", "past_incidents_author")
# each label-history count among the recent changes (riskml.mine.recent; added by build_dataset)
LABEL_HISTORY_PCT_COLUMNS = tuple(f"{c}_recent_pct" for c in LABEL_HISTORY_COLUMNS)
CATEGORICAL_COLUMNS = ("ai_provenance", "ai_tool", "critical_areas", "project")
# never features: identity, free text, times, and everything that comes from the labels table
NON_FEATURE_COLUMNS = frozenset(
    {
        "commit",
        "repo",
        "author_email",
        "author_name",
        "committer_email",
        "author_time",
        "commit_time",
        "subject",
        "message",
        "files",
        "tokens",
        "parents",
        "ai_evidence",
        # for people and audits: the model reads ai_line_share (lines / la) and ai_tool
        "ai_model",
        "ai_lines_added",
        "label",
        "label_source",
        "incident_ids",
        "severity",
        "known_at",
        "year",
        "date",
        "bug",
        "buggy",
        "__",
    }
)
# diff-content columns `riskml mine` keeps for people but the model does not read: no signal
# beyond change size in the development-period backtests of three real histories
# (docs/training.md, "Diff content")
UNUSED_CONTENT_COLUMNS = ("config_key_lines", "sql_statements", "todo_added")
# derived columns computed by the model from raw ones (see derived_features)
DERIVED_COLUMNS = (
    "churn_log",
    "la_per_lt",
    "ld_per_lt",
    "la_per_file",
    "added_share",
    "hour_utc",
    "weekday_utc",
)

# the ISSTA'21 tables: id, date, label, then the 14 metrics (their spelling "entrophy")
KAMEI_LAYOUT = ["_id", "date", "bug", *("entrophy" if m == "entropy" else m for m in KAMEI_METRICS)]
APACHEJIT_LAYOUT = [
    "commit_id",
    "project",
    "buggy",
    "fix",
    "year",
    "author_date",
    "la",
    "ld",
    "nf",
    "nd",
    "ns",
    "ent",
    "ndev",
    "age",
    "nuc",
    "aexp",
    "arexp",
    "asexp",
]


def unknown_features(frame: pd.DataFrame, names) -> list[str]:
    """The ``names`` (``[train] exclude_features``) that are no feature column, sorted.

    A name is known when it is a feature column of ``frame``, a derived column, or a feature
    column of riskml's changes table (docs/features.md) that this table lacks (the default list
    names the touched files' own past, which a public table has not). Which columns a table
    holds is known only once it is read, so this is checked before the fit, not at load time.
    """
    known = {
        *feature_columns(frame)[0],
        *DERIVED_COLUMNS,
        *(c for c in CHANGES_COLUMNS if c not in NON_FEATURE_COLUMNS),
        *LABEL_HISTORY_COLUMNS,
        *LABEL_HISTORY_PCT_COLUMNS,
    }
    return sorted(set(names) - known)


def feature_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """``(feature_columns, categorical_columns)`` a model reads from ``frame``.

    Features: every numeric or boolean column not in :data:`NON_FEATURE_COLUMNS` or
    :data:`UNUSED_CONTENT_COLUMNS`, in frame
    order, then the present columns of :data:`CATEGORICAL_COLUMNS` (strings, read as
    categoricals). Derived columns (:data:`DERIVED_COLUMNS`) are not listed: the model adds them.
    """
    numeric: list[str] = []
    for column in frame.columns:
        if column in NON_FEATURE_COLUMNS or column in CATEGORICAL_COLUMNS:
            continue
        if column in UNUSED_CONTENT_COLUMNS:
            continue
        if column in DERIVED_COLUMNS:
            continue
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(column)
    categorical = [c for c in CATEGORICAL_COLUMNS if c in frame.columns]
    return numeric + categorical, categorical


def derived_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Row-local derived columns (documented in docs/training.md); NaN where an input is missing.

    Uses only the row itself (sizes and its own author time), so they are leak-free.
    """

    def col(name: str) -> np.ndarray:
        if name in frame.columns:
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
        return np.full(len(frame), np.nan)

    la, ld, lt, nf = col("la"), col("ld"), col("lt"), col("nf")
    churn = la + ld
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "churn_log": np.log1p(np.clip(la, 0, None) + np.clip(ld, 0, None)),
            "la_per_lt": la / (np.clip(lt, 0, None) + 1.0),
            "ld_per_lt": ld / (np.clip(lt, 0, None) + 1.0),
            "la_per_file": la / np.clip(nf, 1, None),
            "added_share": la / np.where(churn > 0, churn, np.nan),
        }
    if "author_time" in frame.columns:
        t = pd.DatetimeIndex(pd.to_datetime(frame["author_time"], utc=True, errors="coerce"))
        out["hour_utc"] = t.hour.to_numpy(dtype=float, na_value=np.nan)
        out["weekday_utc"] = t.weekday.to_numpy(dtype=float, na_value=np.nan)
    else:
        out["hour_utc"] = np.full(len(frame), np.nan)
        out["weekday_utc"] = np.full(len(frame), np.nan)
    return pd.DataFrame(out, index=frame.index)


def _split_files(value) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value if str(v)]
    return [p for p in str(value).split(";") if p]


def _dir_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


class IncidentIndex:
    """The incident-causing changes, prepared once for counting past incidents of any rows.

    ``changes``: the mined table giving ``files`` and ``author_email`` of each culprit commit.
    ``labels``: the labels table (``commit``, ``label``, ``known_at``). Only positive links with
    a ``known_at`` count. Per file, directory and author the links are kept sorted by the time
    they became known, so a server builds this once per labels table and counts each request's
    row with a few bisections (:meth:`counts`); a training table's many rows are swept in time
    order instead (the same counts).
    """

    def __init__(self, changes: pd.DataFrame | None, labels: pd.DataFrame | None) -> None:
        self.times = np.array([], dtype="datetime64[ns]")
        self.commits: list[str] = []
        self.files: list[list[str]] = []
        self.authors: list[str] = []
        if changes is None or labels is None or len(labels) == 0:
            self._index = {}
            return
        lab = labels[["commit", "label", "known_at"]].copy()
        lab["label"] = pd.to_numeric(lab["label"], errors="coerce")
        lab["known_at"] = pd.to_datetime(lab["known_at"], utc=True, errors="coerce")
        lab = lab[(lab["label"] == 1) & lab["known_at"].notna()]
        info_cols = [c for c in ("commit", "files", "author_email") if c in changes.columns]
        culprits = lab.merge(
            changes[info_cols].drop_duplicates("commit"), on="commit", how="inner"
        ).sort_values("known_at", kind="stable")
        self.times = culprits["known_at"].to_numpy(dtype="datetime64[ns]")
        self.commits = culprits["commit"].astype(str).to_list()
        self.files = [_split_files(v) for v in _column(culprits, "files")]
        self.authors = _emails(culprits)
        # key -> (times, commits) of its links, oldest first; keys ("f", path), ("d", dir), ("a", email)
        grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
        for position, (files, author) in enumerate(zip(self.files, self.authors, strict=True)):
            keys = {("f", p) for p in files} | {("d", _dir_of(p)) for p in files}
            if author:
                keys.add(("a", author))
            for key in keys:
                grouped[key].append(position)
        self._index = {
            key: (self.times[positions], [self.commits[i] for i in positions])
            for key, positions in grouped.items()
        }

    def __len__(self) -> int:
        return len(self.commits)

    def counts(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The three counts per row (frame indexed like ``rows``): distinct positive changes
        known strictly before the row's ``author_time`` that touched any of its files
        (``past_incidents_files``), any of its directories (``past_incidents_dirs``), or were
        made by its author (``past_incidents_author``); never the row's own commit."""
        out = pd.DataFrame(0, index=rows.index, columns=list(LABEL_HISTORY_COLUMNS), dtype="int64")
        if not len(self) or len(rows) == 0:
            return out
        row_time = pd.to_datetime(rows["author_time"], utc=True).to_numpy(dtype="datetime64[ns]")
        row_files = [_split_files(v) for v in _column(rows, "files")]
        row_author = _emails(rows)
        row_commit = rows["commit"].astype(str).to_list() if "commit" in rows else [""] * len(rows)
        if len(rows) > 64:
            result = self._sweep(row_time, row_files, row_author, row_commit)
        else:
            result = np.zeros((len(rows), 3), dtype=np.int64)
            for i, (t, files, author, own) in enumerate(
                zip(row_time, row_files, row_author, row_commit, strict=True)
            ):
                if np.isnat(t):
                    continue  # no time: nothing known before it
                result[i] = [
                    len(self._before(t, [("f", p) for p in files]) - {own}),
                    len(self._before(t, [("d", _dir_of(p)) for p in files]) - {own}),
                    len(self._before(t, [("a", author)] if author else []) - {own}),
                ]
        out.loc[:, :] = result
        return out

    def _before(self, t, keys) -> set[str]:
        hits: set[str] = set()
        for key in keys:
            entry = self._index.get(key)
            if entry is not None:
                hits.update(entry[1][: int(np.searchsorted(entry[0], t, side="left"))])
        return hits

    def _sweep(self, row_time, row_files, row_author, row_commit) -> np.ndarray:
        """Rows in time order, the links added as they become known before each."""
        by_file: dict[str, set[str]] = defaultdict(set)
        by_dir: dict[str, set[str]] = defaultdict(set)
        by_author: dict[str, set[str]] = defaultdict(set)
        result = np.zeros((len(row_time), 3), dtype=np.int64)
        next_event = 0
        for pos in np.argsort(row_time, kind="stable"):
            while next_event < len(self.times) and self.times[next_event] < row_time[pos]:
                sha = self.commits[next_event]
                for path in self.files[next_event]:
                    by_file[path].add(sha)
                    by_dir[_dir_of(path)].add(sha)
                if self.authors[next_event]:
                    by_author[self.authors[next_event]].add(sha)
                next_event += 1
            if next_event == 0:
                continue
            own, files = row_commit[pos], row_files[pos]
            hit_files = set().union(*(by_file.get(p, ()) for p in files))
            hit_dirs = set().union(*(by_dir.get(d, ()) for d in {_dir_of(p) for p in files}))
            hit_author = by_author.get(row_author[pos], set())
            result[pos] = [
                len(hit_files - {own}),
                len(hit_dirs - {own}),
                len(hit_author - {own}),
            ]
        return result


def _column(frame: pd.DataFrame, name: str) -> list:
    return frame[name].tolist() if name in frame.columns else [None] * len(frame)


def _emails(frame: pd.DataFrame) -> list[str]:
    if "author_email" not in frame.columns:
        return [""] * len(frame)
    return frame["author_email"].astype(str).str.lower().to_list()


def label_history_features(
    rows: pd.DataFrame, changes: pd.DataFrame, labels: pd.DataFrame
) -> pd.DataFrame:
    """Past incidents of the touched files, directories and author, as known before each row.

    ``rows``: changes to compute features for (``author_time``, ``files`` = ``;``-joined touched
    paths, ``author_email``); they need not be in ``changes`` (a pending change at scoring time).
    ``changes``: the mined table giving ``files`` and ``author_email`` of each culprit commit.
    ``labels``: the labels table (``commit``, ``label``, ``known_at``).

    A link counts for a row only when ``label == 1`` and ``known_at < row.author_time``, and
    never the row's own commit. Counts are of distinct positive changes:
    ``past_incidents_files`` (that touched any file this row touches), ``past_incidents_dirs``
    (any directory it touches), ``past_incidents_author`` (made by the same author).
    Returns a frame indexed like ``rows`` with those three integer columns
    (:class:`IncidentIndex`, which a caller counting many times keeps instead).
    """
    return IncidentIndex(changes, labels).counts(rows)


def build_dataset(
    changes: pd.DataFrame, labels: pd.DataFrame | None, config=None, tokens=None
) -> pd.DataFrame:
    """The training table: every change with its label and the label-history features.

    ``changes``: the mined table (features.md; ``files`` needed for the file/directory history).
    ``labels``: the labels table (labels.md) or None (all labels empty).
    ``tokens``: the tokens file beside the changes table (``commit``, ``tokens``;
    :func:`riskml.tables.read_tokens`) or None; given, its text becomes the ``tokens``
    column (``""`` for a change it lacks), which the text component reads.
    Keeps every column of ``changes``; adds ``label`` (1/0/NaN), ``label_source``,
    ``known_at`` (UTC), :data:`LABEL_HISTORY_COLUMNS` and their percentiles among the
    ``[mine] recent_window`` changes before each (:data:`LABEL_HISTORY_PCT_COLUMNS`, as
    :mod:`riskml.mine.recent` does for the mined counts). Rows are sorted by ``author_time``
    (stable). ``config``: :class:`riskml.config.Config` (default: the defaults).
    """
    from riskml.config import Config
    from riskml.mine.recent import trailing_percentiles

    window = (config or Config()).mine.recent_window
    if "commit" not in changes.columns or "author_time" not in changes.columns:
        raise RiskmlError("the changes table needs 'commit' and 'author_time' columns")
    frame = changes.copy()
    frame["author_time"] = pd.to_datetime(frame["author_time"], utc=True)
    if labels is None or len(labels) == 0:
        labels = pd.DataFrame({"commit": [], "label": [], "known_at": []})
    missing = {"commit", "label"} - set(labels.columns)
    if missing:
        raise RiskmlError(f"the labels table lacks column(s): {', '.join(sorted(missing))}")
    lab = labels.drop_duplicates("commit", keep="last").copy()
    if "known_at" not in lab.columns:
        lab["known_at"] = pd.NaT
    lab["label"] = pd.to_numeric(lab["label"], errors="coerce")
    lab["known_at"] = pd.to_datetime(lab["known_at"], utc=True, errors="coerce")
    keep = [c for c in ("commit", "label", "label_source", "known_at") if c in lab.columns]
    frame = frame.drop(columns=[c for c in keep if c != "commit" and c in frame.columns])
    frame = frame.merge(lab[keep], on="commit", how="left")
    frame["label"] = frame["label"].astype(float)
    frame["known_at"] = pd.to_datetime(frame["known_at"], utc=True)
    history = label_history_features(frame, changes, lab)
    for column in LABEL_HISTORY_COLUMNS:
        frame[column] = history[column].to_numpy()
    frame = attach_tokens(frame, tokens)
    frame = frame.sort_values("author_time", kind="stable").reset_index(drop=True)
    for column, pct in zip(LABEL_HISTORY_COLUMNS, LABEL_HISTORY_PCT_COLUMNS, strict=True):
        frame[pct] = trailing_percentiles(frame[column].to_numpy(), window)
    return frame


def _to_time(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return pd.to_datetime(values, unit="s", utc=True)
    return pd.to_datetime(values, utc=True, errors="coerce", format="mixed")


def load_public_dataset(path: str | Path) -> pd.DataFrame:
    """Read a public JIT table in the Kamei/ISSTA'21 or ApacheJIT layout, told by its columns.

    Returns the internal shape: ``commit``, ``author_time`` (UTC), ``label`` (0/1 float),
    ``known_at`` (NaT: public labels are final), the size/history/experience columns under the
    features.md names (``entrophy``/``ent`` -> ``entropy``; ``aexp``/``arexp``/``asexp`` ->
    ``exp``/``rexp``/``sexp``; ApacheJIT's ``project`` as a categorical), sorted by time
    (stable). Only the named layout columns are read: anything else in the file (an index, a
    copy of the label) is ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise RiskmlError(f"dataset file not found: {path}")
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise RiskmlError(f"{path}: not a readable CSV: {exc}") from None
    if set(KAMEI_LAYOUT) <= set(header):
        raw = pd.read_csv(path, usecols=KAMEI_LAYOUT)
        frame = pd.DataFrame(
            {
                "commit": raw["_id"].astype(str),
                "author_time": _to_time(raw["date"]),
                "label": pd.to_numeric(raw["bug"], errors="coerce").astype(float),
            }
        )
        rename = {"entrophy": "entropy"}
        cols = KAMEI_LAYOUT[3:]
        layout = "kamei"
    elif set(APACHEJIT_LAYOUT) <= set(header):
        raw = pd.read_csv(path, usecols=APACHEJIT_LAYOUT)
        buggy = raw["buggy"]
        if not pd.api.types.is_numeric_dtype(buggy) and not pd.api.types.is_bool_dtype(buggy):
            buggy = buggy.astype(str).str.strip().str.lower().map({"true": 1, "false": 0})
        frame = pd.DataFrame(
            {
                "commit": raw["commit_id"].astype(str),
                "author_time": _to_time(raw["author_date"]),
                "label": pd.to_numeric(buggy, errors="coerce").astype(float),
                "project": raw["project"].astype(str),
            }
        )
        rename = {"ent": "entropy", "aexp": "exp", "arexp": "rexp", "asexp": "sexp"}
        cols = [c for c in APACHEJIT_LAYOUT if c not in {"commit_id", "project", "buggy"}]
        cols.remove("year")
        cols.remove("author_date")
        layout = "apachejit"
    else:
        raise RiskmlError(
            f"{path}: unknown layout; expected the Kamei/ISSTA'21 columns "
            f"({','.join(KAMEI_LAYOUT)}) or the ApacheJIT columns ({','.join(APACHEJIT_LAYOUT)})"
        )
    for column in cols:
        values = raw[column]
        if pd.api.types.is_bool_dtype(values):
            values = values.astype(int)
        elif not pd.api.types.is_numeric_dtype(values):
            values = values.astype(str).str.strip().str.lower().replace({"true": 1, "false": 0})
        frame[rename.get(column, column)] = pd.to_numeric(values, errors="coerce").astype(float)
    bad = frame["author_time"].isna() | frame["label"].isna()
    if bad.all():
        raise RiskmlError(f"{path}: no row has a readable date and label")
    frame = frame[~bad]
    frame["known_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    frame = frame.sort_values("author_time", kind="stable").reset_index(drop=True)
    frame.attrs["layout"] = layout
    frame.attrs["dropped_rows"] = int(bad.sum())
    return frame
