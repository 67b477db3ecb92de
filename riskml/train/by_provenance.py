"""Are AI changes riskier here? Mean risk and incident rate by AI-provenance class, honestly.

:func:`provenance_report` takes each change's provenance class, the model's risk and its label
(1 caused an incident, 0 did not, NaN unknown) and returns, per class (provenance.md), the
count, the mean risk and the incident rate, each with a percentile bootstrap 95 % interval; then
each AI class (and both together) against human changes: the differences with their
intervals, and a verdict that never claims more than the data shows:

* ``too_few_changes``: either side has fewer than ``min_changes`` (30) changes;
* ``too_few_incidents`` (incident rate only): either side has fewer than ``min_incidents``
  (5) incident-causing changes among its labelled ones;
* ``higher`` / ``lower``: the interval of the difference lies above / below 0;
* ``no_difference``: the interval includes 0 — "no measurable difference".

The thresholds are where a 95 % interval of a rate stops being mostly noise: with 30 changes
and 5 incidents a rate of 0.17 has an interval about ±0.13 wide. The mean risk is the model's
own opinion (it reads the provenance columns); the incident rate is what happened. Both come
from time-ordered test windows when the caller is the rolling evaluation. A missing marker does
not prove human authorship (docs/provenance.md): ``human`` is "no marker found".

:func:`provenance_lines` says it in words (every line at most 80 columns).
"""

from __future__ import annotations

from typing import Any

import numpy as np

CLASSES = ("human", "ai_assisted", "ai_agent", "bot")
AI_CLASSES = ("ai_assisted", "ai_agent")
# the comparisons made, each against human changes: each AI class, and both as one group
COMPARED = ("ai_assisted", "ai_agent", "ai")
MIN_CHANGES = 30
MIN_INCIDENTS = 5
LEVEL = 0.95
RESAMPLES = 1000
VERDICT_WORDS = {
    "too_few_changes": "too few changes to tell",
    "too_few_incidents": "too few incidents to tell",
    "higher": "higher",
    "lower": "lower",
    "no_difference": "no measurable difference",
}


def _interval(draws: np.ndarray) -> tuple[float | None, float | None]:
    draws = draws[~np.isnan(draws)]
    if not len(draws):
        return None, None
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


def _means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` bootstrap means of ``values`` (NaN when there is none)."""
    if not len(values) or resamples <= 0:
        return np.full(max(resamples, 0), np.nan)
    return values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)


def _group(name: str, mask, risk, label, resamples: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    r = risk[mask]
    known = mask & ~np.isnan(label)
    y = label[known]
    risk_draws, rate_draws = _means(r, resamples, rng), _means(y, resamples, rng)
    risk_low, risk_high = _interval(risk_draws)
    rate_low, rate_high = _interval(rate_draws)
    return {
        "class": name,
        "changes": int(mask.sum()),
        "mean_risk": float(r.mean()) if len(r) else None,
        "mean_risk_low": risk_low,
        "mean_risk_high": risk_high,
        "labelled": int(known.sum()),
        "incidents": int((y == 1).sum()),
        "incident_rate": float(y.mean()) if len(y) else None,
        "incident_rate_low": rate_low,
        "incident_rate_high": rate_high,
        "_risk_draws": risk_draws,
        "_rate_draws": rate_draws,
    }


def _difference(a: dict, b: dict, key: str, draws: str) -> dict[str, Any]:
    if a[key] is None or b[key] is None:
        return {"difference": None, "low": None, "high": None}
    low, high = _interval(a[draws] - b[draws]) if len(a[draws]) else (None, None)
    return {"difference": a[key] - b[key], "low": low, "high": high}


def _verdict(diff: dict[str, Any]) -> str:
    if diff["low"] is None or diff["high"] is None:
        return "no_difference" if diff["difference"] is not None else "too_few_changes"
    if diff["low"] > 0:
        return "higher"
    if diff["high"] < 0:
        return "lower"
    return "no_difference"


def provenance_report(
    provenance,
    risk,
    label=None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    min_changes: int = MIN_CHANGES,
    min_incidents: int = MIN_INCIDENTS,
) -> dict[str, Any]:
    """Mean risk and incident rate by provenance class, and each AI class against human.

    ``provenance``: each change's class (empty or unknown values count as ``human``, as the
    miner writes them); ``risk``: the model's risk; ``label``: 1/0/NaN (None: no labels, no
    incident rates). Each group is resampled on its own (``resamples`` draws, a generator
    seeded with ``seed``: the same inputs give the same intervals). Returns
    ``{"level", "resamples", "min_changes", "min_incidents", "classes": [...],
    "comparisons": [...]}``; a comparison is ``{"class", "against": "human", "mean_risk":
    {"difference", "low", "high", "verdict"}, "incident_rate": {…}}``.
    """
    classes = np.array(
        [p if p in CLASSES else "human" for p in (str(v) for v in provenance)], dtype=object
    )
    risk = np.asarray(risk, dtype=float)
    label = np.full(len(risk), np.nan) if label is None else np.asarray(label, dtype=float)
    masks = {name: classes == name for name in CLASSES}
    masks["ai"] = np.isin(classes, AI_CLASSES)
    groups = {
        name: _group(name, mask, risk, label, resamples, seed + i)
        for i, (name, mask) in enumerate(masks.items())
    }
    human = groups["human"]
    comparisons = []
    for name in COMPARED:
        group = groups[name]
        row: dict[str, Any] = {"class": name, "against": "human"}
        few = min(group["changes"], human["changes"]) < min_changes
        diff = _difference(group, human, "mean_risk", "_risk_draws")
        row["mean_risk"] = {**diff, "verdict": "too_few_changes" if few else _verdict(diff)}
        diff = _difference(group, human, "incident_rate", "_rate_draws")
        if min(group["labelled"], human["labelled"]) < min_changes:
            verdict = "too_few_changes"
        elif min(group["incidents"], human["incidents"]) < min_incidents:
            verdict = "too_few_incidents"
        else:
            verdict = _verdict(diff)
        row["incident_rate"] = {**diff, "verdict": verdict}
        comparisons.append(row)
    public = [
        {k: v for k, v in groups[name].items() if not k.startswith("_")}
        for name in (*CLASSES, "ai")
    ]
    return {
        "level": LEVEL,
        "resamples": int(resamples),
        "min_changes": int(min_changes),
        "min_incidents": int(min_incidents),
        "classes": public,
        "comparisons": comparisons,
    }


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _span(row: dict, key: str) -> str:
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    return f"{_num(row[key])} [{_num(low)}, {_num(high)}]" if low is not None else _num(row[key])


def _parts(report: dict[str, Any], row: dict[str, Any], key: str) -> tuple[str, str]:
    """``(verdict in words, detail)`` of one comparison."""
    part = row[key]
    verdict = part["verdict"]
    groups = {g["class"]: g for g in report["classes"]}
    mine, human = groups[row["class"]], groups["human"]
    if verdict == "too_few_changes":
        count, kind = ("labelled", "labelled") if key == "incident_rate" else ("changes", "changes")
        detail = f"({mine[count]} vs {human[count]} {kind}; need {report['min_changes']})"
    elif verdict == "too_few_incidents":
        detail = (
            f"({mine['incidents']} vs {human['incidents']} incidents; "
            f"need {report['min_incidents']})"
        )
    elif part["low"] is None:
        detail = f"{_signed(part['difference'])} (no interval: no resamples)"
    else:
        detail = f"{_signed(part['difference'])} [{_signed(part['low'])}, {_signed(part['high'])}]"
    return VERDICT_WORDS[verdict], detail


def _what(key: str) -> str:
    return "incident rate" if key == "incident_rate" else "mean risk"


def comparison_text(report: dict[str, Any], row: dict[str, Any], key: str) -> str:
    """One comparison in words: ``ai_agent vs human, incident rate: higher +0.150 [+0.050,
    +0.250]``, ``… no measurable difference +0.010 [-0.040, +0.060]``, ``… too few incidents to
    tell (3 vs 12 incidents; need 5)``."""
    words, detail = _parts(report, row, key)
    return f"{row['class']} vs human, {_what(key)}: {words} {detail}"


def provenance_lines(report: dict[str, Any], title: str = "By AI provenance") -> list[str]:
    """The report as lines of text, each at most 80 columns: a table of the classes, then each
    comparison in words."""
    level = f"{100 * report['level']:.0f} %"
    lines = [f"{title} ({level} bootstrap intervals)"]
    lines.append(f"  {'class':<12}{'changes':>8}  {'mean risk':<22}{'incidents':>9}  incident rate")
    for row in report["classes"]:
        if row["class"] == "ai" or not row["changes"]:
            continue
        incidents = f"{row['incidents']}/{row['labelled']}"
        lines.append(
            f"  {row['class']:<12}{row['changes']:>8}  {_span(row, 'mean_risk'):<22}"
            f"{incidents:>9}  {_span(row, 'incident_rate')}"
        )
    lines.append("  against human changes (ai: both AI classes together):")
    for row in report["comparisons"]:
        for key in ("mean_risk", "incident_rate"):
            words, detail = _parts(report, row, key)
            head = f"    {row['class']}, {_what(key)}: {words}"
            if len(head) + len(detail) + 1 <= 80:
                lines.append(f"{head} {detail}")
            else:
                lines += [head, f"      {detail}"]
    lines.append(
        f"  fewer than {report['min_changes']} changes or {report['min_incidents']} incidents "
        "in a class: not compared;"
    )
    lines.append("  an interval including 0: no measurable difference; mean risk is the model's")
    return lines
