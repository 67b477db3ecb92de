"""Where models registered before :mod:`riskml.train.artifact` find their pyfunc class.

Their pickles name ``riskml.train.pyfunc.RiskModel``; the class itself (and the whole model
format) lives in :mod:`riskml.train.artifact`. Importing this module is cheap.
"""

from __future__ import annotations

from riskml.train.artifact import ARTIFACT, reasons_json  # noqa: F401  (re-exported)


def __getattr__(name: str):
    # resolved on first access so that importing this module does not import mlflow
    if name == "RiskModel":
        from riskml.train import artifact

        return artifact.RiskModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
