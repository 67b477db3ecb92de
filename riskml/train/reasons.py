"""The sentence a reviewer reads for each reason of a score (scoring.md), one per column.

Most sentences follow one of a few forms, so they are tables of words rather than code: a
count said with its noun ("adds 3 lines"), a number ("… 12 days before"), a share in percent,
a flag's two sentences, a text value. The few sentences of their own are functions at the end.

A sentence says its number against what is typical for the repository when the model kept the
distribution of its training rows (:func:`distribution`, ``TrainedModel.typical``): "adds 226
lines, more than 92 % of changes"; a ``<count>_recent_pct`` column says it against the recent
changes it was ranked among. Numbers are rounded for people (:mod:`riskml.fmt`: "2.6 years",
not "960.97 days"). Columns that say one fact share a group (:data:`GROUPS`): a change's reasons
keep the strongest of each. Every sentence ends with whether the contribution raises or lowers
the risk.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from riskml.fmt import duration_text, is_missing, people_number

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
    "rexp": "author's recent experience is {}",
    "la_per_lt": "adds {} lines per existing line of the touched files",
    "ld_per_lt": "deletes {} lines per existing line of the touched files",
    "la_per_file": "adds {} lines per file",
    "file_fixes_decay": "touched files were fixed recently (recency-weighted fixes {})",
}

# column -> sentence of its span of days ("{}": "12 days", "2.6 years")
DAYS: dict[str, str] = {
    "age": "touched files last changed {} before on average",
    "author_tenure_days": "author's first commit was {} before",
    "age_min": "the most recently changed touched file changed {} before",
    "age_max": "the longest-untouched file last changed {} before",
    "file_age_min": "the youngest touched file is {} old",
    "file_age_max": "the oldest touched file is {} old",
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
    """A number as the sentences show it, rounded for people (:func:`riskml.fmt.people_number`)."""
    return people_number(v)


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


# riskml.mine.recent.SUFFIX, spelt here: importing riskml.mine would load the miner at scoring
RECENT_SUFFIX = "_recent_pct"

# columns that state one fact (and their _recent_pct ranks): a change's reasons keep only the
# strongest contribution of each group, so "author has 319 earlier commits" never stands next
# to "author's first commit was 2.6 years before"
GROUPS: dict[str, tuple[str, ...]] = {
    "author experience": ("exp", "sexp", "rexp", "author_tenure_days"),
    "author's familiarity with the files": (
        "author_file_commits", "first_touch_files", "owned_share", "author_share_min",
    ),
    "lines changed": ("la", "ld", "churn_log", "la_per_file", "added_share"),
    "size against the touched files": ("lt", "la_per_lt", "ld_per_lt"),
    "spread": ("nf", "nd", "ns", "entropy", "entropy_norm"),
    "when the files last changed": ("age", "age_min", "age_max"),
    "how old the files are": ("file_age_min", "file_age_max"),
    "earlier changes of the files": ("nuc", "recent_file_commits", "recent_churn"),
    "earlier authors of the files": ("ndev", "recent_devs"),
    "minor contributors": ("minor_contributors", "minor_share", "top_owner_share"),
    "earlier fixes": ("file_fixes", "file_fixes_decay", "dir_fixes"),
    "critical paths": ("touches_critical", "n_critical_files", "critical_areas"),
    "co-changed files": ("coupled_missing", "coupled_missing_share", "coupled_partners"),
    "hour": ("hour", "hour_utc"),
    "weekday": ("weekday", "weekday_utc"),
    "AI provenance": ("ai_line_share", "ai_provenance", "ai_tool"),
}  # fmt: skip
_GROUP_OF = {column: group for group, columns in GROUPS.items() for column in columns}


def group_of(column: str) -> str:
    """The fact a column states (:data:`GROUPS`; a ``_recent_pct`` rank states its count's),
    else the column itself."""
    base = column.removesuffix(RECENT_SUFFIX)
    return _GROUP_OF.get(base, base)


# the words comparing a value with the repository's changes: (above them, below them)
_COMPARE: dict[str, tuple[str, str]] = {
    **{c: ("more than", "fewer than") for c in COUNTS},
    "author_file_commits": ("more than", "fewer than"),
    "first_touch_files": ("more than", "fewer than"),
    "n_critical_files": ("more than", "fewer than"),
    "churn_log": ("more than", "fewer than"),
    "age": ("longer ago than for", "more recently than for"),
    "age_min": ("longer ago than for", "more recently than for"),
    "age_max": ("longer ago than for", "more recently than for"),
    "author_tenure_days": ("longer ago than for", "more recently than for"),
    "file_age_min": ("older than in", "younger than in"),
    "file_age_max": ("older than in", "younger than in"),
}
_HIGHER_LOWER = ("higher than in", "lower than in")
# columns whose number is no place on a scale (a time of day, a day of the week)
_NOT_COMPARED = frozenset({"hour", "hour_utc", "weekday", "weekday_utc"})
# how many points of each column's distribution the model keeps (0 %, 1 %, … 100 %)
_POINTS = 101


def distribution(values) -> dict | None:
    """A column's distribution over the training rows, compact: at most 101 of its values (its
    percentiles, each a value the rows hold) with the exact share of rows below each
    (``below``) and at or below it (``upto``), and ``n`` (rows with a value). None when no
    row has a number. Booleans count as 0/1."""
    x = np.asarray(values, dtype=float)
    x = np.sort(x[np.isfinite(x)])
    if len(x) == 0:
        return None
    points = np.unique(np.quantile(x, np.linspace(0, 1, _POINTS), method="lower"))
    n = len(x)
    below = np.searchsorted(x, points, side="left") / n
    upto = np.searchsorted(x, points, side="right") / n
    return {
        "values": [float(f"{v:.6g}") for v in points],
        "below": [round(float(v), 4) for v in below],
        "upto": [round(float(v), 4) for v in upto],
        "n": int(n),
    }


def shares(dist: dict, value: float) -> tuple[float, float, float]:
    """``(below, above, at)``: the share of the training rows whose value is below ``value``,
    above it, and equal to it. Exact at a kept point; between two points, the shares known
    for certain (``at`` 0)."""
    points = dist["values"]
    i = int(np.searchsorted(points, value, side="left"))
    if i < len(points) and points[i] == value:
        below, upto = dist["below"][i], dist["upto"][i]
        return below, round(1.0 - upto, 4), round(upto - below, 4)
    below = dist["upto"][i - 1] if i > 0 else 0.0
    above = round(1.0 - dist["below"][i], 4) if i < len(points) else 0.0
    return below, above, 0.0


def _percent(share: float) -> int:
    """A share as whole percent, never rounded up to a claim it does not hold (99, not 100)."""
    return min(99, math.floor(100 * share + 1e-9))


def comparison(feature: str, value: Any, dist: dict | None, of: str = "changes") -> str:
    """``value`` against the repository's ``of`` ("changes"): "more than 92 % of changes"
    when most are below it, "fewer than 85 % of changes" when most are above, "like 70 % of
    changes" for a flag, a value most changes have or the smallest any has, "" when it says
    nothing (no distribution, no number, a time of day). Shares are floored (99 at most)."""
    if not dist or feature in _NOT_COMPARED or isinstance(value, str) or is_missing(value):
        return ""
    below, above, at = shares(dist, float(value))
    more, fewer = _COMPARE.get(feature, _HIGHER_LOWER)
    # a flag, the value most changes have, or the smallest any has: how common it is
    if feature in FLAGS or at >= 0.5 or (below == 0 and at > 0):
        if at <= 0:
            return ""
        return f"like {_percent(at)} % of {of}" if at >= 0.01 else f"like under 1 % of {of}"
    if below >= 0.5:
        return f"{more} {_percent(below)} % of {of}"
    if above >= 0.5:
        return f"{fewer} {_percent(above)} % of {of}"
    return f"like a typical one of {of}"


def _recent(feature: str, value: Any, row: dict) -> str:
    """A ``<count>_recent_pct`` rank: the count's own sentence, placed among the recent changes
    it was ranked against (the rank is the share of them below it, ties counted half)."""
    base = feature.removesuffix(RECENT_SUFFIX)
    raw = row.get(base)
    text = _sentence(base, raw, row) if not is_missing(raw) else f"{base} ranks"
    if is_missing(value):
        return text
    more, fewer = _COMPARE.get(base, _HIGHER_LOWER)
    share = float(value)
    if share >= 0.5:
        return f"{text}, {more} {_percent(share)} % of recent changes"
    return f"{text}, {fewer} {_percent(1.0 - share)} % of recent changes"


def _sentence(feature: str, value: Any, row: dict) -> str:
    if feature.endswith(RECENT_SUFFIX):
        return _recent(feature, value, row)
    if feature in SENTENCES:
        return SENTENCES[feature](value, row)
    if feature in COUNTS:
        template, noun, *zero = COUNTS[feature]
        return zero[0] if zero and not value else template.format(counted(value, noun))
    if feature in NUMBERS:
        return NUMBERS[feature].format(number(value))
    if feature in DAYS:
        return DAYS[feature].format(duration_text(value))
    if feature in PERCENTS:
        return PERCENTS[feature].format(number(round(100 * value, 1)))
    if feature in FLAGS:
        return FLAGS[feature][0 if value else 1]
    if feature in VALUES:
        template, *empty = VALUES[feature]
        return empty[0] if empty and not value else template.format(value)
    return f"{feature} = {number(value) if isinstance(value, (int, float)) else value}"


def reason_text(
    feature: str, value: Any, effect: float, row: dict, typical: dict | None = None
) -> str:
    """One reviewer-readable sentence for a contribution, e.g. 'adds 226 lines, more than 92 %
    of changes (raises risk)'; ``row`` is the change's row (some sentences name more of it);
    ``typical``: the model's distributions (:func:`distribution` per column), without which
    the sentence states the number alone."""
    try:
        text = _sentence(feature, value, row)
        if typical and feature in typical and not feature.endswith(RECENT_SUFFIX):
            compared = comparison(feature, value, typical[feature])
            text = f"{text}, {compared}" if compared else text
    except (TypeError, ValueError, IndexError, OverflowError):
        text = f"{feature} = {value}"
    return f"{text} ({'raises' if effect > 0 else 'lowers'} risk)"
