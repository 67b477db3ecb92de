"""One typed configuration tree, read from ``riskml.toml``; every key has a working default.

Lookup order: the ``--config`` path when given, else ``riskml.toml`` at the repository root,
else the defaults below. Unknown sections or keys are a user mistake (:class:`RiskmlError`),
so a typo never silently falls back to a default.

Each stage owns one section; add keys to your own section only, with a default that works.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskml.errors import RiskmlError

CONFIG_FILE = "riskml.toml"
# A tracking server or registry that cannot be reached must fail in seconds, not after MLflow's
# default 7 retries with exponential back-off (4.2 s against 248.0 s in
# benchmarks/registry_bench.py): every riskml command sets these unless the user did.
MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
TIERS = ("low", "medium", "high", "critical")
DATA_DIR = Path("data")
# the columns of riskml.mine.file_past (the touched files' own past), in table order
FILE_PAST_COLUMNS = (
    "file_fixes", "file_fixes_decay", "dir_fixes", "file_reverts", "age_min", "age_max",
    "file_age_min", "file_age_max", "minor_contributors", "minor_share", "top_owner_share",
    "author_share_min", "coupled_partners", "coupled_missing", "coupled_missing_share",
    "recent_file_commits", "recent_churn", "recent_devs",
)  # fmt: skip
# the tiers a threshold is learnt for (low is what stays below medium)
THRESHOLD_TIERS = ("critical", "high", "medium")
# [train] project_weights: each project's weight in a table of several (riskml.train.fitting)
PROJECT_WEIGHTS = ("rows", "sqrt", "balanced")
# the scalar metric keys of evaluation.md, in its order (tier_rates is the one nested key)
SCALAR_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "capture_at_5",
    "capture_at_10",
    "capture_at_30",
    "recall_at_20_effort",
    "popt",
)


# ---------------------------------------------------------------- declared value constraints
# Each section declares its constraints beside its fields (``field(..., metadata=rule(...))``)
# and checks them in ``__post_init__``, so a file, a CLI override (``dataclasses.replace``) and
# a Config built in code are all refused the same way, before any stage runs.


# the longest span of days a key may name: a time window beyond it overflows pandas' timestamps
MAX_DAYS = 36_500


class Constraint:
    """One rule a value must satisfy; :meth:`problem` says how it fails, or None."""

    def problem(self, value: Any) -> str | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(Constraint):
    """A number between ``low`` and ``high`` (None: unbounded); ``closed`` names the ends kept."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right" or "neither"

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {value!r}"  # a table's items are not type-checked
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        ok = (self.low is None or (value >= self.low if left else value > self.low)) and (
            self.high is None or (value <= self.high if right else value < self.high)
        )
        return None if ok else f"must be {self._describe()}, got {value!r}"

    def _describe(self) -> str:
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        low, high = _bound(self.low), _bound(self.high)
        if self.high is None:
            return f"{'>=' if left else '>'} {low}"
        if self.low is None:
            return f"{'<=' if right else '<'} {high}"
        return f"in {'[' if left else '('}{low}, {high}{']' if right else ')'}"


def _bound(value: float | None) -> str:
    """An interval's end as written: an int in full (2147483647, not 2.14748e+09)."""
    return str(value) if value is None or isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values."""

    values: tuple

    def problem(self, value: Any) -> str | None:
        if value in self.values:
            return None
        return f"must be one of {', '.join(repr(v) for v in self.values)}, got {value!r}"


class MetricName(Constraint):
    """A scalar metric of evaluation.md, the keys the promotion gate can compare on."""

    def problem(self, value: Any) -> str | None:
        return Options(tuple(SCALAR_METRICS)).problem(value)


class Regex(Constraint):
    """A pattern Python's ``re`` compiles."""

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        try:
            re.compile(value)
        except re.error as exc:
            return f"not a valid regular expression ({exc}): {value!r}"
        return None


class Glob(Constraint):
    """A path glob relative to the repository root (git reports paths without a leading /)."""

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        if not value.strip():
            return "must be a non-empty glob"
        if value.startswith("/"):
            return f"must be relative to the repository root (no leading /), got {value!r}"
        return None


@dataclass(frozen=True)
class Matches(Constraint):
    """A string matching ``pattern`` in full; ``what`` says in words what that is."""

    pattern: str
    what: str

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be {self.what}, got {type(value).__name__}"
        if re.fullmatch(self.pattern, value):
            return None
        return f"must be {self.what}, got {value!r}"


class ModelName(Constraint):
    """A registered-model name MLflow accepts (``mlflow.utils.validation._validate_model_name``)
    that is also one folder under ``models/``: not blank, no surrounding spaces, no ``/``,
    ``:``, ``\\`` or NUL, not ``.`` and not starting with ``..``."""

    def problem(self, value: Any) -> str | None:
        problem = _NAME.problem(value)
        if problem is not None:
            return problem
        if any(c in value for c in "/:\\\0") or value == "." or value.startswith(".."):
            return (
                "must be an MLflow registered-model name (without '/', ':', '\\' or NUL, "
                f"not '.' nor starting with '..'), got {value!r}"
            )
        return None


@dataclass(frozen=True)
class Each(Constraint):
    """Every item of a list, or every value of a table, satisfies ``inner``."""

    inner: Constraint

    def problem(self, value: Any) -> str | None:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            problem = self.inner.problem(item)
            if problem is not None:
                return f"{key}: {problem}" if isinstance(value, dict) else problem
        return None


@dataclass(frozen=True)
class KeysIn(Constraint):
    """A table whose keys are among ``names``."""

    names: tuple

    def problem(self, value: Any) -> str | None:
        unknown = sorted(set(value) - set(self.names))
        if unknown:
            return (
                f"unknown key(s) {', '.join(map(repr, unknown))}: expected {', '.join(self.names)}"
            )
        return None


@dataclass(frozen=True)
class AllOf(Constraint):
    """Every one of ``parts`` holds (the first failure is reported)."""

    parts: tuple

    def problem(self, value: Any) -> str | None:
        for part in self.parts:
            problem = part.problem(value)
            if problem is not None:
                return problem
        return None


@dataclass(frozen=True)
class Integer(Constraint):
    """An int (not a bool, not a float) satisfying ``within`` when given."""

    within: Constraint | None = None

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an int, got {value!r}"
        return None if self.within is None else self.within.problem(value)


class Boolean(Constraint):
    """true or false."""

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


# The LightGBM parameters `[train] lgbm_params` may override (riskml.train.model.DEFAULT_PARAMS
# and the usual tuning knobs), each with the type and range LightGBM 4 checks at the fit
# (its config_auto.cpp), so a bad value is refused when the file is read, not as a LightGBM
# traceback after the tables are built. riskml sets the objective, metric, seed and rounds.
LGBM_PARAMS: dict[str, Constraint] = {
    "learning_rate": Interval(0, None, "neither"),
    "num_leaves": Integer(Interval(2, 131_072)),
    "max_depth": Integer(),  # <= 0: no limit
    "min_child_samples": Integer(Interval(0, None)),
    "min_sum_hessian_in_leaf": Interval(0, None),
    "min_split_gain": Interval(0, None),
    "reg_lambda": Interval(0, None),
    "reg_alpha": Interval(0, None),
    "feature_fraction": Interval(0, 1, "right"),
    "feature_fraction_bynode": Interval(0, 1, "right"),
    "bagging_fraction": Interval(0, 1, "right"),
    "bagging_freq": Integer(Interval(0, None)),  # 0: no bagging
    "extra_trees": Boolean(),
    "path_smooth": Interval(0, None),
    "max_bin": Integer(Interval(2, None)),
    "cat_smooth": Interval(0, None),
    "cat_l2": Interval(0, None),
    "min_data_per_group": Integer(Interval(1, None)),
    "max_cat_to_onehot": Integer(Interval(1, None)),
    "max_cat_threshold": Integer(Interval(1, None)),
    "scale_pos_weight": Interval(0, None, "neither"),
    "num_threads": Integer(Interval(0, None)),  # 0: OpenMP's default
    "verbosity": Integer(),
}
# LightGBM's other spellings of those: given beside riskml's default under the canonical name,
# LightGBM would keep one of the two and warn, so riskml asks for the name it uses
LGBM_ALIASES: dict[str, str] = {
    "eta": "learning_rate", "shrinkage_rate": "learning_rate", "num_leaf": "num_leaves",
    "max_leaves": "num_leaves", "max_leaf": "num_leaves", "max_leaf_nodes": "num_leaves",
    "min_data_in_leaf": "min_child_samples", "min_data_per_leaf": "min_child_samples",
    "min_data": "min_child_samples", "min_child_weight": "min_sum_hessian_in_leaf",
    "min_sum_hessian": "min_sum_hessian_in_leaf", "min_sum_hessian_per_leaf": "min_sum_hessian_in_leaf",
    "min_hessian": "min_sum_hessian_in_leaf", "min_gain_to_split": "min_split_gain",
    "lambda_l2": "reg_lambda", "lambda": "reg_lambda", "l2_regularization": "reg_lambda",
    "lambda_l1": "reg_alpha", "l1_regularization": "reg_alpha", "sub_feature": "feature_fraction",
    "colsample_bytree": "feature_fraction", "sub_feature_bynode": "feature_fraction_bynode",
    "colsample_bynode": "feature_fraction_bynode", "sub_row": "bagging_fraction",
    "subsample": "bagging_fraction", "bagging": "bagging_fraction",
    "subsample_freq": "bagging_freq", "extra_tree": "extra_trees", "max_bins": "max_bin",
    "num_thread": "num_threads", "nthread": "num_threads", "nthreads": "num_threads",
    "n_jobs": "num_threads", "verbose": "verbosity",
}  # fmt: skip


class LightGBMParams(Constraint):
    """A table of :data:`LGBM_PARAMS` names, each value of its declared type and range."""

    def problem(self, value: Any) -> str | None:
        for name, item in value.items():
            if name in LGBM_ALIASES:
                return f"{name}: write {LGBM_ALIASES[name]!r} (LightGBM's name riskml uses)"
            if name not in LGBM_PARAMS:
                return (
                    f"{name}: not a LightGBM parameter riskml lets you set; one of "
                    f"{', '.join(LGBM_PARAMS)} (docs/training.md)"
                )
            problem = LGBM_PARAMS[name].problem(item)
            if problem is not None:
                return f"{name}: {problem}"
        return None


def rule(*constraints: Constraint) -> dict[str, Constraint]:
    """Field metadata declaring the constraints of one key: ``field(metadata=rule(...))``."""
    return {"rule": constraints[0] if len(constraints) == 1 else AllOf(constraints)}


def check_section(obj: Any, section: str) -> None:
    """Raise :class:`RiskmlError` naming ``[section] key`` for the first field breaking its rule."""
    for f in dataclasses.fields(obj):
        constraint = f.metadata.get("rule")
        value = getattr(obj, f.name)
        if constraint is None or value is None:
            continue
        problem = constraint.problem(value)
        if problem is not None:
            raise RiskmlError(f"[{section}] {f.name}: {problem}")


class _Section:
    """A config section: its declared constraints are checked whenever one is built."""

    _section: typing.ClassVar[str]

    def __post_init__(self) -> None:
        check_section(self, self._section)
        self._check_together()

    def _check_together(self) -> None:
        """Constraints across keys (none by default)."""


def _default_critical_paths() -> dict[str, list[str]]:
    return {
        "payments": ["payments/**", "**/payments/**", "**/billing/**", "**/checkout/**"],
        "auth": ["auth/**", "**/auth/**", "**/security/**", "**/login/**"],
        "infra": [
            "infra/**",
            "**/infra/**",
            "**/terraform/**",
            "**/k8s/**",
            "**/helm/**",
            "**/Dockerfile",
            ".github/workflows/**",
        ],
        "migrations": ["migrations/**", "**/migrations/**", "**/migrate/**", "**/*.sql"],
    }


def _words(text: str) -> list[str]:
    """The whitespace-separated words of ``text``: a long list of globs, written compactly."""
    return text.split()


# what the touched files are (features.md: n_test_files, n_config_files, …): [mine] *_globs
TEST_GLOBS = _words("""
    **/test/** **/tests/** **/__tests__/** **/spec/** test/** tests/** **/test_*.py
    test_*.py **/*_test.py **/*_test.go **/*.test.[jt]s **/*.spec.[jt]s **/*Test.java
    **/*_spec.rb
""")
CONFIG_GLOBS = _words("""
    **/*.yml **/*.yaml **/*.toml **/*.json **/*.ini **/*.cfg **/*.conf **/*.tf **/*.tfvars
    **/Dockerfile **/Dockerfile.* **/docker-compose* **/helm/** **/charts/** **/.env*
    **/*.properties
""")
MIGRATION_GLOBS = _words("""
    **/migrations/** **/migrate/** **/alembic/versions/** **/db/migrate/** **/*.sql
""")
DEPENDENCY_GLOBS = _words("""
    **/requirements*.txt **/pyproject.toml **/setup.py **/setup.cfg **/Pipfile
    **/Pipfile.lock **/poetry.lock **/uv.lock **/package.json **/package-lock.json
    **/yarn.lock **/pnpm-lock.yaml **/go.mod **/go.sum **/Cargo.toml **/Cargo.lock
    **/Gemfile **/Gemfile.lock **/pom.xml **/build.gradle **/*.gradle.kts **/composer.json
    **/composer.lock
""")


@dataclass
class MineConfig(_Section):
    """How `riskml mine` reads messages and classifies touched files."""

    _section = "mine"

    # the previous changes a history count is ranked among (riskml.mine.recent, _recent_pct)
    recent_window: int = field(default=3000, metadata=rule(Interval(1, None)))
    # fix words in any case; issue ids as "#12" or upper-case "PROJ-12" (not UTF-8, SHA-256...)
    fix_pattern: str = field(
        default=(
            r"(?i:\b(fix(e[sd]|ing)?|bug(s|fix(es)?)?|defect|patch(ed)?|hotfix(es)?|fault"
            r"|regression)\b)|#\d+"
            r"|\b(?!(UTF|SHA|ISO|RFC|UTC|GMT|X86|ARM|AES|TLS|SSL|HTTP)-)[A-Z][A-Z0-9]+-\d+\b"
        ),
        metadata=rule(Regex()),
    )
    test_globs: list[str] = field(
        metadata=rule(Each(Glob())), default_factory=lambda: list(TEST_GLOBS)
    )
    config_globs: list[str] = field(
        metadata=rule(Each(Glob())), default_factory=lambda: list(CONFIG_GLOBS)
    )
    migration_globs: list[str] = field(
        metadata=rule(Each(Glob())), default_factory=lambda: list(MIGRATION_GLOBS)
    )
    dependency_globs: list[str] = field(
        metadata=rule(Each(Glob())), default_factory=lambda: list(DEPENDENCY_GLOBS)
    )


@dataclass
class AIConfig(_Section):
    """Users' own AI-provenance markers, added to the built-in ones of provenance.md."""

    _section = "ai"

    # trailer key (case-insensitive, without the colon) -> tool name, e.g. {"X-Internal-AI": "acme"}
    trailers: dict[str, str] = field(default_factory=dict)
    # author/co-author e-mail address (exact, case-insensitive) -> tool name of an AI agent
    agent_emails: dict[str, str] = field(default_factory=dict)
    # e-mail addresses of non-AI automation
    bot_emails: list[str] = field(default_factory=list)
    # git notes ref holding line-level AI authorship (git-ai)
    notes_ref: str = field(
        default="refs/notes/ai", metadata=rule(Matches(r"refs/\S+", "a ref under refs/"))
    )


@dataclass
class LabelConfig(_Section):
    """How `riskml label` links incidents to the changes that caused them."""

    _section = "label"

    window_days: int = field(
        default=90, metadata=rule(Interval(0, None, "neither"), Interval(None, MAX_DAYS))
    )
    incident_pattern: str = field(default=r"\bINC-\d+\b", metadata=rule(Regex()))
    szz_max_files: int = field(default=20, metadata=rule(Interval(0, None, "neither")))
    szz_ignore_comments: bool = True
    # lines a fix changes in test files (mine.test_globs) are not where the bug was
    szz_skip_tests: bool = True
    # incident labels: where the incident record starts. A change older than it could have
    # caused incidents no one recorded, so its label is left empty (neither trained on as clean
    # nor counted in evaluation) unless the record names it. "history": the whole history is
    # observed; "first-incident": from the earliest opened_at of the file; or an ISO-8601 date
    observed_from: str = field(
        default="history",
        metadata=rule(
            Matches(
                r"first-incident|history|\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?",
                "first-incident, history or an ISO-8601 date",
            )
        ),
    )


@dataclass
class ReviewPolicy:
    """The review a tier requires (scoring.md)."""

    min_reviewers: int = field(default=1, metadata=rule(Interval(0, None)))
    code_owner: bool = False
    senior: bool = False
    rollout: str = field(default="normal", metadata=rule(Matches(r"\S.*", "a non-empty word")))
    checks: list[str] = field(default_factory=list)


def _default_review() -> dict[str, ReviewPolicy]:
    return {
        "low": ReviewPolicy(1, False, False, "normal", []),
        "medium": ReviewPolicy(1, True, False, "normal", ["tests touched or added"]),
        "high": ReviewPolicy(
            2, True, False, "staged", ["tests touched or added", "staged rollout"]
        ),
        "critical": ReviewPolicy(
            2,
            True,
            True,
            "canary",
            [
                "tests touched or added",
                "canary rollout with on-call sign-off",
                "no deploy outside working hours",
            ],
        ),
    }


@dataclass
class TierConfig(_Section):
    """Tier thresholds are set at training time (scoring.md; docs/training.md "Tiers")."""

    _section = "tiers"

    # "share": each tier holds a share of changes; "rate": each tier reaches a target incident rate
    mode: str = field(default="share", metadata=rule(Options(("share", "rate"))))
    shares: dict[str, float] = field(
        default_factory=lambda: {"critical": 0.03, "high": 0.07, "medium": 0.20},
        metadata=rule(KeysIn(THRESHOLD_TIERS), Each(Interval(0, 1, "neither"))),
    )
    rates: dict[str, float] = field(
        default_factory=lambda: {"critical": 0.5, "high": 0.3, "medium": 0.15},
        metadata=rule(KeysIn(THRESHOLD_TIERS), Each(Interval(0, 1, "right"))),
    )
    # share mode: whose risk the shares are cut from. "recent": the final model's risk on the
    # newest changes it never trained on (the gap before the test window, labelled or not);
    # "trailing": those thresholds are stored too, and a change scored with its repository's
    # history (and each change of a test window) is tiered against the risk of the newest
    # `window` changes the model never trained on, the gap and every change mined after it;
    # "validation": the validation slice (rate mode always uses it: it needs labels)
    reference: str = field(
        default="trailing", metadata=rule(Options(("trailing", "recent", "validation")))
    )
    # "trailing": how many of the newest unseen changes the thresholds are cut from
    window: int = field(default=200, metadata=rule(Interval(1, None)))
    # fewer recent changes than this: the validation slice is used instead (and the model says so)
    min_reference: int = field(default=100, metadata=rule(Interval(1, None)))
    # a change touching a critical path is never below this tier ("" switches the floor off)
    critical_path_floor: str = field(default="medium", metadata=rule(Options(("", *TIERS))))
    review: dict[str, ReviewPolicy] = field(
        default_factory=_default_review, metadata=rule(KeysIn(TIERS))
    )

    def _check_together(self) -> None:
        total = sum(self.shares.values())
        if total >= 1:
            raise RiskmlError(
                f"[tiers] shares: must sum below 1 (low keeps the rest), got {total:g}"
            )
        for tier, policy in self.review.items():
            check_section(policy, f"tiers.review.{tier}")


@dataclass
class AIReviewConfig(_Section):
    """The review rules by AI provenance (``[review.ai]``), applied after the model's tier and
    the critical-path floor (docs/scoring.md "Review policy by provenance"). Conservative by
    default; a team loosens a rule here or turns all of them off with ``enabled = false``."""

    _section = "review.ai"

    enabled: bool = True
    # an ai_agent change touching a critical path is at least this tier ("" = no floor)
    agent_critical_tier: str = field(default="high", metadata=rule(Options(("", *TIERS))))
    # ... and needs the approval of a code owner other than its author and committer (the
    # person who prompted the agent)
    agent_critical_other_owner: bool = True
    # an ai_assisted change touching a critical path needs a code owner's review
    assisted_critical_code_owner: bool = True
    # a change whose added lines are at least this share AI-written (ai_line_share, from
    # line-level notes) needs tests touched or added
    mostly_ai_tests: bool = True
    mostly_ai_share: float = field(default=0.5, metadata=rule(Interval(0, 1, "right")))


@dataclass
class ReviewConfig(_Section):
    """Review rules beyond each tier's own (``[tiers.review.<tier>]``)."""

    _section = "review"

    ai: AIReviewConfig = field(default_factory=AIReviewConfig)


_NAME = Matches(r"\S(.*\S)?", "a non-empty name without surrounding spaces")
_FRACTION = Interval(0, 1, "neither")
_POSITIVE = Interval(0, None, "neither")


@dataclass
class TrainConfig(_Section):
    """How `riskml train` splits, fits and registers."""

    _section = "train"

    model_name: str = field(default="change-risk", metadata=rule(ModelName()))
    experiment: str = field(default="riskml", metadata=rule(_NAME))
    test_fraction: float = field(default=0.2, metadata=rule(_FRACTION))
    valid_fraction: float = field(default=0.15, metadata=rule(_FRACTION))
    # None: the label window
    gap_days: int | None = field(
        default=None, metadata=rule(Interval(0, None), Interval(None, MAX_DAYS))
    )
    # sigmoid keeps every distinct score distinct (tier shares stay exact); isotonic plateaus
    calibration: str = field(default="sigmoid", metadata=rule(Options(("sigmoid", "isotonic"))))
    promotion_metric: str = field(default="roc_auc", metadata=rule(MetricName()))
    # negative is meaningful: a new version must then beat the champion by that much
    promotion_tolerance: float = 0.0
    # LightGBM's seed is a C int; scikit-learn's and numpy's refuse a negative one
    seed: int = field(default=0, metadata=rule(Interval(0, 2**31 - 1)))
    # LightGBM: overrides of riskml.train.model.DEFAULT_PARAMS; search = try the few settings
    # of model.SEARCH_SPACE on the fit slice and keep the best by validation ROC-AUC. Unset:
    # on for public tables (final labels) only; on real histories the choice by one validation
    # slice of young labels lost 0.005-0.02 ROC-AUC in every development backtest
    # (docs/training.md, "Real histories")
    # (each name and value checked against LGBM_PARAMS)
    lgbm_params: dict[str, float | int | bool] = field(
        default_factory=dict, metadata=rule(LightGBMParams())
    )
    search: bool | None = None
    # sample weights halving every half_life_days before the newest training change (the
    # boosters' fit; unset: equal weights); with the search on, the search tries its own
    half_life_days: float | None = field(
        default=None, metadata=rule(Interval(0, None, closed="neither"))
    )
    # in a table of several projects (the fleet's), each project's weight in the boosters'
    # fit: "rows" = one per row, "sqrt" = sqrt(n) for a project of n rows, "balanced" = equal
    project_weights: str = field(default="sqrt", metadata=rule(Options(PROJECT_WEIGHTS)))
    max_rounds: int = field(default=3000, metadata=rule(Interval(1, None)))
    early_stopping_rounds: int = field(default=100, metadata=rule(Interval(1, None)))
    # early stopping keeps at least this many rounds (capped at early_stopping_rounds): on real
    # histories a validation slice of young labels peaked at the first tree (docs/training.md)
    min_rounds: int = field(default=100, metadata=rule(Interval(0, None)))
    # after the search, train the chosen settings again on fit + validation slices
    refit: bool = True
    # riskml's score: blend_weight x LightGBM + (1 - blend_weight) x a linear component on the
    # log Kamei metrics and their pairwise products (1.0 = LightGBM alone); docs/training.md
    blend_weight: float = field(default=0.7, metadata=rule(Interval(0, 1)))
    # columns riskml's model does not read (raw, derived or linear-component columns); the
    # baselines keep theirs. An ablation removes a feature group this way (docs/training.md)
    # Default: the touched files' own past (riskml.mine.file_past), mined and kept in the table
    # but left out of the model: its development backtests were +0.0009, +0.0059 and -0.0130
    # ROC-AUC on three real histories (docs/training.md). `exclude_features = []` reads them.
    exclude_features: list[str] = field(
        default_factory=lambda: list(FILE_PAST_COLUMNS), metadata=rule(Each(_NAME))
    )
    # read each history count as its percentile among the recent changes (<column>_recent_pct,
    # riskml.mine.recent) instead of its raw value, where the table has both: the raw counts
    # grow with the project's age and mislead a model judged on newer changes (docs/training.md)
    recent_features: bool = True
    # the text component on the diff's tokens (the tokens file beside the changes table):
    # "blend" = its log-odds are blended into the score with text_weight, "feature" = its
    # out-of-fold score is a LightGBM column, "off" = not used; chosen by backtests inside the
    # development period of three real histories (docs/training.md)
    text: str = field(default="blend", metadata=rule(Options(("blend", "feature", "off"))))
    text_weight: float = field(default=0.5, metadata=rule(Interval(0, 1)))

    def _check_together(self) -> None:
        total = self.test_fraction + self.valid_fraction
        if total >= 1:
            raise RiskmlError(
                "[train] test_fraction + valid_fraction: must sum below 1 (the fit slice "
                f"keeps the rest), got {total:g}"
            )


@dataclass
class EvaluateConfig(_Section):
    """Rolling (forward-chaining) evaluation: `riskml evaluate`, and inside `riskml train`."""

    _section = "evaluate"

    # K test windows, each `fold_fraction` of the labelled changes: the newest K × fraction
    folds: int = field(default=5, metadata=rule(Interval(1, None)))
    fold_fraction: float = field(default=0.1, metadata=rule(_FRACTION))
    # paired bootstrap resamples of the intervals (0: no intervals)
    bootstrap: int = field(default=1000, metadata=rule(Interval(0, None)))
    # `riskml train` (and run, retrain) also runs it: metrics.json "rolling", nested MLflow
    # runs, and the promotion gate compares on the folds
    in_train: bool = True

    def _check_together(self) -> None:
        total = self.folds * self.fold_fraction
        if total >= 1:
            raise RiskmlError(
                "[evaluate] folds × fold_fraction: must be below 1 (the first fold trains on "
                f"the rest), got {self.folds} × {self.fold_fraction:g} = {total:g}"
            )


@dataclass
class ServeConfig(_Section):
    """`riskml serve`: repositories it may read, by name (a request never names a path)."""

    _section = "serve"

    repos: dict[str, str] = field(default_factory=dict, metadata=rule(Each(_NAME)))
    host: str = field(default="127.0.0.1", metadata=rule(_NAME))
    port: int = field(default=8000, metadata=rule(Interval(0, 65535)))
    max_body_bytes: int = field(default=1_000_000, metadata=rule(_POSITIVE))
    model_refresh_seconds: float = field(default=30.0, metadata=rule(Interval(0, None)))
    # a scoring request's time budget: past it, 503 and its work is stopped (docs/scoring.md)
    request_timeout_seconds: float = field(default=30.0, metadata=rule(_POSITIVE))
    # uvicorn worker processes; scoring is CPU-bound Python, so one per core (docs/scoring.md)
    workers: int = field(default=1, metadata=rule(Interval(1, None)))


@dataclass
class TrendsConfig(_Section):
    """`riskml trends`: its MLflow experiment and the default period of one point."""

    _section = "trends"

    experiment: str = field(default="riskml-trends", metadata=rule(_NAME))
    period: str = field(default="W", metadata=rule(_NAME))


@dataclass
class ScoreConfig(_Section):
    """`riskml score`: defaults of the scorer."""

    _section = "score"

    # author of `--worktree` changes when git's user.email is unset
    default_author: str = ""
    top_reasons: int = field(default=5, metadata=rule(Interval(0, None)))
    # the branch whose history pending changes are scored against (docs/scoring.md)
    mainline: str = field(default="HEAD", metadata=rule(_NAME))
    # the most commits one --range (or one POST /v1/score branch) may hold
    max_range_commits: int = field(default=500, metadata=rule(Interval(1, None)))


@dataclass
class Config(_Section):
    """The whole ``riskml.toml``: one section per stage, every key with a working default."""

    _section = "critical_paths"

    critical_paths: dict[str, list[str]] = field(
        default_factory=_default_critical_paths, metadata=rule(Each(Each(Glob())))
    )
    mine: MineConfig = field(default_factory=MineConfig)
    ai: AIConfig = field(default_factory=AIConfig)
    label: LabelConfig = field(default_factory=LabelConfig)
    tiers: TierConfig = field(default_factory=TierConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    trends: TrendsConfig = field(default_factory=TrendsConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict, e.g. for MLflow params."""
        return dataclasses.asdict(self)


def _build(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a TOML table: known keys, their types, then their values.

    Errors name the section and key but not the file; :func:`load_config` adds the file.
    """
    if not isinstance(data, dict):
        raise RiskmlError(f"[{where}] must be a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise RiskmlError(f"unknown key(s) in [riskml{'.' + where if where else ''}]: "
                          f"{', '.join(unknown)}")  # fmt: skip
    base = cls()
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        current = getattr(base, name)
        inner = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(current):
            kwargs[name] = _build(type(current), value, inner)
        elif name == "review" and cls is TierConfig:
            merged = dict(current)
            for tier, policy in _check_type(value, hint, where, name).items():
                if tier not in TIERS:
                    raise RiskmlError(f"unknown tier {tier!r} in [{inner}]")
                merged[tier] = _build(ReviewPolicy, policy, f"{inner}.{tier}")
            kwargs[name] = merged
        elif name == "critical_paths" and cls is Config:
            if not isinstance(value, dict) or not all(
                isinstance(v, list) and all(isinstance(g, str) for g in v) for v in value.values()
            ):
                raise RiskmlError("[critical_paths] maps a name to a list of globs")
            kwargs[name] = value
        else:
            kwargs[name] = _check_type(value, hint, where, name)
    # the dataclass's __post_init__ checks the declared value constraints
    return dataclasses.replace(base, **kwargs)


_TYPE_WORDS = {int: "an int", float: "a number", str: "a string", bool: "true or false",
               list: "a list", dict: "a table"}  # fmt: skip


def _check_type(value: Any, hint: Any, where: str, key: str) -> Any:
    """``value`` if it has the type ``hint`` (an int is a float; a bool is not an int)."""
    origin = typing.get_origin(hint) or hint
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(value, arg, where, key)
            except RiskmlError:
                continue
        wanted = " or ".join(_TYPE_WORDS.get(a, str(a)) for a in args if a is not type(None))
        raise RiskmlError(f"[{where}] {key}: must be {wanted}, got {type(value).__name__}")
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in _TYPE_WORDS and (
        not isinstance(value, origin) or (origin in (int, float) and isinstance(value, bool))
    ):
        raise RiskmlError(
            f"[{where}] {key}: must be {_TYPE_WORDS[origin]}, got {type(value).__name__}"
        )
    return value


def config_from_dict(data: Any) -> Config:
    """A :class:`Config` from a nested dict shaped like ``riskml.toml`` (e.g. sections of
    ``Config.to_dict()`` kept as JSON), checked as the file is; missing keys take defaults."""
    return _build(Config, data, "")


def load_config(path: str | Path | None = None, repo: str | Path | None = None) -> Config:
    """Read the configuration: ``path`` if given, else ``<repo>/riskml.toml`` if present, else defaults.

    Every key is checked here against its type and its declared constraints, so a bad file
    fails with one line naming the file, the section and the key before any stage runs.
    """
    candidate: Path | None = None
    if path is not None:
        candidate = Path(path)
        if not candidate.is_file():
            raise RiskmlError(f"config file not found: {candidate}")
    elif repo is not None and (Path(repo) / CONFIG_FILE).is_file():
        candidate = Path(repo) / CONFIG_FILE
    if candidate is None:
        return Config()
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RiskmlError(f"{candidate}: not valid TOML: {exc}") from None
    try:
        return _build(Config, data, "")
    except RiskmlError as exc:
        raise RiskmlError(f"{candidate.name}: {exc}") from None


# the store URI schemes MLflow's tracking and registry accept (a scheme-less path is a folder)
STORE_SCHEMES = ("", "file", "sqlite", "postgresql", "mysql", "mssql", "http", "https",
                 "databricks", "databricks-uc", "uc")  # fmt: skip


def _store_uri(variable: str, uri: str) -> str:
    """``uri`` when MLflow can open its scheme, else a one-line :class:`RiskmlError`."""
    from urllib.parse import urlsplit

    try:
        scheme = urlsplit(uri).scheme
    except ValueError:
        scheme = "?"
    if scheme.split("+", 1)[0] not in STORE_SCHEMES and len(scheme) != 1:  # C: is a drive
        raise RiskmlError(
            f"unsupported MLflow store URI {uri!r} ({variable}): use a path, or a "
            "file:, sqlite:, postgresql:, mysql:, mssql:, http(s): or databricks URI"
        )
    return uri


def tracking_uri() -> str:
    """MLflow tracking URI: ``MLFLOW_TRACKING_URI`` when set, else the embedded SQLite store."""
    import os

    return _store_uri(
        "MLFLOW_TRACKING_URI", os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    )


def registry_uri() -> str:
    """MLflow model registry URI: ``MLFLOW_REGISTRY_URI`` when set, else :func:`tracking_uri`."""
    import os

    registry = os.environ.get("MLFLOW_REGISTRY_URI")
    return _store_uri("MLFLOW_REGISTRY_URI", registry) if registry else tracking_uri()


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///…`` URI (query string dropped), else None."""
    from urllib.parse import unquote

    if not uri.startswith("sqlite:///"):
        return None
    return Path(unquote(uri[len("sqlite:///") :].split("?", 1)[0]))


class _InRoot:
    """A file of :class:`DataPaths`: ``paths.<name>`` is ``paths.root / file``."""

    def __init__(self, file: str) -> None:
        self.file = file

    def __get__(self, paths: DataPaths | None, owner: type | None = None):
        return self if paths is None else paths.root / self.file


@dataclass(frozen=True)
class DataPaths:
    """Where each stage reads and writes by default for one repository (``data/<repo>/…``)."""

    root: Path
    changes = _InRoot("changes.parquet")
    state = _InRoot("changes.state")  # the companions of changes.parquet (riskml.snapshot)
    labels = _InRoot("labels.parquet")
    label_report = _InRoot("labels.report.json")
    szz_cache = _InRoot("szz-cache")


def data_paths(repo_name: str, data_dir: str | Path = DATA_DIR) -> DataPaths:
    """Default locations of one repository's tables: ``data/<repo_name>/``.

    The name is one folder below the data root: empty, ``.``, ``..`` or a name holding a path
    separator would put the tables elsewhere, and is refused."""
    check_repo_name(repo_name)
    return DataPaths(Path(data_dir) / repo_name)


def check_repo_name(name: str) -> str:
    """``name`` when it can name a repository's folder under the data root, else RiskmlError."""
    if (
        not isinstance(name, str)
        or name.strip() in ("", ".", "..")
        or any(c in name for c in "/\\\0")
    ):
        raise RiskmlError(
            f"invalid repository name {name!r}: one folder name under the data directory "
            "(not empty, '.', '..', and without '/', '\\' or NUL)"
        )
    return name


def models_dir(model_name: str, root: str | Path = "models") -> Path:
    """Local copy of a trained model: ``models/<model_name>/``."""
    return Path(root) / model_name


@dataclass(frozen=True)
class Workspace:
    """Where one job keeps its files and the settings it runs under, passed as one value.

    ``riskml run``, ``riskml demo`` and ``pipelines/retrain.py`` build one from their options and
    hand it down; each stage takes the part it needs (``paths(name)`` for a repository's tables,
    ``model_dir`` for the local model copy). ``config=None``: the repository's ``riskml.toml``
    (else the defaults), read by the job once it knows the repository.
    """

    config: Config | None = None
    data_dir: Path = Path(DATA_DIR)
    models_root: Path = Path("models")
    progress: bool = False

    def paths(self, repo_name: str) -> DataPaths:
        return data_paths(repo_name, self.data_dir)

    def model_dir(self, config: Config) -> Path:
        return models_dir(config.train.model_name, self.models_root)

    def settings(self, repo: Path) -> Config:
        """The configuration of a job on ``repo``: the one given, else the repository's own."""
        return self.config or load_config(repo=repo)
