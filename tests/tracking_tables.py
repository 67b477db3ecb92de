"""Small generated JIT tables in the Kamei/ISSTA'21 layout, for the training/MLflow tests.

The label depends on size and experience (as in real JIT data), so a fitted model has real
signal to find; everything is drawn from one seeded generator, so a table is reproducible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

KAMEI_COLUMNS = [
    "_id",
    "date",
    "bug",
    "ns",
    "nd",
    "nf",
    "entrophy",
    "la",
    "ld",
    "lt",
    "fix",
    "ndev",
    "age",
    "nuc",
    "exp",
    "rexp",
    "sexp",
]


def kamei_table(n: int = 2400, seed: int = 0, start: int = 1_420_070_400) -> pd.DataFrame:
    """``n`` commits, one every ~2 hours from ``start`` (epoch seconds), Kamei columns."""
    rng = np.random.default_rng(seed)
    la = np.floor(rng.lognormal(3.0, 1.4, n)).astype(int)
    ld = np.floor(rng.lognormal(2.0, 1.3, n)).astype(int)
    nf = 1 + rng.poisson(1.5, n)
    nd = np.minimum(nf, 1 + rng.poisson(0.6, n))
    ns = np.minimum(nd, 1 + rng.poisson(0.2, n))
    exp = np.floor(rng.lognormal(4.0, 1.5, n)).astype(int)
    fix = rng.random(n) < 0.3
    logit = -3.2 + 0.55 * np.log1p(la) + 0.25 * np.log1p(ld) - 0.25 * np.log1p(exp) + 0.7 * fix
    bug = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    ids = [f"{seed:04x}{i:036x}" for i in range(n)]
    return pd.DataFrame(
        {
            "_id": ids,
            "date": start + np.cumsum(rng.integers(3600, 10800, n)),
            "bug": bug,
            "ns": ns,
            "nd": nd,
            "nf": nf,
            "entrophy": np.round(rng.random(n) * np.log2(nf + 1), 4),
            "la": la,
            "ld": ld,
            "lt": np.floor(rng.lognormal(5.0, 1.2, n)).astype(int),
            "fix": fix.astype(int),
            "ndev": 1 + rng.poisson(5, n),
            "age": np.round(rng.exponential(40.0, n), 3),
            "nuc": 1 + rng.poisson(8, n),
            "exp": exp,
            "rexp": np.round(exp / (1 + rng.exponential(5.0, n)), 3),
            "sexp": np.floor(exp * rng.random(n)).astype(int),
        },
        columns=KAMEI_COLUMNS,
    )


def write_kamei_csv(path: str | Path, n: int = 2400, seed: int = 0) -> Path:
    """Write :func:`kamei_table` as a CSV with a leading index column, like the public files."""
    path = Path(path)
    kamei_table(n, seed).to_csv(path, index=True)
    return path
