"""The sentence a reviewer reads for each reason of a score (scoring.md), one per column.

Most sentences follow one of a few forms, so they are tables of words rather than code: a
count said with its noun ("adds 3 lines"), a number ("… 12 days before"), a share in percent,
a flag's two sentences, a text value. The few sentences of their own are functions at the end.
Every sentence ends with whether the contribution raises or lowers the risk.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from riskml.fmt import number_text

# column -> (sentence, noun[, sentence when the count is 0]): "{}" is the count with its noun
COUNTS: dict[str, tuple[str, ...]] = {
    "la": ("adds {}", "line"),
    "ld": ("deletes {}", "line"),
    "lt": ("touched files had {} before", "line"),
    "nf": ("touches {}", "file"),
    "nd": ("touches {}", "directory"),
    "ns": ("touches {}", "subsystem"),
    "ndev": ("touched files had {}", "earlier author"),
    "nuc": ("touched files had {}", "earlier change"),
    "exp": ("author has {}", "earlier commit"),
    "sexp": ("author has {} in these subsystems", "earlier commit"),
    "n_test_files": ("touches {}", "test file"),
    "n_config_files": ("touches {}", "config/infra file"),
    "n_migration_files": ("touches {}", "schema migration"),
    "n_dependency_files": ("touches {}", "dependency file"),
    "past_incidents_files": (
        "touched files were changed by {}",
        "earlier incident-causing change",
    ),
    "past_incidents_dirs": ("its directories saw {}", "earlier incident-causing change"),
    "past_incidents_author": ("author made {}", "earlier incident-causing change"),
    "n_added_files": ("adds {}", "new file"),
    "n_deleted_files": ("deletes {}", "file"),
    "n_renamed_files": ("renames {}", "file"),
    "n_binary_files": ("touches {}", "binary file"),
    "file_fixes": ("touched files had {}", "earlier bug-fix commit"),
    "dir_fixes": ("a touched directory had {}", "earlier bug-fix commit"),
    "file_reverts": ("touched files had {}", "earlier revert"),
    "minor_contributors": (
        "a touched file has {} (under 5 % of its commits)",
        "minor contributor",
    ),
    "coupled_partners": ("touched files usually change with {}", "other file"),
    "coupled_missing": (
        "leaves out {} usually changed together with the touched ones",
        "file",
    ),
    "recent_file_commits": ("touched files had {} in the last 30 days", "commit"),
    "recent_churn": ("touched files had {} in the last 30 days", "changed line"),
    "recent_devs": ("touched files had {} in the last 30 days", "author"),
    # diff content (docs/features.md)
    "error_handling": (
        "touches error handling ({} in changed lines)",
        "try/catch/throw keyword",
        "touches no error handling",
    ),
    "concurrency": (
        "touches concurrency ({} in changed lines)",
        "lock/thread/async word",
        "touches no concurrency code",
    ),
    "null_checks": ("adds or removes {}", "null check"),
    "config_key_lines": ("changes {}", "configuration key"),
    "sql_statements": ("changes {}", "SQL statement"),
    "dependency_lines": (
        "changes {} of dependency manifests",
        "line",
        "changes no dependency manifest",
    ),
    "test_lines_deleted": ("deletes {} of test code", "line", "deletes no test code"),
    "todo_added": ("adds {}", "TODO/FIXME/HACK marker"),
}

# column -> sentence of its number ("{}"): days, an entropy, a ratio
NUMBERS: dict[str, str] = {
    "entropy": "spreads its edits across files (entropy {})",
    "entropy_norm": "spreads its edits evenly across files ({})",
    "age": "touched files last changed {} days before on average",
    "rexp": "author's recent experience is {}",
    "author_tenure_days": "author's first commit was {} days before",
    "la_per_lt": "adds {} lines per existing line of the touched files",
    "ld_per_lt": "deletes {} lines per existing line of the touched files",
    "la_per_file": "adds {} lines per file",
    "file_fixes_decay": "touched files were fixed recently (recency-weighted fixes {})",
    "age_min": "the most recently changed touched file changed {} days before",
    "age_max": "the longest-untouched file last changed {} days before",
    "file_age_min": "the youngest touched file is {} days old",
    "file_age_max": "the oldest touched file is {} days old",
}

# column -> sentence of its share (a fraction), said in percent ("{}")
PERCENTS: dict[str, str] = {
    "owned_share": "author is the main committer of {} % of these files",
    "ai_line_share": "{} % of added lines by AI",
    "added_share": "{} % of its changed lines are additions",
    "minor_share": "{} % of a touched file's contributors are minor (under 5 % of its commits)",
    "top_owner_share": "the least-owned touched file's main committer made {} % of its commits",
    "author_share_min": (
        "author made {} % of the earlier commits of one of these files (their least)"
    ),
    "coupled_missing_share": (
        "leaves out {} % of the files usually changed together with the touched ones"
    ),
}

# column -> (sentence when true, sentence when false)
FLAGS: dict[str, tuple[str, str]] = {
    "fix": ("is a fix", "is not a fix"),
    "is_revert": ("is a revert", "is not a revert"),
    "touches_critical": ("touches a critical path", "touches no critical path"),
    "comments_only": ("changes comments only", "changes code, not only comments"),
}

# column -> (sentence of its text value "{}"[, sentence when empty])
VALUES: dict[str, tuple[str, ...]] = {
    "ai_provenance": ("provenance is {}",),
    "ai_tool": ("written with {}", "no AI tool recorded"),
    "critical_areas": ("touches critical areas: {}", "touches no critical area"),
    "project": ("project {}",),
}

_PLURALS = {"directory": "directories"}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def number(v: float) -> str:
    """A number as the sentences show it: whole numbers without decimals, else 2."""
    return number_text(v, 2, "unknown", whole=True)


def counted(n: float, noun: str) -> str:
    """``n`` with its noun: "no lines", "1 line", "3 lines"."""
    plural = _PLURALS.get(noun, f"{noun}s")
    if n == 0:
        return f"no {plural}"
    return f"{number(n)} {noun if n == 1 else plural}"


def _hour(v: float, row: dict) -> str:
    return f"authored at {number(v)}:00 UTC"


def _weekday(v: float, row: dict) -> str:
    return "authored on " + (_WEEKDAYS[int(v)] if v == v else "?")


def _author_file_commits(v: float, row: dict) -> str:
    if v == 0:
        return "author never changed these files before"
    return f"author changed these files {counted(v, 'time')} before"


def _first_touch_files(v: float, row: dict) -> str:
    if v == 0:
        return "author changed each of these files before"
    return f"author never changed {number(v)} of these files before"


def _critical_files(v: float, row: dict) -> str:
    areas = row.get("critical_areas")
    return f"touches {counted(v, 'file')} on critical paths" + (f" ({areas})" if areas else "")


def _churn(v: float, row: dict) -> str:
    return f"changes {counted(round(math.expm1(v)), 'line')} in all"


def _text_score(v: float | None, row: dict) -> str:
    if v is None or v != v:
        return "its diff has no tokens the text model knows"
    kind = "earlier incident-causing changes" if v > 0 else "changes without incidents"
    return f"its diff's tokens resemble those of {kind} (text score {number(v)})"


# column -> its own sentence of (value, the change's row)
SENTENCES: dict[str, Callable[[Any, dict], str]] = {
    "hour_utc": _hour,
    "weekday_utc": _weekday,
    "hour": _hour,
    "weekday": _weekday,
    "author_file_commits": _author_file_commits,
    "first_touch_files": _first_touch_files,
    "n_critical_files": _critical_files,
    "churn_log": _churn,
    "text_score": _text_score,
}


def _sentence(feature: str, value: Any, row: dict) -> str:
    if feature in SENTENCES:
        return SENTENCES[feature](value, row)
    if feature in COUNTS:
        template, noun, *zero = COUNTS[feature]
        return zero[0] if zero and not value else template.format(counted(value, noun))
    if feature in NUMBERS:
        return NUMBERS[feature].format(number(value))
    if feature in PERCENTS:
        return PERCENTS[feature].format(number(100 * value))
    if feature in FLAGS:
        return FLAGS[feature][0 if value else 1]
    if feature in VALUES:
        template, *empty = VALUES[feature]
        return empty[0] if empty and not value else template.format(value)
    return f"{feature} = {number(value) if isinstance(value, (int, float)) else value}"


def reason_text(feature: str, value: Any, effect: float, row: dict) -> str:
    """One reviewer-readable sentence for a contribution, e.g. 'touches 3 files on critical
    paths (payments) (raises risk)'; ``row`` is the change's row (some sentences name more of
    it)."""
    try:
        text = _sentence(feature, value, row)
    except (TypeError, ValueError, IndexError, OverflowError):
        text = f"{feature} = {value}"
    return f"{text} ({'raises' if effect > 0 else 'lowers'} risk)"
