"""`riskml score`: risk, tier, review depth and reasons for pending changes (scoring.md).

Stage functions, callable without the CLI:

- :func:`score` — one commit (``rev``), a branch (``range="BASE..HEAD"``: the combined change
  and each of its commits) or the working tree (``worktree=True``) -> the JSON dict of scoring.md.
- :func:`score_rows` — feature rows (no git) -> one change object each, as in that JSON.
- :func:`riskml.score.model.load_model` — the scoring model from a path or an MLflow URI.
- :func:`riskml.score.render.render` — JSON, a terminal table or Markdown for a PR comment.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from riskml import budget
from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.gitio import git_env, resolve_range, resolve_rev, run_git
from riskml.jsonvalue import plain
from riskml.score.history import RepoHistory, public_features
from riskml.score.model import LoadedModel, default_model_uri, load_model
from riskml.score.policy import (
    ai_policy,
    check_tier,
    fails_gate,
    floor_of,
    policy_entries,
    review_for,
    summary,
)
from riskml.score.render import FORMATS, render

__all__ = [
    "FORMATS",
    "LoadedModel",
    "RepoHistory",
    "check_tier",
    "default_model_uri",
    "fails_gate",
    "load_model",
    "render",
    "review_for",
    "score",
    "score_frame",
    "score_rows",
    "summary",
    "tier_reference",
    "worktree_author",
]

_SHA = re.compile(r"^[0-9a-f]{40}$")
LABEL_HISTORY = ("past_incidents_files", "past_incidents_dirs", "past_incidents_author")


def worktree_author(repo: str | Path, config: Config) -> str:
    """The author of ``--worktree`` changes: git's ``user.email``, else ``score.default_author``."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "config", "--get", "user.email"],
        capture_output=True,
        env=git_env(),
    )
    email = proc.stdout.decode("utf-8", "replace").strip() or config.score.default_author
    if not email:
        raise RiskmlError(
            "no author for --worktree: set git's user.email or [score] default_author"
        )
    return email.lower()


def score(
    repo: str | Path | RepoHistory,
    rev: str | None = None,
    range: str | None = None,
    worktree: bool = False,
    model: LoadedModel | str | None = None,
    config: Config | None = None,
    state: str | Path | None = None,
    author: str | None = None,
    top: int | None = None,
    repo_name: str | None = None,
) -> dict:
    """Score pending changes of ``repo`` and return the JSON object of scoring.md.

    Exactly one of ``rev`` (one commit), ``range`` (``"BASE..HEAD"``: the combined change, then
    each of its commits oldest first) or ``worktree`` selects the changes. ``repo`` is a path or
    a warm :class:`RepoHistory` (the server keeps one per repository); ``state`` overrides the
    mining-state path (default ``data/<repo_name or folder name>/changes.state``).
    ``model`` is a :class:`LoadedModel`, a path or an MLflow URI (default
    ``models:/<name>@champion``).
    """
    config = config or Config()
    if sum(x is not None and x is not False for x in (rev, range, worktree or None)) != 1:
        raise RiskmlError("give exactly one of --rev, --range or --worktree")
    if isinstance(repo, RepoHistory):
        history = repo
    else:
        history = RepoHistory(repo, state, config, repo_name=repo_name)
    notes: list[str] = []
    # Revisions are validated (syntax, then rev-parse --verify --end-of-options) before any
    # other git call sees them.
    if rev is not None:
        # a full SHA this history already read needs no git call; anything else is resolved
        known = isinstance(rev, str) and _SHA.match(rev) is not None and history.knows(rev)
        sha = rev if known else resolve_rev(history.repo, rev)
        row, commits = history.change_for_rev(sha, notes)
        pending = [(sha, row)]
        made_of = [commits]
    elif range is not None:
        base, head = resolve_range(history.repo, range)
        pending = history.rows_for_range(base, head, notes)
        # the branch as one change is made of its commits; each commit of itself
        made_of = [[sha] for sha, _ in pending[1:]]
        if pending:
            made_of.insert(0, [sha for sha, _ in pending[1:]])
    else:
        who = author or worktree_author(history.repo, config)
        pending = [("worktree", history.row_for_worktree(who))]
        made_of = [[]]
    committers = committers_of(history.repo, [i for i, _ in pending])
    budget.check()  # the rows are read: what follows is the model's work on them
    loaded = model if isinstance(model, LoadedModel) else load_model(model, config)
    rows = [row for _, row in pending]
    frame = pending_frame(rows)
    warnings = list(history.warnings) + notes
    if rows:
        warnings += add_label_history(history, frame, loaded)
    for column in (*LABEL_HISTORY, *(f"{c}_recent_pct" for c in LABEL_HISTORY)):
        if column in frame.columns:
            for row, value in zip(rows, frame[column].tolist(), strict=True):
                row[column] = value
    thresholds, reference = tier_reference(history, loaded)
    changes = score_frame(
        frame, loaded, config, top=top, ids=[i for i, _ in pending], rows=rows,
        thresholds=thresholds, committers=committers,
    )  # fmt: skip
    for change, commits in zip(changes, made_of, strict=True):
        change["commits"] = commits
    return {
        "summary": summary(changes),
        "changes": changes,
        "model": loaded.describe(thresholds, reference),
        "warnings": warnings,
    }


def committers_of(repo: str | Path, ids: list[str]) -> list[str]:
    """The committer's e-mail of each change id (a SHA, or ``BASE..HEAD``: its head's; ``""``
    for the work tree), from one ``git show``. The review rule for an AI agent's change names
    the person who committed (prompted) it, who may not approve it; it is not a feature (the
    changes table has no such column), so it never enters the model's rows."""
    heads = {i: i.rsplit("..", 1)[-1] for i in ids}
    shas = sorted({sha for sha in heads.values() if _SHA.match(sha)})
    if not shas:
        return ["" for _ in ids]
    out = run_git(repo, "show", "-s", "--no-notes", "--format=%H%x00%ce", *shas)
    text = out.decode("utf-8", "replace")
    emails = dict(line.split("\x00", 1) for line in text.splitlines() if "\x00" in line)
    return [emails.get(heads[i], "").strip().lower() for i in ids]


def tier_reference(history: RepoHistory, loaded: LoadedModel) -> tuple[dict[str, float], dict]:
    """The thresholds a change of ``history`` is tiered with, and where they come from.

    A model trained with ``[tiers] reference = "trailing"`` is tiered against the share-mode
    thresholds of its risk on the newest ``window`` changes of the table it never trained on
    (mined after its ``train_end``: the gap, then every later change); with fewer of them than
    its ``min_reference``, and for any other model, the thresholds stored with the version.
    Cached per model and table version. Returns ``(thresholds, {"rows": "trailing", "n",
    "since"} or {"rows": "stored"})``.
    """
    trailing = (loaded.model.info.get("tier_reference") or {}).get("trailing")
    stored = (loaded.thresholds, {"rows": "stored"})
    changes, _ = history.tables()
    if not trailing or changes is None or not loaded.model.info.get("train_end"):
        return stored
    # the model by what it is (a swapped model may reuse a freed one's id()), and the tables
    key = (loaded.uri, loaded.version, loaded.run_id, loaded.loaded_at, history.tables_key())
    cached = history.cache.get("tier_reference")
    if cached is not None and cached[0] == key:
        return cached[1]
    import pandas as pd

    from riskml.train.model import share_thresholds

    since = pd.Timestamp(loaded.model.info["train_end"])
    since = since.tz_localize("UTC") if since.tzinfo is None else since
    unseen = changes[changes["author_time"] > since].sort_values("author_time", kind="stable")
    unseen = unseen.tail(int(trailing["window"])).reset_index(drop=True)
    answer = stored
    if len(unseen) >= int(trailing["min_reference"]):
        frame = unseen.copy()
        if getattr(loaded.model, "text", None) is not None:
            tokens = history.mined_tokens()
            frame["tokens"] = [tokens.get(c, "") for c in frame["commit"].astype(str)]
        add_label_history(history, frame, loaded)
        risk = loaded.model.risk(frame)
        answer = (
            share_thresholds(risk, trailing["shares"]),
            {"rows": "trailing", "n": int(len(unseen)), "since": since.isoformat()},
        )
    history.cache["tier_reference"] = (key, answer)
    return answer


def pending_frame(rows: list[dict]):
    """Rows of the mining state (epoch-second times) -> a frame the model reads.

    Values keep their Python types (ints, floats, bools, strings); times become UTC
    timestamps. This is what :func:`score_rows` builds from a client's rows too, so the CLI and
    both API endpoints hand the model the same frame for the same change.
    """
    return _frame(rows)


def _frame(rows: list[dict]):
    import pandas as pd

    frame = pd.DataFrame(rows)
    for column in ("author_time", "commit_time"):
        if column in frame.columns:
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values.dtype):
                frame[column] = pd.to_datetime(values, unit="s", utc=True)
            else:
                frame[column] = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    return frame


def add_label_history(history: RepoHistory, frame, loaded: LoadedModel) -> list[str]:
    """Add the label-history columns the model reads (past incidents of the touched files,
    directories and author; links known before each change), in place. Returns warnings."""
    features = set(loaded.model.feature_columns)
    wanted = [c for c in LABEL_HISTORY if c in features or f"{c}_recent_pct" in features]
    if not wanted:
        return []
    index = history.incidents()
    if index is None:
        return [
            f"no labels table at {history.labels_path}: past-incident features are unknown "
            "(run riskml label)"
        ]
    from riskml.mine.recent import percentile_of

    extra = index.counts(frame)
    for c in wanted:
        frame[c] = extra[c].to_numpy()
    ranked = [c for c in LABEL_HISTORY if f"{c}_recent_pct" in loaded.model.feature_columns]
    if ranked:
        window = int(loaded.model.info.get("recent_window") or 3000)
        reference = history.recent_label_history(window)
        for c in ranked:
            frame[f"{c}_recent_pct"] = [percentile_of(reference[c], float(v)) for v in extra[c]]
    return []


def score_rows(
    rows: list[dict],
    model: LoadedModel,
    config: Config | None = None,
    top: int | None = None,
    ids: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
) -> list[dict]:
    """Feature rows as a client sends them (no git access) -> one change object each.

    Times may be ISO strings or epoch seconds; missing feature columns count as missing values.
    A value of the wrong kind is a :class:`RiskmlError` naming its row and column
    (:func:`check_feature_rows`), before anything is scored. ``thresholds``: as for
    :func:`score_frame` (the version's own by default).
    """
    check_feature_rows(rows)
    return score_frame(
        _frame(rows), model, config, top=top, ids=ids, rows=rows, thresholds=thresholds
    )


_TIME_RANGE = (0, 253402300799)  # 1970-01-01 .. 9999-12-31T23:59:59Z, in epoch seconds


def check_feature_rows(rows: list[dict]) -> None:
    """Every value of feature rows is of its column's kind (features.md): a finite number (or
    null) for number columns, true/false/0/1 for flags, an ISO time or epoch seconds within
    years 1970-9999 for times, a string for text; no lists or objects anywhere."""
    import math

    import pandas as pd

    from riskml.tables import CHANGES_COLUMNS

    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RiskmlError(f"row {i}: expected an object of column values")
        for column, value in row.items():
            kind = CHANGES_COLUMNS.get(column, "number" if column != "commit" else "str")
            where = f"row {i}, column {column!r}"
            if value is None:
                continue
            if isinstance(value, list | dict):
                raise RiskmlError(f"{where}: expected a single value, got {type(value).__name__}")
            if isinstance(value, float) and not math.isfinite(value):
                raise RiskmlError(f"{where}: expected a finite number, got {value!r}")
            if kind in ("int", "float", "number") and not isinstance(value, int | float):
                raise RiskmlError(f"{where}: expected a number, got {value!r}")
            if kind == "bool" and value not in (True, False, 0, 1):
                raise RiskmlError(f"{where}: expected true or false, got {value!r}")
            if kind == "str" and not isinstance(value, str):
                raise RiskmlError(f"{where}: expected a string, got {value!r}")
            if kind == "time":
                if isinstance(value, bool) or not isinstance(value, int | float | str):
                    raise RiskmlError(f"{where}: expected an ISO time or epoch seconds")
                if isinstance(value, int | float):
                    ok = _TIME_RANGE[0] <= value <= _TIME_RANGE[1]
                else:
                    parsed = pd.to_datetime(value, utc=True, errors="coerce", format="mixed")
                    ok = not pd.isna(parsed)
                if not ok:
                    raise RiskmlError(
                        f"{where}: expected an ISO time or epoch seconds of years 1970-9999, "
                        f"got {value!r}"
                    )


def score_frame(
    frame,
    model: LoadedModel,
    config: Config | None = None,
    top: int | None = None,
    ids: list[str] | None = None,
    rows: list[dict] | None = None,
    thresholds: dict[str, float] | None = None,
    committers: list[str] | None = None,
) -> list[dict]:
    """A frame of feature rows -> ``[{id, risk, tier, review, reasons, features}]``.

    ``committers``: each change's committer e-mail (:func:`committers_of`), which the review
    rule for an AI agent's change names beside its author.

    ``rows`` (the same rows as plain dicts, when the caller has them) give ``features``
    without converting the frame back; times as epoch seconds become ISO-8601 UTC.

    Tiers come from ``thresholds`` (default: the model version's; :func:`tier_reference`),
    the critical-path floor of ``config``, then its ``[review.ai]`` rules
    (:func:`riskml.score.policy.ai_policy`: ``policy`` lists the rules that applied);
    reasons are the ``top`` largest contributions (``pred_contrib``) with a sentence each.
    """
    config = config or Config()
    if len(frame) == 0:
        return []
    frame = frame.reset_index(drop=True)
    k = top if top is not None else config.score.top_reasons
    trained = model.model
    margin = None
    if getattr(trained, "text", None) is not None and "tokens" in frame.columns:
        from riskml.train.model import TEXT_COLUMN

        # the text margin once: the matrix, the blend and the reasons read it from the column
        margin = trained.text_margin(frame)
        frame = frame.drop(columns="tokens").assign(**{TEXT_COLUMN: margin})
    X = trained.matrix(frame)  # built once for risk and reasons
    risk = trained.risk(frame, X)
    budget.check()  # before the reasons' contributions (pred_contrib), dearer than the risk
    from riskml.train.model import assign_tiers

    thresholds = trained.thresholds if thresholds is None else thresholds
    tiers = assign_tiers(risk, thresholds, frame, floor_of(config) or "")
    by_risk = assign_tiers(risk, thresholds, frame, "")
    # a change its risk alone leaves in low is told what keeps it low first
    reasons = trained.reasons(frame, k=k, X=X, rows=rows, lowering=[t == "low" for t in by_risk])
    records = rows if rows is not None else frame.to_dict(orient="records")
    if margin is not None:
        # the features object leaves the bulky tokens out: it carries their score instead, so
        # the row scores the same anywhere (the MLflow pyfunc, POST /v1/score/features)
        for row, value in zip(records, margin.tolist(), strict=True):
            row[TEXT_COLUMN] = value
    out = []
    for i, row in enumerate(records):
        change_id = ids[i] if ids else str(row.get("commit") or i)
        who = committers[i] if committers else ""
        outcome = ai_policy(str(tiers[i]), {**row, "committer_email": who} if who else row, config)
        out.append(
            {
                "id": change_id,
                "risk": float(risk[i]),
                "tier": outcome.tier,
                "review": review_for(outcome.tier, config, row, outcome),
                "reasons": [_reason(r) for r in reasons[i]],
                "features": public_features(row),
                "tier_floor": _tier_floor(str(tiers[i]), str(by_risk[i]), row),
                "policy": policy_entries(outcome),
            }
        )
    return out


def _tier_floor(tier: str, by_risk: str, row: dict) -> dict | None:
    """Why the tier is above what the risk alone gives (the critical-path floor), or None."""
    if tier == by_risk:
        return None
    areas = row.get("critical_areas")
    areas = [a for a in str(areas).split(";") if a] if isinstance(areas, str) else []
    return {"rule": "critical_path", "tier_by_risk": by_risk, "areas": areas}


def _reason(reason: dict[str, Any]) -> dict:
    value = plain(reason.get("value"))
    effect = float(reason.get("effect", 0.0))
    text = reason.get("text") or (
        f"{reason['feature']} = {value} ({'raises' if effect > 0 else 'lowers'} risk)"
    )
    return {"feature": str(reason["feature"]), "value": value, "effect": effect, "text": text}
