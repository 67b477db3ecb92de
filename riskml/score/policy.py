"""Tiers and the review each one requires, read from ``riskml.toml`` ``[tiers]``.

The thresholds that turn a risk into a tier belong to the model version (set at training time,
scoring.md); this module only orders tiers, checks a user's tier name, and looks up the review
policy of a tier, so the CLI, the API and the CI gate agree on one definition.
"""

from __future__ import annotations

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

# Checks a change's own features can show as already met; every other check stays required.
_MET_BY = {
    "tests touched or added": lambda features: _count(features.get("n_test_files")) > 0,
}


def _count(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number else 0.0  # NaN: unknown, not met


def review_for(tier: str, config: Config, features: dict | None = None) -> dict:
    """The review a change of ``tier`` requires, as the JSON object of scoring.md.

    With the change's ``features``, ``check_status`` says of each check whether the change
    already meets it (``"met"``: "tests touched or added" when it touches a test file) or it
    is still ``"required"`` of the reviewers (every check the features cannot show).
    """
    policy = config.tiers.review.get(check_tier(tier)) or ReviewPolicy()
    review = {
        "min_reviewers": int(policy.min_reviewers),
        "code_owner": bool(policy.code_owner),
        "senior": bool(policy.senior),
        "rollout": str(policy.rollout),
        "checks": [str(c) for c in policy.checks],
    }
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
