"""Feature groups and the ablation that removes each in turn from riskml's model.

A group is a set of columns that answer one question about a change (how big, who wrote it,
what the files went through before, ...). :func:`ablation_configs` gives one configuration per
group present in a dataset with that group in ``[train] exclude_features``; the baselines keep
their columns, so every variant is compared with the same lapredict and kamei_lr.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from riskml.config import FILE_PAST_COLUMNS, Config
from riskml.tables import OPTIONAL_CHANGES_COLUMNS

# group -> columns (raw, derived and label-history); a column in no group is "other"
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "size": (
        "la", "ld", "lt", "lt_recent_pct", "nf", "nd", "ns", "entropy", "entropy_norm",
        "n_added_files", "n_deleted_files", "n_renamed_files", "n_binary_files",
        "churn_log", "la_per_lt", "ld_per_lt", "la_per_file", "added_share",
    ),
    "purpose": ("fix", "is_revert"),
    "history": ("ndev", "age", "nuc", "ndev_recent_pct", "age_recent_pct", "nuc_recent_pct"),
    "experience": (
        "exp", "rexp", "sexp", "author_file_commits", "first_touch_files", "owned_share",
        "author_tenure_days", "exp_recent_pct", "rexp_recent_pct", "sexp_recent_pct",
        "author_file_commits_recent_pct", "author_tenure_days_recent_pct",
    ),
    "file_past": FILE_PAST_COLUMNS,
    "content": OPTIONAL_CHANGES_COLUMNS,  # the diff-content columns
    "critical_paths": ("touches_critical", "n_critical_files", "critical_areas"),
    "file_kinds": ("n_test_files", "n_config_files", "n_migration_files", "n_dependency_files"),
    "ai_provenance": ("ai_provenance", "ai_tool", "ai_line_share"),
    "time": ("hour", "weekday", "hour_utc", "weekday_utc"),
    "label_history": (
        "past_incidents_files", "past_incidents_dirs", "past_incidents_author",
        "past_incidents_files_recent_pct", "past_incidents_dirs_recent_pct",
        "past_incidents_author_recent_pct",
    ),
}  # fmt: skip


def groups_present(dataset: pd.DataFrame) -> dict[str, list[str]]:
    """The groups with at least one column in ``dataset`` (derived ones count: the model adds
    them whenever their raw columns are there), with those columns."""
    from riskml.train.dataset import DERIVED_COLUMNS

    out = {}
    for name, columns in FEATURE_GROUPS.items():
        present = [c for c in columns if c in dataset.columns or c in DERIVED_COLUMNS]
        if present:
            out[name] = present
    return out


def ablation_configs(dataset: pd.DataFrame, config: Config) -> dict[str, Config]:
    """``{"all": config, "-<group>": config without the group, ...}`` for the groups present;
    a group the configuration already leaves out gets ``"+<group>"``, the config with it."""
    out = {"all": config}
    for name, columns in groups_present(dataset).items():
        if set(columns) <= set(config.train.exclude_features):
            # left out of the model by the configuration: the variant puts it back
            kept = [c for c in config.train.exclude_features if c not in columns]
            out[f"+{name}"] = replace(config, train=replace(config.train, exclude_features=kept))
            continue
        excluded = sorted({*config.train.exclude_features, *columns})
        out[f"-{name}"] = replace(config, train=replace(config.train, exclude_features=excluded))
    if config.train.text != "off":
        # the text component on the diff's tokens is no column: its variant switches it off
        out["-text"] = replace(config, train=replace(config.train, text="off"))
    return out
