"""Benchmark how `riskml trends` sends its series to MLflow: one `log_batch` against
one `log_metric` call per point (the baseline), in the same process, on a fresh SQLite store.

The table is what `trends_table` makes of a demo-sized history (default 2000 scored changes
over 140 weeks, four critical areas: about 10 000 points). The baseline logs the first
``--single`` points one call each and is projected linearly to all points (logging every point
one by one takes minutes); the batched path logs every point.

    python benchmarks/trends_bench.py [--changes 2000] [--weeks 140] [--single 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def scored_history(changes: int, weeks: int, seed: int = 0):
    """A deterministic scored history: the columns `trends_table` reads."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2021-01-04", tz="UTC")
    offsets = np.sort(rng.uniform(0, weeks * 7 * 86400, changes))
    risk = rng.beta(1.2, 6.0, changes)
    tiers = np.select(
        [risk >= 0.5, risk >= 0.3, risk >= 0.15], ["critical", "high", "medium"], "low"
    )
    areas = ["", "", "", "payments", "auth", "infra", "migrations", "payments;auth"]
    prov = ["human"] * 6 + ["ai_assisted", "ai_agent", "bot"]
    return pd.DataFrame(
        {
            "commit": [f"{i:040x}" for i in range(changes)],
            "author_time": start + pd.to_timedelta(offsets, unit="s"),
            "risk": risk,
            "tier": tiers,
            "ai_provenance": rng.choice(prov, changes),
            "critical_areas": rng.choice(areas, changes),
            "label": rng.choice([0.0, 0.0, 0.0, 1.0], changes),
            "incident_ids": [f"INC-{i % 300}" if i % 4 == 0 else "" for i in range(changes)],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--weeks", type=int, default=140)
    parser.add_argument("--single", type=int, default=1000, help="points logged one by one")
    args = parser.parse_args()

    from mlflow.tracking import MlflowClient

    from riskml.trends import metric_columns, table_metrics, trends_table

    t0 = time.perf_counter()
    table = trends_table(scored_history(args.changes, args.weeks), "W")
    metrics = table_metrics(table)
    t_table = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="riskml-trends-bench-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        client = MlflowClient(tracking_uri=uri)
        exp = client.create_experiment("bench", artifact_location=(Path(tmp) / "a").as_uri())

        run = client.create_run(exp).info.run_id
        t0 = time.perf_counter()
        client.log_batch(run, metrics=metrics)
        t_batch = time.perf_counter() - t0

        run = client.create_run(exp).info.run_id
        sample = metrics[: args.single]
        t0 = time.perf_counter()
        for m in sample:
            client.log_metric(run, m.key, m.value, timestamp=m.timestamp, step=m.step)
        t_single = time.perf_counter() - t0

    per_point = t_single / max(1, len(sample))
    projected = per_point * len(metrics)
    print(
        f"table: {len(table)} periods x {len(metric_columns(table))} metrics, {len(metrics)} points"
    )
    print(f"  trends_table + table_metrics:          {t_table:8.2f} s")
    print(
        f"  log_batch, all {len(metrics)} points:        {t_batch:8.2f} s"
        f"  ({len(metrics) / t_batch:,.0f} points/s)"
    )
    print(
        f"  log_metric one by one, {len(sample)} points: {t_single:8.2f} s"
        f"  ({1 / per_point:,.0f} points/s; all points projected: {projected:,.0f} s)"
    )
    print(f"  speed-up of log_batch: {projected / t_batch:,.0f}x")


if __name__ == "__main__":
    main()
