"""The body of :func:`riskml.train.fit`: split, search, blend, calibrate, refit, evaluate.

:func:`fit_all` reads as the list of those steps; each is a private function of its own, fed
the :class:`_Data` prepared once (the split, the columns and the two matrices of the search),
as scikit-learn's ``fit`` delegates to small private helpers.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskml.config import Config, TrainConfig
from riskml.errors import RiskmlError
from riskml.jsonvalue import plain
from riskml.mine.recent import RECENT_COLUMNS
from riskml.mine.recent import SUFFIX as RECENT_SUFFIX
from riskml.train.baselines import (
    fit_kamei_lr,
    fit_lapredict,
    fit_linear_component,
    linear_margin,
)
from riskml.train.dataset import (
    KAMEI_METRICS,
    LABEL_HISTORY_COLUMNS,
    derived_features,
    feature_columns,
    unknown_features,
)
from riskml.train.metrics import RISKML, bootstrap_intervals, effort_of, evaluate
from riskml.train.model import (
    DEFAULT_PARAMS,
    PROJECT_COLUMN,
    SEARCH_HALF_LIVES,
    SEARCH_SPACE,
    TrainedModel,
    assign_tiers,
    blend_scores,
    blend_text,
    build_matrix,
    category_levels,
    fit_calibrator,
    recency_weights,
    share_thresholds,
    tier_thresholds,
    trailing_tiers,
    train_booster,
    with_text_column,
)
from riskml.train.reasons import distribution
from riskml.train.split import Split, time_split

_log = logging.getLogger(__name__)


class TierWarning(UserWarning):
    """Tier thresholds that will not give each tier its share (they collapsed or hold nothing)."""


def _derived_for(frame: pd.DataFrame) -> list[str]:
    """Derived columns worth adding: those not entirely missing on this frame."""
    derived = derived_features(frame.head(5000))
    # the mined table already has the hour and weekday of the author time
    same = {"hour_utc": "hour", "weekday_utc": "weekday"}
    return [
        c
        for c in derived.columns
        if derived[c].notna().any() and same.get(c, "") not in frame.columns
    ]


def _effort(frame: pd.DataFrame) -> np.ndarray:
    la = frame["la"] if "la" in frame.columns else np.zeros(len(frame))
    ld = frame["ld"] if "ld" in frame.columns else np.zeros(len(frame))
    return effort_of(la, ld)


def _logit_scale(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``a, b`` of a logistic fit of the labels on the raw score (validation slice)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(np.asarray(raw, dtype=float).reshape(-1, 1), np.asarray(y, dtype=int))
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _auc(y, score) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(y, dtype=int), score))


@dataclass
class TrainResult:
    """What :func:`riskml.train.fit` returns; see :mod:`riskml.train`."""

    model: TrainedModel
    metrics: dict
    test_predictions: pd.DataFrame
    importance: pd.DataFrame
    split: Split
    test_frame: pd.DataFrame | None = None  # the dataset rows of the test window, same order


@dataclass
class _Data:
    """The dataset, its time split and the matrices every step of the fit reads.

    ``X_fit`` / ``X_valid`` hold the raw features, then the derived ones; a candidate without
    derived columns reads the first ``n_raw`` columns only.
    """

    dataset: pd.DataFrame
    split: Split
    features: list[str]
    categoricals: list[str]
    categories: dict[str, list[str]]
    derived: list[str]
    X_fit: np.ndarray
    X_valid: np.ndarray
    cat_idx: list[int]
    base_params: dict
    text: _Text | None = None

    @property
    def n_raw(self) -> int:
        """Columns before the derived ones: the raw features, then the text score if any."""
        return len(self.features) + (
            1 if self.text is not None and self.text.mode == "feature" else 0
        )

    @property
    def times(self) -> pd.Series:
        return self.dataset["author_time"]

    def rows(self, index: np.ndarray) -> pd.DataFrame:
        return self.dataset.iloc[index]


@dataclass
class _Text:
    """The text component of a fit: every row's token counts, the component fitted on the fit
    slice (its margins score the validation slice) and how it enters the model."""

    mode: str  # "feature" or "blend"
    counts: Any  # riskml.train.text.TokenCounts over the dataset's rows
    component: Any  # riskml.train.text.TextComponent fitted on the fit slice
    valid_margin: np.ndarray
    fit_margin: np.ndarray | None = None  # out of fold, "feature" mode only


def _text_for(dataset: pd.DataFrame, split: Split, tc: TrainConfig) -> _Text | None:
    """The text component on the fit slice, when the dataset has tokens and ``[train] text``
    is not "off" (too few rows or tokens: None, the model trains without it)."""
    if tc.text == "off" or "tokens" not in dataset.columns:
        return None
    from riskml.train.text import TokenCounts, fit_text, margins_for, out_of_fold_margins

    counts = TokenCounts(dataset["tokens"].tolist())
    component = fit_text(counts, split.fit_index, split.fit_label, tc.seed)
    if component is None:
        return None
    text = _Text(tc.text, counts, component, margins_for(component, counts, split.valid_index))
    if tc.text == "feature":
        text.fit_margin = out_of_fold_margins(counts, split.fit_index, split.fit_label, tc.seed)
    return text


@dataclass
class _Candidate:
    """One booster of the search: its settings, its validation AUC and the booster itself."""

    params: dict
    derived: bool
    half_life_days: float | None
    valid_roc_auc: float
    booster: Any

    def entry(self) -> dict:
        """The candidate's line in ``metrics["model"]["search"]``."""
        return {
            "params": self.params,
            "derived": self.derived,
            "half_life_days": self.half_life_days,
            "valid_roc_auc": self.valid_roc_auc,
            "best_iteration": int(self.booster.best_iteration),
        }


def _prepare(dataset: pd.DataFrame, cfg: Config, cutoff, label_mode: str, test_end=None) -> _Data:
    """Split ``dataset`` in time and build the fit and validation matrices."""
    tc = cfg.train
    if len(dataset) == 0:
        raise RiskmlError("the dataset is empty")
    unknown = unknown_features(dataset, tc.exclude_features)
    if unknown:
        raise RiskmlError(
            f"[train] exclude_features: not feature columns: {', '.join(map(repr, unknown))} "
            "(docs/features.md lists them)"
        )
    dataset = dataset.reset_index(drop=True)
    split = time_split(
        dataset,
        test_fraction=tc.test_fraction,
        valid_fraction=tc.valid_fraction,
        gap_days=tc.gap_days,
        window_days=cfg.label.window_days,
        cutoff=cutoff,
        mode=label_mode,
        test_end=test_end,
    )
    excluded = _excluded(dataset, tc)
    features, categoricals = feature_columns(dataset)
    features = [c for c in features if c not in excluded]
    categoricals = [c for c in categoricals if c not in excluded]
    if not features:
        raise RiskmlError("the dataset has no feature column")
    categories = category_levels(dataset.iloc[split.train_index], categoricals)
    derived = [c for c in _derived_for(dataset) if c not in excluded]

    text = _text_for(dataset, split, tc)

    def matrix(idx: np.ndarray, margin: np.ndarray | None) -> np.ndarray:
        X = build_matrix(dataset.iloc[idx], features, categoricals, categories, derived)
        if text is not None and text.mode == "feature":
            X = with_text_column(X, len(features), margin)
        return X

    return _Data(
        dataset=dataset,
        split=split,
        features=features,
        categoricals=categoricals,
        categories=categories,
        derived=derived,
        X_fit=matrix(split.fit_index, text.fit_margin if text is not None else None),
        X_valid=matrix(split.valid_index, text.valid_margin if text is not None else None),
        cat_idx=[features.index(c) for c in categoricals],
        base_params={**DEFAULT_PARAMS, **dict(tc.lgbm_params or {})},
        text=text,
    )


def _train_candidate(
    data: _Data, tc: TrainConfig, override: dict, with_derived: bool, half_life: float | None
) -> _Candidate:
    """One booster on the fit slice, early-stopped on the validation slice."""
    cols = slice(None) if with_derived else slice(0, data.n_raw)
    booster, auc = train_booster(
        data.X_fit[:, cols],
        data.split.fit_label,
        data.X_valid[:, cols],
        data.split.valid_label,
        data.cat_idx,
        {**data.base_params, **override},
        seed=tc.seed,
        max_rounds=tc.max_rounds,
        patience=tc.early_stopping_rounds,
        weight=sample_weights(data, data.split.fit_index, half_life, tc.project_weights),
        min_rounds=tc.min_rounds,
    )
    return _Candidate(override, with_derived, half_life, auc, booster)


def sample_weights(
    data: _Data, index: np.ndarray, half_life: float | None, project_weights: str
) -> np.ndarray | None:
    """The boosters' weights of the rows ``index``: recency (``half_life``) times, in a table
    of several projects, each project's share (``[train] project_weights``): "rows" = one
    per row, "sqrt" = a project of n rows weighs sqrt(n) in all, "balanced" = every project
    weighs the same. Mean 1 over the rows; None when every row weighs 1 (one project, no
    half-life), so a project's own model is the same whatever the setting."""
    times = data.times.iloc[index]
    weight = recency_weights(times, times.max(), half_life)
    if project_weights == "rows" or PROJECT_COLUMN not in data.dataset.columns:
        return weight
    projects = data.dataset[PROJECT_COLUMN].iloc[index].astype(str).to_numpy()
    _, of_row, counts = np.unique(projects, return_inverse=True, return_counts=True)
    if len(counts) < 2:
        return weight
    per_row = counts.astype(float) ** (-0.5 if project_weights == "sqrt" else -1.0)
    share = per_row[of_row]
    share *= len(share) / share.sum()
    return share if weight is None else weight * share


def search_enabled(tc: TrainConfig, label_mode: str) -> bool:
    """``[train] search``, where unset (the default) on for public tables only: their labels are
    final, while a real history's validation slice holds young labels that mislead the choice
    (docs/training.md, "Real histories")."""
    return bool(tc.search) if tc.search is not None else label_mode == "public"


def _search(data: _Data, tc: TrainConfig, enabled: bool) -> tuple[_Candidate, list[dict]]:
    """The best candidate by validation AUC, and every candidate's search entry in order.

    With ``[train] search``: every entry of ``SEARCH_SPACE`` with and without the derived
    columns, then the best of those again with each recency half-life. Without: the defaults.
    """
    first = [({}, bool(data.derived), tc.half_life_days)]
    if enabled:
        first = [
            (override, with_derived, None)
            for override in SEARCH_SPACE
            for with_derived in ((True, False) if data.derived else (False,))
        ]
    tried = [_train_candidate(data, tc, *settings) for settings in first]
    if enabled:
        chosen = _best_of(tried)
        tried += [
            _train_candidate(data, tc, chosen.params, chosen.derived, half_life)
            for half_life in SEARCH_HALF_LIVES
        ]
    return _best_of(tried), [c.entry() for c in tried]


def _best_of(candidates: list[_Candidate]) -> _Candidate:
    """The candidate of highest validation AUC; a tie keeps the earlier (simpler) one."""
    best = candidates[0]
    for candidate in candidates[1:]:
        if candidate.valid_roc_auc > best.valid_roc_auc + 1e-12:
            best = candidate
    return best


def _excluded(dataset: pd.DataFrame, tc: TrainConfig) -> set[str]:
    """Columns riskml does not read: ``exclude_features``, and with ``recent_features`` each
    history count whose ``_recent_pct`` companion is in the table."""
    excluded = set(tc.exclude_features)
    if tc.recent_features:
        counts = (*RECENT_COLUMNS, *LABEL_HISTORY_COLUMNS)
        excluded |= {c for c in counts if f"{c}{RECENT_SUFFIX}" in dataset.columns}
    return excluded


def _linear_columns(data: _Data, tc: TrainConfig) -> list[str]:
    """The Kamei metrics the linear component reads: those present and not excluded."""
    excluded = _excluded(data.dataset, tc)
    return [c for c in KAMEI_METRICS if c in data.dataset.columns and c not in excluded]


@dataclass
class _Blend:
    """The linear component and the blend of :func:`blend_scores` (both empty: LightGBM alone),
    and the blended score of the validation slice."""

    linear: Any
    blend: dict
    score_valid: np.ndarray


def _blend(data: _Data, best: _Candidate, X_valid: np.ndarray, tc: TrainConfig) -> _Blend:
    """The linear component, fitted on the fit slice, blended on the log-odds scale."""
    split = data.split
    raw_valid = best.booster.predict(X_valid, raw_score=True)
    blend_weight = float(tc.blend_weight)
    if blend_weight >= 1.0:
        return _Blend(None, {}, raw_valid)
    linear = fit_linear_component(
        data.rows(split.fit_index), split.fit_label, tc.seed, columns=_linear_columns(data, tc)
    )
    scale, shift = _logit_scale(raw_valid, split.valid_label)
    if linear is None or not scale > 0:
        return _Blend(None, {}, raw_valid)
    blend = {"weight": blend_weight, "scale": scale, "shift": shift}
    margin = linear_margin(linear, data.rows(split.valid_index))
    return _Blend(linear, blend, blend_scores(raw_valid, margin, blend))


def _text_blend(data: _Data, blended: _Blend, tc: TrainConfig) -> _Blend:
    """With ``[train] text = "blend"``: the text component's log-odds blended into the score
    (``blend_text``), both put on the log-odds scale by logistic fits on the validation slice."""
    text = data.text
    if text is None or text.mode != "blend":
        return blended
    y = data.split.valid_label
    scale, shift = _logit_scale(blended.score_valid, y)
    text_scale, text_shift = _logit_scale(text.valid_margin, y)
    params = {"weight": float(tc.text_weight), "scale": scale, "shift": shift,
              "text_scale": text_scale, "text_shift": text_shift,
              "center": float(np.mean(text.valid_margin))}  # fmt: skip
    score = blend_text(blended.score_valid, text.valid_margin, params)
    return _Blend(blended.linear, {**blended.blend, "text": params}, score)


def _calibrate(score_valid: np.ndarray, data: _Data, cfg: Config):
    """Calibrator, calibrated validation risk and tier thresholds, all from the validation
    slice, scored out of sample."""
    calibrator = fit_calibrator(score_valid, data.split.valid_label, cfg.train.calibration)
    valid_risk = calibrator.predict_proba(score_valid.reshape(-1, 1))[:, 1]
    thresholds = tier_thresholds(valid_risk, data.split.valid_label, cfg.tiers)
    return calibrator, valid_risk, thresholds


def _recent_thresholds(
    data: _Data, model: TrainedModel, cfg: Config, valid: tuple[dict[str, float], np.ndarray]
) -> tuple[dict[str, float], dict, np.ndarray, np.ndarray | dict[str, np.ndarray] | None]:
    """Share-mode thresholds cut from the final model's risk on the newest unseen changes.

    The changes of the gap (after the last training change, before the cut-off) are the newest
    the model never trained on and need no label, so their risk is what the next changes'
    risk will look like; the validation slice is older and was scored by the search's booster.
    ``valid``: the validation slice's thresholds and risk, kept when the gap is too small or
    the configuration asks for them. Returns ``(thresholds, reference, reference risk, gap
    risk)``: ``reference`` says which rows were used; the gap's risk, oldest first, only for
    ``[tiers] reference = "trailing"`` (else None), is what the test window trails from; in a
    table of several projects a dict of each project's gap risk (scoring trails each
    repository's own changes).
    """
    tiers = cfg.tiers
    n_valid = int(len(data.split.valid_index))
    if tiers.mode != "share" or tiers.reference == "validation":
        return valid[0], {"rows": "validation", "n": n_valid}, valid[1], None
    info = data.split.info
    cut = pd.Timestamp(info["cutoff"])
    start = cut - pd.Timedelta(days=float(info["gap_days"]))
    times = pd.to_datetime(data.times, utc=True)
    recent = np.flatnonzero(((times >= start) & (times < cut)).to_numpy())
    recent = recent[np.argsort(times.iloc[recent].to_numpy(), kind="stable")]  # oldest first
    risk = model.risk(data.rows(recent)) if len(recent) else np.array([])
    if len(recent) < tiers.min_reference:
        why = f"{len(recent)} change(s) in the gap, fewer than min_reference {tiers.min_reference}"
        thresholds, reference_risk = valid
        reference = {"rows": "validation", "n": n_valid, "why": why}
    else:
        thresholds, reference_risk = share_thresholds(risk, tiers.shares), risk
        reference = {"rows": "recent", "n": int(len(recent)), "span": [_iso(start), _iso(cut)]}
    if tiers.reference != "trailing":
        return thresholds, reference, reference_risk, None
    # what scoring reads: tier each change against the newest unseen changes before it (the
    # stored thresholds until min_reference of them exist)
    reference["trailing"] = {
        "window": int(tiers.window),
        "min_reference": int(tiers.min_reference),
        "shares": dict(tiers.shares),
    }
    if PROJECT_COLUMN in data.dataset.columns:
        # several projects (the fleet's): scoring trails each repository's own unseen changes
        projects = data.rows(recent)[PROJECT_COLUMN].astype(str).to_numpy()
        by_project = {name: risk[projects == name] for name in np.unique(projects)}
        return thresholds, reference, reference_risk, by_project
    return thresholds, reference, reference_risk, risk


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def tier_warnings(
    thresholds: dict[str, float], risk: np.ndarray, shares: dict, valid_risk=None
) -> list[str]:
    """What is wrong with a set of thresholds on the risk they were cut from, in words.

    Two tiers on one threshold leave the lower one empty; a tier holding no change of the
    reference (or far below its configured share) will not do its job on new changes either;
    nor will a tier that no change of the validation slice (``valid_risk``) reaches.
    """
    out = []
    ordered = [t for t in ("medium", "high", "critical") if t in thresholds]
    for lower, upper in zip(ordered, ordered[1:], strict=False):
        if thresholds[lower] == thresholds[upper]:
            out.append(
                f"tiers {lower} and {upper} share one threshold ({thresholds[upper]:.4g}): "
                f"no change can be {lower}"
            )
    risk = np.asarray(risk, dtype=float)
    if len(risk):
        bounds = [*(thresholds[t] for t in ordered[1:]), math.inf]
        for tier, low, high in zip(ordered, (thresholds[t] for t in ordered), bounds, strict=True):
            held = float(np.mean((risk >= low) & (risk < high)))
            want = float(shares.get(tier, 0.0))
            if held == 0 or (want and held < 0.5 * want):
                out.append(
                    f"tier {tier} holds {held:.1%} of the reference changes "
                    f"(configured share {want:.0%})"
                )
    valid = np.asarray([] if valid_risk is None else valid_risk, dtype=float)
    if len(valid):
        top = float(np.max(valid))
        for tier in ordered:
            if not top >= thresholds[tier]:
                out.append(
                    f"no validation change reaches tier {tier} (threshold "
                    f"{thresholds[tier]:.4g}, highest validation risk {top:.4g})"
                )
    return out


def _refit(
    data: _Data,
    best: _Candidate,
    params: dict,
    X_valid: np.ndarray,
    linear: Any,
    tc: TrainConfig,
    best_iteration: int,
) -> tuple[Any, Any, int]:
    """``(booster, linear, rounds)`` of the final model.

    With ``[train] refit``: the chosen settings again on the whole training period, so the
    newest changes count; the rounds grow with the data (validated: nested validation inside
    the fit slice). Without: the search's booster and linear component as they are.
    """
    if not tc.refit:
        return best.booster, linear, best_iteration
    split = data.split
    X_train = np.vstack([data.X_fit[:, : X_valid.shape[1]], X_valid])
    n_rounds = max(1, round(best_iteration * len(split.train_index) / len(split.fit_index)))
    booster, _ = train_booster(
        X_train,
        split.train_label,
        None,
        None,
        data.cat_idx,
        params,
        seed=tc.seed,
        max_rounds=n_rounds,
        weight=sample_weights(data, split.train_index, best.half_life_days, tc.project_weights),
    )
    if linear is not None:
        linear = fit_linear_component(
            data.rows(split.train_index), split.train_label, tc.seed, columns=linear.columns
        )
    return booster, linear, n_rounds


def _refit_text(data: _Data, tc: TrainConfig):
    """The text component the model keeps: fitted again on the whole training period with
    ``[train] refit`` (like the booster), else the fit slice's."""
    if data.text is None:
        return None
    if not tc.refit:
        return data.text.component
    from riskml.train.text import fit_text

    split = data.split
    refitted = fit_text(data.text.counts, split.train_index, split.train_label, tc.seed)
    return refitted or data.text.component


def _trailing_test_tiers(risk, test, unseen, stored, cfg) -> list[str]:
    """Each test change's tier as scoring gives it on arrival: against the newest unseen
    changes before it (``unseen``: the gap's risk, oldest first) and the test changes before
    it. ``unseen`` a dict by project (a table of several): each project's changes trail its
    own, as `score` trails the scored repository's own table."""
    times = pd.to_datetime(test["author_time"], utc=True).to_numpy()
    if isinstance(unseen, dict):
        projects = test[PROJECT_COLUMN].astype(str).to_numpy()
        groups = [(np.flatnonzero(projects == name), unseen.get(name, np.array([])))
                  for name in np.unique(projects)]  # fmt: skip
    else:
        groups = [(np.arange(len(test)), unseen)]
    tiers = [""] * len(test)
    for rows, reference in groups:
        order = rows[np.argsort(times[rows], kind="stable")]
        ordered = trailing_tiers(
            risk[order], reference, dict(cfg.tiers.shares), cfg.tiers.window,
            test.iloc[order], cfg.tiers.critical_path_floor, cfg.tiers.min_reference, stored,
        )  # fmt: skip
        for position, tier in zip(order, ordered, strict=True):
            tiers[position] = tier
    return tiers


def _evaluate(
    data: _Data,
    model: TrainedModel,
    cfg: Config,
    label_mode: str,
    unseen_risk: np.ndarray | dict[str, np.ndarray] | None = None,
    intervals: bool = True,
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """``(metrics, test predictions, test rows)``: riskml and both baselines on the test window.

    ``intervals``: each model's headline metrics get their bootstrap interval beside them
    (``<metric>_ci_low`` / ``_ci_high``; :func:`riskml.train.metrics.bootstrap_intervals`,
    ``[evaluate] bootstrap`` resamples seeded by ``[train] seed``, the same draws for every
    model); a rolling fold's fit leaves them out (the rolling evaluation has its own).

    The baselines are fitted on the whole training period, labels as known at the cut-off.
    ``unseen_risk``: the gap's risk, oldest first, when the tiers trail the newest unseen
    changes (``[tiers] reference = "trailing"``): each test change is then tiered as scoring
    would tier it on arrival, against the gap and the test changes before it.
    """
    split, seed = data.split, cfg.train.seed
    train_rows = data.rows(split.train_index)
    baselines = [fit_lapredict(train_rows, split.train_label, seed)] if "la" in data.dataset else []
    baselines.append(fit_kamei_lr(train_rows, split.train_label, seed))

    test = data.rows(split.test_index)
    y_test = test["label"].to_numpy(dtype=float)
    effort = _effort(test)
    risk = model.risk(test)
    floor = cfg.tiers.critical_path_floor
    if unseen_risk is None:
        tiers = assign_tiers(risk, model.thresholds, test, floor)
    else:
        tiers = _trailing_test_tiers(risk, test, unseen_risk, model.thresholds, cfg)
    metrics = {RISKML: evaluate(y_test, risk, effort, tiers)}
    metrics[RISKML]["valid_roc_auc"] = model.info["valid_roc_auc"]
    preds = pd.DataFrame(
        {
            "commit": test["commit"].astype(str).to_numpy() if "commit" in test else None,
            "author_time": test["author_time"].to_numpy(),
            "label": y_test,
            "effort": effort,
            f"risk_{RISKML}": risk,
        }
    )
    for baseline in baselines:
        b_risk = baseline.risk(test)
        preds[f"risk_{baseline.name}"] = b_risk
        metrics[baseline.name] = evaluate(y_test, b_risk, effort)
    if intervals:
        for name in list(metrics):
            metrics[name].update(
                bootstrap_intervals(
                    y_test, preds[f"risk_{name}"].to_numpy(dtype=float), effort,
                    resamples=cfg.evaluate.bootstrap, seed=seed, point=metrics[name],
                )
            )  # fmt: skip
    preds["tier"] = tiers
    metrics["split"] = dict(split.info)
    metrics["labels"] = {
        "proxy": label_mode != "incidents",
        "mode": label_mode,
        "train_base_rate": float(np.mean(split.train_label)),
        "test_base_rate": float(np.mean(y_test)),
    }
    return metrics, preds, test


def typical_distributions(model: TrainedModel, rows: pd.DataFrame) -> dict[str, dict]:
    """Each numeric column of the model (raw and derived, as the booster reads them) over the
    training ``rows``: :func:`riskml.train.reasons.distribution`, what a reason's number is
    said against. Categoricals, ``_recent_pct`` ranks (already a place among recent changes)
    and the text score are left out."""
    columns = [*model.feature_columns, *model.derived_columns]
    X = build_matrix(
        rows, model.feature_columns, model.categorical_columns, model.categories,
        model.derived_columns,
    )  # fmt: skip
    skip = set(model.categorical_columns)
    out = {}
    for j, column in enumerate(columns):
        if column in skip or column.endswith(RECENT_SUFFIX):
            continue
        dist = distribution(X[:, j])
        if dist is not None:
            out[column] = dist
    return out


def _importance(model: TrainedModel) -> pd.DataFrame:
    """LightGBM's gain and split importance per model column, largest gain first."""
    return pd.DataFrame(
        {
            "feature": model.model_columns,
            "gain": model.booster.feature_importance("gain"),
            "split": model.booster.feature_importance("split"),
        }
    ).sort_values(["gain", "feature"], ascending=[False, True], ignore_index=True)


def _model_info(
    cfg: Config,
    data: _Data,
    best: _Candidate,
    params: dict,
    rounds: tuple[int, int],
    label_mode: str,
) -> dict:
    """The model's ``info``: its identity, how it was trained and what the search chose."""
    tc = cfg.train
    best_iteration, n_rounds = rounds
    return {
        "name": tc.model_name,
        "version": None,
        "run_id": None,
        "cutoff": data.split.info["cutoff"],
        # the newest change it learned from: the promotion gate scores it only after this
        "train_end": _latest(data.split.info["fit_span"], data.split.info["valid_span"]),
        "trained_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "label_mode": label_mode,
        "calibration": tc.calibration,
        "critical_path_floor": cfg.tiers.critical_path_floor,
        "tier_mode": cfg.tiers.mode,
        "params": {k: v for k, v in params.items() if k != "verbosity"},
        "best_iteration": best_iteration,
        "rounds": int(n_rounds),
        "refit": bool(tc.refit),
        "half_life_days": best.half_life_days,
        "valid_roc_auc": best.valid_roc_auc,
        # the window the _recent_pct columns were ranked over (scoring ranks the same way)
        "recent_window": cfg.mine.recent_window,
    }


def _latest(*spans: list) -> str | None:
    """The latest end among ISO ``[start, end]`` spans (None when every span is empty)."""
    ends = [pd.Timestamp(span[1]) for span in spans if span and span[1] is not None]
    return max(ends).isoformat() if ends else None


def _model_summary(
    model: TrainedModel, data: _Data, search: list[dict], valid_risk: np.ndarray, blended: _Blend
) -> dict:
    """``metrics["model"]``: what was chosen, the search behind it, and the validation slice."""
    info = model.info
    return {
        "thresholds": model.thresholds,
        "features": model.model_columns,
        "categorical": data.categoricals,
        "params": info["params"],
        "best_iteration": info["best_iteration"],
        "rounds": info["rounds"],
        "refit": info["refit"],
        "half_life_days": info["half_life_days"],
        "search": search,
        "valid_mean_risk": float(np.mean(valid_risk)),
        "valid_base_rate": float(np.mean(data.split.valid_label)),
        "blend": {
            **blended.blend,
            "linear_columns": list(model.linear.columns) if model.linear is not None else [],
            "valid_roc_auc_blend": _auc(data.split.valid_label, blended.score_valid),
        },
        "text": _text_summary(model, data),
    }


def _text_summary(model: TrainedModel, data: _Data) -> dict:
    """``metrics["model"]["text"]``: how the text component entered, its size and its
    validation AUC alone (``{}`` without one)."""
    if model.text is None or data.text is None:
        return {}
    return {
        "mode": model.text_mode,
        "tokens": len(model.text.vocabulary),
        "params": dict(model.text.params),
        "valid_roc_auc_text": _auc(data.split.valid_label, data.text.valid_margin),
    }


def fit_all(
    dataset: pd.DataFrame, config: Config | None, cutoff=None, label_mode="incidents", test_end=None
) -> TrainResult:
    """The body of :func:`riskml.train.fit` (see there): one named step after another."""
    cfg = config or Config()
    tc = cfg.train
    data = _prepare(dataset, cfg, cutoff, label_mode, test_end)
    best, search = _search(data, tc, search_enabled(tc, label_mode))
    derived, X_valid = data.derived, data.X_valid
    if not best.derived:
        derived, X_valid = [], X_valid[:, : data.n_raw]
    blended = _text_blend(data, _blend(data, best, X_valid, tc), tc)
    calibrator, valid_risk, thresholds = _calibrate(blended.score_valid, data, cfg)
    best_iteration = int(best.booster.best_iteration) or tc.max_rounds
    params = {**data.base_params, **best.params}
    booster, linear, n_rounds = _refit(
        data, best, params, X_valid, blended.linear, tc, best_iteration
    )
    text = _refit_text(data, tc)
    model = TrainedModel(
        feature_columns=data.features,
        categorical_columns=data.categoricals,
        thresholds=thresholds,
        metrics={},
        info=_model_info(cfg, data, best, params, (best_iteration, n_rounds), label_mode),
        booster=booster,
        calibrator=calibrator,
        categories=data.categories,
        derived_columns=derived,
        linear=linear,
        blend=blended.blend,
        text=text,
        text_mode=data.text.mode if text is not None else "",
    )
    model.typical = typical_distributions(model, data.rows(data.split.train_index))
    model.thresholds, reference, reference_risk, gap_risk = _recent_thresholds(
        data, model, cfg, (thresholds, valid_risk)
    )
    reference["warnings"] = tier_warnings(
        model.thresholds, reference_risk, cfg.tiers.shares, valid_risk
    )
    for message in reference["warnings"]:
        _log.warning("tier thresholds: %s", message)
        warnings.warn(message, TierWarning, stacklevel=2)
    model.info["tier_reference"] = {k: v for k, v in reference.items() if k != "warnings"}
    metrics, preds, test = _evaluate(
        data, model, cfg, label_mode, gap_risk, intervals=test_end is None
    )
    metrics["model"] = _model_summary(model, data, search, valid_risk, blended)
    metrics["model"]["tier_reference"] = reference
    # strict JSON for metrics.json: NaN and infinities become null
    metrics = plain(metrics)
    model.metrics = metrics[RISKML]
    return TrainResult(
        model=model,
        metrics=metrics,
        test_predictions=preds,
        importance=_importance(model),
        split=data.split,
        test_frame=test.reset_index(drop=True),
    )
