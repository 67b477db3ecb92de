"""The body of :func:`riskml.train.fit`: split, search, fit, calibrate, tiers, baselines, metrics."""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np
import pandas as pd

from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.train import TrainResult
from riskml.train.baselines import fit_kamei_lr, fit_lapredict
from riskml.train.dataset import derived_features, feature_columns
from riskml.train.metrics import effort_of, evaluate
from riskml.train.model import (
    DEFAULT_PARAMS,
    SEARCH_SPACE,
    TrainedModel,
    assign_tiers,
    build_matrix,
    category_levels,
    fit_calibrator,
    tier_thresholds,
    train_booster,
)
from riskml.train.split import time_split


def _derived_for(frame: pd.DataFrame) -> list[str]:
    """Derived columns worth adding: those not entirely missing on this frame."""
    derived = derived_features(frame.head(5000))
    return [c for c in derived.columns if derived[c].notna().any()]


def _effort(frame: pd.DataFrame) -> np.ndarray:
    la = frame["la"] if "la" in frame.columns else np.zeros(len(frame))
    ld = frame["ld"] if "ld" in frame.columns else np.zeros(len(frame))
    return effort_of(la, ld)


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
    cat_idx = [features.index(c) for c in categoricals]
    base = {**DEFAULT_PARAMS, **dict(getattr(tc, "lgbm_params", {}) or {})}
    candidates = SEARCH_SPACE if getattr(tc, "search", True) else ({},)
    search = []
    best = None
    for override in candidates:
        params = {**base, **override}
        booster, auc = train_booster(
            X_fit,
            split.fit_label,
            X_valid,
            split.valid_label,
            cat_idx,
            params,
            seed=tc.seed,
            max_rounds=getattr(tc, "max_rounds", 3000),
            patience=getattr(tc, "early_stopping_rounds", 100),
        )
        search.append(
            {"params": override, "valid_roc_auc": auc, "best_iteration": booster.best_iteration}
        )
        if best is None or auc > best[1] + 1e-12:
            best = (booster, auc, params)
    booster, valid_auc, params = best

    raw_valid = booster.predict(X_valid, raw_score=True)
    calibrator = fit_calibrator(raw_valid, split.valid_label, tc.calibration)
    valid_risk = calibrator.predict_proba(raw_valid.reshape(-1, 1))[:, 1]
    thresholds = tier_thresholds(valid_risk, split.valid_label, cfg.tiers)

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
            "best_iteration": int(booster.best_iteration),
            "valid_roc_auc": valid_auc,
        },
        booster=booster,
        calibrator=calibrator,
        categories=categories,
        derived_columns=derived,
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
        "search": search,
        "valid_mean_risk": float(np.mean(valid_risk)),
        "valid_base_rate": float(np.mean(split.valid_label)),
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
