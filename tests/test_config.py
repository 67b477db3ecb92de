"""riskml.toml: defaults that work, typed overrides, one-line errors for mistakes."""

import dataclasses
from pathlib import Path

import pytest

from riskml.config import (
    Config,
    EvaluateConfig,
    LabelConfig,
    TrainConfig,
    data_paths,
    load_config,
    models_dir,
)
from riskml.errors import RiskmlError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(repo=tmp_path)
    assert config == Config()
    assert config.label.window_days == 90
    assert config.tiers.shares == {"critical": 0.03, "high": 0.07, "medium": 0.20}
    assert config.train.model_name == "change-risk"
    assert sorted(config.critical_paths) == ["auth", "infra", "migrations", "payments"]
    assert config.tiers.review["critical"].min_reviewers == 2
    assert config.tiers.review["critical"].rollout == "canary"


def test_repo_file_overrides_keys_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "riskml.toml").write_text(
        '[critical_paths]\nledger = ["ledger/**"]\n'
        "[label]\nwindow_days = 30\n"
        "[tiers]\nshares = { critical = 0.05, high = 0.1, medium = 0.2 }\n"
        "[tiers.review.low]\nmin_reviewers = 0\n"
        "[train]\npromotion_tolerance = 0\n"
        '[serve.repos]\nshop = "/srv/shop"\n'
    )
    config = load_config(repo=tmp_path)
    assert config.critical_paths == {"ledger": ["ledger/**"]}
    assert config.label.window_days == 30
    assert config.label.incident_pattern == r"\bINC-\d+\b"
    assert config.tiers.shares["critical"] == 0.05
    assert config.tiers.review["low"].min_reviewers == 0
    assert config.tiers.review["high"].min_reviewers == 2
    assert config.train.promotion_tolerance == 0.0
    assert isinstance(config.train.promotion_tolerance, float)
    assert config.serve.repos == {"shop": "/srv/shop"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[label]\nwindow = 3\n", "unknown key(s) in [riskml.label]: window"),
        ("[labels]\nwindow_days = 3\n", "unknown key(s) in [riskml]: labels"),
        (
            '[label]\nwindow_days = "ninety"\n',
            "riskml.toml: [label] window_days: must be an int, got str",
        ),
        ("[critical_paths]\npay = 3\n", "[critical_paths] maps a name to a list of globs"),
        ("[tiers.review.huge]\nmin_reviewers = 3\n", "unknown tier 'huge'"),
        ("not toml = = 1\n", "not valid TOML"),
    ],
)
def test_mistakes_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "riskml.toml").write_text(text)
    with pytest.raises(RiskmlError) as info:
        load_config(repo=tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_evaluate_section_defaults_and_overrides(tmp_path: Path) -> None:
    assert Config().evaluate == EvaluateConfig(
        folds=5, fold_fraction=0.1, bootstrap=1000, in_train=True
    )
    (tmp_path / "riskml.toml").write_text("[evaluate]\nfolds = 3\nin_train = false\n")
    config = load_config(repo=tmp_path)
    assert config.evaluate == EvaluateConfig(
        folds=3, fold_fraction=0.1, bootstrap=1000, in_train=False
    )


def test_explicit_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(RiskmlError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


def test_default_paths() -> None:
    paths = data_paths("shop")
    assert paths.changes == Path("data/shop/changes.parquet")
    assert paths.state == Path("data/shop/changes.state")
    assert paths.labels == Path("data/shop/labels.parquet")
    assert paths.label_report == Path("data/shop/labels.report.json")
    assert models_dir("change-risk") == Path("models/change-risk")


_LGBM = "[train] lgbm_params: "


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("num_leaves = 1", "num_leaves: must be in [2, 131072], got 1"),
        ("num_leaves = 15.0", "num_leaves: must be an int, got 15.0"),
        ('learning_rate = "fast"', "learning_rate: must be a number, got 'fast'"),
        ("learning_rate = 0", "learning_rate: must be > 0, got 0"),
        ("min_child_samples = -1", "min_child_samples: must be >= 0, got -1"),
        ("feature_fraction = 1.5", "feature_fraction: must be in (0, 1], got 1.5"),
        ("bagging_fraction = 0", "bagging_fraction: must be in (0, 1], got 0"),
        ("reg_lambda = -1", "reg_lambda: must be >= 0, got -1"),
        ("max_bin = 1", "max_bin: must be >= 2, got 1"),
        ("extra_trees = 1", "extra_trees: must be true or false, got 1"),
        ("lambda_l2 = 3", "lambda_l2: write 'reg_lambda' (LightGBM's name riskml uses)"),
        (
            'objective = "regression"',
            "objective: not a LightGBM parameter riskml lets you set; one of learning_rate, "
            "num_leaves, max_depth, min_child_samples, min_sum_hessian_in_leaf, min_split_gain, "
            "reg_lambda, reg_alpha, feature_fraction, feature_fraction_bynode, bagging_fraction, "
            "bagging_freq, extra_trees, path_smooth, max_bin, cat_smooth, cat_l2, "
            "min_data_per_group, max_cat_to_onehot, max_cat_threshold, scale_pos_weight, "
            "num_threads, verbosity (docs/training.md)",
        ),
    ],
)
def test_lightgbm_parameters_are_checked_when_the_file_is_read(
    tmp_path: Path, params: str, message: str
) -> None:
    (tmp_path / "riskml.toml").write_text(f"[train]\nlgbm_params = {{{params}}}\n")
    with pytest.raises(RiskmlError) as info:
        load_config(repo=tmp_path)
    assert str(info.value) == f"riskml.toml: {_LGBM}{message}"


def test_lightgbm_parameters_in_range_are_kept(tmp_path: Path) -> None:
    (tmp_path / "riskml.toml").write_text(
        "[train]\nseed = 2147483647\nlgbm_params = "
        "{num_leaves = 2, learning_rate = 1, extra_trees = true, max_depth = -1}\n"
    )
    train = load_config(repo=tmp_path).train
    assert train.lgbm_params == {
        "num_leaves": 2, "learning_rate": 1, "extra_trees": True, "max_depth": -1
    }  # fmt: skip
    assert train.seed == 2147483647


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[train]\nseed = -1\n", "[train] seed: must be in [0, 2147483647], got -1"),
        (
            "[train]\nearly_stopping_rounds = 0\n",
            "[train] early_stopping_rounds: must be >= 1, got 0",
        ),
        ("[train]\nmin_rounds = -1\n", "[train] min_rounds: must be >= 0, got -1"),
        (
            '[train]\nmodel_name = "team/risk"\n',
            "[train] model_name: must be an MLflow registered-model name (without '/', ':', "
            "'\\' or NUL, not '.' nor starting with '..'), got 'team/risk'",
        ),
        (
            '[train]\nmodel_name = ".."\n',
            "[train] model_name: must be an MLflow registered-model name (without '/', ':', "
            "'\\' or NUL, not '.' nor starting with '..'), got '..'",
        ),
    ],
)
def test_the_other_lightgbm_bound_keys_and_the_model_name(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "riskml.toml").write_text(text)
    with pytest.raises(RiskmlError) as info:
        load_config(repo=tmp_path)
    assert str(info.value) == f"riskml.toml: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[label]\nwindow_days = -3\n", "[label] window_days: must be > 0, got -3"),
        ("[label]\nwindow_days = 0\n", "[label] window_days: must be > 0, got 0"),
        ("[label]\nszz_max_files = 0\n", "[label] szz_max_files: must be > 0, got 0"),
        (
            '[label]\nincident_pattern = "INC-(\\\\d+"\n',
            "[label] incident_pattern: not a valid regular expression "
            "(missing ), unterminated subpattern at position 4): 'INC-(\\\\d+'",
        ),
        (
            '[mine]\nfix_pattern = "[fix"\n',
            "[mine] fix_pattern: not a valid regular expression "
            "(unterminated character set at position 0): '[fix'",
        ),
        (
            '[mine]\ntest_globs = ["tests/**", "/abs/**"]\n',
            "[mine] test_globs: must be relative to the repository root (no leading /), "
            "got '/abs/**'",
        ),
        ('[mine]\nconfig_globs = [" "]\n', "[mine] config_globs: must be a non-empty glob"),
        (
            '[critical_paths]\nledger = ["/ledger/**"]\n',
            "[critical_paths] critical_paths: ledger: must be relative to the repository root "
            "(no leading /), got '/ledger/**'",
        ),
        (
            '[ai]\nnotes_ref = "notes/ai"\n',
            "[ai] notes_ref: must be a ref under refs/, got 'notes/ai'",
        ),
        (
            "[tiers]\nshares = { critical = 0.0, high = 0.1 }\n",
            "[tiers] shares: critical: must be in (0, 1), got 0.0",
        ),
        (
            "[tiers]\nshares = { critical = 0.3, high = 0.3, medium = 0.4 }\n",
            "[tiers] shares: must sum below 1 (low keeps the rest), got 1",
        ),
        (
            "[tiers]\nshares = { low = 0.5 }\n",
            "[tiers] shares: unknown key(s) 'low': expected critical, high, medium",
        ),
        ("[tiers]\nrates = { high = 1.5 }\n", "[tiers] rates: high: must be in (0, 1], got 1.5"),
        (
            '[tiers]\nmode = "rank"\n',
            "[tiers] mode: must be one of 'share', 'rate', got 'rank'",
        ),
        (
            '[tiers]\ncritical_path_floor = "severe"\n',
            "[tiers] critical_path_floor: must be one of '', 'low', 'medium', 'high', "
            "'critical', got 'severe'",
        ),
        (
            "[tiers.review.high]\nmin_reviewers = -1\n",
            "[tiers.review.high] min_reviewers: must be >= 0, got -1",
        ),
        ("[train]\nblend_weight = 1.5\n", "[train] blend_weight: must be in [0, 1], got 1.5"),
        ("[train]\ntest_fraction = 1\n", "[train] test_fraction: must be in (0, 1), got 1.0"),
        (
            "[train]\ntest_fraction = 0.5\nvalid_fraction = 0.5\n",
            "[train] test_fraction + valid_fraction: must sum below 1 (the fit slice keeps "
            "the rest), got 1",
        ),
        ("[train]\ngap_days = -1\n", "[train] gap_days: must be >= 0, got -1"),
        ("[train]\nhalf_life_days = 0\n", "[train] half_life_days: must be > 0, got 0.0"),
        (
            '[train]\nproject_weights = "equal"\n',
            "[train] project_weights: must be one of 'rows', 'sqrt', 'balanced', got 'equal'",
        ),
        (
            '[train]\ncalibration = "platt"\n',
            "[train] calibration: must be one of 'sigmoid', 'isotonic', got 'platt'",
        ),
        (
            '[train]\npromotion_metric = "auc"\n',
            "[train] promotion_metric: must be one of 'roc_auc', 'pr_auc', 'brier', "
            "'log_loss', 'capture_at_5', 'capture_at_10', 'capture_at_30', "
            "'recall_at_20_effort', 'popt', got 'auc'",
        ),
        ("[train]\nmax_rounds = 0\n", "[train] max_rounds: must be >= 1, got 0"),
        (
            '[train]\nmodel_name = " "\n',
            "[train] model_name: must be a non-empty name without surrounding spaces, got ' '",
        ),
        ("[train]\ngap_days = 1.5\n", "[train] gap_days: must be an int, got float"),
        ("[train]\nsearch = 1\n", "[train] search: must be true or false, got int"),
        ("[evaluate]\nfolds = 0\n", "[evaluate] folds: must be >= 1, got 0"),
        ("[evaluate]\nfold_fraction = 0\n", "[evaluate] fold_fraction: must be in (0, 1), got 0.0"),
        ("[evaluate]\nbootstrap = -1\n", "[evaluate] bootstrap: must be >= 0, got -1"),
        ('[evaluate]\nin_train = "yes"\n', "[evaluate] in_train: must be true or false, got str"),
        (
            "[evaluate]\nfolds = 5\nfold_fraction = 0.2\n",
            "[evaluate] folds × fold_fraction: must be below 1 (the first fold trains on the "
            "rest), got 5 × 0.2 = 1",
        ),
        ("[serve]\nworkers = 0\n", "[serve] workers: must be >= 1, got 0"),
        ("[serve]\nworkers = true\n", "[serve] workers: must be an int, got bool"),
        ("[serve]\nport = 70000\n", "[serve] port: must be in [0, 65535], got 70000"),
        ("[serve]\nmax_body_bytes = 0\n", "[serve] max_body_bytes: must be > 0, got 0"),
        (
            "[serve]\nrequest_timeout_seconds = 0\n",
            "[serve] request_timeout_seconds: must be > 0, got 0.0",
        ),
        (
            '[serve]\nrequest_timeout_seconds = "30"\n',
            "[serve] request_timeout_seconds: must be a number, got str",
        ),
        ("[score]\ntop_reasons = -1\n", "[score] top_reasons: must be >= 0, got -1"),
        ("[tiers]\nreview = 3\n", "[tiers] review: must be a table, got int"),
        ('[review.ai]\nenabled = "no"\n', "[review.ai] enabled: must be true or false, got str"),
        (
            '[review.ai]\nagent_critical_tier = "severe"\n',
            "[review.ai] agent_critical_tier: must be one of '', 'low', 'medium', 'high', "
            "'critical', got 'severe'",
        ),
        (
            "[review.ai]\nmostly_ai_share = 0\n",
            "[review.ai] mostly_ai_share: must be in (0, 1], got 0.0",
        ),
        (
            "[review.ai]\nmostly_ai_share = 1.5\n",
            "[review.ai] mostly_ai_share: must be in (0, 1], got 1.5",
        ),
        (
            "[review.ai]\nmostly_ai_tests = 1\n",
            "[review.ai] mostly_ai_tests: must be true or false, got int",
        ),
        ("[review.ai]\nreviewers = 2\n", "unknown key(s) in [riskml.review.ai]: reviewers"),
        ("[review]\nai = true\n", "[review.ai] must be a table"),
        (
            "[serve.repos]\nshop = 3\n",
            "[serve] repos: shop: must be a non-empty name without surrounding spaces, got int",
        ),
        (
            "[critical_paths]\npay = [3]\n",
            "[critical_paths] maps a name to a list of globs",
        ),
        ("[label]\nwindow_days = 100000\n", "[label] window_days: must be <= 36500, got 100000"),
        ("[train]\ngap_days = 99999\n", "[train] gap_days: must be <= 36500, got 99999"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "riskml.toml").write_text(text)
    with pytest.raises(RiskmlError) as info:
        load_config(repo=tmp_path)
    assert str(info.value) == f"riskml.toml: {message}"


def test_the_ai_review_rules_default_on_and_a_team_can_loosen_or_turn_them_off(
    tmp_path: Path,
) -> None:
    rules = load_config(repo=tmp_path).review.ai
    assert (rules.enabled, rules.agent_critical_tier, rules.agent_critical_other_owner) == (
        True, "high", True
    )  # fmt: skip
    assert (rules.assisted_critical_code_owner, rules.mostly_ai_tests, rules.mostly_ai_share) == (
        True, True, 0.5
    )  # fmt: skip
    (tmp_path / "riskml.toml").write_text(
        '[review.ai]\nagent_critical_tier = "medium"\nmostly_ai_share = 0.8\n'
    )
    loose = load_config(repo=tmp_path).review.ai
    assert (loose.enabled, loose.agent_critical_tier, loose.mostly_ai_share) == (
        True,
        "medium",
        0.8,
    )
    (tmp_path / "riskml.toml").write_text("[review.ai]\nenabled = false\n")
    assert load_config(repo=tmp_path).review.ai.enabled is False


def test_the_message_names_the_file_given(tmp_path: Path) -> None:
    path = tmp_path / "prod.toml"
    path.write_text("[label]\nwindow_days = -3\n")
    with pytest.raises(RiskmlError) as info:
        load_config(path)
    assert str(info.value) == "prod.toml: [label] window_days: must be > 0, got -3"


def test_configs_built_in_code_are_checked_the_same_way() -> None:
    with pytest.raises(RiskmlError) as info:
        dataclasses.replace(Config().label, window_days=-3)
    assert str(info.value) == "[label] window_days: must be > 0, got -3"
    with pytest.raises(RiskmlError) as info:
        TrainConfig(blend_weight=-0.1)
    assert str(info.value) == "[train] blend_weight: must be in [0, 1], got -0.1"
    assert LabelConfig(window_days=1).window_days == 1


def test_an_mlflow_store_of_an_unsupported_scheme_is_one_line(monkeypatch) -> None:
    from riskml.config import registry_uri, tracking_uri

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "gopher://x")
    with pytest.raises(RiskmlError) as info:
        tracking_uri()
    assert str(info.value) == (
        "unsupported MLflow store URI 'gopher://x' (MLFLOW_TRACKING_URI): use a path, or a "
        "file:, sqlite:, postgresql:, mysql:, mssql:, http(s): or databricks URI"
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "ftp://x")
    assert tracking_uri() == "postgresql+psycopg://u@h/db"
    with pytest.raises(RiskmlError, match=r"'ftp://x' \(MLFLOW_REGISTRY_URI\)"):
        registry_uri()
