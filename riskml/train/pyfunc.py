"""The registered MLflow model: a custom pyfunc around a saved :class:`TrainedModel`.

``mlflow.pyfunc.load_model(uri).predict(rows)`` returns one row per input row with ``risk``
(calibrated probability of an incident), ``tier`` and ``reasons`` (the top per-change
contributions as a JSON string, so the output stays a flat table that ``mlflow models serve``
can return). ``mlflow.pyfunc.load_model(uri).unwrap_python_model().model`` is the
:class:`~riskml.train.model.TrainedModel` itself, for callers that want the objects.

Importing this module is cheap: :class:`RiskModel` subclasses mlflow's ``PythonModel``, so it
is built on first access (``from riskml.train.pyfunc import RiskModel`` or unpickling a logged
model), which imports mlflow then; :func:`reasons_json` and :data:`ARTIFACT` need no mlflow.
"""

from __future__ import annotations

import json
from typing import Any

from riskml.jsonvalue import plain
from riskml.train.tracking import ARTIFACT  # the saved TrainedModel directory, by that name


def reasons_json(reasons: Any) -> str:
    """One change's reasons (a list of ``{feature, value, effect, text}``) as a JSON string."""
    if isinstance(reasons, str):
        return reasons
    return json.dumps(plain(list(reasons) if reasons is not None else []), ensure_ascii=False)


def _build_risk_model() -> type:
    """Define :class:`RiskModel` (needs mlflow). Called once, on first access."""
    import mlflow.pyfunc
    import pandas as pd

    # predict's type hints are resolved in this module's namespace (mlflow reads them)
    globals()["pd"] = pd

    class RiskModel(mlflow.pyfunc.PythonModel):
        """A ``PythonModel`` that loads a saved ``TrainedModel`` from the artifact ``trained_model``.

        Log it with ``artifacts={"trained_model": <directory written by TrainedModel.save>}``;
        the instance itself is pickled empty (``model=None``), the booster travels as the artifact.
        """

        def __init__(self, model=None) -> None:
            self.model = model

        def load_context(self, context) -> None:
            from riskml.train.model import TrainedModel

            self.model = TrainedModel.load(context.artifacts[ARTIFACT])

        def predict(
            self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None
        ) -> pd.DataFrame:
            """Feature rows (a DataFrame; missing feature columns count as missing values) ->
            DataFrame[risk: float, tier: str, reasons: JSON string], in input order."""
            if self.model is None:
                raise RuntimeError(
                    "RiskModel has no TrainedModel loaded (load it with mlflow.pyfunc)"
                )
            frame = (
                model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            )
            k = int((params or {}).get("k", 5))
            out = self.model.predict(frame.reset_index(drop=True), k=k)
            return pd.DataFrame(
                {
                    "risk": out["risk"].to_numpy(dtype=float),
                    "tier": [str(t) for t in out["tier"]],
                    "reasons": [reasons_json(r) for r in out["reasons"]],
                }
            )

    RiskModel.__module__ = __name__
    RiskModel.__qualname__ = "RiskModel"
    return RiskModel


def __getattr__(name: str):
    # RiskModel is built lazily (mlflow costs seconds to import); pickled models find it by
    # reference as riskml.train.pyfunc.RiskModel, which lands here the first time.
    if name == "RiskModel":
        cls = _build_risk_model()
        globals()["RiskModel"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
