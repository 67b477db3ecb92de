"""One LightGBM booster trained on a Dask cluster (``lightgbm.dask.DaskLGBMClassifier``).

:func:`riskml.train.model.train_booster` calls :func:`train_booster_dask` inside
:func:`riskml.train.model.boosters_on` (the fleet model with ``--scheduler`` or
``--workers``): the same parameters, the same rounds and the same early stopping as local
LightGBM, the training rows split across the workers (data-parallel LightGBM: each worker
builds histograms of its rows, they are merged every tree).

``lightgbm.dask`` has no early-stopping callback, so it is done here, as
``lightgbm.early_stopping`` does it: a first fit of 4 × ``patience`` rounds; the validation
ROC-AUC after each of its rounds is computed in this process (the slice is small and whole
here, where a worker would see only its part of it); if ``patience`` rounds after the best one
brought no improvement, the booster is cut where early stopping would have stopped it, with
``best_iteration`` at the best round. If not, the booster is fitted again **from the start**
with twice the rounds (not continued: a continued booster, ``init_model``, starts its bagging
and feature draws again from the seed, so its trees are not the ones one longer fit would
grow). The validation curve is computed again for each fit, so nothing rests on the longer
fit repeating the shorter's rounds. On one worker it does, and the booster is the one local
LightGBM's early stopping gives; on two or more a fit is not repeatable to the last bit (ties
between split gains are broken by sums over the workers; docs/fleet.md).
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np

from riskml.errors import RiskmlError

# A LightGBM network error (a socket reset when a Dask worker restarts mid-training) is retried,
# each time once every worker is back, up to this many attempts in all.
_ATTEMPTS = 5
_WORKERS_BACK_SECONDS = 60
# the first distributed fit of an early-stopped booster runs this many times the patience in
# rounds; one not stopped by then is fitted again from the start with twice the rounds
_FIRST_PATIENCES = 4


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(y, dtype=int), score))


def _sklearn_params(params: dict, rounds: int) -> dict:
    """LightGBM's native parameters as the scikit-learn estimator takes them."""
    # the workers set their own threads (one each: `dask worker --nthreads 1`)
    out = {k: v for k, v in params.items() if k not in ("seed", "metric", "num_threads")}
    out["random_state"] = int(params.get("seed", 0))
    out["n_estimators"] = int(rounds)
    return out


def _wait_for_workers(client, workers: int) -> None:
    """Until ``workers`` workers are up again (a restarted one takes a moment; retrying at
    once would train on fewer machines than the data was split for), at most
    :data:`_WORKERS_BACK_SECONDS`."""
    # a worker that does not come back: the next attempt fails and says so
    with contextlib.suppress(Exception):
        client.wait_for_workers(workers, timeout=_WORKERS_BACK_SECONDS)


def _placed(client, addresses: list[str], X_fit, y_fit, weight):
    """The training rows as Dask arrays, part ``k`` (rows ``k``, ``k + n``, ``k + 2n``, … of
    ``n`` workers) held by the ``k``-th worker in address order.

    Every part is a sample of the whole period (contiguous chunks of time-ordered rows would
    give one worker the old changes and another the new: data-parallel LightGBM finds each
    feature's bins on one worker's rows), and the same rows go to the same worker on every
    run (``lightgbm.dask`` trains each worker on the parts it holds), so a distributed fit is
    repeatable and its bins close to the local fit's."""
    import dask.array as da

    def place(values):
        if values is None:
            return None
        a = np.asarray(values, dtype=float)
        n = len(a)
        if not addresses or n < len(addresses):  # nothing to place: the scheduler's choice
            return da.from_array(a, chunks=max(1, n))
        pieces = []
        for k, address in enumerate(addresses):
            part = np.arange(k, n, len(addresses))
            future = client.scatter(a[part], workers=[address], broadcast=False)
            pieces.append(da.from_delayed(future, shape=(len(part), *a.shape[1:]), dtype=float))
        return da.concatenate(pieces, axis=0)

    return place(X_fit), place(y_fit), place(weight)


def train_booster_dask(
    client,
    X_fit: np.ndarray,
    y_fit: np.ndarray,
    X_valid: np.ndarray | None,
    y_valid: np.ndarray | None,
    categorical_idx: list[int],
    params: dict,
    *,
    max_rounds: int,
    patience: int,
    weight: np.ndarray | None = None,
    min_rounds: int = 0,
):
    """``(booster, best validation AUC)`` as :func:`riskml.train.model.train_booster` returns,
    the boosting done by ``DaskLGBMClassifier`` on ``client``'s workers."""
    from lightgbm.dask import DaskLGBMClassifier

    addresses = sorted(client.scheduler_info().get("workers", {}))
    workers = max(1, len(addresses))
    X, y, w = _placed(client, addresses, X_fit, y_fit, weight)
    fit_kwargs = {"categorical_feature": list(categorical_idx) or "auto"}

    def boost(rounds: int):
        from lightgbm.basic import LightGBMError

        for attempt in range(1, _ATTEMPTS + 1):
            model = DaskLGBMClassifier(client=client, **_sklearn_params(params, rounds))
            try:
                with warnings.catch_warnings():
                    # n_jobs: the workers' own threads are used, as intended
                    warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored")
                    model.fit(X, y, sample_weight=w, **fit_kwargs)
                return model.booster_
            except LightGBMError as exc:
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                if "socket" not in text.lower() or attempt == _ATTEMPTS:
                    raise RiskmlError(
                        f"lightgbm.dask training failed after {attempt} attempt(s): {text}"
                    ) from None
                _wait_for_workers(client, workers)
        raise AssertionError("unreachable")

    if X_valid is None:
        return boost(max_rounds), float("nan")

    X_valid = np.asarray(X_valid, dtype=float)
    rounds = min(max_rounds, _FIRST_PATIENCES * max(1, patience))
    while True:
        booster = boost(rounds)
        history = _validation_curve(booster, X_valid, y_valid)
        best, stop = _stopping_point(history, patience)
        if stop is not None or rounds >= max_rounds:
            break
        rounds = min(max_rounds, 2 * rounds)  # not stopped yet: again from the start, longer
    kept = stop or len(history)
    if kept < booster.current_iteration():  # as early stopping leaves it: up to its stop
        import lightgbm as lgb

        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=kept))
    booster.best_iteration = max(best + 1, min(int(min_rounds), kept))
    return booster, float(history[booster.best_iteration - 1])


def _validation_curve(booster, X_valid: np.ndarray, y_valid) -> list[float]:
    """The validation ROC-AUC after each round of ``booster``."""
    raw = np.zeros(len(X_valid))
    out = []
    for i in range(booster.current_iteration()):
        raw += booster.predict(X_valid, raw_score=True, start_iteration=i, num_iteration=1)
        out.append(_auc(y_valid, raw))
    return out


def _stopping_point(history: list[float], patience: int) -> tuple[int, int | None]:
    """``(best round, rounds trained when early stopping ends)`` of a validation curve, as
    ``lightgbm.early_stopping`` decides (a strict improvement resets it); None: not yet."""
    best, best_auc = 0, -math.inf
    for i, auc in enumerate(history):
        if auc > best_auc:
            best, best_auc = i, auc
        if i - best >= patience:
            return best, i + 1
    return best, None
