"""`riskml bench`: the three models on a public JIT defect-prediction table, side by side.

Reads the Kamei/ISSTA'21 or ApacheJIT layout (:func:`riskml.train.dataset.load_public_dataset`),
splits chronologically 80/20 with no gap (how the published numbers were made; ``gap_days``
to leave a gap), trains riskml, ``lapredict`` and ``kamei_lr`` exactly as ``riskml train`` does,
and returns the ``metrics.json`` shape.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from riskml.config import SCALAR_METRICS, Config
from riskml.fmt import number_text
from riskml.train.metrics import MODELS

TABLE_METRICS = SCALAR_METRICS


def bench(path: str | Path, gap_days: float | None = None, config: Config | None = None) -> dict:
    """Train and evaluate the three models on the public table at ``path``.

    Returns the metrics.json shape (``riskml``, ``lapredict``, ``kamei_lr``, ``split``,
    ``labels``, ``model``) plus ``dataset`` (file name, layout, rows).
    """
    from riskml.train import fit
    from riskml.train.dataset import load_public_dataset

    cfg = config or Config()
    cfg = dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, gap_days=gap_days if gap_days else 0)
    )
    frame = load_public_dataset(path)
    result = fit(frame, cfg, label_mode="public")
    metrics = dict(result.metrics)
    metrics["dataset"] = {
        "file": Path(path).name,
        "layout": frame.attrs.get("layout"),
        "rows": int(len(frame)),
        "dropped_rows": int(frame.attrs.get("dropped_rows", 0)),
    }
    return metrics


def _fmt(value) -> str:
    return number_text(value, 4, "-")


def format_table(metrics: dict) -> str:
    """The three models side by side, one metric per line, plus the split."""
    models = [m for m in MODELS if m in metrics]
    lines = [f"{'metric':<22}" + "".join(f"{m:>12}" for m in models)]
    for key in TABLE_METRICS:
        lines.append(f"{key:<22}" + "".join(f"{_fmt(metrics[m].get(key)):>12}" for m in models))
    split = metrics.get("split", {})
    data = metrics.get("dataset", {})
    lines.append(
        f"\n{data.get('file', '')} ({data.get('layout', '')}): fit {split.get('n_fit', 0)}"
        f" + validation {split.get('n_valid', 0)}, test {split.get('n_test', 0)}"
        f" from {split.get('cutoff')}, gap {split.get('gap_days', 0):g} days"
    )
    return "\n".join(lines)
