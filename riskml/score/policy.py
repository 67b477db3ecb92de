"""Tiers and the review each one requires, read from ``riskml.toml`` ``[tiers]``.

The thresholds that turn a risk into a tier belong to the model version (set at training time,
scoring.md); this module only orders tiers, checks a user's tier name, looks up the review
policy of a tier, and applies the review rules by AI provenance (``[review.ai]``,
:func:`ai_policy`), so the CLI, the API, the CI gate and the trends agree on one definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from riskml.config import TIERS, Config, ReviewPolicy
from riskml.errors import RiskmlError

_RANK = {name: i for i, name in enumerate(TIERS)}


def check_tier(name: str) -> str:
    """Return ``name`` lower-cased if it is a tier, else raise :class:`RiskmlError`."""
    tier = str(name).strip().lower()
    if tier not in _RANK:
        raise RiskmlError(f"unknown tier {name!r}: expected one of {', '.join(TIERS)}")
    return tier


def tier_rank(tier: str) -> int:
    """0 for ``low`` … 3 for ``critical``."""
    return _RANK[check_tier(tier)]


def at_least(tier: str, floor: str) -> bool:
    """True when ``tier`` is ``floor`` or riskier."""
    return tier_rank(tier) >= tier_rank(floor)


# The version of the score JSON's shape (``summary.schema_version``): raised when a key changes
# meaning or goes away, never for a key added.
SCHEMA_VERSION = 1

TESTS_CHECK = "tests touched or added"
# the checks the AI-provenance rules add (no feature can show either done: always required)
OTHER_OWNER_CHECK = "approval by a code owner other than the author and committer"
CODE_OWNER_CHECK = "review by a code owner"
# the rules of [review.ai], in the order they are applied and listed
AI_RULES = ("ai_agent_critical", "ai_assisted_critical", "mostly_ai_lines")

# Checks a change's own features can show as already met; every other check stays required.
_MET_BY = {
    TESTS_CHECK: lambda features: _count(features.get("n_test_files")) > 0,
}


def _count(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number else 0.0  # NaN: unknown, not met


def review_for(
    tier: str,
    config: Config,
    features: dict | None = None,
    outcome: PolicyOutcome | None = None,
) -> dict:
    """The review a change of ``tier`` requires, as the JSON object of scoring.md.

    With the change's ``features``, ``check_status`` says of each check whether the change
    already meets it (``"met"``: "tests touched or added" when it touches a test file) or it
    is still ``"required"`` of the reviewers (every check the features cannot show).
    ``outcome`` (:func:`ai_policy`) adds what the AI-provenance rules require: a code owner,
    and their checks after the tier's own (a check the tier already lists is not repeated).
    """
    policy = config.tiers.review.get(check_tier(tier)) or ReviewPolicy()
    review = {
        "min_reviewers": int(policy.min_reviewers),
        "code_owner": bool(policy.code_owner),
        "senior": bool(policy.senior),
        "rollout": str(policy.rollout),
        "checks": [str(c) for c in policy.checks],
    }
    if outcome is not None:
        review["code_owner"] = review["code_owner"] or outcome.code_owner
        review["min_reviewers"] = max(review["min_reviewers"], 1 if outcome.code_owner else 0)
        review["checks"] += [c for c in outcome.checks if c not in review["checks"]]
    if features is not None:
        review["check_status"] = [
            {"check": check, "status": check_status(check, features)} for check in review["checks"]
        ]
    return review


def check_status(check: str, features: dict) -> str:
    """``"met"`` when the change's features show ``check`` done, else ``"required"``."""
    met = _MET_BY.get(check.strip().lower())
    return "met" if met is not None and met(features) else "required"


def fails_gate(result: dict, fail_on: str | None) -> bool:
    """True when any scored change of ``result`` is at tier ``fail_on`` or above (CI gate)."""
    if not fail_on:
        return False
    floor = check_tier(fail_on)
    return any(at_least(change["tier"], floor) for change in result.get("changes", []))


def summary(changes: list[dict], fail_on: str | None = None) -> dict:
    """The verdict over scored ``changes`` (the score JSON's top-level ``summary``).

    ``highest_tier`` (None when nothing was scored), ``changes`` (how many), ``gate``: None
    without ``fail_on``, else ``{"fail_on", "passed", "failing"}`` — ``failing`` the ids of the
    changes at that tier or above, in the order scored — and ``schema_version``.
    """
    highest = max((c["tier"] for c in changes), key=tier_rank, default=None)
    gate = None
    if fail_on:
        floor = check_tier(fail_on)
        failing = [c["id"] for c in changes if at_least(c["tier"], floor)]
        gate = {"fail_on": floor, "passed": not failing, "failing": failing}
    return {
        "highest_tier": highest,
        "changes": len(changes),
        "gate": gate,
        "schema_version": SCHEMA_VERSION,
    }


def floor_of(config: Config) -> str | None:
    """The critical-path floor tier, or None when switched off (``critical_path_floor = ""``)."""
    floor = config.tiers.critical_path_floor
    if not floor:
        return None
    return check_tier(floor)


# --------------------------------------------------------------------- rules by AI provenance


@dataclass
class PolicyOutcome:
    """What the ``[review.ai]`` rules make of one change: its tier after them, the rules that
    applied (``{"rule", "effect", "reason"}``, the score JSON's ``policy``), and what they add
    to its review (a code owner, checks)."""

    tier: str
    rules: list[dict] = field(default_factory=list)
    code_owner: bool = False
    checks: list[str] = field(default_factory=list)

    @property
    def raised(self) -> bool:
        """True when a rule raised the tier."""
        return any(r.get("tier_from") for r in self.rules)


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    try:
        return bool(value) and value == value  # NaN: unknown, not set
    except (TypeError, ValueError):
        return False


def _share(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        share = float(value)
    except (TypeError, ValueError):
        return None
    return share if share == share else None


def touches_critical(features: dict) -> bool:
    """True when the change touches a critical path (``touches_critical``, or a count of
    critical files above 0)."""
    return _flag(features.get("touches_critical")) or _count(features.get("n_critical_files")) > 0


def _areas(features: dict) -> str:
    areas = features.get("critical_areas")
    names = [a for a in str(areas).split(";") if a] if isinstance(areas, str) else []
    return f" ({', '.join(names)})" if names else ""


def _tool(features: dict) -> str:
    tool = features.get("ai_tool")
    return f" ({tool})" if isinstance(tool, str) and tool.strip() else ""


def _people(features: dict) -> str:
    names = []
    for key in ("author_email", "committer_email"):
        value = features.get(key)
        if isinstance(value, str) and value.strip() and value.strip() not in names:
            names.append(value.strip())
    return f": not {' or '.join(names)}" if names else ""


def ai_policy(tier: str, features: dict, config: Config) -> PolicyOutcome:
    """Apply the ``[review.ai]`` rules to a change of ``tier`` (the model's, after the
    critical-path floor) with ``features`` (a changes-table row).

    * ``ai_agent_critical``: an ``ai_agent`` change touching a critical path is at least
      ``agent_critical_tier`` and needs a code owner other than its author and committer (the
      person who prompted the agent) to approve it (``agent_critical_other_owner``);
    * ``ai_assisted_critical``: an ``ai_assisted`` change touching a critical path needs a code
      owner's review (``assisted_critical_code_owner``);
    * ``mostly_ai_lines``: a change whose ``ai_line_share`` is at least ``mostly_ai_share``
      needs tests touched or added (``mostly_ai_tests``).

    A rule switched off, or ``enabled = false``, applies to nothing. Returns the tier after the
    rules and each rule that applied, with its effect and reason in words.
    """
    tier = check_tier(tier)
    rules = config.review.ai
    outcome = PolicyOutcome(tier=tier)
    if not rules.enabled:
        return outcome
    provenance = str(features.get("ai_provenance") or "")
    critical = touches_critical(features)
    review = config.tiers.review.get(tier) or ReviewPolicy()
    if provenance == "ai_agent" and critical:
        effects = []
        floor = rules.agent_critical_tier
        entry: dict = {"rule": "ai_agent_critical"}
        if floor and not at_least(tier, floor):
            effects.append(f"tier raised to {floor} from {tier}")
            entry["tier_from"] = tier
            outcome.tier = floor
        elif floor:
            effects.append(f"tier at least {floor} (already {tier})")
        if rules.agent_critical_other_owner:
            effects.append(f"requires {OTHER_OWNER_CHECK}{_people(features)}")
            outcome.code_owner = True
            outcome.checks.append(OTHER_OWNER_CHECK)
        if effects:
            entry["effect"] = "; ".join(effects)
            entry["reason"] = (
                f"an AI agent{_tool(features)} authored it and it touches a critical "
                f"path{_areas(features)}"
            )
            outcome.rules.append(entry)
    if provenance == "ai_assisted" and critical and rules.assisted_critical_code_owner:
        already = " (the tier already requires one)" if review.code_owner else ""
        outcome.code_owner = True
        outcome.checks.append(CODE_OWNER_CHECK)
        outcome.rules.append(
            {
                "rule": "ai_assisted_critical",
                "effect": f"requires {CODE_OWNER_CHECK}{already}",
                "reason": (
                    f"an AI tool{_tool(features)} co-wrote it and it touches a critical "
                    f"path{_areas(features)}"
                ),
            }
        )
    share = _share(features.get("ai_line_share"))
    if rules.mostly_ai_tests and share is not None and share >= rules.mostly_ai_share:
        tests = _count(features.get("n_test_files"))
        status = (
            f"met: it touches {tests:g} test file{'s' if tests != 1 else ''}"
            if tests
            else ("required: it touches no test file")
        )
        outcome.checks.append(TESTS_CHECK)
        outcome.rules.append(
            {
                "rule": "mostly_ai_lines",
                "effect": f"requires {TESTS_CHECK} ({status})",
                "reason": (
                    f"{100 * share:.0f} % of its added lines are AI-written (line-level notes), "
                    f"at least {100 * rules.mostly_ai_share:.0f} %"
                ),
            }
        )
    return outcome


def policy_entries(outcome: PolicyOutcome) -> list[dict]:
    """The score JSON's ``policy``: ``[{"rule", "effect", "reason"}]`` of the rules applied."""
    return [{k: r[k] for k in ("rule", "effect", "reason")} for r in outcome.rules]


def stricter_review(tier: str, outcome: PolicyOutcome, config: Config) -> bool:
    """True when the rules make the change's review need more than its tier's did: a higher
    tier, or a code owner the tier did not require (what the review budget counts)."""
    if outcome.tier != check_tier(tier):
        return True
    review = config.tiers.review.get(check_tier(tier)) or ReviewPolicy()
    return outcome.code_owner and not review.code_owner
