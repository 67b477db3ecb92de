"""MLflow: one run per training, the registered pyfunc, and the promotion gate applied to it.

:func:`log_and_register` takes a :class:`~riskml.train.TrainResult` and

1. opens ONE run in the experiment ``config.train.experiment`` on
   :func:`riskml.config.tracking_uri` (``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``),
   tagged with this process (:func:`riskml_run`: ended KILLED when the command is stopped);
2. logs params (every setting, flattened: ``train.test_fraction``, ``tiers.shares.high``, …,
   plus ``fit.*`` and ``split.*``), tags (``repo``, ``head_sha``, ``data_cutoff``,
   ``label_mode``, …), the metrics of all three models as ``<model>.<metric>`` (tier rates as
   ``riskml.tier_rates.<tier>.<key>``), the dataset as an MLflow input, ``metrics.json`` and
   the plots (``plots/*.png``);
3. logs the model as the pyfunc :class:`~riskml.train.artifact.RiskModel` (signature, input
   example, explicit pip requirements, the riskml package as code) and registers it under
   ``config.train.model_name``;
4. applies the promotion gate (:mod:`riskml.train.gate`); the decision and its reason are
   written to the run (tags ``promotion.*``) and to the model version (tags). Step 3's
   registration and 4 run under :func:`riskml.train.gate.gate_lock`, in the order of
   :func:`riskml.train.gate.register_and_alias` (a version reads as promoted only once its
   alias has moved).

:func:`ensure_experiment` is the one place an MLflow experiment is created or opened
(training, evaluation and trends); opening one ends the runs that a killed riskml process
left RUNNING (:func:`end_stale_runs`). mlflow is imported inside the functions: importing
this module is cheap.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from riskml.config import Config, sqlite_path, tracking_uri
from riskml.errors import RiskmlError
from riskml.jsonvalue import plain
from riskml.processes import hold
from riskml.train.artifact import ARTIFACT
from riskml.train.gate import (
    DATA_FINGERPRINT_TAG,
    IDENTICAL,
    PARAMS_FINGERPRINT_TAG,
    champion_version,
    check_metric,
    data_fingerprint,
    gate,
    gate_lock,
    params_fingerprint,
    register_and_alias,
    settle_abandoned,
)
from riskml.train.metrics import MODELS

# distributions the served model needs (the riskml package itself travels as code_paths)
RUNTIME_PACKAGES = (
    "mlflow",
    "cloudpickle",
    "lightgbm",
    "scikit-learn",
    "scipy",
    "numpy",
    "pandas",
    "pyarrow",
    "joblib",
)
_PARAM_MAX = 6000
# metrics.json's block of the rolling evaluation, and the prefix of its run metrics
ROLLING = "rolling"
_INPUT_EXAMPLE_ROWS = 5


# --------------------------------------------------------------------------- flattening


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as ``{"a.b.c": leaf}``; an empty dict is kept as one leaf ``{}``."""
    out: dict[str, Any] = {}
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten(value, name))
    elif prefix:
        out[prefix] = tree
    return out


def _key(name: str) -> str:
    """An MLflow-safe key: letters, digits and ``_-. /:``; anything else becomes ``_``."""
    return "".join(c if c.isalnum() or c in "_-. /:" else "_" for c in name)[:250]


def _param_value(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple | dict):
        text = json.dumps(value, default=str, sort_keys=True)
    else:
        text = str(value)
    return text if len(text) <= _PARAM_MAX else text[: _PARAM_MAX - 1] + "…"


def _number(value: Any) -> float | None:
    """``value`` as a float metric, or None for non-numbers (bools count as 0/1)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if hasattr(value, "item"):
        try:
            item = value.item()
        except (TypeError, ValueError):
            return None
        return _number(item) if isinstance(item, bool | int | float) else None
    return None


def run_params(config: Config, result, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Every setting flattened (``train.seed``, ``tiers.shares.high``, …), plus ``split.*`` and
    ``fit.*`` (the arguments of the fit) and ``extra``, as MLflow param strings."""
    params: dict[str, Any] = dict(flatten(config.to_dict()))
    metrics = getattr(result, "metrics", {}) or {}
    for section, values in metrics.items():
        # the rolling evaluation's figures are metrics of the run (rolling_metrics), not params
        if section not in MODELS and section != ROLLING and isinstance(values, dict):
            params.update(flatten(values, section))
    split = getattr(result, "split", None)
    split_info = split if isinstance(split, dict) else getattr(split, "info", None)
    if isinstance(split_info, dict) and "split" not in metrics:
        params.update(flatten(split_info, "split"))
    params.update(flatten(extra or {}, "fit"))
    return {_key(k): _param_value(v) for k, v in params.items()}


def run_metrics(metrics: dict) -> dict[str, float]:
    """The numeric leaves of each model's section as ``<model>.<metric>`` (NaN kept as NaN)."""
    out: dict[str, float] = {}
    for model in MODELS:
        for name, value in flatten(metrics.get(model, {}), model).items():
            number = _number(value)
            if number is not None:
                out[_key(name)] = number
    return out


def rolling_metrics(summary: dict, prefix: str = f"{ROLLING}.") -> dict[str, float]:
    """A rolling evaluation's figures as run metrics: ``rolling.mean.<model>.<metric>``,
    ``rolling.pooled.<model>.<metric>``, ``rolling.interval.<mean|pooled>.<metric>.riskml-
    <baseline>.<diff|low|high>`` and ``rolling.provenance.<class>.<changes|mean_risk|incidents|
    incident_rate>`` (``summary``: :meth:`RollingResult.summary`)."""
    out: dict[str, float] = {}
    for part in ("mean", "pooled"):
        for model in MODELS:
            leaves = flatten((summary.get(part) or {}).get(model) or {}, f"{prefix}{part}.{model}")
            for name, value in leaves.items():
                number = _number(value)
                if number is not None:
                    out[_key(name)] = number
    intervals = summary.get("intervals") or {}
    for part in ("mean", "pooled"):
        for key, bounds in (intervals.get(part) or {}).items():
            for end in ("diff", "low", "high"):
                number = _number(bounds.get(end))
                if number is not None:
                    # ":" is not allowed in a metric name on every platform
                    name = f"{prefix}interval.{part}.{key.replace(':', '.')}.{end}"
                    out[_key(name)] = number
    for group in (summary.get("provenance") or {}).get("classes", []):
        for key in ("changes", "mean_risk", "incidents", "incident_rate"):
            number = _number(group.get(key))
            if number is not None:
                out[_key(f"{prefix}provenance.{group['class']}.{key}")] = number
    return out


# --------------------------------------------------------------------------- the store


# The MLflow UI (3.x) opens an experiment in its GenAI view (traces, sessions) unless the
# experiment's kind says otherwise or the URL names the workflow: riskml's experiments hold
# model-training runs, so each is tagged with the kind the UI shows as "Machine learning"
# ("Model training"), and every link riskml prints names that workflow too.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"
UI_WORKFLOW = "machine_learning"  # the UI's ?workflowType= for the training view
# the description MLflow shows for an experiment or a run (markdown)
NOTE_TAG = "mlflow.note.content"
TRAINING_DESCRIPTION = (
    "riskml training runs: one per `riskml train` / `riskml run`, with the metrics of riskml "
    "and both baselines on the same test window, the rolling evaluation's folds as child "
    "runs, the plots, and the model registered and gated (docs/mlflow.md)."
)
DEFAULT_UI = "http://127.0.0.1:5000"  # where `mlflow ui` listens by default


# how long a command waits for another one creating the same local store or experiment
STORE_LOCK_TIMEOUT = 300.0


def store_lock_path(uri: str) -> Path | None:
    """The lock file serialising the creation of the SQLite store ``uri`` and of its
    experiments (None for another store). One file per database in the temporary directory,
    keyed by its absolute path as :func:`riskml.train.gate.gate_lock_path` is."""
    import hashlib

    db = sqlite_path(uri)
    if db is None:
        return None
    digest = hashlib.sha256(str(db.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"riskml-store-{digest}.lock"


def store_lock(uri: str):
    """Hold the lock of the SQLite store ``uri`` (a no-op for other stores).

    MLflow creates a new SQLite store's tables (its migrations) when a process first opens it,
    and two processes doing so at once break each other's migration (alembic's "expected to
    match one row", SQLAlchemy's CircularDependencyError): two `riskml trends` on a fresh
    store, one of them a traceback. Processes on one machine open it one at a time here.
    """
    from riskml.locks import file_lock

    path = store_lock_path(uri)
    if path is None:
        return contextlib.nullcontext()
    busy = (
        f"another riskml command held the MLflow store lock {path} for "
        f"{STORE_LOCK_TIMEOUT:g} s; try again when it has finished"
    )
    return file_lock(path, STORE_LOCK_TIMEOUT, busy)


def ensure_experiment(name: str, uri: str | None = None, description: str | None = None) -> str:
    """The id of experiment ``name``, created when missing.

    With a local SQLite store (``sqlite:///path/mlflow.db``) a new experiment keeps its
    artifacts in ``mlruns/<experiment>/`` beside the database file instead of MLflow's default
    (``./mlruns`` of the current directory), so a store and its artifacts stay together.
    The experiment is tagged as a model-training experiment (:data:`EXPERIMENT_KIND_TAG`) and
    given ``description`` (:data:`NOTE_TAG`) when it has none: a kind or a description someone
    set in the UI is kept.
    """
    import mlflow

    uri = uri or tracking_uri()
    mlflow.set_tracking_uri(uri)
    wanted = {EXPERIMENT_KIND_TAG: TRAINING_KIND}
    if description:
        wanted[NOTE_TAG] = description
    with store_lock(uri):  # the first open of a new SQLite store creates its tables
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            created = _create_experiment(name, uri, wanted)
            if created is not None:
                return created
            experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise RiskmlError(
                f"MLflow experiment {name!r} is deleted; restore it or choose another name"
            )
        end_stale_runs(experiment.experiment_id, uri)
        client = mlflow.MlflowClient(tracking_uri=uri)
        for key, value in wanted.items():
            if not experiment.tags.get(key):
                client.set_experiment_tag(experiment.experiment_id, key, value)
        return experiment.experiment_id
    raise RiskmlError(f"MLflow experiment {name!r} could not be created nor found")


def _create_experiment(name: str, uri: str, tags: dict[str, str]) -> str | None:
    """The id of the new experiment ``name``; None when another process created it first
    (a tracking server or a store on another machine: the lock serialises only this one)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    location = None
    db = sqlite_path(uri)
    if db is not None:
        location = (db.resolve().parent / "mlruns" / _key(name).replace("/", "_")).as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location, tags=tags)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_ALREADY_EXISTS":
            return None
        raise


def ui_url(experiment_id: str, run_id: str | None = None, uri: str | None = None) -> str:
    """The MLflow UI's page of an experiment (or of one of its runs), in the training view.

    The UI's own address when the tracking URI is a server (``http(s)://…``), else where
    ``mlflow ui`` listens by default (:data:`DEFAULT_UI`).
    """
    uri = uri or tracking_uri()
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else DEFAULT_UI
    page = f"/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    return f"{base}/#{page}?workflowType={UI_WORKFLOW}"


# what end_stale_runs writes on a run it ended, and how many RUNNING runs it looks at
STALE_TAG = "riskml.stale"
_STALE_SEARCH = 1000


def end_stale_runs(experiment_id: str, uri: str | None = None) -> list[str]:
    """End as KILLED the runs of ``experiment_id`` still RUNNING whose riskml process is gone.

    Every run riskml opens carries its process's host, pid and start time
    (:func:`riskml.processes.identity`, set when the run is created); a process stopped by
    SIGKILL, a power cut or an OOM kill cannot end its run, so the next command that opens the
    experiment does: a run whose host is this one and whose pid is not running, or now runs a
    process with another start time, is ended KILLED with the tag ``riskml.stale`` saying why.
    Runs without those tags (not riskml's, or from an older riskml), runs of other hosts and
    runs of live processes are left alone. Returns the run ids ended.
    """
    from mlflow import MlflowClient

    from riskml.processes import HOST_TAG, PID_TAG, START_TAG, is_running

    client = MlflowClient(tracking_uri=uri or tracking_uri())
    running = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=_STALE_SEARCH
    )
    ended = []
    for run in running:
        tags = run.data.tags
        host, pid = tags.get(HOST_TAG), tags.get(PID_TAG)
        if is_running(host, pid, tags.get(START_TAG)) is not False:
            continue
        run_id = run.info.run_id
        client.set_tag(
            run_id, STALE_TAG, f"its process (pid {pid} on {host}) ended without ending it"
        )
        client.set_terminated(run_id, "KILLED")
        ended.append(run_id)
    return ended


@contextlib.contextmanager
def riskml_run(**start_run: Any):
    """``mlflow.start_run(**start_run)`` for riskml's own runs: tagged at creation with this
    process (:func:`riskml.processes.identity`, what :func:`end_stale_runs` reads) and ended
    KILLED, not FAILED, when the command is stopped (Ctrl-C, SIGTERM: a
    :class:`KeyboardInterrupt`) inside it."""
    import mlflow

    from riskml.processes import identity

    tags = {**identity(), **(start_run.pop("tags", None) or {})}
    with mlflow.start_run(tags=tags, **start_run) as run:
        try:
            yield run
        except KeyboardInterrupt:
            mlflow.end_run("KILLED")
            raise


def pip_requirements() -> list[str]:
    """Pinned requirements of the served model: the installed versions of :data:`RUNTIME_PACKAGES`."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in RUNTIME_PACKAGES:
        try:
            out.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return out


def column_types(columns: list[str], frame=None, categorical=()) -> dict[str, str]:
    """Each input column's MLflow type, from the training rows' dtypes: ``boolean`` for a
    flag, ``long`` for a count (int64), ``double`` for any other number (and a column the rows
    lack), ``string`` for text, a categorical and a time (a time travels as ISO-8601 text)."""
    import pandas as pd

    out = {}
    for column in columns:
        dtype = frame[column].dtype if frame is not None and column in frame.columns else None
        if column in categorical:
            out[column] = "string"
        elif dtype is None:
            out[column] = "double"
        elif pd.api.types.is_bool_dtype(dtype):
            out[column] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            out[column] = "long"
        elif pd.api.types.is_numeric_dtype(dtype):
            out[column] = "double"
        else:  # text, categoricals, times
            out[column] = "string"
    return out


def model_signature(
    feature_columns: list[str], output_example, types: dict[str, str] | None = None
):
    """Inputs: every feature column, optional, typed (:func:`column_types`: ``double``,
    ``long``, ``boolean``, ``string``; times as ``string``); outputs: risk/tier/reasons.

    MLflow enforces the types: a caller in process passes each column in its training dtype
    (counts as integers, flags as booleans); JSON rows sent to ``mlflow models serve`` are read
    with the schema, so a whole number in a ``double`` column is fine there. Absent columns are
    missing values. Param ``k``: how many reasons per change (default 5).
    """
    from mlflow.models import ModelSignature
    from mlflow.models.signature import infer_signature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    types = types or {}
    inputs = Schema(
        [ColSpec(types.get(name, "double"), name, required=False) for name in feature_columns]
    )
    outputs = infer_signature(output_example.head(1), output_example).inputs
    return ModelSignature(
        inputs=inputs, outputs=outputs, params=ParamSchema([ParamSpec("k", "long", 5)])
    )


# --------------------------------------------------------------------------- test rows


def test_frame(result, dataset=None):
    """The feature rows of the test window, in the order of ``result.test_predictions``.

    ``result.test_frame`` when the fit kept it, else ``dataset`` at the split's ``test_index``
    positions (the dataset as given to the fit); None when neither is available.
    """
    frame = getattr(result, "test_frame", None)
    if frame is not None:
        return frame.reset_index(drop=True)
    index = getattr(getattr(result, "split", None), "test_index", None)
    if dataset is None or index is None or len(index) != len(result.test_predictions):
        return None
    return dataset.reset_index(drop=True).iloc[index].reset_index(drop=True)


# --------------------------------------------------------------------------- the run


# the run tag holding the fit's tier-threshold warnings (riskml.train.fitting.tier_warnings)
TIER_WARNINGS_TAG = "tiers.warnings"


def training_run_name(repo: str | None, head_sha: str | None, label_mode: str | None) -> str:
    """A training run's name, for what it trained: ``<repo> @ <short sha> (<label mode>)``;
    without a commit (a public table) ``<repo> (<label mode>)``."""
    name = repo or "riskml"
    if head_sha:
        name += f" @ {head_sha[:SHORT_SHA]}"
    return f"{name} ({label_mode})" if label_mode else name


SHORT_SHA = 10  # as riskml score's table and Markdown shorten a SHA


def _tier_warnings(metrics: dict) -> list[str]:
    """The fit's warnings about its tier thresholds (``metrics["model"]["tier_reference"]``)."""
    reference = ((metrics or {}).get("model") or {}).get("tier_reference") or {}
    return [str(w) for w in reference.get("warnings") or []]


def _dataset_input(frame, dataset_path, dataset_name):
    import mlflow

    source = str(Path(dataset_path).resolve()) if dataset_path else "riskml.train.build_dataset"
    targets = "label" if "label" in frame.columns else None
    return mlflow.data.from_pandas(frame, source=source, targets=targets, name=dataset_name)


def _log_datasets(result, dataset, test_rows, dataset_path, dataset_name) -> None:
    """The run's inputs: the rows the model learnt from (the training period of the split) as
    context ``training``, the test window it was evaluated on as ``evaluation``."""
    import mlflow

    name = dataset_name or "dataset"
    if dataset is not None:
        index = getattr(getattr(result, "split", None), "train_index", None)
        rows = dataset.reset_index(drop=True)
        rows = rows.iloc[index].reset_index(drop=True) if index is not None else rows
        mlflow.log_input(_dataset_input(rows, dataset_path, f"{name} training"), context="training")
    if test_rows is not None:
        mlflow.log_input(
            _dataset_input(test_rows, dataset_path, f"{name} test window"), context="evaluation"
        )


def log_and_register(
    result,
    config: Config,
    *,
    dataset=None,
    dataset_path: str | Path | None = None,
    dataset_name: str | None = None,
    repo: str | None = None,
    head_sha: str | None = None,
    cutoff: Any = None,
    label_mode: str | None = None,
    tags: dict[str, str] | None = None,
    model_name: str | None = None,
    run_name: str | None = None,
    register: bool = True,
    rolling=None,
    no_rolling: str | None = None,
) -> dict[str, Any]:
    """Log ``result`` as one MLflow run, register the model and apply the promotion gate.

    ``dataset`` is the table the fit used (logged as the run's input; its rows are also how
    the gate finds the test window's features when ``result`` has no ``test_frame``);
    ``dataset_path`` its file. ``repo``/``head_sha``/``cutoff``/``label_mode`` become tags
    (``cutoff`` and ``label_mode`` default to what the fit recorded). ``register=False`` logs
    the run without registering a version. ``rolling``: this training's
    :class:`~riskml.train.rolling.RollingResult`, logged as a child run per fold under this
    run (:func:`log_rolling`) and handed to the gate, which compares on its folds;
    ``no_rolling``: why there is none (the gate's reason says it).

    Returns ``{"run_id", "experiment_id", "name", "version", "alias", "decision", "reason",
    "metric", "basis", "folds", "new_value", "champion_value", "champion_version",
    "model_uri", "fold_run_ids", "seconds"}``.
    """
    with quiet():
        return _log_and_register(
            result,
            config,
            dataset=dataset,
            dataset_path=dataset_path,
            dataset_name=dataset_name,
            repo=repo,
            head_sha=head_sha,
            cutoff=cutoff,
            label_mode=label_mode,
            tags=tags,
            model_name=model_name,
            run_name=run_name,
            register=register,
            rolling=rolling,
            no_rolling=no_rolling,
        )


def _log_and_register(
    result,
    config: Config,
    *,
    dataset,
    dataset_path,
    dataset_name,
    repo,
    head_sha,
    cutoff,
    label_mode,
    tags,
    model_name,
    run_name,
    register,
    rolling,
    no_rolling,
) -> dict[str, Any]:
    import mlflow
    from mlflow import MlflowClient

    started = time.perf_counter()
    uri = tracking_uri()
    name = model_name or config.train.model_name
    experiment_id = ensure_experiment(config.train.experiment, uri, TRAINING_DESCRIPTION)
    client = MlflowClient(tracking_uri=uri)
    model = result.model
    info = dict(getattr(model, "info", {}) or {})
    cutoff = cutoff if cutoff is not None else info.get("cutoff")
    label_mode = label_mode or info.get("label_mode") or info.get("label mode")
    frame = test_frame(result, dataset)
    check_metric(config.train.promotion_metric)
    if register and frame is None and champion_version(client, name) is not None:
        raise RiskmlError(
            "the promotion gate needs the test window's feature rows: pass the dataset "
            "(or a TrainResult with test_frame) to log_and_register"
        )

    run_tags = {
        "repo": repo or (Path(dataset_path).stem if dataset_path else ""),
        "head_sha": head_sha or "",
        "data_cutoff": "" if cutoff is None else str(cutoff),
        "label_mode": label_mode or "",
        "model_name": name,
        "riskml_version": _riskml_version(),
    }
    if dataset_path:
        run_tags["dataset_path"] = str(Path(dataset_path).resolve())
    fingerprints = {PARAMS_FINGERPRINT_TAG: params_fingerprint(config, label_mode, cutoff)}
    if dataset is not None:
        fingerprints[DATA_FINGERPRINT_TAG] = data_fingerprint(dataset)
    run_tags.update(fingerprints)
    tier_warnings = _tier_warnings(result.metrics)
    if tier_warnings:
        run_tags[TIER_WARNINGS_TAG] = "; ".join(tier_warnings)
    run_tags.update(tags or {})
    run_tags = {_key(k): str(v)[:8000] for k, v in run_tags.items() if v not in (None, "")}

    fit_params = {"cutoff": cutoff, "label_mode": label_mode, "model_name": name}
    out: dict[str, Any] = {"name": name, "experiment_id": experiment_id}
    nested = mlflow.active_run() is not None  # inside a caller's run (a pipeline): a child run
    run_name = run_name or training_run_name(run_tags.get("repo"), head_sha, label_mode)
    with riskml_run(experiment_id=experiment_id, run_name=run_name, nested=nested) as run:
        run_id = run.info.run_id
        out["run_id"] = run_id
        mlflow.set_tags(run_tags)
        mlflow.log_params(run_params(config, result, fit_params))
        mlflow.log_metrics(run_metrics(result.metrics))
        _log_datasets(result, dataset, frame, dataset_path, dataset_name or run_tags.get("repo"))
        mlflow.log_dict(plain(result.metrics), "metrics.json")

        with tempfile.TemporaryDirectory(prefix="riskml-run-") as tmp:
            tmp = Path(tmp)
            from riskml.train.plots import write_plots

            write_plots(result.test_predictions, result.importance, tmp / "plots")
            mlflow.log_artifacts(str(tmp / "plots"), "plots")
            out["fold_run_ids"] = (
                log_rolling(rolling, experiment_id, tags=_fold_tags(run_tags))
                if rolling is not None
                else []
            )

            model.info = {**info, "name": name, "run_id": run_id}
            saved = tmp / ARTIFACT
            model.save(saved)
            logged = _log_pyfunc(model, saved, frame)
        out["model_uri"] = logged.model_uri
        hold("train.run")

        if not register:
            out.update(version=None, alias=None, decision="not_registered", reason="")
            out["seconds"] = round(time.perf_counter() - started, 3)
            return out
        with gate_lock(name):
            settle_abandoned(client, name)  # versions of trainings killed before their alias
            decision = gate(
                client, name, model, result, frame, config, rolling, no_rolling, fingerprints
            )
            out.update(decision)
            if decision["decision"] == IDENTICAL:  # the champion is this model: keep it
                out["version"] = decision["champion_version"]
            else:
                tags = {**version_tags(decision, result, cutoff, label_mode, run_id),
                        **fingerprints}  # fmt: skip
                out["version"] = register_and_alias(client, name, logged.model_uri, tags, decision)
        registered = {"registered.version": out["version"]}
        if decision["decision"] == IDENTICAL:
            registered = {"promotion.identical_to": out["version"]}
        else:
            client.update_model_version(name, out["version"], description=out["reason"])
        mlflow.set_tags(
            {
                "promotion.decision": decision["decision"],
                "promotion.alias": decision["alias"],
                "promotion.reason": decision["reason"][:8000],
                "promotion.metric": decision["metric"],
                "promotion.basis": decision["basis"],
                **registered,
            }
        )
    model.info = {
        **model.info,
        "version": out["version"],
        "alias": out["alias"],
    }
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


def log_rolling(rolling, experiment_id: str, *, tags: dict[str, str] | None = None,
                plots_dir: str | Path | None = None) -> list[str]:  # fmt: skip
    """Log a rolling evaluation into the ACTIVE run (the parent) and one child run per fold.

    Each fold's run (``fold k/K``, tags ``fold``, ``fold.cutoff``, ``fold.test_end`` and
    ``tags``) holds its split as params (``split.*``) and every model's metrics named as in a
    training run (``riskml.roc_auc``, ``lapredict.popt``, …). The parent gets
    :func:`rolling_metrics` (means over folds, pooled windows, intervals), ``rolling.json``
    and one chart per metric (``plots/rolling_<metric>.png``; drawn into a temporary directory
    unless ``plots_dir`` already holds them). Returns the fold runs' ids, oldest fold first.
    """
    import mlflow

    from riskml.train.plots import write_rolling_plots

    summary = rolling.summary()
    total = len(summary["folds"])
    fold_run_ids = []
    for fold in summary["folds"]:
        number = fold["fold"]
        fold_tags = {
            **(tags or {}),
            "fold": str(number),
            "fold.cutoff": str(fold.get("cutoff") or ""),
            "fold.test_end": str(fold.get("test_end") or ""),
        }
        with riskml_run(
            experiment_id=experiment_id, run_name=f"fold {number}/{total}", nested=True
        ) as child:
            mlflow.set_tags({k: v for k, v in fold_tags.items() if v != ""})
            params = flatten(fold.get("split") or {}, "split")
            mlflow.log_params({_key(k): _param_value(v) for k, v in params.items()})
            mlflow.log_metrics(run_metrics(fold["metrics"]))
            fold_run_ids.append(child.info.run_id)
    mlflow.log_metrics(rolling_metrics(summary))
    mlflow.log_dict(summary, "rolling.json")
    with tempfile.TemporaryDirectory(prefix="riskml-rolling-") as tmp:
        directory = Path(plots_dir) if plots_dir is not None else Path(tmp)
        if plots_dir is None:
            write_rolling_plots(summary, directory)
        for path in sorted(directory.glob("rolling_*.png")):
            mlflow.log_artifact(str(path), "plots")
    return fold_run_ids


def _fold_tags(run_tags: dict[str, str]) -> dict[str, str]:
    """What a fold's run inherits of its parent's tags (not the parent's own cut-off)."""
    return {k: v for k, v in run_tags.items() if k in ("repo", "head_sha", "label_mode")}


def log_evaluation(
    rolling,
    config: Config,
    *,
    repo: str | None = None,
    head_sha: str | None = None,
    dataset_path: str | Path | None = None,
    label_mode: str | None = None,
    plots_dir: str | Path | None = None,
    run_name: str | None = None,
) -> dict[str, Any]:
    """``riskml evaluate``'s MLflow run: a parent run in ``[train] experiment`` holding the
    settings (params), the means, pooled metrics and intervals, ``rolling.json`` and the charts,
    with a child run per fold (:func:`log_rolling`).

    Returns ``{"run_id", "experiment_id", "fold_run_ids"}``.
    """
    with quiet():
        import mlflow

        experiment_id = ensure_experiment(
            config.train.experiment, tracking_uri(), TRAINING_DESCRIPTION
        )
        run_tags = {
            "riskml.run": "evaluate",
            "repo": repo or (Path(dataset_path).stem if dataset_path else ""),
            "head_sha": head_sha or "",
            "label_mode": label_mode or "",
            "riskml_version": _riskml_version(),
            "dataset_path": str(Path(dataset_path).resolve()) if dataset_path else "",
        }
        run_tags = {_key(k): str(v)[:8000] for k, v in run_tags.items() if v not in (None, "")}
        nested = mlflow.active_run() is not None
        with riskml_run(
            experiment_id=experiment_id,
            run_name=run_name or f"rolling evaluation {run_tags.get('repo', '')}".strip(),
            nested=nested,
        ) as run:
            mlflow.set_tags(run_tags)
            params = dict(flatten(config.to_dict()))
            params.update(flatten(rolling.settings, ROLLING))
            mlflow.log_params({_key(k): _param_value(v) for k, v in params.items()})
            fold_run_ids = log_rolling(
                rolling, experiment_id, tags=_fold_tags(run_tags), plots_dir=plots_dir
            )
        return {"run_id": run.info.run_id, "experiment_id": experiment_id,
                "fold_run_ids": fold_run_ids}  # fmt: skip


def version_tags(decision: dict, result, cutoff, label_mode, run_id) -> dict[str, str]:
    """What a model version carries: the gate's decision, thresholds, metrics, cut-off."""
    return {
        "promotion.decision": decision["decision"],
        "promotion.reason": decision["reason"],
        "promotion.metric": decision["metric"],
        "promotion.basis": decision["basis"],
        "promotion.folds": ",".join(str(k) for k in decision["folds"]),
        "promotion.new_value": "" if decision["new_value"] is None else repr(decision["new_value"]),
        "promotion.champion_value": (
            "" if decision["champion_value"] is None else repr(decision["champion_value"])
        ),
        "promotion.champion_version": decision["champion_version"] or "",
        "thresholds": json.dumps(plain(getattr(result.model, "thresholds", {}))),
        "metrics": json.dumps(plain(result.metrics.get("riskml", {})), sort_keys=True),
        "data_cutoff": "" if cutoff is None else str(cutoff),
        "label_mode": label_mode or "",
        "run_id": run_id,
    }


def _log_pyfunc(model, saved: Path, frame):
    """Log ``saved`` (a TrainedModel directory) as the pyfunc ``model`` of the active run."""
    import mlflow
    import pandas as pd

    from riskml.train.artifact import RiskModel
    from riskml.train.model import TEXT_COLUMN

    # every column the model reads (features, inputs of derived and linear columns, and the
    # text score a row without tokens carries): the signature must let each of them through
    columns = list(model.input_columns)
    text = getattr(model, "text", None) is not None
    types = column_types(columns, frame, set(model.categorical_columns))
    if frame is not None and len(frame):
        head = frame.head(_INPUT_EXAMPLE_ROWS).reset_index(drop=True)
        example = head.reindex(columns=columns)
        if text:
            example[TEXT_COLUMN] = model.text_margin(head)
        for column, kind in types.items():
            if kind == "string" and pd.api.types.is_datetime64_any_dtype(example[column]):
                example[column] = example[column].map(_iso_time)  # a time travels as text
    else:
        example = pd.DataFrame({c: [float("nan")] for c in columns})
    output = RiskModel(model).predict(None, example)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=RiskModel(),
        artifacts={ARTIFACT: str(saved)},
        code_paths=[str(_package_copy(saved.parent / "code"))],
        signature=model_signature(columns, output, types),
        input_example=example,
        pip_requirements=pip_requirements(),
    )


def _iso_time(value) -> str | None:
    """A time as ISO-8601 UTC text (``2024-05-01T12:00:00Z``), None when missing."""
    import pandas as pd

    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _package_copy(directory: Path) -> Path:
    """A clean copy of the installed riskml package (no caches) to ship as the model's code."""
    import shutil

    import riskml

    target = directory / "riskml"
    shutil.copytree(
        Path(riskml.__file__).parent,
        target,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"),
    )
    return target


@contextlib.contextmanager
def quiet():
    """Silence MLflow's chatter (INFO/WARNING logs, UserWarnings, progress bars) for a block."""
    import logging
    import os
    import warnings

    import mlflow  # noqa: F401  (configures its loggers on import: do that before adjusting)

    logger = logging.getLogger("mlflow")
    level = logger.level
    bar = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        logger.setLevel(level)
        if bar is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = bar


def _riskml_version() -> str:
    from riskml import __version__

    return __version__
