"""The trained change-risk model: LightGBM + calibration + tier thresholds + reasons.

:class:`TrainedModel` is everything scoring needs (docs/architecture.md): it reads the raw
columns of the changes table (missing ones are NaN), adds its derived columns, scores with the
LightGBM booster, calibrates with a ``CalibratedClassifierCV`` over a ``FrozenEstimator`` fitted
on the validation slice, maps risk to tiers with thresholds fixed at training time, and explains
each score with LightGBM's ``pred_contrib``.

It saves to a directory (``booster.txt``, ``calibrator.json``, ``model.json``; no pickles) and loads
without MLflow.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from riskml.config import TIERS
from riskml.errors import RiskmlError
from riskml.jsonvalue import plain
from riskml.train.dataset import DERIVED_COLUMNS, derived_features
from riskml.train.reasons import RECENT_SUFFIX, group_of, reason_text

# 2: every part but the booster as JSON (riskml.train.parts); 1 held pickled parts (joblib)
FORMAT_VERSION = 2
# the booster's column holding the text component's margin (docs/training.md)
TEXT_COLUMN = "text_score"
# a fleet model's categorical feature: the repository a change belongs to (docs/fleet.md)
PROJECT_COLUMN = "project"
# the raw columns riskml.train.dataset.derived_features reads
DERIVED_INPUTS = ("la", "ld", "lt", "nf", "author_time")
TIER_RANK = {name: rank for rank, name in enumerate(TIERS)}
# the tiers a threshold is learnt for, lowest first (low is what stays below medium)
_THRESHOLD_TIERS = TIERS[1:]

# LightGBM settings before any search; the search on the validation slice varies a few of them
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 50,
    "min_sum_hessian_in_leaf": 1e-3,
    "reg_lambda": 5.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "cat_smooth": 10.0,
    "min_data_per_group": 50,
    "max_cat_to_onehot": 8,
    "verbosity": -1,
    # one thread: OpenMP spin-waits make 2 threads many times slower on a busy 2-core machine
    "num_threads": 1,
}


class RawScore(ClassifierMixin, BaseEstimator):
    """Pass-through classifier: its decision function is the booster's raw score (column 0).

    Wrapped in a ``FrozenEstimator`` so ``CalibratedClassifierCV`` maps LightGBM's raw score to
    a probability without refitting anything.
    """

    def fit(self, X, y=None):
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        return np.asarray(X, dtype=float)[:, 0]

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(int)


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str = "isotonic"):
    """``CalibratedClassifierCV(FrozenEstimator(RawScore))`` fitted on (raw score, label)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    if method not in ("isotonic", "sigmoid"):
        raise RiskmlError(f"calibration must be 'isotonic' or 'sigmoid', not {method!r}")
    y = np.asarray(y, dtype=int)
    smallest = int(min((y == 0).sum(), (y == 1).sum()))
    if smallest < 2:
        raise RiskmlError("the validation slice needs at least 2 changes of each class")
    calibrator = CalibratedClassifierCV(
        FrozenEstimator(RawScore().fit(None)), method=method, cv=min(5, smallest)
    )
    calibrator.fit(np.asarray(raw, dtype=float).reshape(-1, 1), y)
    return calibrator


@dataclass
class TrainedModel:
    """Everything scoring needs; see docs/architecture.md.

    ``feature_columns``: raw columns it reads (numeric/boolean, then categoricals);
    ``categorical_columns``: those read as categoricals (codes fixed by ``categories``);
    ``derived_columns``: row-local columns it adds itself (:func:`derived_features`);
    ``thresholds``: ``{"medium": t1, "high": t2, "critical": t3}``, risk >= t -> tier;
    ``metrics``: its evaluation on the test window (incl. ``tier_rates``);
    ``info``: name, version, run_id, cutoff, trained_at, label mode, params, floor;
    ``typical``: each numeric model column's distribution over the training rows (the
    reasons' "more than 92 % of changes").
    """

    feature_columns: list[str]
    categorical_columns: list[str]
    thresholds: dict[str, float]
    metrics: dict
    info: dict
    booster: Any = None
    calibrator: Any = None
    categories: dict[str, list[str]] = field(default_factory=dict)
    derived_columns: list[str] = field(default_factory=list)
    # the linear component (riskml.train.baselines.fit_linear_component) and the blend
    # {"weight": w, "scale": a, "shift": b}: score = w (a raw + b) + (1 - w) linear margin
    linear: Any = None
    blend: dict = field(default_factory=dict)
    # the text component on the diff's tokens (riskml.train.text.TextComponent) and how it
    # enters: "feature" (its margin is the booster's column TEXT_COLUMN) or "blend" (its
    # log-odds blended into the score, blend["text"]); None / "" without one
    text: Any = None
    text_mode: str = ""
    # column -> its distribution over the training rows (riskml.train.reasons.distribution):
    # what the reasons compare a change's numbers with; {} for a model saved before it
    typical: dict = field(default_factory=dict)

    # ---- inputs
    @property
    def text_columns(self) -> list[str]:
        """``[TEXT_COLUMN]`` when the text component is a booster column, else ``[]``."""
        return [TEXT_COLUMN] if self.text is not None and self.text_mode == "feature" else []

    @property
    def model_columns(self) -> list[str]:
        """Columns of the matrix the booster sees: raw features, the text score, derived ones."""
        return list(self.feature_columns) + self.text_columns + list(self.derived_columns)

    @property
    def input_columns(self) -> list[str]:
        """Every column of a row the model reads: its features, the raw inputs of its derived
        columns and of the linear component (``lt`` stays an input of ``la_per_lt`` when the
        booster reads ``lt_recent_pct`` instead), and the text score. The pyfunc's signature."""
        needed = list(self.feature_columns)
        if self.derived_columns:
            needed += list(DERIVED_INPUTS)
        if self.linear is not None:
            needed += list(self.linear.columns)
        needed += [TEXT_COLUMN] if self.text is not None else []
        return list(dict.fromkeys(needed))

    def text_margin(self, frame: pd.DataFrame) -> np.ndarray:
        """The text component's log-odds per row (from its ``tokens``, else a ``text_score``
        column the frame carries); NaN for every row when the frame has neither or the model no
        text component."""
        if self.text is not None and "tokens" not in frame.columns and TEXT_COLUMN in frame:
            # a row as score's JSON gives it back: the score computed from its tokens then
            return pd.to_numeric(frame[TEXT_COLUMN], errors="coerce").to_numpy(dtype=float)
        if self.text is None or "tokens" not in frame.columns:
            return np.full(len(frame), np.nan)
        return self.text.margin(frame["tokens"].tolist())

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Float matrix in :attr:`model_columns` order; categoricals as codes, unknown -> NaN.

        A fleet model reads ``project``: a row without that column takes its repository's name
        (the changes table's ``repo``), so a fleet repository's changes score as they are."""
        if (
            PROJECT_COLUMN in self.categorical_columns
            and PROJECT_COLUMN not in frame.columns
            and "repo" in frame.columns
        ):
            frame = frame.assign(**{PROJECT_COLUMN: frame["repo"]})
        X = build_matrix(
            frame,
            self.feature_columns,
            self.categorical_columns,
            self.categories,
            self.derived_columns,
        )
        if self.text_columns:
            X = with_text_column(X, len(self.feature_columns), self.text_margin(frame))
        return X

    # ---- outputs
    def raw_score(self, frame: pd.DataFrame, X: np.ndarray | None = None) -> np.ndarray:
        """The score the calibrator reads: LightGBM's raw score, blended with the linear
        component when the model has one (:func:`blend_scores`).

        ``X`` is ``self.matrix(frame)`` when the caller already built it (risk and reasons of
        the same rows need it once)."""
        raw = self.booster.predict(self.matrix(frame) if X is None else X, raw_score=True)
        if self.linear is not None:
            from riskml.train.baselines import linear_margin

            raw = blend_scores(raw, linear_margin(self.linear, frame), self.blend)
        if self.text is not None and self.text_mode == "blend":
            raw = blend_text(raw, self.text_margin(frame), self.blend["text"])
        return raw

    def risk(self, frame: pd.DataFrame, X: np.ndarray | None = None) -> np.ndarray:
        """Calibrated P(incident) per row of ``frame`` (``X``: its matrix, if already built)."""
        raw = self.raw_score(frame, X)
        if self.calibrator is None:
            return 1.0 / (1.0 + np.exp(-raw))
        return self.calibrator.predict_proba(raw.reshape(-1, 1))[:, 1]

    def tiers(
        self, risk, frame: pd.DataFrame | None = None, floor: str | None = "medium"
    ) -> list[str]:
        """Tier per change from the stored thresholds; a critical-path change is never below ``floor``.

        ``floor=None`` uses the floor stored at training time (``info["critical_path_floor"]``);
        ``""`` switches the floor off. The floor reads ``touches_critical`` (or
        ``n_critical_files > 0``) from ``frame``.
        """
        if floor is None:
            floor = self.info.get("critical_path_floor", "medium")
        return assign_tiers(risk, self.thresholds, frame, floor)

    def text_effect(self, margin: np.ndarray) -> np.ndarray:
        """A blended text component's part of each score, against a change of average text
        margin (the validation slice's), in the booster's raw-score units so it ranks with
        the booster's ``pred_contrib``: ``v · c · (t − t̄) / ((1 − v) · a₂ · w · a)``
        (:func:`blend_text`, :func:`blend_scores`; ``w · a`` is 1 without a linear
        component). 0 where the margin is missing."""
        params = self.blend["text"]
        v = float(params["weight"])
        per_raw = (1.0 - v) * float(params["scale"])
        if self.linear is not None:
            per_raw *= float(self.blend["weight"]) * float(self.blend["scale"])
        part = v * float(params["text_scale"]) * (np.asarray(margin, float) - params["center"])
        return np.nan_to_num(part / per_raw, nan=0.0)

    def reasons(
        self,
        frame: pd.DataFrame,
        k: int = 5,
        X: np.ndarray | None = None,
        rows: list[dict] | None = None,
        lowering=None,
    ) -> list[list[dict]]:
        """Top ``k`` contributions per row, the largest first, one per fact.

        Each reason: ``{"feature", "value", "effect", "text"}``; ``effect`` is the LightGBM
        contribution in log-odds (``pred_contrib``), ``value`` the row's value of that column,
        ``text`` its sentence against the training distribution (:attr:`typical`).
        Columns that say one fact (:func:`riskml.train.reasons.group_of`) give one reason: the
        strongest contribution of the group. A row gets the contributions that raise its risk
        first, then the lowering ones; a row of ``lowering`` (a sequence of bools, one per
        row: a low-risk change) gets the lowering ones first, then the raising ones.
        ``X`` is ``self.matrix(frame)`` and ``rows`` the frame's rows as dicts when the caller
        already has them. A blended text component is one more reason, ``text_score``
        (:meth:`text_effect`).
        """
        if k <= 0:
            return [[] for _ in range(len(frame))]
        if X is None:
            X = self.matrix(frame)
        contrib = self.booster.predict(X, pred_contrib=True)[:, :-1]
        columns = self.model_columns
        if self.text is not None and self.text_mode == "blend":
            margin = self.text_margin(frame)
            contrib = np.concatenate([contrib, self.text_effect(margin)[:, None]], axis=1)
            X = np.concatenate([X, margin[:, None]], axis=1)
            columns = [*columns, TEXT_COLUMN]
        derived = set(self.derived_columns)
        # the row's features, and what their sentences name besides (a rank's count, areas)
        wanted = list(self.feature_columns)
        wanted += [c.removesuffix(RECENT_SUFFIX) for c in wanted if c.endswith(RECENT_SUFFIX)]
        wanted.append("critical_areas")
        present = [c for c in dict.fromkeys(wanted) if c in frame.columns]
        if rows is None:
            values = [frame[c].tolist() for c in present]
            rows = [dict(zip(present, row, strict=True)) for row in zip(*values, strict=True)]
        records = [{c: row.get(c) for c in present} for row in rows]
        groups = [group_of(c) for c in columns]
        lowering = [False] * len(X) if lowering is None else [bool(v) for v in lowering]
        out: list[list[dict]] = []
        for i in range(len(X)):
            row_c = contrib[i]
            order = np.argsort(-row_c, kind="stable")
            positive = [j for j in order if row_c[j] > 0]
            negative = [j for j in order[::-1] if row_c[j] < 0]
            strongest: dict[str, int] = {}
            for j in np.argsort(-np.abs(row_c), kind="stable"):
                strongest.setdefault(groups[j], int(j))
            kept = set(strongest.values())
            ranked = negative + positive if lowering[i] else positive + negative
            chosen = [j for j in ranked if j in kept][:k]
            row = records[i]
            reasons = []
            for j in chosen:
                name = columns[j]
                if name in derived:  # the matrix holds its value (build_matrix)
                    value = _reason_value(X[i, j])
                elif name == TEXT_COLUMN:
                    value = _reason_value(None if np.isnan(X[i, j]) else round(float(X[i, j]), 4))
                else:
                    value = _reason_value(row.get(name))
                effect = float(row_c[j])
                reasons.append(
                    {
                        "feature": name,
                        "value": value,
                        "effect": round(effect, 4),
                        "text": reason_text(name, value, effect, row, self.typical),
                    }
                )
            out.append(reasons)
        return out

    def predict(self, frame: pd.DataFrame, k: int = 5) -> pd.DataFrame:
        """``risk``, ``tier`` and ``reasons`` (list of dicts) per row, indexed like ``frame``;
        a change whose risk alone puts it in ``low`` lists what lowers its risk first."""
        X = self.matrix(frame)
        risk = self.risk(frame, X)
        low = [tier == "low" for tier in assign_tiers(risk, self.thresholds, floor="")]
        return pd.DataFrame(
            {
                "risk": risk,
                "tier": self.tiers(risk, frame, floor=None),
                "reasons": self.reasons(frame, k=k, X=X, lowering=low),
            },
            index=frame.index,
        )

    # ---- persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``booster.txt``, ``calibrator.json`` (``linear.json``, ``text.json`` when the
        model has those components) and ``model.json`` into ``directory``: data only, nothing
        that loading would execute (:mod:`riskml.train.parts`)."""
        from riskml.train.parts import calibrator_to_dict, linear_to_dict, text_to_dict

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # LightGBM's own text, written by Python: a full disk is an OSError naming no C logger
        # line (save_model prints "[LightGBM] [Fatal]" and raises its own error type)
        (directory / "booster.txt").write_text(self.booster.model_to_string(), encoding="utf-8")
        _write_json(directory / "calibrator.json", calibrator_to_dict(self.calibrator))
        if self.linear is not None:
            linear = {"columns": list(self.linear.columns)}
            linear.update(linear_to_dict(self.linear.estimator))
            _write_json(directory / "linear.json", linear)
        if self.text is not None:
            _write_json(directory / "text.json", text_to_dict(self.text))
        meta = {
            "format_version": FORMAT_VERSION,
            "feature_columns": self.feature_columns,
            "categorical_columns": self.categorical_columns,
            "derived_columns": self.derived_columns,
            "categories": self.categories,
            "thresholds": self.thresholds,
            "blend": self.blend if self.linear is not None else {},
            "text_mode": self.text_mode if self.text is not None else "",
            "text_blend": self.blend.get("text", {}) if self.text is not None else {},
            "metrics": self.metrics,
            "info": self.info,
            "typical": self.typical,
        }
        (directory / "model.json").write_text(
            # NaN and infinite thresholds stay as JSON's NaN / Infinity so a load restores them
            json.dumps(meta, indent=2, allow_nan=True, default=plain),
            encoding="utf-8",
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> TrainedModel:
        """Read a directory written by :meth:`save` (no MLflow needed; nothing is unpickled)."""
        import lightgbm as lgb

        from riskml.train.baselines import Baseline
        from riskml.train.parts import LinearMargin, calibration_from_dict, text_from_dict

        directory = Path(directory)
        meta_path = directory / "model.json"
        if not meta_path.is_file():
            raise RiskmlError(f"not a saved riskml model (no model.json): {directory}")
        meta = _read_json(meta_path)
        version = meta.get("format_version")
        if version == 1:
            raise RiskmlError(
                f"{directory}: a model saved by an earlier riskml, with pickled parts that "
                "riskml no longer loads (loading a pickle can run code): retrain it (riskml train)"
            )
        if version != FORMAT_VERSION:
            raise RiskmlError(f"{directory}: unsupported model format {version}")
        booster = lgb.Booster(model_file=str(directory / "booster.txt"))
        calibrator = calibration_from_dict(_read_json(directory / "calibrator.json"))
        blend = dict(meta.get("blend") or {})
        linear = None
        if blend:
            data = _read_json(directory / "linear.json")
            linear = Baseline("linear", list(data["columns"]), LinearMargin(data))
        text_mode = meta.get("text_mode") or ""
        text = text_from_dict(_read_json(directory / "text.json")) if text_mode else None
        if meta.get("text_blend"):
            blend["text"] = meta["text_blend"]
        return cls(
            feature_columns=meta["feature_columns"],
            categorical_columns=meta["categorical_columns"],
            thresholds=meta["thresholds"],
            metrics=meta["metrics"],
            info=meta["info"],
            booster=booster,
            calibrator=calibrator,
            categories=meta["categories"],
            derived_columns=meta["derived_columns"],
            linear=linear,
            blend=blend,
            text=text,
            text_mode=text_mode,
            # a model saved before the distributions were kept: reasons state numbers alone
            typical=dict(meta.get("typical") or {}),
        )


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, allow_nan=True, default=plain), encoding="utf-8")


def _read_json(path: Path) -> dict:
    """A model file: a missing, unreadable or non-object file is one line naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RiskmlError(f"{path.parent}: saved model incomplete, no {path.name}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RiskmlError(f"{path}: not a readable model file ({exc})") from None
    if not isinstance(data, dict):
        raise RiskmlError(f"{path}: not a readable model file (expected an object)")
    return data


def _reason_value(value):
    """A reason's value as scoring.md shows it: plain JSON, a whole number without decimals."""
    value = plain(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def blend_scores(raw: np.ndarray, margin: np.ndarray, blend: dict) -> np.ndarray:
    """``w · (a · raw + b) + (1 − w) · margin``: LightGBM's raw score put on the log-odds scale
    by ``a, b`` (a logistic fit on the validation slice), blended with the linear log-odds."""
    w = float(blend["weight"])
    lgbm = float(blend["scale"]) * np.asarray(raw, dtype=float) + float(blend["shift"])
    return w * lgbm + (1.0 - w) * np.asarray(margin, dtype=float)


def blend_text(score: np.ndarray, text: np.ndarray, blend: dict) -> np.ndarray:
    """``(1 − v) · (a · score + b) + v · (c · text + d)``: the score so far and the text
    component's margin, each put on the log-odds scale by a logistic fit on the validation
    slice, blended with weight ``v``; a row without a text margin keeps the first part."""
    score = float(blend["scale"]) * np.asarray(score, dtype=float) + float(blend["shift"])
    text = float(blend["text_scale"]) * np.asarray(text, dtype=float) + float(blend["text_shift"])
    v = float(blend["weight"])
    return np.where(np.isnan(text), score, (1.0 - v) * score + v * text)


def with_text_column(X: np.ndarray, at: int, margin: np.ndarray) -> np.ndarray:
    """``X`` with the text margin inserted as column ``at`` (after the raw features)."""
    return np.concatenate([X[:, :at], np.asarray(margin, dtype=float)[:, None], X[:, at:]], axis=1)


def category_levels(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """Sorted distinct non-empty values of each categorical column (their codes are positions)."""
    levels = {}
    for column in columns:
        values = frame[column].dropna().astype(str)
        levels[column] = sorted(v for v in values.unique() if v != "")
    return levels


def build_matrix(
    frame: pd.DataFrame,
    feature_columns: list[str],
    categorical_columns: list[str],
    categories: dict[str, list[str]],
    derived_columns: list[str],
) -> np.ndarray:
    """The booster's float matrix: raw features (missing -> NaN), categorical codes, derived."""
    n = len(frame)
    X = np.full((n, len(feature_columns) + len(derived_columns)), np.nan, dtype=float)
    cats = set(categorical_columns)
    for j, column in enumerate(feature_columns):
        if column not in frame.columns:
            continue
        values = frame[column]
        if column in cats:
            lookup = {v: i for i, v in enumerate(categories.get(column, []))}
            X[:, j] = [
                lookup.get(str(v), np.nan) if v is not None and v == v else np.nan for v in values
            ]
        else:
            X[:, j] = _floats(values)
    if derived_columns:
        derived = derived_features(frame)
        for j, column in enumerate(derived_columns, start=len(feature_columns)):
            X[:, j] = derived[column].to_numpy(dtype=float)
    return X


def _floats(values: pd.Series) -> np.ndarray:
    """A column as floats, missing and unparsable values NaN (the fast path first: most columns
    are numbers or numbers with None already)."""
    try:
        return values.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        if pd.api.types.is_bool_dtype(values.dtype) or values.dtype == object:
            values = values.map(lambda v: np.nan if v is None else v)
        return pd.to_numeric(values, errors="coerce").astype(float).to_numpy()


def assign_tiers(
    risk, thresholds: dict[str, float], frame: pd.DataFrame | None = None, floor: str = "medium"
) -> list[str]:
    """Tier per risk: the highest tier whose threshold the risk reaches, then the critical floor."""
    risk = np.asarray(risk, dtype=float)
    tiers = np.full(len(risk), "low", dtype=object)
    for tier in _THRESHOLD_TIERS:
        if tier in thresholds and thresholds[tier] is not None:
            tiers[risk >= thresholds[tier]] = tier
    return _critical_floor(tiers, frame, floor)


def share_thresholds(risk, shares: dict[str, float]) -> dict[str, float]:
    """Share-mode thresholds cut from ``risk`` alone (no labels needed): the riskiest
    ``shares["critical"]`` of changes are critical, the next ``shares["high"]`` high, the next
    ``shares["medium"]`` medium; each threshold is the risk of the last change inside its
    cumulative share (ties with it join the tier)."""
    sorted_risk = -np.sort(-np.asarray(risk, dtype=float), kind="stable")
    n = len(sorted_risk)
    out: dict[str, float] = {}
    cumulative = 0.0
    for tier in reversed(_THRESHOLD_TIERS):
        cumulative += float(shares.get(tier, 0.0))
        count = min(n, max(1, math.ceil(cumulative * n - 1e-9)))
        out[tier] = float(sorted_risk[count - 1])
    return _non_decreasing(out)


def _non_decreasing(out: dict[str, float]) -> dict[str, float]:
    out["high"] = max(out["high"], out["medium"])
    out["critical"] = max(out["critical"], out["high"])
    return {t: out[t] for t in _THRESHOLD_TIERS}


def trailing_tiers(
    risk,
    reference,
    shares: dict[str, float],
    window: int,
    frame: pd.DataFrame | None = None,
    floor: str = "medium",
    min_reference: int = 1,
    stored: dict[str, float] | None = None,
) -> list[str]:
    """Tier per change of ``risk`` (changes in time order), each against the share-mode
    thresholds of the ``window`` newest changes before it: the end of ``reference`` (the risk
    of the unseen changes before the first, oldest first), then the earlier changes of ``risk``
    themselves. While fewer than ``min_reference`` changes come before one, it gets the
    ``stored`` thresholds instead. No labels are read, so this is what scoring does as changes
    arrive."""
    risk = np.asarray(risk, dtype=float)
    pool = np.concatenate([np.asarray(reference, dtype=float), risk])
    start = len(pool) - len(risk)
    tiers = np.full(len(risk), "low", dtype=object)
    for i, value in enumerate(risk):
        end = start + i
        if end < max(1, min_reference) and stored is not None:
            thresholds = stored
        else:
            thresholds = share_thresholds(pool[max(0, end - window) : end], shares)
        tiers[i] = assign_tiers([value], thresholds, floor="")[0]
    return _critical_floor(tiers, frame, floor)


def _critical_floor(tiers: np.ndarray, frame: pd.DataFrame | None, floor: str) -> list[str]:
    """A change touching a critical path is never below ``floor`` (``""``: no floor)."""
    if floor and frame is not None and len(frame) == len(tiers):
        critical = np.zeros(len(tiers), dtype=bool)
        if "touches_critical" in frame.columns:
            critical |= frame["touches_critical"].fillna(False).astype(bool).to_numpy()
        if "n_critical_files" in frame.columns:
            critical |= (
                pd.to_numeric(frame["n_critical_files"], errors="coerce").fillna(0) > 0
            ).to_numpy()
        rank = TIER_RANK[floor]
        below = np.array([TIER_RANK[t] < rank for t in tiers], dtype=bool)
        tiers[critical & below] = floor
    return tiers.tolist()


def tier_thresholds(risk, y, config_tiers) -> dict[str, float]:
    """Thresholds from the validation slice's calibrated risk (scoring.md).

    ``mode == "share"``: :func:`share_thresholds` (the labels are not read).
    ``mode == "rate"``: each threshold is the lowest risk ``t`` such that the changes with risk
    ``>= t`` have an observed incident rate of at least ``rates[tier]`` (and never below the
    next tier down's rule: thresholds are made non-decreasing critical >= high >= medium);
    a tier no set of changes reaches gets threshold ``inf`` (empty).
    """
    if config_tiers.mode == "share":
        return share_thresholds(risk, config_tiers.shares)
    risk = np.asarray(risk, dtype=float)
    y = np.asarray(y, dtype=float)
    order = np.argsort(-risk, kind="stable")
    sorted_risk = risk[order]
    n = len(risk)
    out: dict[str, float] = {}
    if config_tiers.mode == "rate":
        rate = np.cumsum(y[order]) / np.arange(1, n + 1)
        for tier in reversed(_THRESHOLD_TIERS):
            target = float(config_tiers.rates.get(tier, 1.0))
            ok = np.flatnonzero(rate >= target)
            out[tier] = float(sorted_risk[ok[-1]]) if len(ok) else math.inf
    else:
        raise RiskmlError(f"[tiers] mode must be 'share' or 'rate', not {config_tiers.mode!r}")
    return _non_decreasing(out)


# the Dask client boosters are trained on (lightgbm.dask), None: local LightGBM
_DASK_CLIENT: contextvars.ContextVar = contextvars.ContextVar("riskml_dask_client", default=None)


@contextlib.contextmanager
def boosters_on(client) -> Iterator[None]:
    """Inside the block every :func:`train_booster` trains on the Dask ``client``'s workers
    (``lightgbm.dask.DaskLGBMClassifier``, the same parameters) instead of in this process;
    ``None`` keeps local LightGBM."""
    token = _DASK_CLIENT.set(client)
    try:
        yield
    finally:
        _DASK_CLIENT.reset(token)


def booster_engine() -> str:
    """What trains the boosters here and now: ``"lightgbm.dask"`` inside :func:`boosters_on`
    with a client, else ``"lightgbm"`` (part of the gate's parameter fingerprint: the two fit
    differently, so a model of one is not the same model as the other's)."""
    return "lightgbm" if _DASK_CLIENT.get() is None else "lightgbm.dask"


def train_booster(
    X_fit: np.ndarray,
    y_fit: np.ndarray,
    X_valid: np.ndarray | None,
    y_valid: np.ndarray | None,
    categorical_idx: list[int],
    params: dict,
    seed: int = 0,
    max_rounds: int = 3000,
    patience: int = 100,
    weight: np.ndarray | None = None,
    min_rounds: int = 0,
):
    """One LightGBM booster. Returns ``(booster, best_validation_auc)``.

    With a validation slice: early stopping on its ROC-AUC (``patience`` rounds), the booster
    keeps its best iteration, but never fewer than ``min_rounds`` (at most ``patience``: the
    trees early stopping has grown): a validation slice whose labels are still young can peak
    at the first tree, and one stump is no model. Without one (``X_valid=None``): exactly
    ``max_rounds`` rounds (the refit on the whole training period), AUC NaN.
    """
    full = {**params, "metric": "auc", "seed": seed, "deterministic": True, "force_row_wise": True}
    client = _DASK_CLIENT.get()
    if client is not None:
        from riskml.train.dask_booster import train_booster_dask

        return train_booster_dask(
            client, X_fit, y_fit, X_valid, y_valid, categorical_idx, full,
            max_rounds=max_rounds, patience=patience, weight=weight, min_rounds=min_rounds,
        )  # fmt: skip
    import lightgbm as lgb

    train_set = lgb.Dataset(
        X_fit,
        label=y_fit,
        weight=weight,
        categorical_feature=categorical_idx or "auto",
        free_raw_data=False,
    )
    if X_valid is None:
        return lgb.train(full, train_set, num_boost_round=max_rounds), float("nan")
    valid_set = lgb.Dataset(X_valid, label=y_valid, reference=train_set)
    history: dict = {}
    booster = lgb.train(
        full,
        train_set,
        num_boost_round=max_rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(patience, verbose=False), lgb.record_evaluation(history)],
        # keep the trees after the best iteration: min_rounds may need some of them
        keep_training_booster=True,
    )
    floor = min(int(min_rounds), booster.current_iteration())
    if booster.best_iteration < floor:
        booster.best_iteration = floor
    best = float(history["valid_0"]["auc"][booster.best_iteration - 1])
    return booster, best


def recency_weights(times, end, half_life_days: float | None) -> np.ndarray | None:
    """Sample weights halving every ``half_life_days`` before ``end`` (None: equal weights)."""
    if not half_life_days:
        return None
    age_days = (pd.Timestamp(end) - pd.to_datetime(times, utc=True)).dt.total_seconds() / 86400.0
    return np.power(0.5, np.clip(age_days.to_numpy(dtype=float), 0, None) / float(half_life_days))


# the search on the validation slice: each entry overrides DEFAULT_PARAMS; every entry is tried
# with and without the derived columns, then the best with recency weights (half-lives below)
SEARCH_SPACE: tuple[dict, ...] = (
    {},
    {"num_leaves": 7, "min_child_samples": 100},
    {"num_leaves": 31, "min_child_samples": 30},
)
SEARCH_HALF_LIVES: tuple[float, ...] = (180.0, 365.0)


__all__ = [
    "DEFAULT_PARAMS",
    "DERIVED_COLUMNS",
    "SEARCH_HALF_LIVES",
    "SEARCH_SPACE",
    "TrainedModel",
    "assign_tiers",
    "blend_scores",
    "build_matrix",
    "category_levels",
    "fit_calibrator",
    "reason_text",
    "tier_thresholds",
    "recency_weights",
    "train_booster",
]
