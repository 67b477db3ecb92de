"""The fleet model: one model trained on the fleet dataset, the project as a feature.

:func:`fleet_table` turns the fleet dataset (:func:`riskml.tables.read_fleet`) into one
training table: each project's changes and labels are cut back out of its rows and built into
its own training table (:func:`riskml.train.build_dataset`: its label-history features come
from its own labels only), with a ``project`` column, which the model reads as a LightGBM
categorical feature; the projects' tables are then put in one time order.
``normalise=True`` adds, per project, the percentile of ``la``, ``ld``, ``lt``, ``nf`` and
``churn`` (``la + ld``) among that project's previous ``[mine] recent_window`` changes
(``<metric>_project_pct``): leak-free, each from earlier rows of its own project only.

:func:`train_fleet` fits it with the one training orchestration
(:func:`riskml.train.pipeline.train_and_register`: rolling evaluation, metrics.json, the local
copy, MLflow, the registry and the promotion gate), registered as ``change-risk-fleet`` by
default; every LightGBM booster of the fit is trained on a Dask cluster with
``lightgbm.dask`` when one is given (:func:`riskml.train.model.boosters_on`), else locally,
with the same parameters.

:func:`per_project` evaluates it per project: the project's own forward-chaining folds
(:func:`riskml.train.rolling.fold_bounds` on its rows); at each fold the fleet model is
trained on every project's rows before the cut-off and tested on that project's test window,
beside the project's own model trained on its rows alone. docs/fleet.md describes all of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.train.model import PROJECT_COLUMN  # the model's categorical column: one owner

FLEET_MODEL_NAME = "change-risk-fleet"
NORMALISED = ("la", "ld", "lt", "nf", "churn")
PROJECT_PCT_SUFFIX = "_project_pct"
PROJECT_PCT_COLUMNS = tuple(f"{c}{PROJECT_PCT_SUFFIX}" for c in NORMALISED)


def _project_parts(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(changes, labels, tokens)`` of one project, cut back out of its dataset rows."""
    from riskml.tables import CHANGES_COLUMNS, LABELS_COLUMNS

    rows = rows.reset_index(drop=True)
    changes = rows[[c for c in CHANGES_COLUMNS if c in rows.columns]].copy()
    labels = rows[[c for c in LABELS_COLUMNS if c in rows.columns]].copy()
    tokens = rows[["commit", "tokens"]].copy()
    tokens["tokens"] = tokens["tokens"].fillna("")
    return changes, labels, tokens


def project_percentiles(table: pd.DataFrame, window: int) -> pd.DataFrame:
    """The ``<metric>_project_pct`` columns of one project's table (in time order): each
    change's percentile among the ``window`` changes of the project before it."""
    from riskml.mine.recent import trailing_percentiles

    la = pd.to_numeric(table.get("la"), errors="coerce")
    ld = pd.to_numeric(table.get("ld"), errors="coerce")
    values = {"la": la, "ld": ld, "churn": la + ld}
    for column in ("lt", "nf"):
        values[column] = pd.to_numeric(table.get(column), errors="coerce")
    out = {}
    for column in NORMALISED:
        series = values[column]
        if series is None or series.isna().all():
            continue
        out[f"{column}{PROJECT_PCT_SUFFIX}"] = trailing_percentiles(series.fillna(0.0), window)
    return pd.DataFrame(out, index=table.index)


def fleet_frame(dataset: str | Path) -> pd.DataFrame:
    """The fleet dataset read whole, ``project`` as text."""
    from riskml.tables import read_fleet

    frame = read_fleet(dataset).compute()
    frame[PROJECT_COLUMN] = frame[PROJECT_COLUMN].astype(str)
    return frame.reset_index(drop=True)


def fleet_table(
    rows: pd.DataFrame | str | Path, config: Config | None = None, normalise: bool = False
) -> pd.DataFrame:
    """One training table of every project of the fleet dataset ``rows`` (its path, or
    :func:`fleet_frame`'s frame): each project's :func:`riskml.train.build_dataset`, a
    ``project`` column, and with ``normalise`` the ``<metric>_project_pct`` columns; in time
    order (stable: a project's own order kept, projects in name order at equal times)."""
    from riskml.train import build_dataset

    cfg = config or Config()
    if not isinstance(rows, pd.DataFrame):
        rows = fleet_frame(rows)
    if len(rows) == 0:
        raise RiskmlError("the fleet dataset holds no change")
    tables = {}
    for project in sorted(rows[PROJECT_COLUMN].unique()):
        changes, labels, tokens = _project_parts(rows[rows[PROJECT_COLUMN] == project])
        table = build_dataset(changes, labels, cfg, tokens=tokens)
        table[PROJECT_COLUMN] = project  # here: before the percentile columns
        if normalise:
            table = pd.concat([table, project_percentiles(table, cfg.mine.recent_window)], axis=1)
        tables[project] = table
    return fleet_union(tables)


def fleet_union(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Projects' training tables (:func:`riskml.train.build_dataset`) as one fleet training
    table: each with its name in the ``project`` column, in time order (stable: a project's
    own order kept, projects in name order at equal times)."""
    parts = [t.assign(**{PROJECT_COLUMN: name}) for name, t in sorted(tables.items())]
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("author_time", kind="stable", ignore_index=True)


def label_mode_of_fleet(rows: pd.DataFrame) -> str:
    """``proxy`` when any project's labels came from bug-fix SZZ, else ``incidents``."""
    from riskml.train.pipeline import label_mode_of

    return label_mode_of(rows)


# ------------------------------------------------------------------------------ the cluster


@contextlib.contextmanager
def training_cluster(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client for ``lightgbm.dask`` (a new LocalCluster of ``workers`` processes, or
    ``scheduler``'s cluster), or None for local LightGBM when neither is given."""
    if workers is not None and scheduler is not None:
        raise RiskmlError("give --workers or --scheduler, not both (a cluster has its workers)")
    if workers is None and scheduler is None:
        yield None
        return
    from riskml.fleet.runner import check_scheduler, cluster_client

    if scheduler is not None:
        check_scheduler(scheduler)
    with cluster_client(workers or 1, scheduler) as (client, _):
        yield client


@contextlib.contextmanager
def _boosters(client) -> Iterator[None]:
    from riskml.train.model import boosters_on

    with boosters_on(client):
        yield


# ----------------------------------------------------------------------------- training


def fleet_config(config: Config | None, model_name: str | None) -> Config:
    """``config`` with ``[train] model_name`` the fleet model's (default change-risk-fleet)."""
    cfg = config or Config()
    return dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, model_name=model_name or FLEET_MODEL_NAME)
    )


def train_fleet(
    table: pd.DataFrame,
    config: Config,
    *,
    out_dir: str | Path,
    label_mode: str,
    client: Any = None,
    mlflow: bool = True,
    dataset_path: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
):
    """Fit, evaluate (rolling), register and gate the fleet model; ``client``: a Dask client
    (``lightgbm.dask``) or None. Returns :class:`riskml.train.pipeline.Trained`."""
    from riskml.config import models_dir
    from riskml.train.pipeline import train_and_register

    name = config.train.model_name
    out_dir = Path(out_dir)
    with _boosters(client):
        return train_and_register(
            config,
            dataset=table,
            label_mode=label_mode,
            metrics_path=out_dir / "metrics.json",
            model_dir=out_dir / models_dir(name),
            mlflow=mlflow,
            dataset_path=dataset_path,
            repo="fleet",
            model_name=name,
            progress=progress,
        )


# -------------------------------------------------------------------- per-project evaluation


@dataclass
class ProjectRow:
    """One project's line of the per-project evaluation: each fold's ROC-AUC of its own
    model and of the fleet model on the same test rows."""

    project: str
    changes: int
    labelled: int
    positives: int
    folds: list[dict] = field(default_factory=list)  # fold, cutoff, n, positives, own, fleet…
    skipped: str | None = None
    # the paired bootstrap 95 % interval of the fleet model's mean fold ROC-AUC minus the own
    # model's over the paired folds ({diff, low, high}; per_project's ``bootstrap``)
    interval: dict | None = None

    def paired(self) -> list[dict]:
        """The folds where both models were tested (a project's own model cannot train on a
        fold whose history is too short): the means compare these only."""
        return [f for f in self.folds if _known(f.get("own_roc_auc"))
                and _known(f.get("fleet_roc_auc"))]  # fmt: skip

    def mean(self, key: str, folds: list[dict] | None = None) -> float | None:
        folds = self.paired() if folds is None else folds
        values = [f[key] for f in folds if _known(f.get(key))]
        return float(np.mean(values)) if values else None

    def other_fleets(self) -> list[str]:
        """The keys of the fleet models tested beside the fleet model, in the order tested:
        ``fleet_norm`` (normalised) and ``fleet_<name>`` (another configuration)."""
        return _other_fleets([self])

    def summary(self) -> dict:
        out = {
            "project": self.project,
            "changes": self.changes,
            "labelled": self.labelled,
            "positives": self.positives,
            "folds": self.folds,
            "paired_folds": len(self.paired()),
            # over the paired folds
            "own_roc_auc": self.mean("own_roc_auc"),
            "fleet_roc_auc": self.mean("fleet_roc_auc"),
            # the fleet model over every fold it was tested on
            "fleet_roc_auc_all_folds": self.mean("fleet_roc_auc", self.folds),
        }
        for key in self.other_fleets():
            out[f"{key}_roc_auc"] = self.mean(f"{key}_roc_auc")
            out[f"{key}_roc_auc_all_folds"] = self.mean(f"{key}_roc_auc", self.folds)
        if self.interval is not None:
            out["fleet_minus_own_roc_auc"] = self.interval
        if self.skipped:
            out["skipped"] = self.skipped
        return out


def _other_fleets(rows: list[ProjectRow]) -> list[str]:
    """The ``fleet_<name>`` keys the folds of ``rows`` hold besides ``fleet``, first seen first."""
    keys: dict[str, None] = {}
    for r in rows:
        for f in r.folds:
            for key in f:
                if key.startswith("fleet_") and key.endswith("_roc_auc") and key != "fleet_roc_auc":
                    keys[key[: -len("_roc_auc")]] = None
    return list(keys)


def _known(value) -> bool:
    return value is not None and value == value


def _auc_or_none(y: np.ndarray, risk: np.ndarray) -> float | None:
    from riskml.train.rolling import _roc_auc

    value = _roc_auc(y, risk)
    return None if value != value else value


def fleet_fold_predictions(
    table: pd.DataFrame, cfg: Config, cutoff, test_end, label_mode: str, project: str
) -> pd.DataFrame:
    """The fleet model of one cut-off (:func:`riskml.train.fit` on every project's rows of
    ``table`` before it): its test predictions of ``project``'s rows of the test window."""
    from riskml.train import fit

    trained = fit(table, cfg, cutoff=cutoff, label_mode=label_mode, test_end=test_end)
    mine = (trained.test_frame[PROJECT_COLUMN] == project).to_numpy()
    return trained.test_predictions[mine].reset_index(drop=True)


def on_own_rows(own: pd.DataFrame, fleet: pd.DataFrame, where: str) -> pd.DataFrame:
    """``fleet``'s test predictions of a project (:func:`fleet_fold_predictions`) in the order
    of ``own``'s, the project's own fit's of the same fold, matched by commit; RiskmlError
    (naming ``where``) when the two were tested on other changes."""
    got = fleet.set_index("commit")
    if len(got) != len(own) or sorted(got.index) != sorted(own["commit"]):
        raise RiskmlError(f"{where}: the fleet fit tested other rows than its own")
    return got.loc[own["commit"]].reset_index()


def _fleet_fold(table, cfg, cutoff, test_end, label_mode, project) -> dict:
    """The fleet model of one cut-off, tested on ``project``'s rows of its test window."""
    preds = fleet_fold_predictions(table, cfg, cutoff, test_end, label_mode, project)
    y = preds["label"].to_numpy(dtype=float)
    risk = preds["risk_riskml"].to_numpy(dtype=float)
    return {"n": len(preds), "auc": _auc_or_none(y, risk), "preds": preds}


def _fleet_minus_own(paired: list[pd.DataFrame], bootstrap: int, seed: int) -> dict:
    """The paired bootstrap interval of the fleet model's mean fold ROC-AUC minus the own
    model's over the ``paired`` folds (at least one;
    :func:`riskml.train.rolling.paired_intervals`, resampling each fold's changes)."""
    from riskml.train.rolling import paired_intervals

    frame = pd.concat(paired, ignore_index=True)
    got = paired_intervals(frame, ["fleet", "own"], bootstrap=bootstrap, seed=seed,
                           model="fleet", baselines=("own",))  # fmt: skip
    return got["mean"]["roc_auc:fleet-own"]


def per_project(
    table: pd.DataFrame,
    config: Config,
    *,
    label_mode: str,
    client: Any = None,
    normalised: pd.DataFrame | None = None,
    compare: dict[str, Config] | None = None,
    projects: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    bootstrap: int = 0,
) -> list[ProjectRow]:
    """Each project's own forward-chaining folds (``[evaluate] folds`` × ``fold_fraction`` of
    its labelled changes): at each fold the project's own model (its rows alone) and the fleet
    model (every project's rows before the cut-off) tested on the project's test window.
    ``normalised``: the same table with the ``_project_pct`` columns, whose fleet model is
    tested on the same rows too (``fleet_norm_roc_auc``). ``compare``: other configurations
    of the fleet model by name (e.g. another ``[train] project_weights``), each trained on
    ``table`` and tested on the same rows too (``fleet_<name>_roc_auc``): two fleet models
    compared in one run on the same folds. ``bootstrap``: resamples of each project's paired
    bootstrap interval of the fleet model's mean fold ROC-AUC minus its own model's
    (``ProjectRow.interval``; none with 0)."""
    from riskml.train import fit
    from riskml.train.rolling import fold_bounds

    if "norm" in (compare or {}):
        raise RiskmlError("a compared fleet model cannot be named 'norm' (the normalised one's)")
    say = progress or (lambda message: None)
    ev = config.evaluate
    out = []
    names = projects or sorted(table[PROJECT_COLUMN].unique())
    with _boosters(client):
        for project in names:
            own = table[table[PROJECT_COLUMN] == project].drop(columns=PROJECT_COLUMN)
            label = pd.to_numeric(own["label"], errors="coerce")
            row = ProjectRow(project, len(own), int(label.notna().sum()), int((label == 1).sum()))
            out.append(row)
            try:
                bounds = fold_bounds(own, ev.folds, ev.fold_fraction)
            except RiskmlError as exc:
                row.skipped = str(exc)
                say(f"{project}: skipped ({exc})")
                continue
            paired: list[pd.DataFrame] = []  # per paired fold: label, risk_own, risk_fleet
            for k, (cutoff, test_end) in enumerate(bounds, start=1):
                say(f"{project}: fold {k}/{len(bounds)} from {cutoff.isoformat()}")
                fold: dict[str, Any] = {"fold": k, "cutoff": cutoff.isoformat()}
                mine = None
                try:
                    mine = fit(own, config, cutoff=cutoff, label_mode=label_mode, test_end=test_end)
                    y = mine.test_predictions["label"].to_numpy(dtype=float)
                    risk = mine.test_predictions["risk_riskml"].to_numpy(dtype=float)
                    fold.update(n=len(y), positives=int(np.nansum(y)))
                    fold["own_roc_auc"] = _auc_or_none(y, risk)
                except RiskmlError as exc:
                    fold["own_error"] = str(exc)
                fleets = [("fleet", table, config), ("fleet_norm", normalised, config)]
                fleets += [(f"fleet_{n}", table, c) for n, c in (compare or {}).items()]
                for key, frame, cfg in fleets:
                    if frame is None:
                        continue
                    try:
                        got = _fleet_fold(frame, cfg, cutoff, test_end, label_mode, project)
                        fold[f"{key}_roc_auc"] = got["auc"]
                        fold[f"{key}_n"] = got["n"]
                    except RiskmlError as exc:
                        fold[f"{key}_error"] = str(exc)
                        continue
                    if key == "fleet" and mine is not None and _known(fold.get("own_roc_auc")):
                        paired.append(_paired_fold(k, mine.test_predictions, got["preds"]))
                row.folds.append(fold)
            if bootstrap and paired:
                row.interval = _fleet_minus_own(paired, bootstrap, config.train.seed)
    return out


def _paired_fold(k: int, own: pd.DataFrame, fleet: pd.DataFrame) -> pd.DataFrame:
    """One fold's test changes with both models' risks, matched by commit."""
    got = on_own_rows(own, fleet, f"fold {k}")
    return pd.DataFrame({"fold": k, "label": own["label"].to_numpy(dtype=float),
                         "risk_own": own["risk_riskml"].to_numpy(dtype=float),
                         "risk_fleet": got["risk_riskml"].to_numpy(dtype=float)})  # fmt: skip


def _num(value) -> str:
    return "-" if value is None or value != value else f"{value:.4f}"


def _interval(interval: dict | None) -> str:
    if interval is None or interval.get("low") is None:
        return "-"
    return f"[{interval['low']:+.4f},{interval['high']:+.4f}]"


def format_per_project(rows: list[ProjectRow]) -> str:
    """The per-project table: mean fold ROC-AUC of the project's own model and of the fleet
    model (and the normalised fleet model and the compared configurations when evaluated:
    ``fleet+norm``, ``fleet:<name>``) over the folds where both were
    tested (``folds``: those of all), and which is at least the other; with the paired
    bootstrap interval of fleet − own (``95%-interval``) when it was computed."""
    others = _other_fleets(rows)
    head = ["project", "changes", "labelled", "pos", "folds", "own", "fleet"]
    head += ["fleet+norm" if k == "fleet_norm" else "fleet:" + k.removeprefix("fleet_")
             for k in others]  # fmt: skip
    head += ["fleet-own"]
    intervals = any(r.interval is not None for r in rows)
    if intervals:
        head += ["95%-interval"]
    head += ["fleet>=own"]
    body = []
    for r in rows:
        s = r.summary()
        own, fleet = s["own_roc_auc"], s["fleet_roc_auc"]
        folds = f"{s['paired_folds']}/{len(r.folds)}"
        cells = [r.project, str(r.changes), str(r.labelled), str(r.positives), folds,
                 _num(own), _num(fleet)]  # fmt: skip
        cells += [_num(s.get(f"{k}_roc_auc")) for k in others]
        if own is None or fleet is None:
            why = f"skipped: {r.skipped}" if r.skipped else "- (its own model trained on no fold)"
            cells += ["-", *(["-"] if intervals else []), why]
        else:
            cells += [f"{fleet - own:+.4f}"]
            if intervals:
                cells += [_interval(r.interval)]
            cells += ["yes" if fleet >= own else "no"]
        body.append(cells)
    width = [max(len(line[c]) for line in (head, *body)) for c in range(len(head))]
    lines = []
    for cells in (head, *body):
        first = cells[0].ljust(width[0])
        rest = "  ".join(cells[c].rjust(width[c]) for c in range(1, len(cells) - 1))
        lines.append(f"{first}  {rest}  {cells[-1]}")
    done = [r.summary() for r in rows if r.summary()["own_roc_auc"] is not None]
    done = [s for s in done if s["fleet_roc_auc"] is not None]
    if done:
        gain = sum(s["fleet_roc_auc"] >= s["own_roc_auc"] for s in done)
        lines.append(f"fleet >= own on {gain} of {len(done)} project(s) (mean fold ROC-AUC)")
    return "\n".join(lines)


def log_per_project(rows: list[ProjectRow], config: Config, dataset_path=None) -> str:
    """An MLflow parent run ``fleet-evaluation`` with one nested run per project (its mean
    and per-fold ROC-AUC of both models); returns the parent's run id."""
    import mlflow

    from riskml.train.tracking import ensure_experiment

    experiment = ensure_experiment(config.train.experiment)
    with mlflow.start_run(experiment_id=experiment, run_name="fleet-evaluation") as parent:
        mlflow.set_tags(
            {"riskml.kind": "fleet-evaluation", "riskml.model": config.train.model_name}
        )
        if dataset_path is not None:
            mlflow.set_tag("riskml.dataset", str(dataset_path))
        gained = 0
        others = _other_fleets(rows)
        for r in rows:
            s = r.summary()
            with mlflow.start_run(
                experiment_id=experiment, run_name=f"project {r.project}", nested=True
            ):
                mlflow.set_tags({"riskml.project": r.project, "riskml.kind": "fleet-project"})
                mlflow.log_metrics(
                    {"changes": r.changes, "labelled": r.labelled, "positives": r.positives}
                )
                keys = ["own_roc_auc", "fleet_roc_auc"] + [f"{k}_roc_auc" for k in others]
                for key in keys:
                    if s.get(key) is not None:
                        mlflow.log_metric(key, s[key])
                for f in r.folds:
                    for key in keys:
                        if f.get(key) is not None:
                            mlflow.log_metric(f"fold_{key}", f[key], step=f["fold"])
                if r.skipped:
                    mlflow.set_tag("riskml.skipped", r.skipped[:250])
            if s["own_roc_auc"] is not None and s["fleet_roc_auc"] is not None:
                gained += s["fleet_roc_auc"] >= s["own_roc_auc"]
        mlflow.log_metric("projects_fleet_at_least_own", gained)
        return parent.info.run_id
