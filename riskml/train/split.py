"""The honest, time-ordered split of evaluation.md.

A dataset (:func:`riskml.train.dataset.build_dataset` or
:func:`riskml.train.dataset.load_public_dataset`) has ``author_time`` (UTC), ``label``
(1, 0 or NaN = not yet known), and ``known_at`` (when a positive link became knowable; NaT when
there is none).

The **cut-off** ``C`` is the moment the model is trained and starts judging new changes: the
first ``author_time`` of the test window. By default the test window is the latest
``test_fraction`` of the changes whose label is known; ``cutoff=`` fixes ``C`` instead.

- **Test**: changes with ``author_time >= C`` and a known label, judged by the labels as known
  now (the labels table).
- **Training**: changes with ``author_time < C - gap`` (gap default: the label window). Labels
  as known at ``C``: positive only when ``label == 1`` and ``known_at < C``; otherwise negative
  when the change was at least ``window_days`` old at ``C`` (observed long enough), else left
  out (not yet known then). Changes with an empty label are left out.
- **Validation**: the latest ``valid_fraction`` of the training changes (by time): used for
  early stopping, hyper-parameter choice, calibration (real class balance) and tier thresholds.
  The rest of training is the **fit** slice.

Public tables (``mode="public"``) carry final labels and no ``known_at``: labels are taken as
given, no window applies, and the gap defaults to 0 (chronological 80/20, how the published
numbers were made).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskml.errors import RiskmlError

DAY = pd.Timedelta(days=1)


@dataclass
class Split:
    """Row positions (into the dataset as given) of each part, the training labels, and a summary.

    ``fit_index`` and ``valid_index`` are positions of training rows; ``train_label`` holds their
    labels as known at the cut-off (aligned with ``np.r_[fit_index, valid_index]``).
    ``test_index`` are positions of test rows, whose labels are ``dataset["label"]``.
    ``info`` is the ``split`` block of metrics.json.
    """

    fit_index: np.ndarray
    valid_index: np.ndarray
    test_index: np.ndarray
    fit_label: np.ndarray
    valid_label: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def train_index(self) -> np.ndarray:
        return np.concatenate([self.fit_index, self.valid_index])

    @property
    def train_label(self) -> np.ndarray:
        return np.concatenate([self.fit_label, self.valid_label])


def _iso(ts) -> str | None:
    if ts is None or pd.isna(ts):
        return None
    return pd.Timestamp(ts).isoformat()


def time_split(
    dataset: pd.DataFrame,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.15,
    gap_days: float | None = None,
    window_days: float = 90,
    cutoff=None,
    mode: str = "incidents",
    test_end=None,
) -> Split:
    """Split ``dataset`` as evaluation.md says; see the module docstring for the rules.

    ``mode``: ``"incidents"`` or ``"proxy"`` (labels from ``riskml label``, relabelled as known at
    the cut-off) or ``"public"`` (final labels, no window, gap 0 unless given). ``test_end``:
    the test window stops before this time (default: it runs to the newest labelled change),
    so a forward-chaining fold tests only the slice after its cut-off.
    Raises :class:`RiskmlError` when a part would be empty or hold one class only.
    """
    for column in ("author_time", "label"):
        if column not in dataset.columns:
            raise RiskmlError(f"dataset has no {column!r} column")
    if not 0 < test_fraction < 1 or not 0 < valid_fraction < 1:
        raise RiskmlError("test_fraction and valid_fraction must be between 0 and 1")
    public = mode == "public"
    if gap_days is None:
        gap_days = 0.0 if public else float(window_days)
    window = 0.0 if public else float(window_days)

    times = pd.to_datetime(dataset["author_time"], utc=True)
    label = pd.to_numeric(dataset["label"], errors="coerce").to_numpy(dtype=float)
    known_at = (
        pd.to_datetime(dataset["known_at"], utc=True)
        if "known_at" in dataset.columns
        else pd.Series(pd.NaT, index=dataset.index, dtype="datetime64[ns, UTC]")
    )
    # stable chronological order; the position in the given frame breaks ties
    order = np.lexsort((np.arange(len(dataset)), times.to_numpy(dtype="datetime64[ns]")))
    labelled = order[~np.isnan(label[order])]
    if len(labelled) < 10:
        raise RiskmlError(f"only {len(labelled)} changes with a known label: too few to train")

    if cutoff is None:
        first_test = int(np.floor(len(labelled) * (1 - test_fraction)))
        cut = times.iloc[labelled[first_test]]
        test_index = labelled[first_test:]
    else:
        cut = pd.Timestamp(cutoff)
        cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
        test_index = labelled[(times.iloc[labelled] >= cut).to_numpy()]
    if test_end is not None:
        end = pd.Timestamp(test_end)
        end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
        test_index = test_index[(times.iloc[test_index] < end).to_numpy()]
    gap = pd.Timedelta(days=float(gap_days))
    train_end = cut - gap

    if cutoff is None and gap <= pd.Timedelta(0):
        # by position, so changes sharing the cut-off second fall on one side only
        before = order[: int(np.flatnonzero(order == test_index[0])[0])]
    else:
        before = order[(times.iloc[order] < train_end).to_numpy()]
    if public:
        train_label = label[before]
    else:
        known = known_at.iloc[before].to_numpy(dtype="datetime64[ns]")
        cut64 = np.datetime64(cut.tz_convert(None))
        positive_then = (label[before] == 1) & ~np.isnat(known) & (known < cut64)
        old_enough = (times.iloc[before] <= cut - pd.Timedelta(days=window)).to_numpy()
        # a label empty now was empty then too; a positive known only later looked clean then
        train_label = np.where(positive_then, 1.0, np.where(old_enough, 0.0, np.nan))
        train_label[np.isnan(label[before])] = np.nan
    keep = ~np.isnan(train_label)
    train_index, train_label = before[keep], train_label[keep]

    n_valid = max(1, int(round(len(train_index) * valid_fraction)))
    fit_index, valid_index = train_index[:-n_valid], train_index[-n_valid:]
    fit_label, valid_label = train_label[:-n_valid], train_label[-n_valid:]
    test_label = label[test_index]
    for name, part in (("fit", fit_label), ("validation", valid_label), ("test", test_label)):
        if len(part) == 0:
            raise RiskmlError(f"the {name} slice of the time split is empty")
        if len(np.unique(part)) < 2:
            raise RiskmlError(
                f"the {name} slice of the time split holds one class only "
                f"({len(part)} changes, label {int(part[0])}): need more history or incidents"
            )

    def span(idx: np.ndarray) -> list[str | None]:
        t = times.iloc[idx]
        return [_iso(t.min()), _iso(t.max())]

    info = {
        "mode": mode,
        "cutoff": _iso(cut),
        "test_end": None if test_end is None else _iso(end),
        "gap_days": float(gap_days),
        "window_days": window,
        "test_fraction": test_fraction,
        "valid_fraction": valid_fraction,
        "n_fit": int(len(fit_index)),
        "n_valid": int(len(valid_index)),
        "n_test": int(len(test_index)),
        "n_excluded": int(len(dataset) - len(fit_index) - len(valid_index) - len(test_index)),
        "positives_fit": int(fit_label.sum()),
        "positives_valid": int(valid_label.sum()),
        "positives_test": int(np.nansum(test_label)),
        "fit_span": span(fit_index),
        "valid_span": span(valid_index),
        "test_span": span(test_index),
    }
    return Split(fit_index, valid_index, test_index, fit_label, valid_label, info)
