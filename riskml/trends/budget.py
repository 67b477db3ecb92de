"""The review budget: what gating at each tier would have cost and caught.

For each gate "tier >= X" (X in ``riskml.config.TIERS``) over the last ``weeks`` calendar weeks
of the scored history (Monday to Sunday, UTC, of ``author_time``, counted back from the week of
the newest change): the changes gated per week, the extra reviews (the gated changes), their
share of all changes, and the capture at that gate — of the changes labelled as having caused
an incident, the share at or above the gate. With the review rules by AI provenance applied
(``[review.ai]``, the ``policy_*`` columns of :func:`riskml.trends.with_review_policy`), what
they cost beside that model-only gate: the changes they applied to, the extra reviews (changes
whose review they made need more than their tier's), and each gate again on the tiers after
them. Changes still inside the labelling window
(``[label] window_days``) have final labels only when already positive, so the capture of a
window that reaches into it counts the incidents known so far; the result says so.

:func:`review_budget` computes it as a plain JSON-able dict; :func:`budget_text` renders the
table (80 columns), :func:`budget_frame` the table artifact and :func:`budget_metrics` the
``budget.*`` metrics of a trends run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskml.config import TIERS
from riskml.errors import RiskmlError
from riskml.score.policy import AI_RULES
from riskml.trends.table import commit_times, label_horizon

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

DEFAULT_WEEKS = 13  # a quarter


def check_weeks(weeks: Any) -> int:
    """``weeks`` when it is a whole number of at least 1, else a one-line error."""
    if isinstance(weeks, bool) or not isinstance(weeks, int) or weeks < 1:
        raise RiskmlError(f"--weeks must be a whole number of at least 1, got {weeks!r}")
    return weeks


def review_budget(
    scored: pd.DataFrame, *, window_days: int, weeks: int = DEFAULT_WEEKS
) -> dict[str, Any]:
    """The budget of ``scored`` (the frame of :func:`riskml.trends.score_history`).

    Keys: ``from``, ``to`` (ISO dates of the window), ``weeks``, ``changes``,
    ``incident_changes`` (labelled 1 in the window; None without labels), ``gates``: one row
    per tier, lowest first, with ``tier``, ``gated``, ``gated_per_week``, ``share``, ``caught``
    and ``capture`` (None without labels or without a positive). With labels, ``labels``:
    ``horizon``, ``cutoff``, ``window_days`` and ``not_final_changes`` (changes of the window
    committed after the horizon: the newest change always is), and ``final``: the same gates
    over the ``weeks`` weeks that ended by the horizon, whose labels are final (``from``,
    ``to``, ``changes``, ``incident_changes``, ``gates``; None when the history is shorter).
    ``policy`` (None when the rules were not applied): ``changes`` (a rule applied),
    ``raised`` (their tier raised), ``extra_reviews`` and ``extra_reviews_per_week``, ``rules``
    (``{"rule", "changes"}`` each) and ``gates`` (``{"tier", "gated", "gated_per_week",
    "extra", "extra_per_week"}``: the gate on the tiers after the rules, and how many more
    changes than the model-only gate it holds).
    """
    import pandas as pd

    check_weeks(weeks)
    frame = scored.reset_index(drop=True)
    unknown = sorted(set(frame["tier"]) - set(TIERS))
    if unknown:
        raise RiskmlError(f"scored changes have unknown tier(s): {', '.join(unknown)}")
    week = pd.to_datetime(frame["author_time"], utc=True).dt.tz_convert(None).dt.to_period("W")
    last = week.max()
    out = _window(frame, week, last, weeks)
    out["labels"] = out["final"] = None
    if "label" in frame.columns:
        cutoff, horizon = label_horizon(frame, window_days)
        committed = commit_times(frame)
        inside = _weeks_back(week, last, weeks)
        out["labels"] = {
            "not_final_changes": int((inside & (committed > horizon)).to_numpy().sum()),
            "horizon": horizon.isoformat(),
            "cutoff": cutoff.isoformat(),
            "window_days": int(window_days),
        }
        # the newest week that ended by the horizon: its labels, and the older ones', are final
        end = horizon.tz_convert(None).to_period("W")
        if end.end_time > horizon.tz_convert(None):
            end -= 1
        if end >= week.min():
            final = _window(frame, week, end, weeks)
            out["final"] = {k: final[k] for k in ("from", "to", "changes", "incident_changes")}
            out["final"]["gates"] = [
                {k: g[k] for k in ("tier", "caught", "capture")} for g in final["gates"]
            ]
    return out


def _weeks_back(week: pd.Series, last: Any, weeks: int) -> pd.Series:
    return (week <= last) & ((last - week).map(lambda d: d.n) < weeks)


def _window(frame: pd.DataFrame, week: pd.Series, last: Any, weeks: int) -> dict[str, Any]:
    """The gates over the ``weeks`` weeks that end with week ``last``."""
    import pandas as pd

    part = frame.loc[_weeks_back(week, last, weeks).to_numpy()]
    rank = {tier: i for i, tier in enumerate(TIERS)}
    level = part["tier"].map(rank).to_numpy(dtype=int)
    positive = None
    if "label" in part.columns:
        positive = (pd.to_numeric(part["label"], errors="coerce") == 1).to_numpy()
    n_positive = None if positive is None else int(positive.sum())
    gates = []
    for tier in TIERS:
        gated = level >= rank[tier]
        caught = None if positive is None else int((gated & positive).sum())
        gates.append(
            {
                "tier": tier,
                "gated": int(gated.sum()),
                "gated_per_week": float(gated.sum() / weeks),
                "share": float(gated.mean()) if len(part) else None,
                "caught": caught,
                "capture": caught / n_positive if n_positive else None,
            }
        )
    return {
        "from": (last - (weeks - 1)).start_time.date().isoformat(),
        "to": last.end_time.date().isoformat(),
        "weeks": weeks,
        "changes": len(part),
        "incident_changes": n_positive,
        "gates": gates,
        "policy": _policy_cost(part, level, rank, weeks),
    }


def _policy_cost(part: pd.DataFrame, level: Any, rank: dict, weeks: int) -> dict | None:
    """What the review rules by AI provenance cost in the window, beside the model-only gate."""
    if "policy_tier" not in part.columns:
        return None
    after = part["policy_tier"].map(rank).to_numpy(dtype=int)
    applied = [set(str(r).split(";")) - {""} for r in part["policy_rules"].tolist()]
    extra = int(part["policy_stricter"].to_numpy(dtype=bool).sum())
    gates = []
    for tier in TIERS:
        gated = int((after >= rank[tier]).sum())
        more = gated - int((level >= rank[tier]).sum())
        gates.append(
            {
                "tier": tier,
                "gated": gated,
                "gated_per_week": gated / weeks,
                "extra": more,
                "extra_per_week": more / weeks,
            }
        )
    return {
        "changes": sum(1 for a in applied if a),
        "raised": int((after != level).sum()),
        "extra_reviews": extra,
        "extra_reviews_per_week": extra / weeks,
        "rules": [{"rule": r, "changes": sum(1 for a in applied if r in a)} for r in AI_RULES],
        "gates": gates,
    }


def budget_text(budget: dict[str, Any], repo: str | None = None) -> str:
    """The budget as a table, every line at most 80 columns."""
    who = f"{repo}, " if repo else ""
    positives = budget["incident_changes"]
    lines = [
        f"riskml budget: {who}the last {budget['weeks']} weeks "
        f"({budget['from']} .. {budget['to']})",
        f"  {budget['changes']} changes"
        + ("" if positives is None else f", {positives} caused an incident"),
    ]
    lines.append(
        f"  {'gate':<17}{'gated/week':>11}{'extra reviews':>15}{'of changes':>12}"
        f"{'incidents caught':>19}"
    )
    for gate in budget["gates"]:
        share = "n/a" if gate["share"] is None else f"{100 * gate['share']:.1f} %"
        lines.append(
            f"  {'tier >= ' + gate['tier']:<17}{gate['gated_per_week']:>11.1f}"
            f"{gate['gated']:>15}{share:>12}{_caught(gate, positives):>19}"
        )
    lines.extend(_policy_lines(budget))
    labels = budget["labels"]
    if labels is None:
        lines.append("  no labels given: the capture is unknown")
        return "\n".join(lines)
    if labels["not_final_changes"]:
        lines.append(
            f"  labels not final: {labels['not_final_changes']} of the {budget['changes']} "
            f"changes were committed after {labels['horizon'][:10]}"
        )
        lines.append(
            f"  (inside the {labels['window_days']}-day labelling window): capture counts "
            "incidents known so far"
        )
    final = budget["final"]
    if final is None:
        lines.append("  no week with final labels yet")
    else:
        lines.append(
            f"  final labels ({final['from']} .. {final['to']}): {final['changes']} changes, "
            f"{final['incident_changes']} caused an incident"
        )
        caught = ", ".join(f"{g['tier']} {_percent(g['capture'])}" for g in final["gates"])
        lines.append(f"  caught there: {caught}")
    return "\n".join(lines)


def _policy_lines(budget: dict[str, Any]) -> list[str]:
    """What the review rules by AI provenance cost, beside the model-only gates above."""
    policy = budget.get("policy")
    if policy is None:
        return []
    lines = [
        f"  review rules by AI provenance ([review.ai]): applied to {policy['changes']} "
        f"changes, raised {policy['raised']}",
        f"    extra reviews: {policy['extra_reviews']} "
        f"({policy['extra_reviews_per_week']:.1f}/week) beside the model-only gate",
    ]
    applied = [f"{r['rule']} {r['changes']}" for r in policy["rules"] if r["changes"]]
    if applied:
        lines.append(f"    rules: {', '.join(applied)}")
    lines.append(
        "    gated/week with them: "
        + ", ".join(
            f"{g['tier']} {g['gated_per_week']:.1f}"
            + (f" (+{g['extra_per_week']:.1f})" if g["extra"] else "")
            for g in policy["gates"]
        )
    )
    return lines


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.0f} %"


def _caught(gate: dict[str, Any], positives: int | None) -> str:
    if gate["caught"] is None:
        return "no labels"
    if gate["capture"] is None:
        return "no incident"
    return f"{gate['caught']} of {positives} ({100 * gate['capture']:.0f} %)"


def budget_frame(budget: dict[str, Any]) -> pd.DataFrame:
    """One row per gate: the table logged as ``budget/budget.csv``."""
    import pandas as pd

    frame = pd.DataFrame(budget["gates"])
    frame.insert(0, "weeks", budget["weeks"])
    frame.insert(1, "from", budget["from"])
    frame.insert(2, "to", budget["to"])
    final = {g["tier"]: g["capture"] for g in (budget["final"] or {}).get("gates", [])}
    frame["final_capture"] = frame["tier"].map(final).astype(float)
    policy = budget.get("policy")
    if policy is not None:
        by_tier = {g["tier"]: g for g in policy["gates"]}
        frame["policy_gated"] = frame["tier"].map(lambda t: by_tier[t]["gated"])
        frame["policy_extra"] = frame["tier"].map(lambda t: by_tier[t]["extra"])
    return frame


def budget_metrics(budget: dict[str, Any]) -> dict[str, float]:
    """``budget.<tier>.<gated|gated_per_week|share|capture>``, ``budget.weeks``, ``budget.changes``,
    ``budget.incident_changes``, ``budget.not_final_changes``; with the review rules applied
    ``budget.policy.<changes|raised|extra_reviews|extra_reviews_per_week>``,
    ``budget.policy.<rule>.changes`` and ``budget.policy.<tier>.<gated|gated_per_week|extra>``;
    and with final labels
    ``budget.final.incident_changes`` and ``budget.final.<tier>.capture`` (absent values left
    out)."""
    out: dict[str, Any] = {
        "budget.weeks": budget["weeks"],
        "budget.changes": budget["changes"],
        "budget.incident_changes": budget["incident_changes"],
        "budget.not_final_changes": (budget["labels"] or {}).get("not_final_changes"),
    }
    for gate in budget["gates"]:
        for key in ("gated", "gated_per_week", "share", "capture"):
            out[f"budget.{gate['tier']}.{key}"] = gate[key]
    policy = budget.get("policy")
    if policy is not None:
        for key in ("changes", "raised", "extra_reviews", "extra_reviews_per_week"):
            out[f"budget.policy.{key}"] = policy[key]
        for rule in policy["rules"]:
            out[f"budget.policy.{rule['rule']}.changes"] = rule["changes"]
        for gate in policy["gates"]:
            for key in ("gated", "gated_per_week", "extra"):
                out[f"budget.policy.{gate['tier']}.{key}"] = gate[key]
    final = budget["final"]
    if final is not None:
        out["budget.final.incident_changes"] = final["incident_changes"]
        for gate in final["gates"]:
            out[f"budget.final.{gate['tier']}.capture"] = gate["capture"]
    return {k: float(v) for k, v in out.items() if v is not None}
