"""``label()``: one row per change, positive when it caused an incident (labels.md).

Links, strongest first: a culprit named in the incidents file; the commit reverted by a revert
that is an incident's fix (listed in ``fix_commits`` or naming the incident id); SZZ from an
incident's fix commits; with no incidents file, proxy SZZ from bug-fix commits and every revert.

``known_at`` is when a link could first be known: the incident's ``opened_at`` for a named
culprit (its commit time if that is later: the file's error, reported); the later of ``opened_at`` and the revert/fix commit time for revert and SZZ links
(tracing needs the fix to exist); the revert/fix commit time for proxy links. A change with
several links takes the strongest source, every incident id, the most severe severity and the
earliest ``known_at``. Links not knowable by the cut-off are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.gitio import ensure_repo
from riskml.label.incidents import severity_rank
from riskml.label.links import (
    SOURCE_RANK,
    SOURCES,
    expand_merges,
    find_reverts,
    incident_mentions,
    read_messages,
)
from riskml.tables import (
    LABELS_COLUMNS,
    as_utc,
    check_table_repository,
    normalize_labels,
    parse_cutoff,
)
from riskml.tables import read_changes as read_table

LABEL_COLUMNS = list(LABELS_COLUMNS)


@dataclass
class LabelResult:
    labels: Any  # pd.DataFrame, columns LABEL_COLUMNS, one row per change in the table's order
    report: dict
    proxy: bool


def read_changes(changes):
    """The changes table from a DataFrame or a Parquet/CSV path, with the columns label needs."""
    if isinstance(changes, str | Path):
        changes = read_table(changes, required=("commit", "author_time"))
    missing = [c for c in ("commit", "author_time") if c not in changes.columns]
    if missing:
        raise RiskmlError(f"changes table lacks column(s): {', '.join(missing)}")
    return changes


class _Links:
    """The links found so far, one dict per (change, source, incident) in the order found."""

    COLUMNS = ["commit", "source", "incident_id", "severity", "known_at", "evidence"]

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, commit, source, iid=None, sev=None, known=None, evidence=None) -> None:
        self.rows.append(
            dict(zip(self.COLUMNS, (commit, source, iid, sev, known, evidence), strict=True))
        )

    def frame(self):
        import pandas as pd

        frame = pd.DataFrame(self.rows, columns=self.COLUMNS)
        frame["known_at"] = pd.to_datetime(frame["known_at"], utc=True)
        return frame


@dataclass
class _History:
    """What label needs from the changes table and the repository, read once."""

    repo: Path
    changes: Any
    shas: list[str]
    commit_time: Any  # pd.Series, UTC
    ctime: dict  # sha -> commit time
    order: list[str]  # the changes' SHAs by author time, oldest first
    messages: dict[str, str]
    reverts: dict[str, str]  # revert -> reverted
    unresolved_reverts: list[str]


def label(
    repo,
    changes,
    incidents=None,
    config: Config | None = None,
    workers: int = 1,
    cache_dir=None,
    cutoff=None,
) -> LabelResult:
    """Label every change of ``changes`` (DataFrame or path) from the history of ``repo``.

    ``incidents``: a path (loaded leniently, skipped records reported) or the DataFrame of
    :func:`load_incidents`; ``None`` means proxy labels. ``cutoff``: the data cut-off (default
    the newest commit time in the table). ``cache_dir``: where SZZ results are kept by fix SHA
    (``None``: no disk cache; one another repository's ``label`` wrote is not used, with a
    :class:`~riskml.label.szz.LabelWarning`). Returns :class:`LabelResult` (labels, report,
    proxy); ``labels.attrs["root_commit"]`` is the repository's identity, which
    :func:`riskml.tables.write_labels` records. A changes table that records another
    repository is a :class:`RiskmlError`.
    ``config`` is trusted: its values are checked when ``riskml.toml`` is read.
    """
    from riskml.label.report import build_report
    from riskml.label.szz import usable_cache

    cfg = config or Config()
    repo = ensure_repo(repo)
    changes = read_changes(changes)
    check_table_repository(changes, repo, "label it with the repository it was mined from")
    root = changes.attrs.get("root_commit") or _root_of(repo)
    cache_dir = usable_cache(cache_dir, root, repo)
    incidents, problems = _load_incidents(incidents, repo)
    proxy = incidents is None
    hist = _read_history(repo, changes)
    cut = parse_cutoff(cutoff) or (hist.commit_time.max() if len(changes) else None)

    links = _Links()
    stats: dict[str, Any] = {
        "reverts": len(hist.reverts) + len(hist.unresolved_reverts),
        "reverts_unresolved": len(hist.unresolved_reverts),
    }
    if proxy:
        szz_jobs, fix_known = _proxy_links(hist, cfg, links), {}
    else:
        szz_jobs, fix_known = _incident_links(hist, incidents, cfg.label, links, stats)
    stats["szz"] = _szz_links(hist, incidents, szz_jobs, fix_known, cfg, workers, cache_dir, links)
    frame = _knowable_by(links.frame(), cut, stats)
    in_table = set(hist.shas)
    culprits_outside = sorted(set(frame.loc[frame["source"] == "culprit", "commit"]) - in_table)
    stats["culprits_outside_table"] = culprits_outside

    window_days = cfg.label.window_days
    labels = _aggregate(hist.shas, hist.commit_time, frame, cut, window_days)
    start = None if proxy else _observed_from(cfg.label.observed_from, incidents)
    if start is not None:
        # a culprit the record names (or an incident's revert) is known whatever its age; the
        # absence of a link, or an SZZ trace into code older than the record, is not evidence
        named = labels["label_source"].isin(["culprit", "revert"]).to_numpy()
        before = (hist.commit_time < start).to_numpy() & ~named
        labels.loc[before, LABEL_COLUMNS[1:]] = None
        labels = normalize_labels(labels)
        stats["observed_from"] = start.isoformat()
        stats["unobserved"] = int(before.sum())
    elif not proxy:
        first = _observed_from("first-incident", incidents)
        if first is not None:
            stats["predate_first_incident"] = int((hist.commit_time < first).sum())
            stats["first_incident"] = first.isoformat()
    report = build_report(
        labels,
        proxy=proxy,
        cutoff=cut,
        window_days=window_days,
        incidents=incidents,
        problems=problems,
        stats=stats,
    )
    labels.attrs["root_commit"] = root
    return LabelResult(labels=labels, report=report, proxy=proxy)


def _root_of(repo: Path) -> str | None:
    """The root commit of ``repo``'s HEAD (a table without identity is labelled from it)."""
    from riskml.gitio import root_commit

    try:
        return root_commit(repo)
    except RiskmlError:  # no HEAD (a detached, unborn or broken one): nothing to record
        return None


def _observed_from(setting: str, incidents):
    """The start of the incident record (a UTC time), or None when every change is observed."""
    import pandas as pd

    if setting == "history":
        return None
    if setting == "first-incident":
        opened = pd.to_datetime(incidents["opened_at"], utc=True, errors="coerce").dropna()
        return opened.min() if len(opened) else None
    return parse_cutoff(setting, name="[label] observed_from")


def _load_incidents(incidents, repo: Path):
    """The incidents DataFrame (or ``None`` for proxy labels) and the problems its file had."""
    from riskml.label.incidents import load_incidents

    if isinstance(incidents, str | Path):
        return load_incidents(incidents, repo)
    if incidents is not None:
        return incidents, list(incidents.attrs.get("problems", []))
    return None, []


def _read_history(repo: Path, changes) -> _History:
    """Times and messages of the changes, and their reverts; changes git lacks are an error."""
    shas = [str(s) for s in changes["commit"]]
    author_time = as_utc(changes["author_time"])
    commit_time = (
        as_utc(changes["commit_time"]) if "commit_time" in changes.columns else author_time
    )
    order = [s for _, s in sorted(zip(author_time, shas, strict=True), key=lambda p: p[0])]
    messages = read_messages(repo, shas)
    unknown = [s for s in shas if s not in messages]
    if unknown:
        raise RiskmlError(
            f"the changes table has {len(unknown)} commit(s) {repo} does not know, e.g. "
            f"{unknown[0]}: was it mined from another repository?"
        )
    reverts, unresolved = find_reverts(repo, order, messages)
    return _History(
        repo=repo,
        changes=changes,
        shas=shas,
        commit_time=commit_time,
        ctime=dict(zip(shas, commit_time, strict=True)),
        order=order,
        messages=messages,
        reverts=reverts,
        unresolved_reverts=unresolved,
    )


def _proxy_links(hist: _History, cfg: Config, links: _Links) -> list[tuple[str, None]]:
    """Without incidents: every revert marks what it reverts; bug fixes go to SZZ."""
    for rv, target in hist.reverts.items():
        links.add(target, "revert", known=hist.ctime[rv], evidence=rv)
    fix_flags = _fix_flags(hist.changes, hist.messages, cfg)
    return [
        (sha, None)
        for sha, is_fix in zip(hist.shas, fix_flags, strict=True)
        if is_fix and sha not in hist.reverts
    ]


def _incident_links(hist: _History, incidents, lcfg, links: _Links, stats: dict):
    """Culprit and revert links of each incident; its other fixes become SZZ jobs.

    Returns the SZZ jobs ``[(fix, incident id)]`` and when each job's link is knowable.
    """
    ctime, reverts = hist.ctime, hist.reverts
    by_id = {r.incident_id: r for r in incidents.itertuples(index=False)}
    fixes_of = _fixes_of(hist, by_id, lcfg.incident_pattern, stats)
    late_culprits: list[str] = []
    stats["culprits_after_incident_opened"] = late_culprits
    extra_times = _times_outside(hist.repo, [f for fs in fixes_of.values() for f in fs], ctime)
    outside = [f for fs in fixes_of.values() for f in fs if f not in ctime]
    outside += [c for r in by_id.values() for c in r.culprit_commits if c not in ctime]
    merges = expand_merges(hist.repo, outside)
    stats["merge_fixes_expanded"] = len(merges)
    szz_jobs: list[tuple[str, str]] = []
    fix_known: dict[tuple[str, str], Any] = {}
    for iid, rec in by_id.items():
        opened = rec.opened_at
        # a merge named as culprit stands for the commits it merged (the pull request)
        culprits = [c for c0 in rec.culprit_commits for c in merges.get(c0, [c0])]
        for c in dict.fromkeys(culprits):
            # A culprit committed after its incident opened is the file's word against
            # the clock: kept, but never known before the change itself existed.
            ct = ctime.get(c)
            if ct is not None and ct > opened:
                late_culprits.append(f"{iid}: {c}")
            links.add(c, "culprit", iid, rec.severity, opened if ct is None else max(opened, ct))
        for landed in fixes_of[iid]:
            ftime = ctime.get(landed, extra_times.get(landed))
            known = max(opened, ftime) if ftime is not None else opened
            # a merge fix stands for the commits it merged, known when it landed
            for f in merges.get(landed, [landed]):
                if f in reverts:
                    links.add(reverts[f], "revert", iid, rec.severity, known, f)
                else:
                    szz_jobs.append((f, iid))
                    fix_known[(f, iid)] = known
    return szz_jobs, fix_known


def _fixes_of(hist: _History, by_id: dict, pattern: str, stats: dict) -> dict[str, list[str]]:
    """Each incident's fix commits: those its record lists, then changes whose message names it."""
    mentions = incident_mentions(hist.messages, pattern)
    fixes_of: dict[str, list[str]] = {iid: list(r.fix_commits) for iid, r in by_id.items()}
    unknown_mentions: set[str] = set()
    for sha in hist.order:
        for iid in mentions.get(sha, []):
            if iid in fixes_of:
                if sha not in fixes_of[iid]:
                    fixes_of[iid].append(sha)
            else:
                unknown_mentions.add(iid)
    stats["unknown_incident_ids_in_messages"] = sorted(unknown_mentions)
    return fixes_of


def _szz_links(hist: _History, incidents, szz_jobs, fix_known, cfg, workers, cache_dir, links):
    """Trace every distinct fix with SZZ (parallel, cached) and link what it blames.

    Returns the report's ``szz`` section.
    """
    from riskml.label.szz import run_szz

    lcfg = cfg.label
    nfiles = _files_per_commit(hist.changes)
    fixes = list(dict.fromkeys(f for f, _ in szz_jobs))
    too_big = {f for f in fixes if nfiles.get(f, 0) > lcfg.szz_max_files}
    traced, szz_stats = run_szz(
        hist.repo,
        [f for f in fixes if f not in too_big],
        ignore_comments=lcfg.szz_ignore_comments,
        workers=workers,
        cache_dir=cache_dir,
        skip_globs=list(cfg.mine.test_globs) if lcfg.szz_skip_tests else None,
    )
    too_big |= {f for f, row in traced.items() if row["n_files"] > lcfg.szz_max_files}
    by_id = (
        {} if incidents is None else {r.incident_id: r for r in incidents.itertuples(index=False)}
    )
    in_table = set(hist.shas)
    dropped_after_open = 0
    outside_table = 0
    fix_times = _times_outside(hist.repo, fixes, hist.ctime)
    for f, iid in szz_jobs:
        if f in too_big or f not in traced:
            continue
        ftime = hist.ctime.get(f, fix_times.get(f))
        cands = sorted({c for cs in traced[f]["candidates"].values() for c in cs})
        for c in cands:
            if c not in in_table:
                outside_table += 1
                continue
            if iid is None:
                links.add(c, "szz_fix", known=ftime, evidence=f)
                continue
            rec = by_id[iid]
            if hist.ctime[c] >= rec.opened_at:
                dropped_after_open += 1
                continue
            links.add(c, "szz_incident", iid, rec.severity, fix_known[(f, iid)], f)
    return {
        "fix_commits": len(fixes),
        "skipped_too_many_files": len(too_big),
        "traced": szz_stats["traced"],
        "cached": szz_stats["cached"],
        "candidates_after_incident_opened": dropped_after_open,
        "candidates_outside_table": outside_table,
        "max_files": lcfg.szz_max_files,
    }


def _knowable_by(frame, cut, stats: dict):
    """The links knowable by the cut-off ``cut``; how many were not goes into ``stats``."""
    not_yet = 0
    if cut is not None and len(frame):
        late = frame["known_at"] > cut
        not_yet = int(late.sum())
        frame = frame[~late]
    stats["links_after_cutoff"] = not_yet
    return frame


def _aggregate(shas, commit_time, links, cut, window_days):
    """One row per change from its links, then the window rule for the rest."""
    import pandas as pd

    best: dict[str, dict] = {}
    for row in links.itertuples(index=False):
        b = best.setdefault(
            row.commit, {"rank": 99, "ids": set(), "sev": None, "known": None, "ev": set()}
        )
        b["rank"] = min(b["rank"], SOURCE_RANK[row.source])
        if isinstance(row.incident_id, str):
            b["ids"].add(row.incident_id)
        sev = row.severity if isinstance(row.severity, str) else None
        if severity_rank(sev) < severity_rank(b["sev"]):
            b["sev"] = sev
        if b["known"] is None or row.known_at < b["known"]:
            b["known"] = row.known_at
        if isinstance(row.evidence, str):
            b["ev"].add(row.evidence)
    horizon = cut - pd.Timedelta(days=window_days) if cut is not None else None
    out = []
    for sha, t in zip(shas, commit_time, strict=True):
        b = best.get(sha)
        if b is not None:
            out.append(
                (
                    sha,
                    1,
                    SOURCES[b["rank"]],
                    ";".join(sorted(b["ids"])) or None,
                    b["sev"],
                    b["known"],
                    ";".join(sorted(b["ev"])) or None,
                )
            )
        else:
            lab = 0 if horizon is not None and t <= horizon else None
            out.append((sha, lab, None, None, None, None, None))
    return normalize_labels(pd.DataFrame(out, columns=LABEL_COLUMNS))


def _files_per_commit(changes) -> dict[str, int]:
    if "nf" in changes.columns:
        return {str(s): int(n) for s, n in zip(changes["commit"], changes["nf"], strict=True)}
    if "files" in changes.columns:
        return {
            str(s): len([p for p in str(f).split(";") if p]) if isinstance(f, str) else 0
            for s, f in zip(changes["commit"], changes["files"], strict=True)
        }
    return {}


def _fix_flags(changes, messages, cfg: Config) -> list[bool]:
    if "fix" in changes.columns:
        import pandas as pd

        return [False if pd.isna(v) else bool(v) for v in changes["fix"]]
    rx = re.compile(cfg.mine.fix_pattern)
    return [bool(rx.search(messages.get(str(s), ""))) for s in changes["commit"]]


def _times_outside(repo, shas, ctime) -> dict:
    """Commit times (UTC) of commits not in the changes table."""
    import pandas as pd

    from riskml.label.szz import commit_times

    missing = [s for s in dict.fromkeys(shas) if s not in ctime]
    return {s: pd.Timestamp(t, unit="s", tz="UTC") for s, t in commit_times(repo, missing).items()}
