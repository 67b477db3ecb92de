"""Load the model that scores: a local ``TrainedModel`` directory, or an MLflow model URI.

``riskml score --rev`` must start in under 3 s, and ``import mlflow`` alone costs about that.
So for ``models:/<name>@<alias>`` and ``models:/<name>/<version>`` the registry is read
without MLflow when it can be:

1. The registry is the SQLite store of ``MLFLOW_REGISTRY_URI`` / ``MLFLOW_TRACKING_URI``
   (default ``sqlite:///mlflow.db``): the alias -> version -> (run_id, storage location) are
   one read-only SQL query with the standard library (``registered_model_aliases`` and
   ``model_versions``, MLflow's own tables).
2. The version's artifacts live on the local file system (the default artifact store): the
   saved ``TrainedModel`` is read in place from ``<storage location>/artifacts/trained_model``.
3. Otherwise (remote artifacts) the version is downloaded once with MLflow into
   ``models/.cache/<name>/<version>/`` and checked against the version's ``run_id`` before reuse.

Another registry (an ``mlflow server``) resolves the URI with ``MlflowClient``, then 2./3. apply.
Any other URI scheme (``runs:/``) goes through ``mlflow.pyfunc.load_model`` (slow, correct).
An alias that moves is seen at the next resolution, so ``serve`` re-resolves periodically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from riskml.config import MLFLOW_HTTP_DEFAULTS, Config, registry_uri, sqlite_path, tracking_uri
from riskml.errors import RiskmlError
from riskml.train.artifact import (
    ARTIFACT,
    CHAMPION,
    ModelIdentity,
    artifact_dir,
    first_line,
    identity_of,
)

_URI_RE = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


@dataclass
class ModelVersion:
    """Where a registered version is: enough to decide whether a loaded model is still current."""

    name: str
    version: str
    run_id: str
    storage: str  # artifact location of the MLflow model (URI or path)


@dataclass
class LoadedModel:
    """A ``TrainedModel`` plus the identity the JSON output reports."""

    model: Any  # riskml.train.model.TrainedModel
    uri: str
    name: str
    version: str | None
    run_id: str | None
    loaded_at: float = field(default_factory=time.time)

    @classmethod
    def of(cls, model: Any, uri: str, **known: Any) -> LoadedModel:
        """``model`` with its identity (:func:`riskml.train.artifact.identity_of`)."""
        who = identity_of(model, uri, **known)
        return cls(model, uri, who.name, who.version, who.run_id)

    @property
    def identity(self) -> ModelIdentity:
        """Name, version, run, URI and alias (:class:`riskml.train.artifact.ModelIdentity`)."""
        return identity_of(
            self.model, self.uri, name=self.name, version=self.version, run_id=self.run_id
        )

    @property
    def thresholds(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in dict(self.model.thresholds).items()}

    def describe(
        self, thresholds: dict[str, float] | None = None, tier_reference: dict | None = None
    ) -> dict:
        """``{"name", "version", "run_id", "thresholds"}`` as scoring.md's ``model`` object:
        the version's stored thresholds, or the ``thresholds`` the changes were tiered with and
        their ``tier_reference`` (:func:`riskml.score.tier_reference`)."""
        who = self.identity.as_dict()
        out = {
            **{key: who[key] for key in ("name", "version", "run_id")},
            "thresholds": self.thresholds if thresholds is None else thresholds,
        }
        if tier_reference is not None:
            out["tier_reference"] = tier_reference
        return out


def default_model_uri(config: Config) -> str:
    """``models:/<config.train.model_name>@champion``."""
    return f"models:/{config.train.model_name}@{CHAMPION}"


def _local_path(location: str) -> Path | None:
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(location)
    return None


def resolve_version(uri: str) -> ModelVersion | None:
    """Resolve ``models:/name@alias`` or ``models:/name/N`` from a SQLite registry without MLflow.

    Returns None when the registry is not SQLite (the caller falls back to MLflow).
    Raises :class:`RiskmlError` when the registry has no such model, alias or version.
    """
    match = _URI_RE.match(uri)
    if not match:
        return None
    db = sqlite_path(registry_uri())
    if db is None:
        return None
    name, alias, version = match["name"], match["alias"], match["version"]
    if not db.is_file():
        raise RiskmlError(
            f"no model registry at {registry_uri()}: train a model first (riskml train) "
            "or pass --model PATH"
        )
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            # MLflow >= 3.x keeps a workspace per row; older schemas have none
            columns = {r[1] for r in con.execute("PRAGMA table_info(model_versions)")}
            workspace = os.environ.get("MLFLOW_WORKSPACE") or "default"
            if alias is not None:
                sql = (
                    "SELECT v.version, v.run_id, COALESCE(v.storage_location, v.source) "
                    "FROM registered_model_aliases a JOIN model_versions v "
                    "ON v.name = a.name AND v.version = a.version "
                    "WHERE a.name = ? AND a.alias = ?"
                )
                params: tuple = (name, alias)
                if "workspace" in columns:
                    sql += " AND a.workspace = ? AND v.workspace = a.workspace"
                    params += (workspace,)
            else:
                sql = (
                    "SELECT version, run_id, COALESCE(storage_location, source) "
                    "FROM model_versions WHERE name = ? AND version = ?"
                )
                params = (name, int(version))
                if "workspace" in columns:
                    sql += " AND workspace = ?"
                    params += (workspace,)
            row = con.execute(sql, params).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None  # an unexpected schema: let MLflow itself answer
    if row is None:
        what = f"alias {alias!r}" if alias is not None else f"version {version}"
        raise RiskmlError(
            f"model {name!r} has no {what} in {registry_uri()}: train and register one "
            "(riskml train) or pass --model PATH"
        )
    return ModelVersion(name, str(row[0]), row[1] or "", row[2] or "")


def _resolve_with_mlflow(uri: str) -> ModelVersion:
    match = _URI_RE.match(uri)
    assert match is not None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri(), registry_uri=registry_uri())
    try:
        with _mlflow_env():
            if match["alias"] is not None:
                mv = client.get_model_version_by_alias(match["name"], match["alias"])
            else:
                mv = client.get_model_version(match["name"], match["version"])
    except MlflowException as exc:
        raise RiskmlError(f"cannot resolve {uri}: {first_line(exc)}") from None
    return ModelVersion(mv.name, str(mv.version), mv.run_id or "", mv.source or "")


def current_version(uri: str) -> ModelVersion | None:
    """The registered version a ``models:/`` URI points at now (None for other URIs)."""
    if not _URI_RE.match(uri):
        return None
    return resolve_version(uri) or _resolve_with_mlflow(uri)


def _load_trained(directory: Path):
    from riskml.train.model import TrainedModel

    return TrainedModel.load(directory)


_cache_lock = threading.Lock()
_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"

SCORING_HTTP_DEFAULTS = MLFLOW_HTTP_DEFAULTS  # the name this module exported before


@contextmanager
def _mlflow_env(**fixed: str):
    """Inside: :data:`SCORING_HTTP_DEFAULTS` for unset keys, and ``fixed`` as given; the
    environment is restored afterwards."""
    wanted = {k: v for k, v in SCORING_HTTP_DEFAULTS.items() if k not in os.environ}
    wanted.update(fixed)
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _cached_copy(mv: ModelVersion, cache_root: Path) -> Path:
    """The version's TrainedModel directory in ``models/.cache/<name>/<version>/``."""
    from riskml.locks import file_lock
    from riskml.tables import make_parent

    target = cache_root / ".cache" / mv.name / mv.version
    meta = target / "registry.json"
    make_parent(target)  # an unwritable models/: one line, not a traceback
    # threads of this process, then other processes (serve --workers, parallel CI jobs); the
    # lock waits as long as another download takes (-1), but an unwritable one fails at once
    lock = file_lock(target.with_name(f"{mv.version}.lock"), -1, "")
    with _cache_lock, lock:
        if meta.is_file():
            try:
                if json.loads(meta.read_text()).get("run_id") == mv.run_id:
                    return target / ARTIFACT
            except (OSError, ValueError):
                pass
        import mlflow.artifacts
        from mlflow.exceptions import MlflowException

        tmp = target.with_name(f"{mv.version}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        # the URIs the version was resolved with; no progress bar on the CLI's stderr
        try:
            with _mlflow_env(**{_PROGRESS_BAR: "false"}):
                downloaded = Path(
                    mlflow.artifacts.download_artifacts(
                        artifact_uri=f"models:/{mv.name}/{mv.version}",
                        dst_path=str(tmp / "mlflow"),
                        tracking_uri=tracking_uri(),
                        registry_uri=registry_uri(),
                    )
                )
            shutil.copytree(artifact_dir(downloaded), tmp / ARTIFACT)
        except (MlflowException, OSError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            what = f"models:/{mv.name}/{mv.version}"
            raise RiskmlError(f"cannot download {what}: {first_line(exc)}") from None
        shutil.rmtree(tmp / "mlflow", ignore_errors=True)
        (tmp / "registry.json").write_text(
            json.dumps({"name": mv.name, "version": mv.version, "run_id": mv.run_id})
        )
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target / ARTIFACT


def load_version(mv: ModelVersion, uri: str, cache_root: str | Path = "models") -> LoadedModel:
    """Load the TrainedModel of a registered version, in place when its artifacts are local."""
    local = _local_path(mv.storage) if mv.storage else None
    directory = artifact_dir(local) if local is not None else None
    if directory is None or not directory.is_dir():
        directory = _cached_copy(mv, Path(cache_root))
    model = _load_trained(directory)
    return LoadedModel.of(model, uri, name=mv.name, version=mv.version, run_id=mv.run_id or None)


def load_model(
    uri: str | None = None, config: Config | None = None, cache_root: str | Path = "models"
) -> LoadedModel:
    """The model that scores: a local TrainedModel directory, an MLflow model directory, or an
    MLflow model URI (default ``models:/<config.train.model_name>@champion``)."""
    config = config or Config()
    uri = uri or default_model_uri(config)
    path = Path(uri)
    if "://" not in uri and not uri.startswith("models:/") and path.exists():
        return _load_path(path, uri)
    mv = current_version(uri)
    if mv is not None:
        return load_version(mv, uri, cache_root)
    if "://" not in uri and ":/" not in uri:
        raise RiskmlError(f"model not found: {uri} is neither a directory nor a model URI")
    return _load_pyfunc(uri)


def _load_path(path: Path, uri: str) -> LoadedModel:
    if (path / "MLmodel").is_file():
        if artifact_dir(path).is_dir():
            return LoadedModel.of(_load_trained(artifact_dir(path)), uri)
        return _load_pyfunc(str(path))
    if not path.is_dir():
        raise RiskmlError(f"model not found: {path} is not a model directory")
    try:
        model = _load_trained(path)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise RiskmlError(f"not a riskml model directory: {path} ({exc})") from None
    return LoadedModel.of(model, uri)


def _load_pyfunc(uri: str) -> LoadedModel:
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    try:
        with _mlflow_env():
            pyfunc = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise RiskmlError(f"cannot load model {uri}: {first_line(exc)}") from None
    inner = pyfunc.unwrap_python_model()
    model = getattr(inner, "model", None)
    if model is None:
        raise RiskmlError(f"{uri} is not a riskml model (no TrainedModel inside)")
    loaded = LoadedModel.of(model, uri)
    meta = pyfunc.metadata
    if getattr(meta, "run_id", None):
        loaded.run_id = meta.run_id
    return loaded
