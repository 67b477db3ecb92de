"""The body of :func:`riskml.train.fit`: split, search, fit, calibrate, tiers, baselines, metrics."""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np
import pandas as pd

from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.train import TrainResult
from riskml.train.baselines import (
    fit_kamei_lr,
    fit_lapredict,
    fit_linear_component,
    linear_margin,
)
from riskml.train.dataset import derived_features, feature_columns
from riskml.train.metrics import effort_of, evaluate
from riskml.train.model import (
    DEFAULT_PARAMS,
    SEARCH_HALF_LIVES,
    SEARCH_SPACE,
    TrainedModel,
    assign_tiers,
    blend_scores,
    build_matrix,
    category_levels,
    fit_calibrator,
    recency_weights,
    tier_thresholds,
    train_booster,
)
from riskml.train.split import time_split


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


def _clean(obj):
    """Replace NaN by None so metrics.json is strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def fit_all(dataset: pd.DataFrame, config: Config | None, cutoff=None, label_mode="incidents"):
    cfg = config or Config()
    tc = cfg.train
    if len(dataset) == 0:
        raise RiskmlError("the dataset is empty")
    dataset = dataset.reset_index(drop=True)
    split = time_split(
        dataset,
        test_fraction=tc.test_fraction,
        valid_fraction=tc.valid_fraction,
        gap_days=tc.gap_days,
        window_days=cfg.label.window_days,
        cutoff=cutoff,
        mode="public" if label_mode == "public" else label_mode,
    )
    features, categoricals = feature_columns(dataset)
    if not features:
        raise RiskmlError("the dataset has no feature column")
    train_rows = dataset.iloc[split.train_index]
    categories = category_levels(train_rows, categoricals)
    derived = _derived_for(dataset)

    def matrix(idx: np.ndarray) -> np.ndarray:
        return build_matrix(dataset.iloc[idx], features, categoricals, categories, derived)

    X_fit, X_valid = matrix(split.fit_index), matrix(split.valid_index)
    n_raw = len(features)
    cat_idx = [features.index(c) for c in categoricals]
    base = {**DEFAULT_PARAMS, **dict(tc.lgbm_params or {})}
    rounds, patience = tc.max_rounds, tc.early_stopping_rounds
    times = dataset["author_time"]
    fit_end = times.iloc[split.fit_index].max()
    search: list[dict] = []
    best: dict | None = None

    def attempt(override: dict, with_derived: bool, half_life: float | None) -> None:
        nonlocal best
        cols = slice(None) if with_derived else slice(0, n_raw)
        weight = recency_weights(times.iloc[split.fit_index], fit_end, half_life)
        booster, auc = train_booster(
            X_fit[:, cols],
            split.fit_label,
            X_valid[:, cols],
            split.valid_label,
            cat_idx,
            {**base, **override},
            seed=tc.seed,
            max_rounds=rounds,
            patience=patience,
            weight=weight,
        )
        entry = {
            "params": override,
            "derived": with_derived,
            "half_life_days": half_life,
            "valid_roc_auc": auc,
            "best_iteration": int(booster.best_iteration),
        }
        search.append(entry)
        if best is None or auc > best["valid_roc_auc"] + 1e-12:
            best = {**entry, "booster": booster}

    if tc.search:
        for override in SEARCH_SPACE:
            for with_derived in (True, False) if derived else (False,):
                attempt(override, with_derived, None)
        chosen = dict(best)
        for half_life in SEARCH_HALF_LIVES:
            attempt(chosen["params"], chosen["derived"], half_life)
    else:
        attempt({}, bool(derived), None)
    booster, valid_auc = best["booster"], best["valid_roc_auc"]
    params = {**base, **best["params"]}
    if not best["derived"]:
        derived = []
        X_valid = X_valid[:, :n_raw]

    # the linear component, fitted on the fit slice, blended on the log-odds scale
    raw_valid = booster.predict(X_valid, raw_score=True)
    blend_weight = float(tc.blend_weight)
    if not 0.0 <= blend_weight <= 1.0:
        raise RiskmlError(f"[train] blend_weight must be between 0 and 1, not {blend_weight}")
    linear, blend, score_valid = None, {}, raw_valid
    if blend_weight < 1.0:
        linear = fit_linear_component(dataset.iloc[split.fit_index], split.fit_label, tc.seed)
        scale, shift = _logit_scale(raw_valid, split.valid_label)
        if linear is not None and scale > 0:
            blend = {"weight": blend_weight, "scale": scale, "shift": shift}
            margin = linear_margin(linear, dataset.iloc[split.valid_index])
            score_valid = blend_scores(raw_valid, margin, blend)
        else:
            linear = None

    # calibration and thresholds from the validation slice, scored out of sample
    calibrator = fit_calibrator(score_valid, split.valid_label, tc.calibration)
    valid_risk = calibrator.predict_proba(score_valid.reshape(-1, 1))[:, 1]
    thresholds = tier_thresholds(valid_risk, split.valid_label, cfg.tiers)
    best_iteration = int(booster.best_iteration) or rounds

    if tc.refit:
        # the chosen settings again on the whole training period, so the newest changes count;
        # rounds grow with the data (validated: nested validation inside the fit slice)
        X_train = np.vstack([X_fit[:, : X_valid.shape[1]], X_valid])
        n_rounds = max(1, round(best_iteration * len(split.train_index) / len(split.fit_index)))
        weight = recency_weights(
            times.iloc[split.train_index],
            times.iloc[split.train_index].max(),
            best["half_life_days"],
        )
        booster, _ = train_booster(
            X_train,
            split.train_label,
            None,
            None,
            cat_idx,
            params,
            seed=tc.seed,
            max_rounds=n_rounds,
            weight=weight,
        )
        if linear is not None:
            linear = fit_linear_component(
                train_rows, split.train_label, tc.seed, columns=linear.columns
            )
    else:
        n_rounds = best_iteration

    model = TrainedModel(
        feature_columns=features,
        categorical_columns=categoricals,
        thresholds=thresholds,
        metrics={},
        info={
            "name": tc.model_name,
            "version": None,
            "run_id": None,
            "cutoff": split.info["cutoff"],
            "trained_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "label_mode": label_mode,
            "calibration": tc.calibration,
            "critical_path_floor": cfg.tiers.critical_path_floor,
            "tier_mode": cfg.tiers.mode,
            "params": {k: v for k, v in params.items() if k != "verbosity"},
            "best_iteration": best_iteration,
            "rounds": int(n_rounds),
            "refit": bool(tc.refit),
            "half_life_days": best["half_life_days"],
            "valid_roc_auc": valid_auc,
        },
        booster=booster,
        calibrator=calibrator,
        categories=categories,
        derived_columns=derived,
        linear=linear,
        blend=blend,
    )

    # baselines on the whole training period, labels as known at the cut-off
    lap = fit_lapredict(train_rows, split.train_label, tc.seed) if "la" in dataset.columns else None
    kamei = fit_kamei_lr(train_rows, split.train_label, tc.seed)

    test = dataset.iloc[split.test_index]
    y_test = test["label"].to_numpy(dtype=float)
    effort = _effort(test)
    risk = model.risk(test)
    tiers = assign_tiers(risk, thresholds, test, cfg.tiers.critical_path_floor)
    metrics_riskml = evaluate(y_test, risk, effort, tiers)
    metrics_riskml["valid_roc_auc"] = valid_auc
    preds = pd.DataFrame(
        {
            "commit": test["commit"].astype(str).to_numpy() if "commit" in test else None,
            "author_time": test["author_time"].to_numpy(),
            "label": y_test,
            "effort": effort,
            "risk_riskml": risk,
        }
    )
    metrics = {"riskml": metrics_riskml}
    for name, baseline in (("lapredict", lap), ("kamei_lr", kamei)):
        if baseline is None:
            continue
        b_risk = baseline.risk(test)
        preds[f"risk_{name}"] = b_risk
        metrics[name] = evaluate(y_test, b_risk, effort)
    preds["tier"] = tiers
    metrics["split"] = dict(split.info)
    metrics["labels"] = {
        "proxy": label_mode != "incidents",
        "mode": label_mode,
        "train_base_rate": float(np.mean(split.train_label)),
        "test_base_rate": float(np.mean(y_test)),
    }
    metrics["model"] = {
        "thresholds": thresholds,
        "features": features + derived,
        "categorical": categoricals,
        "params": model.info["params"],
        "best_iteration": model.info["best_iteration"],
        "rounds": model.info["rounds"],
        "refit": model.info["refit"],
        "half_life_days": model.info["half_life_days"],
        "search": search,
        "valid_mean_risk": float(np.mean(valid_risk)),
        "valid_base_rate": float(np.mean(split.valid_label)),
        "blend": {
            **blend,
            "linear_columns": list(linear.columns) if linear is not None else [],
            "valid_roc_auc_blend": _auc(split.valid_label, score_valid),
        },
    }
    metrics = _clean(metrics)
    model.metrics = metrics["riskml"]

    names = model.model_columns
    importance = pd.DataFrame(
        {
            "feature": names,
            "gain": booster.feature_importance("gain"),
            "split": booster.feature_importance("split"),
        }
    ).sort_values(["gain", "feature"], ascending=[False, True], ignore_index=True)
    return TrainResult(
        model=model,
        metrics=metrics,
        test_predictions=preds,
        importance=importance,
        split=split,
        test_frame=test.reset_index(drop=True),
    )
