"""The JSON of ``riskml score`` and the other answers of `riskml serve` as pydantic models:
what ``/openapi.json`` declares.

They describe the answers the endpoints already give (scoring.md) key for key; the endpoints
build plain dicts and the models never rename, add or drop a key. Every model forbids unknown keys, so validating a real answer against its model (the tests do)
shows that the declared schema and the JSON agree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Tier = Literal["low", "medium", "high", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckStatus(_Strict):
    check: str
    status: Literal["met", "required"] = Field(
        description="met when the change's features show the check done"
    )


class Review(_Strict):
    """The review a change of its tier requires (``[tiers.review.<tier>]``)."""

    min_reviewers: int
    code_owner: bool
    senior: bool
    rollout: str
    checks: list[str]
    check_status: list[CheckStatus]


class Reason(_Strict):
    """One of the largest contributions to the risk (LightGBM ``pred_contrib``)."""

    feature: str
    value: Any = Field(description="the feature's value for this change")
    effect: float = Field(description="contribution in log-odds (> 0 raises the risk)")
    text: str


class TierFloor(_Strict):
    """Why the tier is above what the risk alone gives."""

    rule: Literal["critical_path"]
    tier_by_risk: Tier
    areas: list[str]


class PolicyEntry(_Strict):
    """A review rule of ``[review.ai]`` that applied to the change (docs/scoring.md)."""

    rule: str = Field(description="ai_agent_critical, ai_assisted_critical or mostly_ai_lines")
    effect: str = Field(description="what the rule did: the tier it raised, the review it adds")
    reason: str


class ScoredChange(_Strict):
    """One scored change: risk, tier, the review it requires and why."""

    id: str = Field(description="a SHA, 'BASE..HEAD', 'worktree' or the row's commit/index")
    risk: float
    tier: Tier
    review: Review
    reasons: list[Reason]
    features: dict[str, Any] = Field(description="the change's columns (times ISO-8601 UTC)")
    tier_floor: TierFloor | None
    policy: list[PolicyEntry] = Field(description="the review rules that applied; [] for none")


class CommitChange(ScoredChange):
    commits: list[str] = Field(description="the non-merge commits the change is made of")


class Gate(_Strict):
    fail_on: Tier
    passed: bool
    failing: list[str]


class Summary(_Strict):
    """The verdict without walking ``changes``."""

    highest_tier: Tier | None
    changes: int
    gate: Gate | None = Field(description="always null over HTTP (set by `score --fail-on`)")
    schema_version: int


class TierReference(_Strict):
    """Where the thresholds come from: the version's stored ones, or re-cut from the model's
    risk on the newest ``n`` changes it never trained on (since ``since``)."""

    rows: Literal["trailing", "stored"]
    n: int | None = None
    since: str | None = None


class ModelRef(_Strict):
    """The model version that scored, and the thresholds the changes were tiered with."""

    name: str | None
    version: str | None
    run_id: str | None
    thresholds: dict[str, float]
    tier_reference: TierReference | None = None


class ScoreResponse(_Strict):
    """``POST /v1/score``: the JSON of ``riskml score``."""

    summary: Summary
    changes: list[CommitChange]
    model: ModelRef
    warnings: list[str]


class FeatureScoreResponse(_Strict):
    """``POST /v1/score/features``: one change per row."""

    changes: list[ScoredChange]
    model: ModelRef
    warnings: list[str]


class ModelInfo(ModelRef):
    """``GET /v1/model``: the model that scores and its evaluation."""

    uri: str
    loaded_at: float = Field(description="epoch seconds")
    metrics: dict[str, Any]
    info: dict[str, Any]
    feature_columns: list[str]


class HealthModel(_Strict):
    name: str | None
    version: str | None


class Health(_Strict):
    """``GET /healthz`` (open without the bearer token)."""

    status: Literal["ok"]
    model_loaded: bool
    model: HealthModel | None


class ErrorMessage(_Strict):
    """A 400, 401, 404, 413 or 503: the reason in one sentence."""

    detail: str


class ValidationIssue(_Strict):
    loc: list[str]
    msg: str
    type: str


class ValidationErrors(_Strict):
    """A 422: each field that failed, never the input echoed."""

    detail: list[ValidationIssue]


def errors(*statuses: int) -> dict[int | str, dict]:
    """The ``responses=`` of an endpoint: each status with its error model."""
    described = {
        400: "a bad revision, row or parameter",
        401: "missing or wrong bearer token",
        404: "unknown repository",
        413: "request body or range too large",
        422: "the body does not fit the request's schema",
        503: "no model loaded, repository not available, or the time budget ran out",
    }
    return {
        s: {"model": ValidationErrors if s == 422 else ErrorMessage, "description": described[s]}
        for s in statuses
    }
