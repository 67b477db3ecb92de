"""Speed of `riskml synth`: commits per second, with two baselines measured in this one run.

  riskml synth   riskml.synth.generate(out, commits=N): the whole generator (history model,
                 one streamed `git fast-import`, checkout, incidents.csv, truth.csv)
  floor          `git fast-export --all | git fast-import` of that same history into an empty
                 repository: what git alone needs to store it, the floor of any fast-import
                 generator
  porcelain      the usual way test repos get built: write files, `git add -A`, `git commit`,
                 one process pair per commit (on a smaller count, reported per second)

Wall time depends on what else runs on the machine; CPU seconds (this process and its git
children) are printed beside it.

Usage: python benchmarks/synth_bench.py [--commits 10000] [--porcelain 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "TMPDIR")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
    )
    return env


def _porcelain(root: Path, commits: int, env: dict[str, str]) -> None:
    repo = root / "porcelain"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    for i in range(commits):
        path = repo / f"pkg{i % 20}" / f"mod{i % 7}.py"
        path.parent.mkdir(exist_ok=True)
        with path.open("a") as fh:
            fh.write("".join(f"value_{i}_{k} = {k}\n" for k in range(10)))
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
        subprocess.run(
            ["git", "-C", str(repo), "commit", "-q", "-m", f"change {i}"], check=True, env=env
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=10000)
    ap.add_argument("--porcelain", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from riskml.synth import generate

    with tempfile.TemporaryDirectory(prefix="riskml-synth-bench-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        env = _env(root / "home")

        c0, t0 = _cpu(), time.perf_counter()
        result = generate(root / "gen", commits=args.commits, seed=args.seed)
        synth_wall, synth_cpu = time.perf_counter() - t0, _cpu() - c0

        floor = root / "floor"
        subprocess.run(["git", "init", "-q", "--bare", str(floor)], check=True, env=env)
        c0, t0 = _cpu(), time.perf_counter()
        export = subprocess.Popen(
            ["git", "-C", str(result.repo), "fast-export", "--all"],
            stdout=subprocess.PIPE,
            env=env,
        )
        subprocess.run(
            ["git", "-C", str(floor), "fast-import", "--quiet"],
            stdin=export.stdout,
            check=True,
            env=env,
        )
        export.wait()
        floor_wall, floor_cpu = time.perf_counter() - t0, _cpu() - c0

        c0, t0 = _cpu(), time.perf_counter()
        _porcelain(root, args.porcelain, env)
        porc_wall, porc_cpu = time.perf_counter() - t0, _cpu() - c0

    n = args.commits
    print(f"commits: {n} (porcelain: {args.porcelain}), load average {os.getloadavg()[0]:.1f}")
    print(f"{'':14}{'wall s':>9}{'cpu s':>9}{'commits/s':>12}")
    print(f"{'riskml synth':14}{synth_wall:9.2f}{synth_cpu:9.2f}{n / synth_wall:12.0f}")
    print(f"{'floor':14}{floor_wall:9.2f}{floor_cpu:9.2f}{n / floor_wall:12.0f}")
    print(f"{'porcelain':14}{porc_wall:9.2f}{porc_cpu:9.2f}{args.porcelain / porc_wall:12.0f}")
    print(
        f"riskml synth is {synth_wall / floor_wall:.1f}x the fast-import floor and "
        f"{(n / synth_wall) / (args.porcelain / porc_wall):.0f}x the porcelain loop"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
