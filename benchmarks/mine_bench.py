"""Benchmark `riskml mine` against a naive PyDriller loop and `git log --numstat` alone.

All three run in one process run on the same generated repository (riskml.synth):

- `riskml mine` through the real CLI (a subprocess: start-up, imports, writing the table and
  the state included), with 1 and with 2 workers;
- the naive PyDriller loop: `Repository(...).traverse_commits()`, la/ld/nf from
  `commit.modified_files` (what a first miner writes);
- `git log --numstat` alone, output read and thrown away: the floor of any git-based miner.

Bar: riskml with one worker at least 10x the naive PyDriller loop.

    python benchmarks/mine_bench.py [--commits 5000] [--seed 0] [--pydriller-commits N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _git_log_numstat(repo: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["git", "-C", str(repo), "log", "--numstat", "--no-merges", "--format=%H"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def _riskml(repo: Path, out: Path, workers: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "riskml", "mine", "--repo", str(repo), "--out", str(out),
         "--workers", str(workers), "--no-progress"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"riskml mine failed: {proc.stderr}")
    return elapsed


def _pydriller(repo: Path, limit: int | None) -> tuple[float, int, dict[str, tuple[int, int, int]]]:
    from pydriller import Repository

    start = time.perf_counter()
    rows: dict[str, tuple[int, int, int]] = {}
    for commit in Repository(str(repo), only_no_merge=True).traverse_commits():
        files = commit.modified_files
        la = sum(f.added_lines for f in files)
        ld = sum(f.deleted_lines for f in files)
        rows[commit.hash] = (la, ld, len(files))
        if limit and len(rows) >= limit:
            break
    return time.perf_counter() - start, len(rows), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pydriller-commits",
        type=int,
        default=0,
        help="stop the PyDriller loop after N commits (0: all); its rate is per commit either way",
    )
    args = parser.parse_args()

    from riskml.synth import generate

    with tempfile.TemporaryDirectory(prefix="mine_bench_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        repo = generate(tmp / "synth", commits=args.commits, seed=args.seed).repo
        gen_s = time.perf_counter() - t0
        n = int(
            subprocess.run(
                ["git", "-C", str(repo), "rev-list", "--no-merges", "--count", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        print(f"generated {n} non-merge commits in {gen_s:.1f} s (seed {args.seed})")
        print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")

        git_s = min(_git_log_numstat(repo) for _ in range(3))
        one_s = _riskml(repo, tmp / "w1.parquet", 1)
        two_s = _riskml(repo, tmp / "w2.parquet", 2)
        pyd_s, pyd_n, pyd_rows = _pydriller(repo, args.pydriller_commits or None)

        import pandas as pd

        table = pd.read_parquet(tmp / "w1.parquet")
        mine_rows = {r.commit: (r.la, r.ld, r.nf) for r in table.itertuples()}
        agree = sum(mine_rows.get(sha) == v for sha, v in pyd_rows.items())

    rates = {
        "git log --numstat (alone)": n / git_s,
        "riskml mine, 1 worker": n / one_s,
        "riskml mine, 2 workers": n / two_s,
        "naive PyDriller loop": pyd_n / pyd_s,
    }
    print()
    print(f"{'run':<28}{'seconds':>10}{'commits/s':>12}")
    for (name, rate), secs in zip(rates.items(), (git_s, one_s, two_s, pyd_s), strict=True):
        print(f"{name:<28}{secs:>10.2f}{rate:>12.0f}")
    py = rates["naive PyDriller loop"]
    one = rates["riskml mine, 1 worker"]
    print()
    print(f"riskml (1 worker) / naive PyDriller : {one / py:5.1f}x   (bar: >= 10x)")
    print(f"riskml (2 workers) / naive PyDriller: {rates['riskml mine, 2 workers'] / py:5.1f}x")
    print(f"riskml (1 worker) / git log --numstat: {one / rates['git log --numstat (alone)']:5.2f}")
    print(f"la/ld/nf equal to PyDriller's on {agree} of {pyd_n} commits")
    return 0 if one / py >= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
