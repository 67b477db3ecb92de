"""The registered model's format: its layout, the pyfunc around it, load/save, and its identity.

One MLflow model logged by riskml is::

    MLmodel                      python_function flavor, loader RiskModel
    artifacts/trained_model/     TrainedModel.save output (the booster, calibration, thresholds)
    code/riskml/                 the riskml package itself

``mlflow.pyfunc.load_model(uri).predict(rows)`` returns one row per input row with ``risk``
(calibrated probability of an incident), ``tier`` and ``reasons`` (the top per-change
contributions as a JSON string, so the output stays a flat table that ``mlflow models serve``
can return). ``mlflow.pyfunc.load_model(uri).unwrap_python_model().model`` is the
:class:`~riskml.train.model.TrainedModel` itself, for callers that want the objects.

:class:`ModelIdentity` is what a model reports about itself (name, version, run, URI, alias)
wherever it is shown: the scoring JSON, the trends run's tags, ``riskml run``'s summary.

Importing this module is cheap: :class:`RiskModel` subclasses mlflow's ``PythonModel``, so it
is built on first access (``from riskml.train.artifact import RiskModel`` or unpickling a
logged model), which imports mlflow then; everything else needs no mlflow.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskml.errors import RiskmlError
from riskml.jsonvalue import plain

ARTIFACT = "trained_model"  # the saved TrainedModel directory inside the pyfunc, by that name
DEFAULT_NAME = "riskml"  # what a model that never met the registry calls itself
CHAMPION = "champion"  # the registry alias that scores by default (the gate moves it)
CHALLENGER = "challenger"  # the alias of a version the gate did not promote


def artifact_dir(mlflow_model_dir: str | Path) -> Path:
    """The saved ``TrainedModel`` inside a local MLflow model directory (``artifacts/<ARTIFACT>``)."""
    return Path(mlflow_model_dir) / "artifacts" / ARTIFACT


# --------------------------------------------------------------------------- identity


@dataclass(frozen=True)
class ModelIdentity:
    """Which model this is: registered ``name`` and ``version`` (None before registration),
    the MLflow ``run_id`` that logged it, the ``uri`` it was loaded from, its ``alias``."""

    name: str
    version: str | None
    run_id: str | None
    uri: str | None = None
    alias: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """``{"name", "version", "run_id", "uri", "alias"}``."""
        return dataclasses.asdict(self)

    def registry_uri(self) -> str | None:
        """``models:/<name>/<version>`` once registered, else None."""
        return f"models:/{self.name}/{self.version}" if self.version else None


def identity_of(model: Any, uri: str | None = None, **known: Any) -> ModelIdentity:
    """The identity of a ``TrainedModel``: what its ``info`` recorded, overridden by ``known``
    values that are not None (``name``, ``version``, ``run_id``, ``alias``: e.g. what the
    registry just answered). Empty strings count as unknown."""
    info = dict(getattr(model, "info", {}) or {})
    info.update({k: v for k, v in known.items() if v is not None})

    def text(key: str) -> str | None:
        value = info.get(key)
        return None if value in (None, "") else str(value)

    return ModelIdentity(
        name=text("name") or DEFAULT_NAME,
        version=text("version"),
        run_id=text("run_id"),
        uri=uri,
        alias=text("alias"),
    )


# --------------------------------------------------------------------------- load / save


def save_model_copy(model: Any, directory: str | Path) -> Path:
    """Save ``model`` to ``directory``, replacing a previous copy only once the new one is
    complete. A full disk is one :class:`~riskml.errors.NoSpaceError` naming ``directory``,
    the old copy untouched and no staging folder left."""
    from riskml.tables import make_parent, writing

    directory = Path(directory)
    make_parent(directory)
    with writing(directory):
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        try:
            model.save(staging / "model")
            if directory.exists():
                shutil.rmtree(directory)
            (staging / "model").rename(directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return directory


def load_trained_model(model_uri: str):
    """The :class:`TrainedModel` inside a logged/registered riskml pyfunc, without unpickling it.

    Downloads the model's files to a temporary directory, reads the :data:`ARTIFACT` artifact
    with :meth:`TrainedModel.load` and removes the download; no code is put on ``sys.path``.
    ``model_uri``: ``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``runs:/…``.
    """
    import mlflow
    from mlflow.models import Model

    from riskml.train.model import TrainedModel

    with tempfile.TemporaryDirectory(prefix="riskml-model-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        flavor = Model.load(str(local / "MLmodel")).flavors.get("python_function", {})
        artifact = flavor.get("artifacts", {}).get(ARTIFACT, {}).get("path")
        if artifact is None:
            raise RiskmlError(f"{model_uri} is not a riskml model (no {ARTIFACT!r} artifact)")
        return TrainedModel.load(local / artifact)


def first_line(exc: BaseException) -> str:
    """The first line of an MLflow (``.message``) or OS error, for a one-line RiskmlError."""
    message = str(getattr(exc, "message", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


# --------------------------------------------------------------------------- the pyfunc


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
        """A ``PythonModel`` that loads a saved ``TrainedModel`` from the artifact :data:`ARTIFACT`.

        Log it with ``artifacts={ARTIFACT: <directory written by TrainedModel.save>}``;
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
    # reference as riskml.train.artifact.RiskModel, which lands here the first time.
    if name == "RiskModel":
        cls = _build_risk_model()
        globals()["RiskModel"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
