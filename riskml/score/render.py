"""The scoring result as JSON, a terminal table, or Markdown fit for a pull-request comment."""

from __future__ import annotations

import json

from riskml.errors import RiskmlError

FORMATS = ("json", "table", "markdown")

_TIER_MARK = {"low": "🟢", "medium": "🟡", "high": "🟠", "critical": "🔴"}


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


def shown_reasons(change: dict, k: int) -> list[str]:
    """What a reader sees as the why of a change: the floor first (if it applied), then the
    ``k`` top reasons."""
    texts = [r.get("text") or r["feature"] for r in change["reasons"][:k]]
    floor = floor_text(change)
    return [floor, *texts] if floor else texts


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
    rows = [("change", "risk", "tier", "review", "top reasons")]
    for change in result["changes"]:
        reasons = "; ".join(shown_reasons(change, k))
        rows.append(
            (
                short_id(change["id"]),
                f"{change['risk']:.3f}",
                change["tier"],
                _review_line(change["review"]),
                reasons,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) for i in range(4)] + [row[4]]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 11)
    model = result.get("model", {})
    thresholds = ", ".join(f"{t} ≥ {v:.3f}" for t, v in (model.get("thresholds") or {}).items())
    lines.append("")
    lines.append(f"model: {_model_line(model)}" + (f" (tiers: {thresholds})" if thresholds else ""))
    for warning in result.get("warnings", []):
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(result: dict, k: int) -> str:
    changes = result["changes"]
    worst = max(changes, key=lambda c: c["risk"]) if changes else None
    out = ["### riskml: deploy risk", ""]
    if worst is not None:
        out.append(
            f"Highest tier: **{worst['tier']}** {_TIER_MARK.get(worst['tier'], '')} "
            f"(risk {worst['risk']:.3f}) — requires {_review_line(worst['review'])}."
        )
        out.append("")
    out.append("| change | risk | tier | review required |")
    out.append("|---|---:|---|---|")
    for change in changes:
        out.append(
            f"| `{_md_cell(short_id(change['id']))}` | {change['risk']:.3f} | "
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
        checks = change["review"]["checks"]
        if checks:
            out.append("")
            out.append("Checks: " + "; ".join(_md_cell(c) for c in checks))
        out.append("")
        out.append("</details>")
    model = result.get("model", {})
    out.append("")
    run = f", run `{model['run_id']}`" if model.get("run_id") else ""
    out.append(f"<sub>model {_md_cell(_model_line(model))}{run}</sub>")
    for warning in result.get("warnings", []):
        out.append(f"\n> ⚠️ {_md_cell(warning)}")
    return "\n".join(out) + "\n"
