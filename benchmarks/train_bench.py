"""Training time on 100,000 generated changes: riskml (search, refit, calibration) + both baselines.

The bar (issue 4): 60 s on this 2-core machine for the whole `fit` (riskml with its validation
search, refit and calibration, lapredict, kamei_lr, every metric on the test window).
For scale the script also times, in the same run, the two logistic-regression baselines alone on
the same training rows.

    python benchmarks/train_bench.py [--rows 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

BAR_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from riskml.config import Config
    from riskml.synth.tables import synthetic_tables
    from riskml.train import build_dataset, fit
    from riskml.train.baselines import fit_kamei_lr, fit_lapredict

    t0 = time.perf_counter()
    # ~100 changes a day: 100k changes span ~3 years, so a 90-day window and gap leave most
    changes, labels = synthetic_tables(args.rows, seed=args.seed, per_day=100.0, n_files=4000)
    t1 = time.perf_counter()
    dataset = build_dataset(changes, labels, Config())
    t2 = time.perf_counter()
    result = fit(dataset, Config())
    t3 = time.perf_counter()

    train_rows = dataset.iloc[result.split.train_index]
    fit_lapredict(train_rows, result.split.train_label)
    fit_kamei_lr(train_rows, result.split.train_label)
    t4 = time.perf_counter()

    m = result.metrics
    split = m["split"]
    print(
        f"rows generated            {args.rows:>10,}  ({t1 - t0:6.1f} s, not timed against the bar)"
    )
    print(f"build_dataset             {t2 - t1:10.1f} s  (join + label-history features)")
    print(
        f"fit (riskml+baselines)    {t3 - t2:10.1f} s  bar {BAR_SECONDS:.0f} s  "
        f"{'PASS' if t3 - t2 <= BAR_SECONDS else 'FAIL'}"
    )
    print(f"baselines alone           {t4 - t3:10.1f} s  (lapredict + kamei_lr, same rows)")
    print(
        f"split: fit {split['n_fit']:,} valid {split['n_valid']:,} test {split['n_test']:,}; "
        f"search {len(m['model']['search'])} boosters, refit {m['model']['rounds']} rounds"
    )
    print(
        "test ROC-AUC: "
        + ", ".join(f"{k} {m[k]['roc_auc']:.4f}" for k in ("riskml", "lapredict", "kamei_lr"))
    )


if __name__ == "__main__":
    main()
