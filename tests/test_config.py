"""riskml.toml: defaults that work, typed overrides, one-line errors for mistakes."""

from pathlib import Path

import pytest

from riskml.config import Config, data_paths, load_config, models_dir
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
        ('[label]\nwindow_days = "ninety"\n', "riskml.label.window_days must be a int, got str"),
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


def test_explicit_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(RiskmlError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


def test_default_paths() -> None:
    paths = data_paths("shop")
    assert paths.changes == Path("data/shop/changes.parquet")
    assert paths.state == Path("data/shop/changes.state.joblib")
    assert paths.labels == Path("data/shop/labels.parquet")
    assert paths.label_report == Path("data/shop/labels.report.json")
    assert models_dir("change-risk") == Path("models/change-risk")
