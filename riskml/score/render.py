"""The scoring result as JSON, a terminal table, or Markdown fit for a pull-request comment."""

from __future__ import annotations

import json

from riskml.errors import RiskmlError
from riskml.score.policy import check_status, summary

FORMATS = ("json", "table", "markdown")

_TIER_MARK = {"low": "🟢", "medium": "🟡", "high": "🟠", "critical": "🔴"}
NOTHING = "nothing to score: no pending changes in the range"
SUBJECT_WIDTH = 50


def render(result: dict, fmt: str = "json", reasons: int = 3) -> str:
    """Format a :func:`riskml.score.score` result; ``reasons`` caps the reasons shown per change
    in the table and Markdown forms (JSON always carries all of them)."""
    if fmt == "json":
        return json.dumps(result, indent=2, sort_keys=False)
    if fmt == "table":
        return _table(result, reasons)
    if fmt == "markdown":
        return _markdown(result, reasons)
    raise RiskmlError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def short_id(change_id: str) -> str:
    """``abcdef12…`` for a SHA, ``abcdef12..12345678`` for a range, the rest unchanged."""
    if ".." in change_id:
        base, head = change_id.split("..", 1)
        return f"{short_id(base)}..{short_id(head)}"
    if len(change_id) == 40:
        return change_id[:10]
    return change_id


def change_subject(change: dict) -> str:
    """What a change is, in words: its commit's subject; for a branch scored as one change,
    how many commits and the last one's subject; for a merge, how many commits it merged."""
    subject = str((change.get("features") or {}).get("subject") or "").strip()
    commits = change.get("commits")
    if change["id"] == "worktree":
        return "uncommitted changes"
    if ".." in change["id"] and commits is not None:
        n = len(commits)
        return f"{n} commit{'s' if n != 1 else ''}, last: {subject}" if n else subject
    if commits is not None and commits != [change["id"]]:  # a merge: the branch it merged
        n = len(commits)
        return f"{subject} (merges {n} commit{'s' if n != 1 else ''})"
    return subject


def change_author(change: dict) -> str:
    """The author's e-mail, as mined (empty for feature rows without one)."""
    return str((change.get("features") or {}).get("author_email") or "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def floor_text(change: dict) -> str | None:
    """One sentence for a change whose tier the critical-path floor raised, else None."""
    floor = change.get("tier_floor")
    if not floor:
        return None
    where = f" ({', '.join(floor['areas'])})" if floor.get("areas") else ""
    return (
        f"touches a critical path{where}: tier raised to {change['tier']} "
        f"from {floor['tier_by_risk']}"
    )


def policy_texts(change: dict) -> list[str]:
    """One sentence per ``[review.ai]`` rule that applied to the change (its ``policy``):
    ``review rule ai_agent_critical: <reason>: <effect>``."""
    return [
        f"review rule {entry['rule']}: {entry['reason']}: {entry['effect']}"
        for entry in change.get("policy") or []
    ]


def shown_reasons(change: dict, k: int) -> list[str]:
    """What a reader sees as the why of a change: the floor first (if it applied), the review
    rules by AI provenance that applied, then the ``k`` top reasons."""
    texts = [r.get("text") or r["feature"] for r in change["reasons"][:k]]
    floor = floor_text(change)
    return [*([floor] if floor else []), *policy_texts(change), *texts]


def checks_of(change: dict) -> list[tuple[str, str]]:
    """``[(check, "met" | "required"), …]`` of the change's review (``review.check_status``,
    else judged from its features)."""
    review = change["review"]
    if "check_status" in review:
        return [(c["check"], c["status"]) for c in review["check_status"]]
    features = change.get("features") or {}
    return [(c, check_status(c, features)) for c in review["checks"]]


def checks_text(change: dict) -> str:
    """``tests touched or added: met; staged rollout: required``."""
    return "; ".join(f"{check}: {status}" for check, status in checks_of(change))


def _summary_of(result: dict) -> dict:
    return result.get("summary") or summary(result.get("changes", []))


def gate_text(result: dict) -> str:
    """The verdict of the ``--fail-on`` gate in one sentence (ids shortened)."""
    gate = _summary_of(result).get("gate")
    if not gate:
        return "gate: none (--fail-on not set)"
    tier = gate["fail_on"]
    if gate["passed"]:
        return f"gate --fail-on {tier}: passed (no change at {tier} or above)"
    failing = gate["failing"]
    n = len(failing)
    return (
        f"gate --fail-on {tier}: failed ({n} change{'s' if n != 1 else ''} at {tier} or above: "
        f"{', '.join(short_id(i) for i in failing)})"
    )


def gate_failure_line(result: dict, limit: int = 5) -> str | None:
    """One line for stderr when the gate failed, naming each failing change with its tier and
    risk (the first ``limit``); None when it passed or there is no gate."""
    gate = _summary_of(result).get("gate")
    if not gate or gate["passed"]:
        return None
    by_id = {c["id"]: c for c in result.get("changes", [])}
    named = [
        f"{short_id(i)} {by_id[i]['tier']} (risk {by_id[i]['risk']:.3f})"
        for i in gate["failing"][:limit]
        if i in by_id
    ]
    more = len(gate["failing"]) - len(named)
    tail = f" and {more} more" if more > 0 else ""
    return f"gate failed (--fail-on {gate['fail_on']}): {', '.join(named)}{tail}"


def _review_line(review: dict) -> str:
    who = f"{review['min_reviewers']} reviewer" + ("s" if review["min_reviewers"] != 1 else "")
    if review["senior"]:
        who += ", senior"
    if review["code_owner"]:
        who += ", incl. code owner"
    return f"{who}; rollout {review['rollout']}"


def _model_line(model: dict) -> str:
    version = model.get("version")
    name = model.get("name") or "model"
    return f"{name} v{version}" if version not in (None, "") else name


def _table(result: dict, k: int) -> str:
    changes = result["changes"]
    lines = []
    if changes:
        header = ("change", "subject", "author", "risk", "tier", "review", "top reasons")
        rows = [header]
        for change in changes:
            rows.append(
                (
                    short_id(change["id"]),
                    _clip(change_subject(change), SUBJECT_WIDTH),
                    change_author(change),
                    f"{change['risk']:.3f}",
                    change["tier"],
                    _review_line(change["review"]),
                    "; ".join(shown_reasons(change, k)),
                )
            )
        last = len(header) - 1
        widths = [max(len(row[i]) for row in rows) for i in range(last)]
        for n, row in enumerate(rows):
            cells = [row[i].ljust(widths[i]) for i in range(last)] + [row[last]]
            lines.append("  ".join(cells).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths) + "  " + "-" * len(header[last]))
    else:
        lines.append(NOTHING)
    model = result.get("model", {})
    thresholds = ", ".join(f"{t} ≥ {v:.3f}" for t, v in (model.get("thresholds") or {}).items())
    lines.append("")
    lines.append(f"model: {_model_line(model)}" + (f" (tiers: {thresholds})" if thresholds else ""))
    lines.append(gate_text(result))
    for warning in result.get("warnings", []):
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_text(text: str) -> str:
    """A commit's own words in a comment: a table cell that mentions no one (``@name`` gets a
    zero-width space after the ``@``)."""
    return _md_cell(text).replace("@", "@\u200b")


def _md_gate(result: dict) -> str:
    gate = _summary_of(result).get("gate")
    if not gate:
        return "Gate: none (`--fail-on` not set)."
    tier = gate["fail_on"]
    if gate["passed"]:
        return f"Gate `--fail-on {tier}`: ✅ **passed** — no change at {tier} or above."
    failing = gate["failing"]
    n = len(failing)
    ids = ", ".join(f"`{_md_cell(short_id(i))}`" for i in failing)
    return (
        f"Gate `--fail-on {tier}`: ❌ **failed** — {n} change{'s' if n != 1 else ''} "
        f"at {tier} or above: {ids}."
    )


def _markdown(result: dict, k: int) -> str:
    changes = result["changes"]
    worst = max(changes, key=lambda c: c["risk"]) if changes else None
    out = ["### riskml: deploy risk", ""]
    if worst is not None:
        out.append(
            f"Highest tier: **{worst['tier']}** {_TIER_MARK.get(worst['tier'], '')} "
            f"(risk {worst['risk']:.3f}) — requires {_review_line(worst['review'])}."
        )
    else:
        out.append(f"{NOTHING[0].upper()}{NOTHING[1:]}.")
    out.append("")
    out.append(_md_gate(result))
    if changes:
        out.append("")
        out.append("| change | subject | author | risk | tier | review required |")
        out.append("|---|---|---|---:|---|---|")
    for change in changes:
        out.append(
            f"| `{_md_cell(short_id(change['id']))}` | {_md_text(change_subject(change))} | "
            f"{_md_cell(change_author(change))} | {change['risk']:.3f} | "
            f"{_TIER_MARK.get(change['tier'], '')} {change['tier']} | "
            f"{_md_cell(_review_line(change['review']))} |"
        )
    for change in changes:
        out.append("")
        out.append(
            f"<details><summary><code>{_md_cell(short_id(change['id']))}</code> — "
            f"{change['tier']}, why</summary>"
        )
        out.append("")
        for text in shown_reasons(change, k):
            out.append(f"- {_md_cell(text)}")
        if change["review"]["checks"]:
            out.append("")
            out.append("Checks: " + _md_cell(checks_text(change)))
        out.append("")
        out.append("</details>")
    model = result.get("model", {})
    out.append("")
    run = f", run `{model['run_id']}`" if model.get("run_id") else ""
    out.append(f"<sub>model {_md_cell(_model_line(model))}{run}</sub>")
    for warning in result.get("warnings", []):
        out.append(f"\n> ⚠️ {_md_cell(warning)}")
    return "\n".join(out) + "\n"
