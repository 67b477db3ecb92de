"""`riskml run` and `riskml demo`: the whole pipeline on one repository, composed of the stages.

:func:`retrain` is the scheduled part (mine incrementally, label, train, gate and register);
:func:`run_pipeline` adds the trends and scores the pending changes; :func:`demo` generates a
sample repository with its incidents file and runs :func:`run_pipeline` on it.
:func:`format_summary` renders a result as one screen of text.

Every stage is the package's own function (``riskml.mine.mine``, ``riskml.label.label``,
``riskml.train.fit`` …); nothing here re-implements one.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from riskml.config import Config, DataPaths, Workspace, tracking_uri
from riskml.errors import RiskmlError
from riskml.fmt import number_text
from riskml.gitio import detect_main_branch, ensure_repo, has_commits, resolve_rev, run_git
from riskml.label.report import label_counts
from riskml.score.render import floor_text, policy_texts
from riskml.tables import (
    attach_tokens,
    count_rows,
    read_changes_and_tokens,
    read_labels,
    write_labels,
)

DEMO_COMMITS = 2000
DEMO_SEED = 0
DEMO_PENDING = 5
DEMO_NAME = "demo"
_DEMO_MARKER = ".riskml-demo.json"


@dataclass
class RetrainResult:
    """What one retraining (mine, label, train, gate) produced."""

    repo: Path
    repo_name: str
    paths: DataPaths
    rev: str
    n_changes: int
    n_new: int
    labels: dict  # counts: positive, negative, unknown, incidents_linked
    label_report: dict
    proxy: bool
    metrics: dict
    model: Any  # TrainedModel
    model_info: dict  # name, version, run_id, alias, promoted, reason
    model_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    incident_problems: list[str] = field(default_factory=list)

    @property
    def promoted(self) -> bool:
        return bool(self.model_info.get("promoted"))


@dataclass
class RunResult:
    """What `riskml run` produced: the retraining, the trends and the scored pending changes."""

    retrain: RetrainResult
    trends: Any  # riskml.trends.TrendsResult
    base: str  # SHA the history was mined up to (the main branch, or HEAD~N)
    head: str
    pending_commits: list[str]
    pending_how: str  # how the pending changes were chosen, in words
    scored: dict | None  # the JSON of scoring.md for the pending changes, or None
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


class _Clock:
    def __init__(self, progress: bool) -> None:
        self.times: dict[str, float] = {}
        self.progress = progress

    def stage(self, name: str) -> _Stage:
        return _Stage(self, name)


class _Stage:
    def __init__(self, clock: _Clock, name: str) -> None:
        self.clock, self.name = clock, name

    def __enter__(self) -> _Stage:
        if self.clock.progress:
            import sys

            print(f"[riskml] {self.name} …", file=sys.stderr, flush=True)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.clock.times[self.name] = time.perf_counter() - self.t0


def _write_labels(result: Any, paths: DataPaths) -> None:
    from riskml.label import write_report

    write_labels(result.labels, paths.labels)
    write_report(result.report, paths.label_report)


# --------------------------------------------------------------------------- retrain


def retrain(
    repo: str | Path,
    incidents: str | Path | None = None,
    workspace: Workspace = Workspace(),
    *,
    rev: str = "HEAD",
    repo_name: str | None = None,
) -> RetrainResult:
    """Mine ``repo`` up to ``rev`` (incrementally), label, train, gate and register.

    Tables go to the workspace's ``data/<repo_name>/`` (the SZZ cache too, so a second run
    reuses it), the local model copy to its ``models/<model name>/``. The new version becomes
    ``champion`` only when the gate says so (``model_info["promoted"]``).
    """
    from riskml.label import label, load_incidents
    from riskml.mine import mine
    from riskml.train.pipeline import train_and_register

    top = ensure_repo(repo)
    if not has_commits(top):
        raise RiskmlError(f"{repo}: the repository has no commits")
    if incidents is not None and not Path(incidents).is_file():
        raise RiskmlError(f"incidents file not found: {incidents}")
    config = workspace.settings(top)
    name = repo_name or top.name
    paths = workspace.paths(name)
    paths.root.mkdir(parents=True, exist_ok=True)
    sha = resolve_rev(top, rev)
    clock = _Clock(workspace.progress)

    before = count_rows(paths.changes)
    with clock.stage("mine"):
        mine(top, rev=sha, out=paths.changes, config=config, repo_name=name)
        # the table and its tokens as one snapshot, whatever another mine did since
        changes, tokens = read_changes_and_tokens(paths.changes, repo_name=name)
    if len(changes) == 0:
        raise RiskmlError(f"{repo}: no non-merge commit to learn from up to {rev}")
    with clock.stage("label"):
        records = None
        problems: list[str] = []
        if incidents is not None:
            # Bad records are skipped with a warning; the good ones are all used (labels.md).
            records, problems = load_incidents(incidents, top)
            for problem in problems:
                warnings.warn(f"{incidents}: skipped {problem}", stacklevel=2)
        labelled = label(top, changes, records, config=config, cache_dir=paths.szz_cache)
        _write_labels(labelled, paths)
    counts = label_counts(labelled.labels)
    if counts["positive"] == 0:
        raise RiskmlError(
            f"{repo}: no change is labelled as having caused an incident "
            "(check the incidents file, or the history is too short)"
        )
    trained = train_and_register(
        config,
        changes=changes,
        labels=labelled.labels,
        tokens=tokens,
        label_report=labelled.report,
        metrics_path=paths.root / "metrics.json",
        model_dir=workspace.model_dir(config),
        repo=name,
        head_sha=sha,
        stage=clock.stage,
    )
    return RetrainResult(
        repo=top,
        repo_name=name,
        paths=paths,
        rev=sha,
        n_changes=len(changes),
        n_new=max(0, len(changes) - before),
        labels=counts,
        label_report=dict(labelled.report or {}),
        proxy=bool(labelled.proxy),
        metrics=dict(trained.result.metrics or {}),
        model=trained.model,
        model_info=trained.model_info,
        model_dir=trained.model_dir,
        timings=clock.times,
        incident_problems=problems,
    )


# --------------------------------------------------------------------------- pending


def choose_pending(
    repo: Path, pending: int | None = None, main_branch: str | None = None
) -> tuple[str, str, list[str], str]:
    """(base, head, pending commits oldest first, how) for `riskml run`.

    ``main_branch``: the commits on HEAD not yet on that branch; ``pending`` N: the last N
    commits of HEAD (first-parent line); neither: the detected main branch when HEAD is
    ahead of it, else nothing pending. The history is mined and trained up to ``base`` only,
    so a pending change is never part of the data its model learned from.
    """
    head = resolve_rev(repo, "HEAD")
    if pending is not None and main_branch is not None:
        raise RiskmlError("give either --pending N or --main-branch NAME, not both")
    if pending is not None:
        if pending < 0:
            raise RiskmlError("--pending must be 0 or more")
        if pending == 0:
            return head, head, [], "no pending change requested (--pending 0)"
        count = int(run_git(repo, "rev-list", "--count", "--first-parent", head).strip() or 0)
        if pending >= count:
            raise RiskmlError(
                f"--pending {pending}: the history has {count} commits; leave some to train on"
            )
        base = resolve_rev(repo, f"HEAD~{pending}")
        how = f"HEAD~{pending}..HEAD (the last {pending} first-parent commits and what they merged)"
    else:
        branch = main_branch or detect_main_branch(repo)
        if branch is None:
            return head, head, [], "no main branch found (use --main-branch NAME or --pending N)"
        base = _resolve_branch(repo, branch)
        how = f"the commits on HEAD not yet on {branch}"
        merge_base = run_git(repo, "merge-base", base, head, check=False).decode().strip()
        if merge_base and merge_base != base:
            base = merge_base  # HEAD branched off earlier: pending starts at the fork point
    commits = (
        run_git(repo, "rev-list", "--reverse", "--no-merges", f"{base}..{head}").decode().split()
    )
    if not commits and pending is None:
        how = f"HEAD is on {branch} (--pending N scores its last N commits)"
    return base, head, commits, how


def _resolve_branch(repo: Path, branch: str) -> str:
    try:
        return resolve_rev(repo, branch)
    except RiskmlError:
        raise RiskmlError(f"unknown main branch: {branch}") from None


def score_pending(
    result: RetrainResult, base: str, head: str, commits: list[str], config: Config
) -> dict | None:
    """The JSON of scoring.md for the pending changes, scored by the version just trained:
    the range as one change plus each commit (one commit: just that commit). History
    features come from the mining state ``retrain`` saved (brought up to date on a scratch
    copy by the scorer). None when nothing is pending."""
    from riskml.score import RepoHistory, score
    from riskml.score.model import LoadedModel
    from riskml.train.artifact import identity_of

    if not commits:
        return None
    known = {k: result.model_info.get(k) for k in ("name", "version", "run_id")}
    uri = identity_of(result.model, **known).registry_uri() or str(result.model_dir)
    loaded = LoadedModel.of(result.model, uri, **known)
    history = RepoHistory(
        result.repo,
        result.paths.state,
        config,
        changes_path=result.paths.changes,
        labels_path=result.paths.labels,
        repo_name=result.repo_name,
    )
    if len(commits) == 1:
        return score(history, rev=commits[0], model=loaded, config=config)
    return score(history, range=f"{base}..{head}", model=loaded, config=config)


# --------------------------------------------------------------------------- run


def run_pipeline(
    repo: str | Path,
    incidents: str | Path | None = None,
    workspace: Workspace = Workspace(),
    *,
    pending: int | None = None,
    main_branch: str | None = None,
    repo_name: str | None = None,
    period: str | None = None,
) -> RunResult:
    """The whole pipeline: retrain up to the base, trends, score the pending changes."""
    from riskml.trends import trends

    top = ensure_repo(repo)
    if not has_commits(top):
        raise RiskmlError(f"{repo}: the repository has no commits")
    config = workspace.settings(top)
    workspace = replace(workspace, config=config)
    base, head, commits, how = choose_pending(top, pending, main_branch)
    t0 = time.perf_counter()
    result = retrain(top, incidents, workspace, rev=base, repo_name=repo_name)
    timings = dict(result.timings)
    clock = _Clock(workspace.progress)
    with clock.stage("trends"):
        changes, tokens = read_changes_and_tokens(result.paths.changes, repo_name=result.repo_name)
        labels = read_labels(result.paths.labels, changes=changes)
        changes = attach_tokens(changes, tokens)
        trended = trends(
            changes,
            labels,
            model=result.model,
            config=config,
            period=period,
            out_dir=result.paths.root / "trends",
            repo_name=result.repo_name,
        )
    with clock.stage("score"):
        scored = score_pending(result, base, head, commits, config)
    timings.update(clock.times)
    timings["total"] = time.perf_counter() - t0
    return RunResult(
        retrain=result,
        trends=trended,
        base=base,
        head=head,
        pending_commits=commits,
        pending_how=how,
        scored=scored,
        timings=timings,
    )


# --------------------------------------------------------------------------- demo


@dataclass
class DemoResult:
    out: Path
    repo: Path
    incidents: Path
    generated: bool
    run: RunResult


def demo(
    out: str | Path = Path("data") / "demo-source",
    workspace: Workspace = Workspace(),
    *,
    commits: int = DEMO_COMMITS,
    seed: int = DEMO_SEED,
    pending: int = DEMO_PENDING,
) -> DemoResult:
    """Generate a sample repository and its incidents file in ``out``, then run the pipeline.

    The generator is deterministic: when ``out`` already holds the same sample (same commits
    and seed) it is reused and the run is incremental. A non-empty ``out`` that is not a riskml
    sample is refused, so a demo never overwrites a user's files. The workspace's ``config``
    applies to every stage (default: the defaults, since the sample has no ``riskml.toml``).
    """
    out = Path(out)
    marker = out / _DEMO_MARKER
    wanted = {"commits": int(commits), "seed": int(seed)}
    generated = False
    if commits < 200:
        raise RiskmlError("--commits must be at least 200 (the model needs a history to learn)")
    ours = marker.is_file()
    if ours and json.loads(marker.read_text() or "{}").get("sample") == wanted:
        repo, incidents = out / "repo", out / "incidents.csv"
    else:
        if not ours and out.exists() and any(out.iterdir()):
            raise RiskmlError(
                f"{out} exists and is not this demo's sample (remove it or pick --out DIR)"
            )
        # A new sample is a new history: the demo's own tables would no longer match it.
        stale = workspace.paths(DEMO_NAME).root
        if stale.is_dir():
            shutil.rmtree(stale)
        from riskml.synth import generate

        made = generate(out, commits=commits, seed=seed)
        repo, incidents = Path(made.repo), Path(made.incidents)
        marker.write_text(json.dumps({"sample": wanted}) + "\n")
        generated = True
    result = run_pipeline(repo, incidents, workspace, pending=pending, repo_name=DEMO_NAME)
    return DemoResult(out=out, repo=repo, incidents=incidents, generated=generated, run=result)


# --------------------------------------------------------------------------- summary


def _fmt(value: Any, digits: int = 3) -> str:
    try:
        return number_text(value, digits, "n/a")
    except (TypeError, ValueError):
        return str(value)


def _secs(timings: dict, *names: str) -> str:
    return f"{sum(timings.get(n, 0.0) for n in names):.1f} s"


PERIOD_WORDS = {"W": "weekly", "D": "daily", "M": "monthly", "Q": "quarterly", "Y": "yearly"}


def format_summary(result: RunResult, mlflow_hint: bool = True) -> str:
    """One screen of text: what each stage did, the model, the trends run, the pending changes."""
    r = result.retrain
    t = result.timings
    lab = r.labels
    m = r.metrics or {}
    from riskml.train.metrics import MODELS

    ours, la, ka = (m.get(k) if isinstance(m.get(k), dict) else {} for k in MODELS)
    info = r.model_info
    source = "proxy labels: no incidents file" if r.proxy else "incidents file"
    table = result.trends.table
    period = str(table["period"].iloc[0]) if len(table) else ""
    alias = PERIOD_WORDS.get(getattr(result.trends, "period", ""), "")
    reason = str(info.get("reason") or "")
    lines = [
        f"riskml run: {r.repo_name} ({r.repo}), history up to {r.rev[:10]}",
        _stage("mine", f"{r.n_changes} changes ({r.n_new} new)", _secs(t, "mine"), r.paths.changes),
        _stage(
            "label",
            f"{lab['positive']} caused an incident, {lab['negative']} clean, "
            f"{lab['unknown']} not yet known",
            _secs(t, "label"),
            r.paths.labels,
        ),
        f"           {lab['incidents_linked']} incidents linked ({source})"
        + (
            f"; {len(r.incident_problems)} bad incident record(s) skipped (see warnings)"
            if r.incident_problems
            else ""
        ),
        _stage(
            "train",
            f"ROC-AUC {_fmt(ours.get('roc_auc'))} (LApredict {_fmt(la.get('roc_auc'))}, "
            f"Kamei LR {_fmt(ka.get('roc_auc'))}), capture@10% {_fmt(ours.get('capture_at_10'))}",
            _secs(t, "train", "evaluate", "register"),
            r.model_dir,
        ),
        f"  model    {info.get('name', '')} v{info.get('version', '?')} -> "
        f"{info.get('alias', '?')}" + (f": {reason}" if reason else ""),
        _stage(
            "trends",
            f"{len(table)} {alias} points".replace("  ", " ")
            + (f" from {period.split('/')[0]}" if period else ""),
            _secs(t, "trends"),
            f"MLflow experiment {result.trends.experiment!r}",
        ),
        "",
    ]
    lines.extend(format_pending(result))
    lines.append("")
    lines.append(f"total {t.get('total', 0.0):.1f} s")
    if mlflow_hint:
        then = f"   (then {result.trends.url})" if getattr(result.trends, "url", "") else ""
        lines.append(f"open MLflow: {mlflow_ui_command()}{then}")
    return "\n".join(lines)


def _stage(name: str, what: str, secs: str, where: Any) -> str:
    return f"  {name:<8} {what:<62} {secs:>7}  {where}"


def format_pending(result: RunResult) -> list[str]:
    """The pending changes as a compact table (id, risk, tier, review, top reason)."""
    scored = result.scored
    n = len(result.pending_commits)
    if not scored or not scored.get("changes"):
        return [f"pending  none: {result.pending_how}"]
    lines = [f"pending  {n} commit(s): {result.pending_how}"]
    if len(scored["changes"]) > 1:
        lines.append("         first row: the pending branch as one change; then each commit")
    lines.append(f"  {'change':<22} {'risk':>6}  {'tier':<8} {'review':<34} top reason")
    for change in scored["changes"]:
        review = change.get("review") or {}
        who = f"{review.get('min_reviewers', '?')} reviewer(s)"
        if review.get("senior"):
            who += " senior"
        elif review.get("code_owner"):
            who += " +owner"
        who += f", {review.get('rollout', 'normal')}"
        reasons = change.get("reasons") or []
        top = reasons[0] if reasons else {}
        why = top.get("text") or (f"{top.get('feature')}={top.get('value')}" if top else "")
        why = floor_text(change) or next(iter(policy_texts(change)), None) or why
        cid = str(change.get("id", ""))
        cid = f"{cid[:8]}..{cid.split('..')[1][:8]}" if ".." in cid else cid[:10]
        lines.append(
            f"  {cid:<22} {_fmt(change.get('risk')):>6}  {change.get('tier', ''):<8} "
            f"{who:<34} {why}"[:160]
        )
    return lines


def one_line_warnings() -> None:
    """Show the stages' warnings (``warnings.warn``) as one line each on stderr."""
    import warnings

    def fmt(message, category, filename, lineno, line=None) -> str:
        return f"riskml: warning: {message}\n"

    warnings.formatwarning = fmt


def mlflow_ui_command() -> str:
    """How to open the MLflow UI on the store this process used."""
    return f"mlflow ui --backend-store-uri {tracking_uri()}"
