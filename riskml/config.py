"""One typed configuration tree, read from ``riskml.toml``; every key has a working default.

Lookup order: the ``--config`` path when given, else ``riskml.toml`` at the repository root,
else the defaults below. Unknown sections or keys are a user mistake (:class:`RiskmlError`),
so a typo never silently falls back to a default.

Each stage owns one section; add keys to your own section only, with a default that works.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskml.errors import RiskmlError

CONFIG_FILE = "riskml.toml"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
TIERS = ("low", "medium", "high", "critical")


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


@dataclass
class MineConfig:
    """How `riskml mine` reads messages and classifies touched files."""

    # fix words in any case; issue ids as "#12" or upper-case "PROJ-12" (not UTF-8, SHA-256...)
    fix_pattern: str = (
        r"(?i:\b(fix(e[sd]|ing)?|bug(s|fix(es)?)?|defect|patch(ed)?|hotfix(es)?|fault"
        r"|regression)\b)|#\d+"
        r"|\b(?!(UTF|SHA|ISO|RFC|UTC|GMT|X86|ARM|AES|TLS|SSL|HTTP)-)[A-Z][A-Z0-9]+-\d+\b"
    )
    test_globs: list[str] = field(
        default_factory=lambda: [
            "**/test/**",
            "**/tests/**",
            "**/__tests__/**",
            "**/spec/**",
            "test/**",
            "tests/**",
            "**/test_*.py",
            "test_*.py",
            "**/*_test.py",
            "**/*_test.go",
            "**/*.test.[jt]s",
            "**/*.spec.[jt]s",
            "**/*Test.java",
            "**/*_spec.rb",
        ]
    )
    config_globs: list[str] = field(
        default_factory=lambda: [
            "**/*.yml",
            "**/*.yaml",
            "**/*.toml",
            "**/*.json",
            "**/*.ini",
            "**/*.cfg",
            "**/*.conf",
            "**/*.tf",
            "**/*.tfvars",
            "**/Dockerfile",
            "**/Dockerfile.*",
            "**/docker-compose*",
            "**/helm/**",
            "**/charts/**",
            "**/.env*",
            "**/*.properties",
        ]
    )
    migration_globs: list[str] = field(
        default_factory=lambda: [
            "**/migrations/**",
            "**/migrate/**",
            "**/alembic/versions/**",
            "**/db/migrate/**",
            "**/*.sql",
        ]
    )
    dependency_globs: list[str] = field(
        default_factory=lambda: [
            "**/requirements*.txt",
            "**/pyproject.toml",
            "**/setup.py",
            "**/setup.cfg",
            "**/Pipfile",
            "**/Pipfile.lock",
            "**/poetry.lock",
            "**/uv.lock",
            "**/package.json",
            "**/package-lock.json",
            "**/yarn.lock",
            "**/pnpm-lock.yaml",
            "**/go.mod",
            "**/go.sum",
            "**/Cargo.toml",
            "**/Cargo.lock",
            "**/Gemfile",
            "**/Gemfile.lock",
            "**/pom.xml",
            "**/build.gradle",
            "**/*.gradle.kts",
            "**/composer.json",
            "**/composer.lock",
        ]
    )


@dataclass
class AIConfig:
    """Users' own AI-provenance markers, added to the built-in ones of provenance.md."""

    # trailer key (case-insensitive, without the colon) -> tool name, e.g. {"X-Internal-AI": "acme"}
    trailers: dict[str, str] = field(default_factory=dict)
    # author/co-author e-mail address (exact, case-insensitive) -> tool name of an AI agent
    agent_emails: dict[str, str] = field(default_factory=dict)
    # e-mail addresses of non-AI automation
    bot_emails: list[str] = field(default_factory=list)
    # git notes ref holding line-level AI authorship (git-ai)
    notes_ref: str = "refs/notes/ai"


@dataclass
class LabelConfig:
    """How `riskml label` links incidents to the changes that caused them."""

    window_days: int = 90
    incident_pattern: str = r"\bINC-\d+\b"
    szz_max_files: int = 20
    szz_ignore_comments: bool = True
    # lines a fix changes in test files (mine.test_globs) are not where the bug was
    szz_skip_tests: bool = True


@dataclass
class ReviewPolicy:
    """The review a tier requires (scoring.md)."""

    min_reviewers: int = 1
    code_owner: bool = False
    senior: bool = False
    rollout: str = "normal"
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
class TierConfig:
    """Tier thresholds are set at training time from the validation slice (scoring.md)."""

    # "share": each tier holds a share of changes; "rate": each tier reaches a target incident rate
    mode: str = "share"
    shares: dict[str, float] = field(
        default_factory=lambda: {"critical": 0.03, "high": 0.07, "medium": 0.20}
    )
    rates: dict[str, float] = field(
        default_factory=lambda: {"critical": 0.5, "high": 0.3, "medium": 0.15}
    )
    # a change touching a critical path is never below this tier ("" switches the floor off)
    critical_path_floor: str = "medium"
    review: dict[str, ReviewPolicy] = field(default_factory=_default_review)


@dataclass
class TrainConfig:
    """How `riskml train` splits, fits and registers."""

    model_name: str = "change-risk"
    experiment: str = "riskml"
    test_fraction: float = 0.2
    valid_fraction: float = 0.15
    gap_days: int | None = None  # None: the label window
    # sigmoid keeps every distinct score distinct (tier shares stay exact); isotonic plateaus
    calibration: str = "sigmoid"
    promotion_metric: str = "roc_auc"
    promotion_tolerance: float = 0.0
    seed: int = 0
    # LightGBM: overrides of riskml.train.model.DEFAULT_PARAMS; search = try the few settings
    # of model.SEARCH_SPACE on the fit slice and keep the best by validation ROC-AUC
    lgbm_params: dict[str, float] = field(default_factory=dict)
    search: bool = True
    max_rounds: int = 3000
    early_stopping_rounds: int = 100
    # after the search, train the chosen settings again on fit + validation slices
    refit: bool = True
    # riskml's score: blend_weight x LightGBM + (1 - blend_weight) x a linear component on the
    # log Kamei metrics and their pairwise products (1.0 = LightGBM alone); docs/training.md
    blend_weight: float = 0.7


@dataclass
class ServeConfig:
    """`riskml serve`: repositories it may read, by name (a request never names a path)."""

    repos: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_000_000
    model_refresh_seconds: float = 30.0
    # uvicorn worker processes; scoring is CPU-bound Python, so one per core (docs/scoring.md)
    workers: int = 1


@dataclass
class TrendsConfig:
    experiment: str = "riskml-trends"
    period: str = "W"


@dataclass
class ScoreConfig:
    # author of `--worktree` changes when git's user.email is unset
    default_author: str = ""
    top_reasons: int = 5
    # the branch whose history pending changes are scored against (docs/scoring.md)
    mainline: str = "HEAD"


@dataclass
class Config:
    critical_paths: dict[str, list[str]] = field(default_factory=_default_critical_paths)
    mine: MineConfig = field(default_factory=MineConfig)
    ai: AIConfig = field(default_factory=AIConfig)
    label: LabelConfig = field(default_factory=LabelConfig)
    tiers: TierConfig = field(default_factory=TierConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    trends: TrendsConfig = field(default_factory=TrendsConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict, e.g. for MLflow params."""
        return dataclasses.asdict(self)


def _build(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, checking keys and types at the boundary."""
    if not isinstance(data, dict):
        raise RiskmlError(f"{CONFIG_FILE}: [{where}] must be a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise RiskmlError(f"{CONFIG_FILE}: unknown key(s) in [{where}]: {', '.join(unknown)}")
    base = cls()
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        current = getattr(base, name)
        if dataclasses.is_dataclass(current):
            kwargs[name] = _build(type(current), value, f"{where}.{name}")
        elif name == "review" and cls is TierConfig:
            merged = dict(current)
            for tier, policy in value.items():
                if tier not in TIERS:
                    raise RiskmlError(f"{CONFIG_FILE}: unknown tier {tier!r} in [{where}.review]")
                merged[tier] = _build(ReviewPolicy, policy, f"{where}.review.{tier}")
            kwargs[name] = merged
        else:
            kwargs[name] = _check_type(value, hint, f"{where}.{name}")
    return dataclasses.replace(base, **kwargs)


def _check_type(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint) or hint
    args = typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in args:
            if arg is type(None) and value is None:
                return None
            try:
                return _check_type(value, arg, where)
            except RiskmlError:
                continue
        raise RiskmlError(f"{CONFIG_FILE}: {where} has the wrong type")
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (list, dict, str, int, float, bool) and not isinstance(value, origin):
        raise RiskmlError(
            f"{CONFIG_FILE}: {where} must be a {origin.__name__}, got {type(value).__name__}"
        )
    return value


def load_config(path: str | Path | None = None, repo: str | Path | None = None) -> Config:
    """Read the configuration: ``path`` if given, else ``<repo>/riskml.toml`` if present, else defaults."""
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
    if "critical_paths" in data:
        areas = data["critical_paths"]
        if not isinstance(areas, dict) or not all(
            isinstance(v, list) and all(isinstance(g, str) for g in v) for v in areas.values()
        ):
            raise RiskmlError(f"{candidate}: [critical_paths] maps a name to a list of globs")
    return _build(Config, data, "riskml")


def tracking_uri() -> str:
    """MLflow tracking URI: ``MLFLOW_TRACKING_URI`` when set, else the embedded SQLite store."""
    import os

    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def registry_uri() -> str:
    """MLflow model registry URI: ``MLFLOW_REGISTRY_URI`` when set, else :func:`tracking_uri`."""
    import os

    return os.environ.get("MLFLOW_REGISTRY_URI") or tracking_uri()


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///…`` URI (query string dropped), else None."""
    from urllib.parse import unquote

    if not uri.startswith("sqlite:///"):
        return None
    return Path(unquote(uri[len("sqlite:///") :].split("?", 1)[0]))


@dataclass(frozen=True)
class DataPaths:
    """Where each stage reads and writes by default for one repository (``data/<repo>/…``)."""

    root: Path

    @property
    def changes(self) -> Path:
        return self.root / "changes.parquet"

    @property
    def state(self) -> Path:
        return self.root / "changes.state.joblib"

    @property
    def labels(self) -> Path:
        return self.root / "labels.parquet"

    @property
    def label_report(self) -> Path:
        return self.root / "labels.report.json"

    @property
    def szz_cache(self) -> Path:
        return self.root / "szz-cache"


def data_paths(repo_name: str, data_dir: str | Path = "data") -> DataPaths:
    """Default locations of one repository's tables: ``data/<repo_name>/``."""
    return DataPaths(Path(data_dir) / repo_name)


def models_dir(model_name: str, root: str | Path = "models") -> Path:
    """Local copy of a trained model: ``models/<model_name>/``."""
    return Path(root) / model_name
