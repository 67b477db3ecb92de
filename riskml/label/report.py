"""The label report: what was labelled, from which evidence, and what was skipped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from riskml.label.links import SOURCES

# Kinds of skipped incident records, for counting (the messages keep the detail).
_REASONS = (
    ("missing_field", re.compile(r"missing (incident_id|opened_at)")),
    ("bad_date", re.compile(r"unparsable opened_at")),
    ("bad_severity", re.compile(r"bad severity")),
    ("malformed_sha", re.compile(r"malformed SHA")),
    ("ambiguous_sha", re.compile(r"ambiguous SHA prefix")),
    ("unknown_sha", re.compile(r"unknown commit")),
    ("duplicate_id", re.compile(r"duplicate incident_id")),
    ("not_json", re.compile(r"not valid JSON|not an object")),
)


def reason_counts(problems: list[str]) -> dict[str, int]:
    """How many skipped records had each kind of problem (a record may have several)."""
    counts: dict[str, int] = {}
    for msg in problems:
        for name, rx in _REASONS:
            if rx.search(msg):
                counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def build_report(
    labels,
    proxy: bool,
    cutoff,
    window_days: int,
    incidents,
    problems: list[str],
    stats: dict[str, Any],
) -> dict:
    """The report as a JSON-able dict (written as ``labels.report.json`` beside the table)."""
    lab = labels["label"]
    pos = labels[lab == 1]
    n_pos = int((lab == 1).sum())
    n_neg = int((lab == 0).sum())
    n_unknown = int(lab.isna().sum())
    by_source = {s: int((pos["label_source"] == s).sum()) for s in SOURCES}
    by_severity: dict[str, int] = {}
    for sev in ("SEV1", "SEV2", "SEV3", "SEV4"):
        by_severity[sev] = int((pos["severity"] == sev).sum())
    by_severity["none"] = int(pos["severity"].isna().sum())
    report: dict[str, Any] = {
        "proxy": bool(proxy),
        "cutoff": cutoff.isoformat() if cutoff is not None else None,
        "window_days": int(window_days),
        "changes": len(labels),
        "positives": n_pos,
        "negatives": n_neg,
        "unknown": n_unknown,
        "share_positive": round(n_pos / (n_pos + n_neg), 6) if n_pos + n_neg else None,
        "positives_by_source": by_source,
        "positives_by_severity": by_severity,
    }
    if incidents is not None:
        linked: set[str] = set()
        for ids in pos["incident_ids"].dropna():
            linked.update(ids.split(";"))
        all_ids = list(incidents["incident_id"])
        report["incidents"] = {
            "loaded": len(all_ids),
            "skipped": len(problems),
            "linked": sum(1 for i in all_ids if i in linked),
            "unlinked": [i for i in all_ids if i not in linked],
        }
    report["skipped_records"] = list(problems)
    report["skipped_by_reason"] = reason_counts(problems)
    report.update(stats)
    return report


def label_counts(labels) -> dict:
    """Positive / negative / not-yet-known changes and distinct incidents linked."""
    import pandas as pd

    from riskml.tables import split_list

    values = pd.to_numeric(labels["label"], errors="coerce") if len(labels) else pd.Series([])
    ids: set[str] = set()
    if "incident_ids" in labels.columns:
        for value in labels["incident_ids"].dropna():
            ids.update(split_list(value))
    return {
        "positive": int((values == 1).sum()),
        "negative": int((values == 0).sum()),
        "unknown": int(values.isna().sum()),
        "incidents_linked": len(ids),
    }


# share of the changes older than the first incident from which format_report suggests
# [label] observed_from = "first-incident"
EARLY_SHARE_HINT = 0.2


def write_report(report: dict, path: str | Path) -> Path:
    """Write ``labels.report.json`` atomically (through :func:`riskml.tables.write_json`)."""
    from riskml.tables import write_json

    return write_json(report, path)


def report_path(labels_path: str | Path) -> Path:
    """``labels.parquet`` -> ``labels.report.json`` beside it."""
    p = Path(labels_path)
    return p.with_name(f"{p.name.split('.', 1)[0]}.report.json")


def format_report(report: dict) -> str:
    """Human-readable summary for the CLI."""
    lines = []
    mode = "PROXY labels (no incidents file)" if report["proxy"] else "incident labels"
    lines.append(
        f"{mode}: {report['changes']} changes, cut-off {report['cutoff']}, "
        f"window {report['window_days']} days"
    )
    share = report["share_positive"]
    share_txt = f"{share:.1%}" if share is not None else "n/a"
    lines.append(
        f"  positive {report['positives']}  negative {report['negatives']}  "
        f"unknown (too young) {report['unknown']}  share positive {share_txt}"
    )
    if report.get("unobserved"):
        lines.append(
            f"  unobserved (older than the incident record, {report['observed_from']}): "
            f"{report['unobserved']}, counted as unknown"
        )
    early = report.get("predate_first_incident") or 0
    if report["changes"] and early / report["changes"] >= EARLY_SHARE_HINT:
        lines.append(
            f"  note: {early} changes predate the first incident ({report['first_incident']}) "
            "and count as clean; if the record starts there, set [label] observed_from = "
            '"first-incident"'
        )
    src = ", ".join(f"{k} {v}" for k, v in report["positives_by_source"].items() if v)
    lines.append(f"  positives by source: {src or 'none'}")
    sev = ", ".join(f"{k} {v}" for k, v in report["positives_by_severity"].items() if v)
    lines.append(f"  positives by severity: {sev or 'none'}")
    if "incidents" in report:
        inc = report["incidents"]
        lines.append(
            f"  incidents: {inc['loaded']} loaded, {inc['linked']} linked to a change, "
            f"{inc['skipped']} records skipped"
        )
    szz = report.get("szz", {})
    if szz:
        lines.append(
            f"  SZZ: {szz['fix_commits']} fix commits ({szz['traced']} traced, "
            f"{szz['cached']} cached, {szz['skipped_too_many_files']} over "
            f"{szz['max_files']} files); {szz['candidates_after_incident_opened']} candidates "
            f"dropped as newer than their incident"
        )
    if report["skipped_records"]:
        why = ", ".join(f"{k} {v}" for k, v in report["skipped_by_reason"].items())
        lines.append(f"  skipped incident records: {len(report['skipped_records'])} ({why})")
    return "\n".join(lines)
