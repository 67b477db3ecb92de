"""Benchmark `riskml mine` against a naive PyDriller loop and `git log --numstat` alone.

All three run in one process run on the same generated repository (riskml.synth):

- `riskml mine` through the real CLI (a subprocess: start-up, imports, writing the table and
  the state included), with 1 and with 2 workers;
- the naive PyDriller loop: `Repository(...).traverse_commits()`, la/ld/nf from
  `commit.modified_files` (what a first miner writes);
- `git log --numstat` alone, output read and thrown away: the floor of any git-based miner.

Bar: riskml with one worker at least 10x the naive PyDriller loop.

    python benchmarks/mine_bench.py [--commits 5000] [--seed 0] [--repeat 2] [--pydriller-commits N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of its finished children so far."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Clock:
    """Wall and CPU time of a block (CPU includes the git processes it waited for)."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, _cpu() - self.cpu


def _git_log_numstat(repo: Path) -> Clock:
    with Clock() as clock:
        subprocess.run(
            ["git", "-C", str(repo), "log", "--numstat", "--no-merges", "--format=%H"],
            check=True,
            capture_output=True,
        )
    return clock


def _riskml(repo: Path, out: Path, workers: int) -> Clock:
    clock = Clock().__enter__()
    proc = subprocess.run(
        [sys.executable, "-m", "riskml", "mine", "--repo", str(repo), "--out", str(out),
         "--workers", str(workers), "--no-progress"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    clock.__exit__()
    if proc.returncode != 0:
        raise SystemExit(f"riskml mine failed: {proc.stderr}")
    return clock


def _pydriller(repo: Path, limit: int | None) -> tuple[Clock, int, dict[str, tuple[int, int, int]]]:
    from pydriller import Repository

    clock = Clock().__enter__()
    rows: dict[str, tuple[int, int, int]] = {}
    for commit in Repository(str(repo), only_no_merge=True).traverse_commits():
        files = commit.modified_files
        la = sum(f.added_lines for f in files)
        ld = sum(f.deleted_lines for f in files)
        rows[commit.hash] = (la, ld, len(files))
        if limit and len(rows) >= limit:
            break
    clock.__exit__()
    return clock, len(rows), rows


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
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, best kept")
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

        # Each run `--repeat` times, interleaved, best wall time kept: the same treatment for
        # every contender, and the least disturbed by other work on the machine.
        gits, ones, twos, pyds = [], [], [], []
        for k in range(args.repeat):
            gits.append(_git_log_numstat(repo))
            ones.append(_riskml(repo, tmp / f"w1_{k}.parquet", 1))
            twos.append(_riskml(repo, tmp / f"w2_{k}.parquet", 2))
            clock, pyd_n, pyd_rows = _pydriller(repo, args.pydriller_commits or None)
            pyds.append(clock)
        best = lambda runs: min(runs, key=lambda c: c.wall)  # noqa: E731
        git, one, two, pyd = best(gits), best(ones), best(twos), best(pyds)

        import pandas as pd

        table = pd.read_parquet(tmp / "w1_0.parquet")
        mine_rows = {r.commit: (r.la, r.ld, r.nf) for r in table.itertuples()}
        agree = sum(mine_rows.get(sha) == v for sha, v in pyd_rows.items())

    runs = {
        "git log --numstat (alone)": (git, n),
        "riskml mine, 1 worker": (one, n),
        "riskml mine, 2 workers": (two, n),
        "naive PyDriller loop": (pyd, pyd_n),
    }
    print()
    print(f"{'run':<28}{'wall s':>8}{'commits/s':>11}{'CPU s':>8}{'commits/CPU s':>15}")
    rate, cpu_rate = {}, {}
    for name, (clock, count) in runs.items():
        rate[name] = count / clock.wall
        cpu_rate[name] = count / clock.cpu
        print(
            f"{name:<28}{clock.wall:>8.2f}{rate[name]:>11.0f}{clock.cpu:>8.2f}{cpu_rate[name]:>15.0f}"
        )
    load = os.getloadavg()[0]
    py, one_r, two_r = (
        rate["naive PyDriller loop"],
        rate["riskml mine, 1 worker"],
        rate["riskml mine, 2 workers"],
    )
    print()
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores; best of {args.repeat}")
    print(
        f"riskml (1 worker)  / naive PyDriller : {one_r / py:5.1f}x wall, "
        f"{cpu_rate['riskml mine, 1 worker'] / cpu_rate['naive PyDriller loop']:5.1f}x CPU   (bar: >= 10x)"
    )
    print(f"riskml (2 workers) / naive PyDriller : {two_r / py:5.1f}x wall")
    print(
        f"riskml (1 worker)  / git log --numstat: {one_r / rate['git log --numstat (alone)']:5.2f} wall, "
        f"{cpu_rate['riskml mine, 1 worker'] / cpu_rate['git log --numstat (alone)']:5.2f} CPU"
    )
    print(f"la/ld/nf equal to PyDriller's on {agree} of {pyd_n} commits")
    return 0 if one_r / py >= 10 else 1  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
