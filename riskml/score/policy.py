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


def review_for(tier: str, config: Config) -> dict:
    """The review a change of ``tier`` requires, as the JSON object of scoring.md."""
    policy = config.tiers.review.get(check_tier(tier)) or ReviewPolicy()
    return {
        "min_reviewers": int(policy.min_reviewers),
        "code_owner": bool(policy.code_owner),
        "senior": bool(policy.senior),
        "rollout": str(policy.rollout),
        "checks": [str(c) for c in policy.checks],
    }


def fails_gate(result: dict, fail_on: str | None) -> bool:
    """True when any scored change of ``result`` is at tier ``fail_on`` or above (CI gate)."""
    if not fail_on:
        return False
    floor = check_tier(fail_on)
    return any(at_least(change["tier"], floor) for change in result.get("changes", []))


def floor_of(config: Config) -> str | None:
    """The critical-path floor tier, or None when switched off (``critical_path_floor = ""``)."""
    floor = config.tiers.critical_path_floor
    if not floor:
        return None
    return check_tier(floor)
