"""A changes table and a labels table with a planted signal, made in memory (no git).

For tests and ``benchmarks/train_bench.py``: generating 100,000 commits through git is far too
slow, and training needs only the tables. :func:`synthetic_tables` returns tables shaped like the
outputs of ``riskml mine`` (features.md, plus ``files``) and ``riskml label`` (labels.md) whose
incident probability is a known function of the features:

    logit p = -3.6 + 0.4 log1p(la) + 1.2 n_critical_files + 0.6 first_touch_files
              - 0.3 log1p(exp) + 1.5 [file is a hot spot] + 1.0 [ai_provenance == ai_agent]

Hot-spot files cause incidents more often; that is what the label-history features can pick up.
A positive link becomes knowable 1-60 days after the change (``known_at``); labels follow the
window rule of labels.md at the data cut-off (the last change's time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SIGNAL = {
    "intercept": -3.6,
    "log_la": 0.4,
    "n_critical_files": 1.2,
    "first_touch_files": 0.6,
    "log_exp": -0.3,
    "hot_file": 1.5,
    "ai_agent": 1.0,
}


def synthetic_tables(
    n: int = 5000,
    seed: int = 0,
    start: str = "2022-01-03",
    per_day: float = 20.0,
    window_days: int = 90,
    n_files: int = 400,
    n_authors: int = 60,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(changes, labels)`` of ``n`` changes, ``per_day`` a day on average, planted signal above."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(86400.0 / per_day, size=n)
    times = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.cumsum(gaps), unit="s")
    la = np.floor(rng.lognormal(3.0, 1.3, size=n)).astype(int)
    ld = np.floor(rng.lognormal(2.0, 1.4, size=n)).astype(int)
    nf = 1 + rng.poisson(1.5, size=n)
    authors = rng.integers(0, n_authors, size=n)
    hot = rng.random(n_files) < 0.1
    first_file = rng.integers(0, n_files, size=n)
    second_file = rng.integers(0, n_files, size=n)
    files = [
        f"src/m{a % 20}/f{a}.py" + (f";src/m{b % 20}/f{b}.py" if k > 1 and a != b else "")
        for a, b, k in zip(first_file, second_file, nf, strict=True)
    ]
    hot_touch = hot[first_file] | ((nf > 1) & hot[second_file])
    critical = (first_file % 25 == 0).astype(int) + ((nf > 1) & (second_file % 25 == 0))
    exp = np.zeros(n, dtype=int)
    seen = np.zeros(n_authors, dtype=int)
    for i, a in enumerate(authors):  # earlier commits of the author
        exp[i] = seen[a]
        seen[a] += 1
    first_touch = rng.binomial(np.minimum(nf, 2), np.clip(3.0 / (1 + exp), 0.05, 0.9))
    provenance = rng.choice(
        ["human", "ai_assisted", "ai_agent", "bot"], size=n, p=[0.7, 0.15, 0.1, 0.05]
    )
    tool = np.where(
        provenance == "ai_agent",
        "claude",
        np.where(provenance == "ai_assisted", "copilot", ""),
    )
    logit = (
        SIGNAL["intercept"]
        + SIGNAL["log_la"] * np.log1p(la)
        + SIGNAL["n_critical_files"] * critical
        + SIGNAL["first_touch_files"] * first_touch
        + SIGNAL["log_exp"] * np.log1p(exp)
        + SIGNAL["hot_file"] * hot_touch
        + SIGNAL["ai_agent"] * (provenance == "ai_agent")
    )
    positive = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    known_at = times + pd.to_timedelta(rng.uniform(1, 60, size=n), unit="D")
    changes = pd.DataFrame(
        {
            "commit": [f"{i:040x}" for i in range(1, n + 1)],
            "repo": "synthetic",
            "author_email": [f"dev{a}@example.com" for a in authors],
            "author_time": times,
            "commit_time": times,
            "subject": "change",
            "la": la,
            "ld": ld,
            "lt": rng.integers(0, 3000, size=n),
            "nf": nf,
            "nd": np.minimum(nf, 1 + rng.poisson(0.5, size=n)),
            "ns": 1,
            "entropy": np.where(nf > 1, rng.random(n), 0.0),
            "fix": rng.random(n) < 0.2,
            "is_revert": rng.random(n) < 0.02,
            "ndev": rng.poisson(4, size=n),
            "age": rng.exponential(30, size=n),
            "nuc": rng.poisson(10, size=n),
            "exp": exp,
            "rexp": exp / 2.0,
            "sexp": exp // 3,
            "first_touch_files": first_touch,
            "touches_critical": critical > 0,
            "n_critical_files": critical,
            "critical_areas": np.where(critical > 0, "payments", ""),
            "n_test_files": rng.poisson(0.3, size=n),
            "ai_provenance": provenance,
            "ai_tool": tool,
            "files": files,
        }
    )
    cutoff = times[-1]
    known = positive & (known_at <= cutoff)
    old = times <= cutoff - pd.Timedelta(days=window_days)
    label = np.where(known, 1.0, np.where(old, 0.0, np.nan))
    labels = pd.DataFrame(
        {
            "commit": changes["commit"],
            "label": label,
            "label_source": np.where(known, "culprit", ""),
            "incident_ids": "",
            "severity": "",
            "known_at": pd.Series(known_at).where(known),
        }
    )
    return changes, labels
