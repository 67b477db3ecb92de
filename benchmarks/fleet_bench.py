"""`riskml fleet` on 2 Dask workers against 1 worker and against a plain loop, in one run.

A fleet of generated repositories (`riskml.synth.generate`, each with its incidents file;
default 8 repositories of 5,000 commits, 40,000 in all) is mined and labelled from nothing
(a fresh data folder each time, so no table and no SZZ result is reused) by:

  fleet, 2 workers   `riskml fleet --workers 2` (the CLI: a LocalCluster of 2 processes)
  fleet, 1 worker    `riskml fleet --workers 1`
  loop, CLI          for each repository `riskml mine` then `riskml label` (the CLI, one
                     process each: what a shell loop over the fleet runs)
  loop, in process   for each repository `mine_file` then `label_file` in this process (the
                     same library calls as the tasks, without Dask or start-up costs)
  loop, riskml run   (--run-loop only) for each repository `riskml run`, which also trains,
                     evaluates and registers: more work than the fleet does, not its baseline

The fair baseline of `riskml fleet` is the mine + label loop: the same work. Every wall time
is printed beside its CPU seconds (every process it started, Dask workers and git included),
the cores that kept busy on average (CPU / wall: one process already keeps more than one busy,
git running beside Python) and the load average when it started: on a shared machine more processes take a larger share
of the cores, so under load 2 workers can gain more than 2x over 1. The tables the fleet
wrote are checked to be byte for byte those of the CLI loop. ``--repeat N`` runs each fleet
N times, alternating which goes first, and shows the median and every draw.

    python benchmarks/fleet_bench.py [--repos 8] [--commits 5000] [--seed 0] [--repeat 1] [--run-loop]
    python benchmarks/fleet_bench.py --small      # 3 repositories of 150 commits: a smoke test
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

TARGET = 1.7  # 2 workers against 1, wall
# the tokens file lives among the table's companions, named after its bytes (riskml.snapshot):
# equal tables have it at the same path below the repository's folder
FILES = ("changes.parquet", "labels.parquet", "labels.report.json")


def _tokens(folder: Path) -> str:
    """The tokens file of ``folder``'s changes table, relative to ``folder``."""
    from riskml.tables import tokens_path

    return str(tokens_path(folder / "changes.parquet").relative_to(folder))


def _riskml(*args: str, cwd: Path, env: dict | None = None) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "riskml", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"riskml {args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")


def _cpu() -> float:
    """CPU seconds of this process and of every finished descendant (the riskml processes,
    their Dask workers and git), so far."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(run) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, 1-minute load average when it started)."""
    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), _cpu()
    run()
    return time.perf_counter() - start, _cpu() - cpu, load


def _median(draws: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The draw of median wall time (its CPU and load with it)."""
    return sorted(draws)[len(draws) // 2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=8)
    ap.add_argument("--commits", type=int, default=5000, help="commits per repository")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first repository")
    ap.add_argument("--small", action="store_true", help="3 repositories of 150 commits")
    ap.add_argument("--run-loop", action="store_true", help="also time a loop of riskml run")
    ap.add_argument("--repeat", type=int, default=1, help="fleet runs per worker count (median)")
    args = ap.parse_args(argv)
    if args.small:
        args.repos, args.commits = 3, 150

    from riskml.label import label_file
    from riskml.mine.miner import mine_file
    from riskml.synth.fleet import generate_fleet

    with tempfile.TemporaryDirectory(prefix="riskml-fleet-bench-") as tmp:
        tmp = Path(tmp)
        seeds = range(args.seed, args.seed + args.repos)
        start = time.perf_counter()
        fleet, repos = generate_fleet(tmp, [(f"r{s}", args.commits, s) for s in seeds])
        generated = time.perf_counter() - start  # setup, not timed
        total = args.repos * args.commits
        print(
            f"fleet: {args.repos} repositories of {args.commits:,} commits ({total:,} in all, "
            f"seeds {seeds[0]}..{seeds[-1]}, generated in {generated:.1f} s); {os.cpu_count()} "
            f"cores, {sys.platform}, python {sys.version.split()[0]}"
        )

        def fleet_run(workers: int, draw: int) -> tuple[float, float, float]:
            data = tmp / f"fleet-{workers}-{draw}"
            return _timed(lambda: _riskml("fleet", "--fleet", str(fleet), "--data-dir",
                                          str(data), "--workers", str(workers), "--no-progress",
                                          cwd=tmp))  # fmt: skip

        def cli_loop() -> None:
            data = str(tmp / "cli-loop")
            for name, gen in repos.items():
                _riskml("mine", "--repo", str(gen.repo), "--rev", "main", "--repo-name", name,
                        "--data-dir", data, "--no-progress", cwd=tmp)  # fmt: skip
                _riskml("label", "--repo", str(gen.repo), "--changes",
                        f"{data}/{name}/changes.parquet", "--incidents", str(gen.incidents),
                        "--data-dir", data, cwd=tmp)  # fmt: skip

        def in_process_loop() -> None:
            data = tmp / "process-loop"
            for name, gen in repos.items():
                out = data / name / "changes.parquet"
                mine_file(gen.repo, rev="main", out=out, repo_name=name)
                label_file(gen.repo, out, gen.incidents, data_dir=data)

        def run_loop() -> None:
            env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"}
            for name, gen in repos.items():
                _riskml("run", "--repo", str(gen.repo), "--incidents", str(gen.incidents),
                        "--repo-name", name, "--data-dir", str(tmp / "run-loop"),
                        "--models-dir", str(tmp / "models"), cwd=tmp, env=env)  # fmt: skip

        draws: dict[int, list[tuple[float, float, float]]] = {2: [], 1: []}
        for draw in range(args.repeat):  # alternate which goes first: the load drifts
            for workers in (2, 1) if draw % 2 == 0 else (1, 2):
                draws[workers].append(fleet_run(workers, draw))
        rows = [
            ("riskml fleet, 2 workers", *_median(draws[2])),
            ("riskml fleet, 1 worker", *_median(draws[1])),
            ("loop: riskml mine + label (CLI)", *_timed(cli_loop)),
            ("loop: mine_file + label_file (in process)", *_timed(in_process_loop)),
        ]
        if args.run_loop:
            rows.append(("loop: riskml run (also trains)", *_timed(run_loop)))
        for name in repos:
            for file in (*FILES, _tokens(tmp / "cli-loop" / name)):
                fleet_bytes = (tmp / "fleet-2-0" / name / file).read_bytes()
                if fleet_bytes != (tmp / "cli-loop" / name / file).read_bytes():
                    raise SystemExit(f"{name}/{file}: the fleet's differs from riskml mine/label's")

        two, one, loop = rows[0][1], rows[1][1], rows[2][1]
        print(f"  {'run':<44}{'wall':>9}  {'CPU':>8}  {'cores':>5}  {'commits/s':>9}  "
              f"{'vs 1 worker':>11}  {'vs CLI loop':>11}  load at start")  # fmt: skip
        for label, wall, cpu, load in rows:
            print(f"  {label:<44}{wall:8.1f}s  {cpu:7.1f}s  {cpu / wall:5.2f}  {total / wall:9.0f}  "
                  f"{one / wall:10.2f}x  {loop / wall:10.2f}x  {load:.2f}")  # fmt: skip
        if args.repeat > 1:
            print(f"fleet draws ({args.repeat}, medians above): " + "; ".join(
                f"{a[0]:.1f} s / {b[0]:.1f} s = {b[0] / a[0]:.2f}x (load {a[2]:.1f}, {b[2]:.1f})"
                for a, b in zip(draws[2], draws[1], strict=True)))  # fmt: skip
        print(f"load average now: {os.getloadavg()[0]:.2f}")
        verdict = "met" if one / two >= TARGET else "not met"
        print(
            f"2 workers vs 1: {one / two:.2f}x (target >= {TARGET}x: {verdict}); "
            f"vs the CLI loop: {loop / two:.2f}x; tables identical to the CLI loop's: yes"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
