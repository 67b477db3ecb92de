"""The incidents file: CSV, JSON array or JSONL, one record per incident (labels.md).

Every record is validated at this boundary. A bad record (missing field, unparsable date, bad
severity, malformed or unknown SHA, ambiguous prefix, duplicate id) is reported with its line
(CSV, JSONL) or record number and id (JSON array) and skipped, so one bad row never loses the
good ones; ``strict=True`` turns the first report into a :class:`RiskmlError`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskml.errors import RiskmlError
from riskml.gitio import ensure_repo, run_git

# the fields of the incidents file (labels.md), in the order riskml writes them
INCIDENT_FIELDS = [
    "incident_id",
    "opened_at",
    "severity",
    "culprit_commits",
    "fix_commits",
    "title",
    "service",
]
# the loaded table: the fields plus where each record stood in the file (line or record number)
INCIDENT_COLUMNS = [*INCIDENT_FIELDS, "where"]
REQUIRED = ("incident_id", "opened_at")
SHA_FIELDS = ("culprit_commits", "fix_commits")

_HEX_RE = re.compile(r"^[0-9a-fA-F]{7,40}$")
_SEV_RE = re.compile(r"^(?:sev)?\s*([1-4])$", re.IGNORECASE)
_SPLIT_RE = re.compile(r"[;,\s]+")


@dataclass
class _Record:
    where: str  # "line 3" / "record 2"
    data: dict[str, Any]
    problems: list[str] = field(default_factory=list)


def parse_severity(value: Any) -> str | None:
    """``SEV1``…``SEV4`` or 1–4 (any case, int or str) -> ``"SEV<n>"``; empty -> None.

    Raises ValueError for anything else.
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        if float(value).is_integer() and 1 <= int(value) <= 4:
            return f"SEV{int(value)}"
        raise ValueError(value)
    text = str(value).strip()
    if not text:
        return None
    m = _SEV_RE.match(text)
    if not m:
        raise ValueError(value)
    return f"SEV{m.group(1)}"


def severity_rank(sev: str | None) -> int:
    """1 for SEV1 (most severe) … 4; 99 for no severity."""
    return int(sev[3:]) if sev else 99


def parse_time(value: Any):
    """ISO-8601 -> tz-aware UTC ``pd.Timestamp`` (naive times are taken as UTC)."""
    import pandas as pd

    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("empty")
    if isinstance(value, bool | int | float):
        raise ValueError(value)
    ts = pd.Timestamp(str(value).strip())
    if ts is pd.NaT:
        raise ValueError(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _split_shas(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, list | tuple):
        out: list[str] = []
        for v in value:
            out.extend(_split_shas(v))
        return out
    return [s for s in _SPLIT_RE.split(str(value).strip()) if s]


def _sniff_format(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    head = text.lstrip()[:1]
    if suffix == ".json":
        return "json" if head == "[" else "jsonl"
    if head == "[":
        return "json"
    if head == "{":
        return "jsonl"
    return "csv"


def _read_records(path: Path, text: str) -> tuple[list[_Record], list[str]]:
    """Raw records with their location; file-level problems (not JSON, no header…)."""
    kind = _sniff_format(path, text)
    records: list[_Record] = []
    problems: list[str] = []
    if kind == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames:
            return [], []
        reader.fieldnames = [(f or "").strip() for f in reader.fieldnames]
        for row in reader:
            where = f"line {reader.line_num}"  # csv skips blank lines; this is the row's own
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # a blank line is not a record
            data = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
            records.append(_Record(where, data))
    elif kind == "json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RiskmlError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(items, list):
            raise RiskmlError(f"{path}: a JSON incidents file must be an array of objects")
        for i, item in enumerate(items, start=1):
            if isinstance(item, dict):
                records.append(_Record(f"record {i}", item))
            else:
                problems.append(f"record {i}: not an object")
    else:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"line {lineno}: not valid JSON")
                continue
            if isinstance(item, dict):
                records.append(_Record(f"line {lineno}", item))
            else:
                problems.append(f"line {lineno}: not an object")
    return records, problems


def resolve_commits(repo: str | Path, shas: list[str]) -> dict[str, str]:
    """Resolve SHAs or prefixes to full commit SHAs in one or two batched ``cat-file`` calls.

    Returns ``{given: full sha | "missing" | "ambiguous" | "not-a-commit"}``. A prefix shared by
    a commit and a non-commit object is retried with ``^{commit}`` (which git disambiguates).
    """
    given = sorted({s.lower() for s in shas})
    if not given:
        return {}
    out: dict[str, str] = {}
    raw = run_git(
        repo, "cat-file", "--batch-check", input="".join(f"{s}\n" for s in given).encode()
    )
    retry: list[str] = []
    for sha, line in zip(given, raw.decode().splitlines(), strict=True):
        parts = line.split()
        if parts[-1] == "missing":
            out[sha] = "missing"
        elif parts[-1] == "ambiguous":
            retry.append(sha)
        elif parts[1] != "commit":
            out[sha] = "not-a-commit"
        else:
            out[sha] = parts[0]
    if retry:
        raw = run_git(
            repo,
            "cat-file",
            "--batch-check",
            input="".join(f"{s}^{{commit}}\n" for s in retry).encode(),
        )
        for sha, line in zip(retry, raw.decode().splitlines(), strict=True):
            parts = line.split()
            out[sha] = parts[0] if len(parts) == 3 and parts[1] == "commit" else "ambiguous"
    return out


def _record_label(rec: _Record) -> str:
    iid = rec.data.get("incident_id")
    return f"{rec.where} ({iid})" if iid not in (None, "") and "record" in rec.where else rec.where


def load_incidents(path: str | Path, repo: str | Path, strict: bool = False):
    """Read and validate an incidents file against ``repo``.

    Returns ``(incidents, problems)``: a DataFrame with columns ``incident_id``, ``opened_at``
    (UTC), ``severity`` (``SEV1``…``SEV4`` or missing), ``culprit_commits`` and ``fix_commits``
    (lists of full SHAs), ``title``, ``service``, ``where`` (the record's line or number), and
    one message per skipped record. The problems are also kept in ``incidents.attrs["problems"]``
    so :func:`riskml.label.label` can report them. ``strict`` raises :class:`RiskmlError` on
    the first problem instead.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise RiskmlError(f"incidents file not found: {path}")
    repo = ensure_repo(repo)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise RiskmlError(f"{path}: not UTF-8 text") from None
    if "\x00" in text:
        raise RiskmlError(f"{path}: holds NUL bytes: not a text incidents file")
    try:
        records, problems = _read_records(path, text)
    except RecursionError:
        raise RiskmlError(f"{path}: JSON nested too deeply to be an incidents file") from None
    except csv.Error as exc:
        raise RiskmlError(f"{path}: not a readable CSV incidents file ({exc})") from None

    # Field checks that need no git, collecting every SHA for one batched resolve.
    wanted: list[str] = []
    for rec in records:
        d = rec.data
        for name in REQUIRED:
            v = d.get(name)
            if v is None or (isinstance(v, str) and not v.strip()):
                rec.problems.append(f"missing {name}")
        if d.get("incident_id") is not None:
            d["incident_id"] = str(d["incident_id"]).strip()
        if d.get("opened_at") not in (None, ""):
            try:
                d["opened_at"] = parse_time(d["opened_at"])
            except (ValueError, TypeError, OverflowError):
                rec.problems.append(f"unparsable opened_at {d['opened_at']!r}")
        try:
            d["severity"] = parse_severity(d.get("severity"))
        except ValueError:
            rec.problems.append(f"bad severity {d.get('severity')!r} (SEV1..SEV4 or 1-4)")
        for name in SHA_FIELDS:
            shas = _split_shas(d.get(name))
            bad = [s for s in shas if not _HEX_RE.match(s)]
            for s in bad:
                rec.problems.append(f"malformed SHA {s!r} in {name} (7-40 hex digits)")
            d[name] = [s.lower() for s in shas]
            wanted.extend(s for s in shas if _HEX_RE.match(s))

    resolved = resolve_commits(repo, wanted)
    seen: dict[str, str] = {}
    rows = []
    for rec in records:
        d = rec.data
        if not rec.problems:
            for name in SHA_FIELDS:
                full = []
                for s in d[name]:
                    r = resolved[s]
                    if r == "ambiguous":
                        rec.problems.append(f"ambiguous SHA prefix {s!r} in {name}")
                    elif r in ("missing", "not-a-commit"):
                        rec.problems.append(f"unknown commit {s!r} in {name}")
                    elif r not in full:
                        full.append(r)
                d[name] = full
        if not rec.problems:
            iid = d["incident_id"]
            if iid in seen:
                rec.problems.append(f"duplicate incident_id {iid!r} (first at {seen[iid]})")
            else:
                seen[iid] = rec.where
        if rec.problems:
            problems.append(f"{_record_label(rec)}: {'; '.join(rec.problems)}")
            continue
        rows.append(
            {
                "incident_id": d["incident_id"],
                "opened_at": d["opened_at"],
                "severity": d["severity"],
                "culprit_commits": d["culprit_commits"],
                "fix_commits": d["fix_commits"],
                "title": _text(d.get("title")),
                "service": _text(d.get("service")),
                "where": rec.where,
            }
        )
    problems.sort(key=_location)
    if not rows:
        # a file of the wrong kind (other columns, another separator, an empty export) would
        # otherwise label every change as if no incident had ever happened
        first = f"; first: {problems[0]}" if problems else ""
        raise RiskmlError(
            f"{path}: no usable incident record ({len(records)} record(s) read{first}); "
            f"each needs {', '.join(REQUIRED)} (without incidents, leave --incidents out)"
        )
    if strict and problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RiskmlError(f"{path}: {problems[0]}{more}")
    frame = pd.DataFrame(rows, columns=INCIDENT_COLUMNS)
    frame["opened_at"] = pd.to_datetime(frame["opened_at"], utc=True)
    for col in ("incident_id", "severity", "title", "service", "where"):
        frame[col] = frame[col].astype("string")
    frame.attrs["problems"] = list(problems)
    return frame, problems


def _location(problem: str) -> int:
    m = re.match(r"(?:line|record) (\d+)", problem)
    return int(m.group(1)) if m else 0


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def incidents_from_fixes(
    path: str | Path,
    repo: str | Path,
    *,
    issue_column: str = "issue_key",
    commit_column: str = "commit_id",
    opened_column: str | None = "opened_at",
) -> tuple[list[dict], list[str]]:
    """An issue tracker's export of fixed issues as incident records (labels.md's fields).

    ``path``: a CSV with one row per (issue, fix commit) — Jira, GitHub or ApacheJIT exports have
    this shape — and optionally an opening time per issue. Each issue becomes one incident whose
    ``fix_commits`` are its commits found in ``repo``; ``opened_at`` is the export's opening time
    when it has one, else the earliest fix commit's committer time (the issue was known by then
    at the latest, so SZZ never blames a change made after it). Rows with an unknown or
    ambiguous SHA are skipped and reported; an issue left with no commit is dropped and reported.
    Returns ``(records, problems)``, records sorted by ``opened_at`` then id.
    """
    path = Path(path)
    if not path.is_file():
        raise RiskmlError(f"fixes file not found: {path}")
    text = path.read_bytes().decode("utf-8", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    for name in (issue_column, commit_column):
        if name not in columns:
            raise RiskmlError(f"{path}: no {name!r} column (columns: {', '.join(columns)})")
    rows = [(n + 2, row) for n, row in enumerate(reader)]
    problems: list[str] = []
    wanted = []
    for lineno, row in rows:
        sha = (row.get(commit_column) or "").strip()
        if not _HEX_RE.match(sha):
            problems.append(f"line {lineno}: {commit_column} {sha!r} is not a SHA")
        else:
            wanted.append(sha)
    resolved = resolve_commits(repo, wanted)
    fixes: dict[str, list[str]] = {}
    opened: dict[str, str] = {}
    for lineno, row in rows:
        issue = (row.get(issue_column) or "").strip()
        sha = (row.get(commit_column) or "").strip().lower()
        if not issue or sha not in resolved:
            if not issue:
                problems.append(f"line {lineno}: empty {issue_column}")
            continue
        full = resolved[sha]
        if len(full) != 40:
            problems.append(f"line {lineno} ({issue}): commit {sha} is {full} in {repo}")
            continue
        fixes.setdefault(issue, [])
        if full not in fixes[issue]:
            fixes[issue].append(full)
        when = (row.get(opened_column) or "").strip() if opened_column else ""
        if when and issue not in opened:
            try:
                opened[issue] = parse_time(when).isoformat().replace("+00:00", "Z")
            except ValueError:
                problems.append(f"line {lineno} ({issue}): {opened_column} {when!r} is not a time")
    times = _commit_times(repo, sorted({s for shas in fixes.values() for s in shas}))
    records = []
    for issue, shas in fixes.items():
        when = opened.get(issue)
        if when is None:
            when = _iso_utc(min(times[s] for s in shas))
        records.append({"incident_id": issue, "opened_at": when, "fix_commits": shas})
    records.sort(key=lambda r: (parse_time(r["opened_at"]), r["incident_id"]))
    return records, problems


def _commit_times(repo: str | Path, shas: list[str]) -> dict[str, int]:
    """Committer time (epoch seconds) of each commit, read in one batched ``cat-file``."""
    from riskml.gitio import read_objects

    out: dict[str, int] = {}
    for sha, (_kind, body) in read_objects(repo, shas).items():
        for line in body.split(b"\n"):
            if line.startswith(b"committer "):
                out[sha] = int(line.rsplit(b" ", 2)[-2])
                break
            if not line:
                break
    return out


def _iso_utc(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def write_incidents(records: list[dict], path: str | Path) -> Path:
    """Write incident records as the incidents CSV of labels.md (lists ``;``-joined), atomically."""
    from riskml.tables import atomic_write

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=INCIDENT_FIELDS, lineterminator="\n")
            writer.writeheader()
            for record in records:
                row = {key: record.get(key) for key in INCIDENT_FIELDS}
                for key in SHA_FIELDS:
                    if isinstance(row[key], list):
                        row[key] = ";".join(row[key])
                writer.writerow({k: ("" if v is None else v) for k, v in row.items()})

    return atomic_write(path, write)
