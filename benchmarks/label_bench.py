"""SZZ throughput of `riskml label`: fix commits per second, all measured in this one run.

On one generated repository (`riskml.synth.generate`), the proxy fix set (every bug-fix commit
of the changes table, the larger of the two fix sets) is traced:

  baseline  a plain PyDriller loop: ``Git(repo).get_commits_last_modified_lines(commit)``
  1 worker  riskml.label.szz.run_szz, cold cache, in process
  2 workers the same in two joblib processes, cold cache (first call starts the processes;
            the second reuses them, as a long-lived `riskml run` would)
  cached    the same again with the on-disk cache warm (relabelling with nothing new)
  +1 new    the cache warm except for one fix (relabelling after one new fix commit)

Usage: python benchmarks/label_bench.py [--commits 2000] [--seed 0] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)

    import warnings

    from riskml.label.szz import run_szz
    from riskml.mine import mine
    from riskml.synth import generate

    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="riskml-label-bench-") as tmp:
        tmp = Path(tmp)
        gen = generate(tmp / "gen", commits=args.commits, seed=args.seed)
        changes = mine(gen.repo, out=tmp / "changes.parquet")
        fixes = [
            c for c, f, r in zip(changes["commit"], changes["fix"], changes["is_revert"], strict=True)
            if f and not r
        ]  # fmt: skip
        print(
            f"repository: {args.commits} commits (seed {args.seed}), {len(fixes)} fix commits; "
            f"{sys.platform}, python {sys.version.split()[0]}"
        )

        # Baseline on a copy: plain PyDriller writes to the repository's config.
        base_repo = tmp / "baseline"
        shutil.copytree(gen.repo, base_repo)
        from pydriller import Git

        t0 = time.perf_counter()
        g = Git(str(base_repo))
        baseline = {}
        for sha in fixes:
            found = g.get_commits_last_modified_lines(g.get_commit(sha))
            baseline[sha] = {p: sorted(s) for p, s in found.items()}
        t_base = time.perf_counter() - t0

        def timed(workers: int, cache: Path | None):
            t0 = time.perf_counter()
            rows, stats = run_szz(gen.repo, fixes, workers=workers, cache_dir=cache)
            return time.perf_counter() - t0, rows, stats

        t1, rows1, _ = timed(1, None)
        t2, rows2, _ = timed(args.workers, None)
        t2w, _, _ = timed(args.workers, None)  # the worker processes are up now
        cache = tmp / "cache"
        timed(1, cache)  # fill the cache
        tc, rowsc, statsc = timed(1, cache)
        # one fix forgotten by the cache: relabelling after a new fix commit
        victim = fixes[len(fixes) // 2]
        for p in cache.rglob(f"{victim}.json"):
            p.unlink()
        tn, _, statsn = timed(1, cache)

        assert rows1 == rows2 == rowsc, "parallel or cached SZZ differs from in-process"
        same = sum(
            1
            for s in fixes
            if {c for cs in baseline[s].values() for c in cs}
            >= {c for cs in rows1[s]["candidates"].values() for c in cs}
        )
        n = len(fixes)

        def line(name: str, secs: float, note: str = "") -> None:
            print(f"  {name:<34} {secs:8.2f} s  {n / secs:9.1f} fix commits/s  {note}")

        print("SZZ over the fix commits:")
        line("baseline: plain PyDriller loop", t_base, "(1.00x)")
        line("riskml, 1 worker, cold", t1, f"({t_base / t1:.2f}x baseline)")
        line(
            f"riskml, {args.workers} workers, cold",
            t2,
            f"({t_base / t2:.2f}x baseline; includes starting the processes)",
        )
        line(
            f"riskml, {args.workers} workers, warm pool",
            t2w,
            f"({t_base / t2w:.2f}x baseline, {t1 / t2w:.2f}x 1 worker)",
        )
        line(
            "riskml, cached",
            tc,
            f"({t_base / tc:.0f}x baseline; {statsc['cached']} cached, {statsc['traced']} traced)",
        )
        line(
            "riskml, cached + 1 new fix",
            tn,
            f"({statsn['cached']} cached, {statsn['traced']} traced)",
        )
        print(
            f"candidates: riskml's are a subset of plain PyDriller's for {same}/{n} fixes "
            "(extra filter: lines re-added by the fix)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
