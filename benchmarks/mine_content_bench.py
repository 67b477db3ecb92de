"""Benchmark `riskml mine` from scratch on one repository: wall and CPU time, rows, side files.

Meant for a real history (`--repo`, e.g. a local clone) and for comparing two revisions of
riskml in one run: the script only calls the CLI, so it runs against any tree's code, e.g.

    python benchmarks/compare.py --base main --only mine_content_bench --script-from this \\
        --args "mine_content_bench=--repo ../real/groovy" --repeat 2

Each repeat mines into a fresh temporary directory (`--out`), so every run is a full mine:
start-up, git, the history pass, the table, the state and (when the tree writes one) the
tokens file. Without `--repo` a repository of `--commits` is generated with riskml.synth.

    python benchmarks/mine_content_bench.py [--repo PATH | --commits 5000] [--repeat 1]
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


def riskml_code() -> str:
    """Where the CLI below imports riskml from (PYTHONPATH, or the current directory first)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import riskml, pathlib; print(pathlib.Path(riskml.__file__).parent)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def mine_once(repo: Path, out: Path) -> tuple[float, float, str]:
    """``(wall s, CPU s, the CLI's line)`` of one full `riskml mine` into ``out``."""
    cpu, wall = _cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "riskml", "mine", "--repo", str(repo), "--out", str(out),
         "--no-progress"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"riskml mine failed: {done.stderr[-2000:]}")
    return wall, cpu, done.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="the repository to mine (default: generated)")
    parser.add_argument("--commits", type=int, default=5000, help="generated commits, no --repo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="full mines, best wall kept")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mine_content_bench_") as tmp:
        tmp = Path(tmp)
        repo = args.repo
        if repo is None:
            from riskml.synth import generate

            repo = generate(tmp / "synth", commits=args.commits, seed=args.seed).repo
        runs = []
        for k in range(args.repeat):
            out = tmp / f"run{k}" / "changes.parquet"
            wall, cpu, line = mine_once(repo.resolve(), out)
            files = {p.name: p.stat().st_size for p in sorted(out.parent.iterdir())}
            runs.append((wall, cpu, line, files))
            print(f"run {k + 1}: {wall:7.2f} s wall {cpu:7.2f} s CPU "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    wall, cpu, line, files = min(runs, key=lambda r: r[0])
    print(f"repository: {repo}")
    print(f"riskml code: {riskml_code()}")
    print(f"riskml mine: {line}")
    print(f"best of {args.repeat}: {wall:.2f} s wall, {cpu:.2f} s CPU (riskml and its git)")
    for name, size in files.items():
        if not name.endswith(".lock"):
            print(f"  {name:<28}{size / 1e6:8.2f} MB")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
