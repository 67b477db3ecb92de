"""The fleet model fitted with lightgbm.dask on a 2-worker LocalCluster against local LightGBM.

A fleet of generated repositories (`riskml.synth.generate` with fleet_bench's settings: default
8 repositories of 5,000 commits, seeds from 0, each with its incidents file) is mined and
labelled by `riskml fleet` (not timed), its dataset turned into the fleet training table
(`riskml.fleet.model.fleet_table`), and the same fit (`riskml.train.fit`, every setting the
same) run twice in one process: every booster locally, then every booster on
`DaskLGBMClassifier` over a `LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`
(the cluster's start is timed separately). Rows, test ROC-AUC and seconds are printed side by
side; the per-row costs feed docs/fleet.md's projection.

    python benchmarks/fleet_train_bench.py [--repos 8] [--commits 5000] [--dataset PATH]
    python benchmarks/fleet_train_bench.py --small      # 3 repositories of 800 commits
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def generated_fleet(
    root: Path, repos: list[tuple], workers: int = 2, config: Path | None = None
) -> Path:
    """``repos`` ((name, commits, seed[, start])) generated under ``root``
    (:func:`riskml.synth.fleet.generate_fleet`, with ``config`` as the fleet's riskml.toml),
    mined and labelled by `riskml fleet` on ``workers``; returns the fleet dataset."""
    from riskml.fleet import load_fleet, run_fleet
    from riskml.synth.fleet import generate_fleet

    fleet, _ = generate_fleet(root, repos, config=config)
    result = run_fleet(load_fleet(fleet), root / "data", workers=workers)
    if result.dataset is None:
        raise SystemExit("no repository of the generated fleet ran")
    return result.dataset


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=8)
    ap.add_argument("--commits", type=int, default=5000, help="commits per repository")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first generated repository")
    ap.add_argument("--dataset", type=Path, help="an existing fleet dataset instead")
    ap.add_argument("--small", action="store_true", help="3 repositories of 800 commits")
    ap.add_argument("--workers", default="1,2",
                    help="LocalCluster sizes to fit on, comma-separated (default 1,2)")  # fmt: skip
    ap.add_argument("--seeds", default="0",
                    help="LightGBM seeds ([train] seed), comma-separated (default 0)")  # fmt: skip
    ap.add_argument(
        "--no-sampling",
        action="store_true",
        help="bagging_fraction and feature_fraction 1 (no row or feature sampling)",
    )
    args = ap.parse_args(argv)
    try:
        sizes = [int(n) for n in args.workers.split(",") if n.strip()]
        seeds = [int(n) for n in args.seeds.split(",") if n.strip()]
    except ValueError:
        ap.error("--workers and --seeds take comma-separated integers")
    if not sizes or not seeds or min(sizes) < 1 or min(seeds) < 0:
        ap.error("--workers needs sizes >= 1 and --seeds seeds >= 0")
    if len(set(seeds)) < len(seeds) or len(set(sizes)) < len(sizes):
        ap.error("--workers and --seeds name each value once")
    if args.small:
        args.repos, args.commits = 3, 800

    from distributed import Client, LocalCluster

    from riskml.fleet.model import fleet_frame, fleet_table, label_mode_of_fleet
    from riskml.train import fit
    from riskml.train.model import boosters_on

    with tempfile.TemporaryDirectory(prefix="riskml-fleet-train-bench-") as tmp:
        dataset = args.dataset
        if dataset is None:
            start = time.perf_counter()
            repos = [(f"r{s}", args.commits, s) for s in range(args.seed, args.seed + args.repos)]
            dataset = generated_fleet(Path(tmp), repos)
            print(f"fleet of {args.repos} x {args.commits} commits generated, mined and labelled "
                  f"in {time.perf_counter() - start:.1f} s (not timed below)")  # fmt: skip
        rows = fleet_frame(dataset)
        start = time.perf_counter()
        table = fleet_table(rows)
        built = time.perf_counter() - start
        mode = label_mode_of_fleet(rows)
        cfgs = {seed: config_of(seed, args.no_sampling) for seed in seeds}
        print(f"training table: {len(table):,} rows of {table['project'].nunique()} projects "
              f"in {built:.1f} s ({mode} labels)")  # fmt: skip
        if args.no_sampling:
            print("no sampling: bagging_fraction 1, feature_fraction 1")

        fits_by_seed: dict[int, dict[str, tuple]] = {seed: {} for seed in seeds}
        for seed in seeds:
            start = time.perf_counter()
            res = fit(table, cfgs[seed], label_mode=mode)
            fits_by_seed[seed]["local"] = (res, time.perf_counter() - start, 0.0)
        for n in sizes:
            start = time.perf_counter()
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                              dashboard_address=":0") as cluster, Client(cluster) as client:  # fmt: skip
                up = time.perf_counter() - start
                for seed in seeds:
                    start = time.perf_counter()
                    with boosters_on(client):
                        res = fit(table, cfgs[seed], label_mode=mode)
                    fits_by_seed[seed][n] = (res, time.perf_counter() - start, up)
        first = seeds[0]
        local, local_s, _ = fits_by_seed[first]["local"]
        dask = {n: fits_by_seed[first][n] for n in sizes}

    n_train = local.metrics["split"]["n_fit"] + local.metrics["split"]["n_valid"]
    print(f"{'fit':<34}{'rows':>8}{'train':>8}{'test':>7}{'roc_auc':>9}{'rounds':>8}{'seconds':>9}"
          f"{'ms/row':>8}")  # fmt: skip
    fits = [("local LightGBM", local, local_s)]
    fits += [(f"lightgbm.dask, {n} worker{'s' * (n > 1)}", r, secs)
             for n, (r, secs, _) in dask.items()]  # fmt: skip
    for name, res, secs in fits:
        m = res.metrics
        print(f"{name:<34}{len(table):>8,}{n_train:>8,}{m['split']['n_test']:>7,}"
              f"{m['riskml']['roc_auc']:>9.4f}{res.model.info['rounds']:>8}{secs:>9.1f}"
              f"{1000 * secs / len(table):>8.3f}")  # fmt: skip
    for n, (res, _, up) in dask.items():
        same = res.test_predictions["commit"].tolist() == local.test_predictions["commit"].tolist()
        diff = res.metrics["riskml"]["roc_auc"] - local.metrics["riskml"]["roc_auc"]
        print(
            f"{n} worker(s): same held-out rows: {'yes' if same else 'no'}; ROC-AUC dask - local: "
            f"{diff:+.4f} (target |diff| <= 0.005: {'met' if abs(diff) <= 0.005 else 'not met'}); "
            f"LocalCluster start {up:.1f} s (not in the dask seconds)"
        )
    if len(seeds) > 1:
        print_seeds(fits_by_seed, sizes)
    return 0


def config_of(seed: int, no_sampling: bool):
    """riskml's defaults with LightGBM seed ``seed`` (and without row and feature sampling)."""
    import dataclasses

    from riskml.config import Config

    cfg = Config()
    params = dict(cfg.train.lgbm_params)
    if no_sampling:
        params.update(bagging_fraction=1.0, feature_fraction=1.0)
    return dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, seed=seed, lgbm_params=params)
    )


def print_seeds(fits_by_seed: dict[int, dict], sizes: list[int]) -> None:
    """Every seed's test ROC-AUC per contender, the means, and each mean minus local's."""
    import statistics

    names = ["local", *sizes]
    heads = ["local LightGBM", *(f"dask, {n} worker{'s' * (n > 1)}" for n in sizes)]
    print(f"{'seed':<6}" + "".join(f"{h:>20}" for h in heads))
    auc = {name: [] for name in names}
    for seed, fits in fits_by_seed.items():
        cells = []
        for name in names:
            res = fits[name][0]
            auc[name].append(res.metrics["riskml"]["roc_auc"])
            cells.append(f"{auc[name][-1]:.4f} ({res.model.info['rounds']} r)")
        print(f"{seed:<6}" + "".join(f"{c:>20}" for c in cells))
    mean = {name: statistics.fmean(values) for name, values in auc.items()}
    sd = {name: statistics.stdev(values) for name, values in auc.items()}
    print(f"{'mean':<6}" + "".join(f"{mean[n]:>20.4f}" for n in names))
    print(f"{'sd':<6}" + "".join(f"{sd[n]:>20.4f}" for n in names))
    for n in sizes:
        diffs = [a - b for a, b in zip(auc[n], auc["local"], strict=True)]
        print(
            f"{n} worker(s) over {len(diffs)} seeds: mean of dask - mean of local "
            f"{mean[n] - mean['local']:+.4f}; per seed {', '.join(f'{d:+.4f}' for d in diffs)}; "
            f"within 0.005 on {sum(abs(d) <= 0.005 for d in diffs)} of {len(diffs)}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
