"""The model's fitted parts as plain data: saving writes JSON, loading executes nothing.

A saved model (:meth:`riskml.train.model.TrainedModel.save`) holds LightGBM's own text model
and, for every other part, the numbers that part computes with — never a pickle, so loading a
model from disk or a registry cannot run code from it:

- ``calibrator.json``: the calibration map(s) of ``CalibratedClassifierCV`` — a sigmoid's
  ``a, b`` (``p = 1 / (1 + exp(a·s + b))``) or an isotonic map's breakpoints (clipped at its
  ends); several maps are averaged, as scikit-learn averages its calibrated classifiers.
- ``linear.json``: the linear component's two scalers, its pairwise-product powers and the
  logistic regression's coefficients (``decision_function`` as the scikit-learn pipeline's).
- ``text.json``: the text component's vocabulary, idf weights, coefficients and intercept.

Each ``*_to_dict`` reads a fitted object; each loader returns an object with the method the
model calls (``predict_proba``, ``decision_function``, ``margin``), equal to the original's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from riskml.errors import RiskmlError


class Calibration:
    """The calibration maps of a fitted ``CalibratedClassifierCV`` on a one-column score."""

    def __init__(self, maps: list[dict]) -> None:
        if not maps:
            raise RiskmlError("calibrator.json: no calibration map")
        self.maps = maps

    def predict_proba(self, X) -> np.ndarray:
        s = np.asarray(X, dtype=float)[:, 0]
        positive = np.zeros(len(s))
        for m in self.maps:  # summed, then divided: scikit-learn's order of operations
            positive += _apply(m, s)
        positive /= len(self.maps)
        return np.column_stack([1.0 - positive, positive])


def _apply(m: dict, s: np.ndarray) -> np.ndarray:
    if m["kind"] == "sigmoid":
        from scipy.special import expit  # what scikit-learn's sigmoid calibration computes

        return expit(-(m["a"] * s + m["b"]))
    if m["kind"] == "isotonic":
        x = np.clip(s, m["x_min"], m["x_max"])
        return np.interp(x, np.asarray(m["x"], float), np.asarray(m["y"], float))
    raise RiskmlError(f"calibrator.json: unknown calibration map {m.get('kind')!r}")


def calibrator_to_dict(calibrator: Any) -> dict:
    """The maps of a fitted ``CalibratedClassifierCV`` (binary, one score column) or of a
    :class:`Calibration`."""
    if isinstance(calibrator, Calibration):
        return {"maps": calibrator.maps}
    maps = []
    for classifier in calibrator.calibrated_classifiers_:
        (fitted,) = classifier.calibrators  # binary: one map
        if hasattr(fitted, "a_"):
            maps.append({"kind": "sigmoid", "a": float(fitted.a_), "b": float(fitted.b_)})
        else:
            maps.append(
                {
                    "kind": "isotonic",
                    "x": [float(v) for v in fitted.X_thresholds_],
                    "y": [float(v) for v in fitted.y_thresholds_],
                    "x_min": float(fitted.X_min_),
                    "x_max": float(fitted.X_max_),
                }
            )
    return {"maps": maps}


def calibration_from_dict(data: dict) -> Calibration:
    return Calibration(list(data["maps"]))


class LinearMargin:
    """The linear component's pipeline (scaler, pairwise products, scaler, logistic
    regression) as arrays: :meth:`decision_function` as the pipeline's."""

    def __init__(self, data: dict) -> None:
        self.mean1, self.scale1 = np.asarray(data["mean1"]), np.asarray(data["scale1"])
        self.powers = np.asarray(data["powers"], dtype=int)
        self.mean2, self.scale2 = np.asarray(data["mean2"]), np.asarray(data["scale2"])
        self.coef, self.intercept = np.asarray(data["coef"]), float(data["intercept"])
        self.data = data

    def decision_function(self, X) -> np.ndarray:
        z = (np.asarray(X, dtype=float) - self.mean1) / self.scale1
        products = np.prod(z[:, None, :] ** self.powers[None, :, :], axis=2)
        return ((products - self.mean2) / self.scale2) @ self.coef + self.intercept


def linear_to_dict(estimator: Any) -> dict:
    """The arrays of the fitted pipeline of :func:`riskml.train.baselines.fit_linear_component`
    (or of a :class:`LinearMargin`)."""
    if isinstance(estimator, LinearMargin):
        return estimator.data
    scaler1, poly, scaler2, logistic = (step for _, step in estimator.steps)
    return {
        "mean1": scaler1.mean_.tolist(),
        "scale1": scaler1.scale_.tolist(),
        "powers": poly.powers_.tolist(),
        "mean2": scaler2.mean_.tolist(),
        "scale2": scaler2.scale_.tolist(),
        "coef": logistic.coef_[0].tolist(),
        "intercept": float(logistic.intercept_[0]),
    }


def text_to_dict(text: Any) -> dict:
    """A :class:`riskml.train.text.TextComponent` as lists and numbers."""
    return {
        "vocabulary": dict(text.vocabulary),
        "idf": np.asarray(text.idf, float).tolist(),
        "coef": np.asarray(text.coef, float).tolist(),
        "intercept": float(text.intercept),
        "params": dict(text.params),
    }


def text_from_dict(data: dict):
    from riskml.train.text import TextComponent

    return TextComponent(
        vocabulary={str(k): int(v) for k, v in data["vocabulary"].items()},
        idf=np.asarray(data["idf"], dtype=float),
        coef=np.asarray(data["coef"], dtype=float),
        intercept=float(data["intercept"]),
        params=dict(data.get("params") or {}),
    )
