"""The manager's one-screen summary of the scored history.

Four questions, answered from the changes' own risk and labels, over calendar weeks (Monday to
Sunday, UTC, of ``author_time``) counted back from the week of the newest change:

* **risk now** — the mean risk of the last 4 weeks against the 4 and the 12 weeks before them,
  each difference with a bootstrap interval and a direction (up, down, no clear change);
* **the riskiest critical areas** in the last 4 weeks;
* **AI-provenance against human changes** over the last 13 weeks (mean risk, counts, the
  difference's interval), or "too few AI changes to tell"; and over the whole history, by
  provenance class, the mean risk and the incident rate (labels final by the horizon) with
  their intervals, each AI class against human changes in words
  (:mod:`riskml.train.by_provenance`: too few changes or incidents to tell, no measurable
  difference, higher, lower);
* **incidents** caused by each 4 weeks' changes, per week, the blocks still inside the
  labelling window (``[label] window_days``) marked not final.

:func:`manager_summary` computes it as a plain JSON-able dict; :func:`summary_text` renders it
for a terminal (80 columns), :func:`summary_markdown` for the MLflow run's description, and
:func:`summary_metrics` as the run's ``summary.*`` metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskml.fmt import number_text
from riskml.tables import split_list
from riskml.train.by_provenance import comparison_text, provenance_lines, provenance_report
from riskml.trends.table import AI_CLASSES, commit_times, label_horizon

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

NOW_WEEKS = 4
BEFORE_WEEKS = (4, 12)
AI_WEEKS = 13
# fewer AI-marked (or human) changes than this in AI_WEEKS: no comparison is made
MIN_GROUP = 20
TOP_AREAS = 3
INCIDENT_BLOCKS = 6  # blocks of NOW_WEEKS weeks in the incidents row (half a year)
RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
# the tiers counted as "high or critical"
HIGH_TIERS = ("high", "critical")
DIRECTION_WORDS = {"up": "up", "down": "down", "flat": "no clear change"}
AI_WORDS = {
    "riskier": "AI-marked changes are riskier",
    "safer": "AI-marked changes are less risky",
    "same": "no clear difference",
}


# --------------------------------------------------------------------------- computing


def mean_difference(
    a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, float]:
    """``mean(a) - mean(b)`` with a percentile bootstrap interval (each sample resampled alone).

    Returns ``{"difference", "low", "high"}``; the interval is ``LEVEL`` wide, from
    ``resamples`` draws of a generator seeded with ``seed`` (the same inputs, the same interval).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    means_a = a[rng.integers(0, len(a), size=(resamples, len(a)))].mean(axis=1)
    means_b = b[rng.integers(0, len(b), size=(resamples, len(b)))].mean(axis=1)
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(means_a - means_b, [tail, 1 - tail])
    return {"difference": float(a.mean() - b.mean()), "low": float(low), "high": float(high)}


def _direction(diff: dict[str, float], up: str, down: str, flat: str) -> str:
    if diff["low"] > 0:
        return up
    if diff["high"] < 0:
        return down
    return flat


def manager_summary(
    scored: pd.DataFrame,
    *,
    window_days: int,
    areas: list[str] | tuple[str, ...] = (),
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict[str, Any]:
    """The summary of ``scored`` (the frame of :func:`riskml.trends.score_history`).

    ``window_days`` is the labelling window (``[label] window_days``); ``areas`` the critical
    areas to rank (those of ``[critical_paths]`` and any seen). Keys: ``cutoff``, ``horizon``,
    ``changes``, ``risk``, ``areas``, ``ai``, ``provenance`` (the whole history by class:
    :func:`riskml.train.by_provenance.provenance_report`, incident rates over the changes
    committed by the horizon, ``labels_final_to`` that horizon, None without labels),
    ``incidents`` (None without labels); every time an ISO date, every number a plain float or
    int.
    """
    import pandas as pd

    frame = scored.reset_index(drop=True)
    times = pd.to_datetime(frame["author_time"], utc=True).dt.tz_convert(None)
    week = times.dt.to_period("W")
    last = week.max()
    offset = (last - week).map(lambda d: d.n).to_numpy()  # 0 = the newest week
    cutoff, horizon = label_horizon(frame, window_days)
    risk = frame["risk"].to_numpy(dtype=float)

    def weeks(back: int, n: int) -> dict[str, Any]:
        """The ``n`` weeks that end ``back`` weeks before the newest one."""
        return {
            "mask": (offset >= back) & (offset < back + n),
            "from": (last - (back + n - 1)).start_time.date().isoformat(),
            "to": (last - back).end_time.date().isoformat(),
            "weeks": n,
        }

    now = weeks(0, NOW_WEEKS)
    high = frame["tier"].isin(HIGH_TIERS).to_numpy()
    return {
        "cutoff": cutoff.isoformat(),
        "horizon": horizon.isoformat(),
        "window_days": int(window_days),
        "changes": len(frame),
        "first": times.min().date().isoformat(),
        "last": times.max().date().isoformat(),
        "risk": _risk_now(risk, high, now, [weeks(NOW_WEEKS, n) for n in BEFORE_WEEKS], resamples, seed),
        "areas": _areas(frame, risk, high, now["mask"], weeks(NOW_WEEKS, BEFORE_WEEKS[-1])["mask"], areas),
        "ai": _ai_against_human(frame, risk, weeks(0, AI_WEEKS), resamples, seed),
        "provenance": _by_provenance(frame, risk, horizon, resamples, seed),
        "incidents": _incidents(frame, offset, last, horizon) if "label" in frame.columns else None,
    }  # fmt: skip


def _window(part: dict[str, Any], risk: np.ndarray, high: np.ndarray) -> dict[str, Any]:
    mask = part["mask"]
    n = int(mask.sum())
    return {
        "from": part["from"],
        "to": part["to"],
        "weeks": part["weeks"],
        "changes": n,
        "mean_risk": float(risk[mask].mean()) if n else None,
        "high_share": float(high[mask].mean()) if n else None,
    }


def _risk_now(risk, high, now, before, resamples: int, seed: int) -> dict[str, Any]:
    current = _window(now, risk, high)
    out = {"now": current, "before": []}
    for part in before:
        row = _window(part, risk, high)
        if current["changes"] and row["changes"]:
            diff = mean_difference(risk[now["mask"]], risk[part["mask"]], resamples, seed)
            row.update(diff, direction=_direction(diff, "up", "down", "flat"))
        out["before"].append(row)
    return out


def _areas(frame, risk, high, now_mask, before_mask, names) -> list[dict[str, Any]]:
    """Areas with a change in the last weeks, riskiest first (ties by name), at most TOP_AREAS."""
    import numpy as np

    touched = [set(split_list(v)) for v in frame["critical_areas"].tolist()]
    rows = []
    for name in sorted(set(names).union(*touched)):
        inside = np.array([name in t for t in touched], dtype=bool)
        mask, earlier = inside & now_mask, inside & before_mask
        if not mask.any():
            continue
        rows.append(
            {
                "area": name,
                "changes": int(mask.sum()),
                "mean_risk": float(risk[mask].mean()),
                "high_changes": int(high[mask].sum()),
                "before_mean_risk": float(risk[earlier].mean()) if earlier.any() else None,
            }
        )
    rows.sort(key=lambda r: (-r["mean_risk"], r["area"]))
    return rows[:TOP_AREAS]


def _ai_against_human(frame, risk, part, resamples: int, seed: int) -> dict[str, Any]:
    provenance = frame["ai_provenance"].to_numpy()
    ai = part["mask"] & frame["ai_provenance"].isin(AI_CLASSES).to_numpy()
    human = part["mask"] & (provenance == "human")
    out: dict[str, Any] = {
        "from": part["from"],
        "to": part["to"],
        "weeks": part["weeks"],
        "min_changes": MIN_GROUP,
        "ai_changes": int(ai.sum()),
        "human_changes": int(human.sum()),
        "ai_mean_risk": float(risk[ai].mean()) if ai.any() else None,
        "human_mean_risk": float(risk[human].mean()) if human.any() else None,
    }
    if min(out["ai_changes"], out["human_changes"]) < MIN_GROUP:
        out["verdict"] = "too_few"
        return out
    diff = mean_difference(risk[ai], risk[human], resamples, seed)
    out.update(diff, verdict=_direction(diff, "riskier", "safer", "same"))
    return out


def _by_provenance(frame, risk, horizon, resamples: int, seed: int) -> dict[str, Any]:
    """Every scored change by provenance class; a label counts only when final (the change was
    committed by the horizon), so a class's incident rate is not raised by the positives the
    labelling window already shows while its negatives are still unknown."""
    import numpy as np
    import pandas as pd

    label = None
    if "label" in frame.columns:
        label = pd.to_numeric(frame["label"], errors="coerce").to_numpy(dtype=float).copy()
        label[(commit_times(frame) > horizon).to_numpy()] = np.nan
    report = provenance_report(
        frame["ai_provenance"].tolist(), risk, label, resamples=resamples, seed=seed
    )
    report["labels_final_to"] = horizon.isoformat() if label is not None else None
    return report


def _incidents(frame, offset, last, horizon) -> dict[str, Any]:
    """Incidents caused by each block of NOW_WEEKS weeks' changes, newest block last.

    Distinct incident ids when the labels carry any (an incidents file), else the changes
    labelled 1 (proxy labels). A block is final when its last week ended by the horizon.
    """
    import pandas as pd

    ids = [split_list(v) for v in frame.get("incident_ids", pd.Series([""] * len(frame)))]
    by_ids = any(ids)
    positive = (pd.to_numeric(frame["label"], errors="coerce") == 1).to_numpy()
    horizon_naive = horizon.tz_convert(None)
    blocks = []
    for k in reversed(range(INCIDENT_BLOCKS)):
        back = k * NOW_WEEKS
        start_week, end_week = last - (back + NOW_WEEKS - 1), last - back
        mask = (offset >= back) & (offset < back + NOW_WEEKS)
        if by_ids:
            count = len({i for keep, row in zip(mask, ids, strict=True) if keep for i in row})
        else:
            count = int(positive[mask].sum())
        blocks.append(
            {
                "from": start_week.start_time.date().isoformat(),
                "to": end_week.end_time.date().isoformat(),
                "changes": int(mask.sum()),
                "count": count,
                "per_week": count / NOW_WEEKS,
                "final": bool(end_week.end_time <= horizon_naive),
            }
        )
    return {"unit": "incidents" if by_ids else "incident-causing changes", "blocks": blocks}


# --------------------------------------------------------------------------- rendering


def _num(value: Any, digits: int = 3) -> str:
    return number_text(value, digits, "n/a")


def _signed(value: float) -> str:
    return f"{value:+.3f}"


def _interval(row: dict[str, Any]) -> str:
    return f"{_signed(row['difference'])} [{_signed(row['low'])}, {_signed(row['high'])}]"


def _percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def _share(value: Any) -> str:
    return "n/a" if value is None else _percent(value)


def _short(iso: str) -> str:
    return iso[5:10]  # MM-DD


def _title(summary: dict[str, Any], head: dict[str, Any]) -> str:
    model = head.get("model") or ""
    return (
        f"riskml trends: {head.get('repo', 'repo')}, {summary['changes']} changes "
        f"to {summary['last']}" + (f", model {model}" if model else "")
    )


def summary_text(summary: dict[str, Any], head: dict[str, Any] | None = None) -> str:
    """The summary as plain text, every line at most 80 columns.

    ``head``: ``repo`` and ``model`` (``"change-risk v3"``) for the first line.
    """
    head = head or {}
    risk = summary["risk"]
    now = risk["now"]
    lines = [_title(summary, head)]
    lines.append(
        f"Risk now: mean {_num(now['mean_risk'])} in the last {now['weeks']} weeks "
        f"({now['from']} .. {now['to']}: {now['changes']} changes)"
    )
    lines.append(
        f"  {'against':<20} {'mean':>5}  {'changes':>7}  {'difference [interval]':<26} direction"
    )
    for row in risk["before"]:
        has = "difference" in row
        lines.append(
            f"  {'the ' + str(row['weeks']) + ' weeks before':<20} {_num(row['mean_risk']):>5}  "
            f"{row['changes']:>7}  {_interval(row) if has else 'n/a':<26} "
            + (DIRECTION_WORDS[row["direction"]] if has else "n/a")
        )
    before = risk["before"][-1]
    lines.append(
        f"  high or critical: {_share(now['high_share'])} of the last {now['weeks']} weeks' "
        f"changes, {_share(before['high_share'])} in the {before['weeks']} before"
    )
    title = f"Riskiest critical areas, last {now['weeks']} weeks"
    lines.append(
        f"{title:<38}{'changes':>8}{'mean':>7}{str(before['weeks']) + ' wk before':>14}{'high+':>7}"
    )
    if not summary["areas"]:
        lines.append("  none touched")
    for area in summary["areas"]:
        lines.append(
            f"  {area['area'][:35]:<36}{area['changes']:>8}{_num(area['mean_risk']):>7}"
            f"{_num(area['before_mean_risk']):>14}{area['high_changes']:>7}"
        )
    ai = summary["ai"]
    lines.append(
        f"AI-provenance against human changes, last {ai['weeks']} weeks (from {ai['from']})"
    )
    lines.append(
        f"  AI-marked: {ai['ai_changes']} changes, mean risk {_num(ai['ai_mean_risk'])}; "
        f"human: {ai['human_changes']} changes, {_num(ai['human_mean_risk'])}"
    )
    if ai["verdict"] == "too_few":
        lines.append(
            f"  too few AI changes to tell (at least {ai['min_changes']} of each are needed)"
        )
    else:
        lines.append(f"  difference {_interval(ai)}: {AI_WORDS[ai['verdict']]}")
    lines.extend(provenance_lines(summary["provenance"], _provenance_title(summary)))
    lines.extend(_incident_lines(summary))
    lines.append(f"[a, b]: {_percent(LEVEL)} bootstrap interval of a difference in mean risk")
    return "\n".join(lines)


def _provenance_title(summary: dict[str, Any]) -> str:
    final = summary["provenance"].get("labels_final_to")
    return "AI provenance, all changes" + (f"; labels to {final[:10]}" if final else "")


def _incident_lines(summary: dict[str, Any]) -> list[str]:
    incidents = summary["incidents"]
    if incidents is None:
        return ["Incidents: no labels given"]
    blocks = incidents["blocks"]
    weeks = NOW_WEEKS
    lines = [f"{incidents['unit'].capitalize()} per week caused by each {weeks} weeks' changes"]
    lines.append(("  from     " + "".join(f"{_short(b['from']):>7} " for b in blocks)).rstrip())
    lines.append(
        "  per week "
        + "".join(f"{b['per_week']:>7.2f}{' ' if b['final'] else '*'}" for b in blocks)
    )
    if not all(b["final"] for b in blocks):
        lines.append(
            f"  * not final: inside the {summary['window_days']}-day labelling window, "
            "can still rise"
        )
    lines.append(
        f"  labels final for changes committed up to {summary['horizon'][:10]} "
        f"(cut-off {summary['cutoff'][:10]})"
    )
    return lines


def summary_markdown(summary: dict[str, Any], head: dict[str, Any] | None = None) -> str:
    """The summary as markdown (the MLflow run's description).

    ``head``: ``repo``, ``model`` and ``charts`` (artifact paths listed at the end).
    """
    head = head or {}
    risk = summary["risk"]
    now = risk["now"]
    before = risk["before"][-1]
    out = [f"**{_title(summary, head)}**", "", "### Risk now", ""]
    out.append(
        f"Mean risk **{_num(now['mean_risk'])}** over the last {now['weeks']} weeks "
        f"({now['from']} to {now['to']}, {now['changes']} changes)."
    )
    out += ["", "| against | mean risk | changes | difference [interval] | direction |"]
    out.append("|---|---|---|---|---|")
    for row in risk["before"]:
        has = "difference" in row
        out.append(
            f"| the {row['weeks']} weeks before | {_num(row['mean_risk'])} | {row['changes']} | "
            f"{_interval(row) if has else 'n/a'} | "
            f"{DIRECTION_WORDS[row['direction']] if has else 'n/a'} |"
        )
    out += [
        "",
        f"High or critical: {_share(now['high_share'])} of the last {now['weeks']} weeks' "
        f"changes, {_share(before['high_share'])} in the {before['weeks']} weeks before.",
        "",
        f"### Riskiest critical areas (last {now['weeks']} weeks)",
        "",
    ]
    if summary["areas"]:
        out.append(
            f"| area | changes | mean risk | {before['weeks']} weeks before | high or critical |"
        )
        out.append("|---|---|---|---|---|")
        for area in summary["areas"]:
            out.append(
                f"| {area['area']} | {area['changes']} | {_num(area['mean_risk'])} | "
                f"{_num(area['before_mean_risk'])} | {area['high_changes']} |"
            )
    else:
        out.append("No critical area was touched.")
    ai = summary["ai"]
    out += [
        "",
        f"### AI-provenance against human changes (last {ai['weeks']} weeks)",
        "",
        "| changes | count | mean risk |",
        "|---|---|---|",
        f"| AI-marked | {ai['ai_changes']} | {_num(ai['ai_mean_risk'])} |",
        f"| human | {ai['human_changes']} | {_num(ai['human_mean_risk'])} |",
        "",
    ]
    if ai["verdict"] == "too_few":
        out.append(f"Too few AI changes to tell (at least {ai['min_changes']} of each are needed).")
    else:
        out.append(f"Difference {_interval(ai)}: {AI_WORDS[ai['verdict']]}.")
    out += _provenance_markdown(summary)
    out += ["", "### Incidents", ""]
    incidents = summary["incidents"]
    if incidents is None:
        out.append("No labels given.")
    else:
        blocks = incidents["blocks"]
        out.append(
            f"{incidents['unit'].capitalize()} per week caused by each {NOW_WEEKS} weeks' changes "
            f"(*not final*: inside the {summary['window_days']}-day labelling window, can still "
            "rise):"
        )
        out += ["", "| from | " + " | ".join(b["from"] for b in blocks) + " |"]
        out.append("|---" * (len(blocks) + 1) + "|")
        cells = [f"{b['per_week']:.2f}" + ("" if b["final"] else " *not final*") for b in blocks]
        out.append("| per week | " + " | ".join(cells) + " |")
        out += [
            "",
            f"Labels are final for changes committed up to {summary['horizon'][:10]} "
            f"(cut-off {summary['cutoff'][:10]}).",
        ]
    charts = head.get("charts") or []
    if charts:
        out += ["", "### Charts", "", "Artifacts: " + ", ".join(f"`{c}`" for c in charts) + "."]
    out += [
        "",
        f"[a, b]: {_percent(LEVEL)} bootstrap interval ({RESAMPLES} resamples) of a difference "
        "in mean risk.",
    ]
    return "\n".join(out) + "\n"


def _provenance_markdown(summary: dict[str, Any]) -> list[str]:
    report = summary["provenance"]
    final = report.get("labels_final_to")
    out = ["", "### By AI provenance (all changes)", ""]
    if final:
        out += [f"Incident rates over the changes committed up to {final[:10]} (final labels).", ""]
    out.append(
        "| class | changes | mean risk [95 %] | incidents / labelled | incident rate [95 %] |"
    )
    out.append("|---|---|---|---|---|")
    for row in report["classes"]:
        if row["class"] == "ai" or not row["changes"]:
            continue
        out.append(
            f"| {row['class']} | {row['changes']} | {_with_interval(row, 'mean_risk')} | "
            f"{row['incidents']} / {row['labelled']} | {_with_interval(row, 'incident_rate')} |"
        )
    out.append("")
    for row in report["comparisons"]:
        for key in ("mean_risk", "incident_rate"):
            out.append(f"- {comparison_text(report, row, key)}")
    out += [
        "",
        f"A class with fewer than {report['min_changes']} changes or {report['min_incidents']} "
        "incidents is not compared; an interval including 0 is no measurable difference. Mean "
        "risk is the model's opinion, the incident rate what happened; a missing AI marker does "
        "not prove human authorship.",
    ]
    return out


def _with_interval(row: dict[str, Any], key: str) -> str:
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    if low is None:
        return _num(row[key])
    return f"{_num(row[key])} [{_num(low)}, {_num(high)}]"


def summary_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The ``summary.*`` metrics: the figures above as numbers (absent ones left out), with
    ``summary.provenance.<class>.<changes|mean_risk|incidents|incident_rate>`` and
    ``summary.provenance.<class>_vs_human.<mean_risk|incident_rate>.<difference|low|high>``."""
    risk = summary["risk"]
    out: dict[str, Any] = {
        "summary.now.changes": risk["now"]["changes"],
        "summary.now.mean_risk": risk["now"]["mean_risk"],
        "summary.now.high_share": risk["now"]["high_share"],
    }
    signs = {"up": 1, "down": -1, "flat": 0}
    for row in risk["before"]:
        key = f"summary.before_{row['weeks']}w"
        out[f"{key}.mean_risk"] = row["mean_risk"]
        for name in ("difference", "low", "high"):
            out[f"{key}.{name}"] = row.get(name)
        out[f"{key}.direction"] = signs.get(row.get("direction"))
    ai = summary["ai"]
    out.update(
        {
            "summary.ai.changes": ai["ai_changes"],
            "summary.ai.mean_risk": ai["ai_mean_risk"],
            "summary.human.changes": ai["human_changes"],
            "summary.human.mean_risk": ai["human_mean_risk"],
        }
    )
    for name in ("difference", "low", "high"):
        out[f"summary.ai.{name}"] = ai.get(name)
    report = summary.get("provenance") or {}
    for row in report.get("classes", []):
        for key in ("changes", "mean_risk", "incidents", "incident_rate"):
            out[f"summary.provenance.{row['class']}.{key}"] = row.get(key)
    for row in report.get("comparisons", []):
        for key in ("mean_risk", "incident_rate"):
            for end in ("difference", "low", "high"):
                out[f"summary.provenance.{row['class']}_vs_human.{key}.{end}"] = row[key][end]
    incidents = summary["incidents"]
    if incidents is not None:
        final = [b for b in incidents["blocks"] if b["final"]]
        open_ = [b for b in incidents["blocks"] if not b["final"]]
        if final:
            out["summary.incidents.final_per_week"] = final[-1]["per_week"]
        if open_:
            out["summary.incidents.not_final_per_week"] = open_[-1]["per_week"]
        out["summary.incidents.not_final_blocks"] = len(open_)
    return {k: float(v) for k, v in out.items() if v is not None}
