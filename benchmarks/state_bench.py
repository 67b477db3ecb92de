"""Benchmark saving and loading the mining state: Arrow and JSON (what riskml writes now)
against the pickle riskml wrote before (the baseline), on the same state, in one run.

A repository of ``--commits`` commits is generated (riskml.synth) and mined; its state is then
saved and loaded ``--repeat`` times each way and the medians printed, with the sizes on disk.
The pickle baseline is what ``MiningState.save`` did before: ``pickle.dump`` of the whole
state (highest protocol) to one file, ``pickle.load`` back. Also printed: what a reader adds
now to find a table's companions (the SHA-256 of the table's bytes).

    python benchmarks/state_bench.py [--commits 20000] [--seed 0] [--repeat 5] [--keep DIR]

``--keep DIR`` keeps (and on a later run reuses) the generated repository and its mined table.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _prepare(work: Path, commits: int, seed: int) -> Path:
    """The mined table of a generated repository in ``work`` (made unless already there)."""
    from riskml.mine import mine
    from riskml.synth import generate

    table = work / "data" / "changes.parquet"
    if table.is_file():
        return table
    t0 = time.perf_counter()
    made = generate(work / "synth", commits=commits, seed=seed)
    t1 = time.perf_counter()
    mine(made.repo, out=table)
    t2 = time.perf_counter()
    print(f"generated {commits} commits in {t1 - t0:.1f} s, mined them in {t2 - t1:.1f} s")
    return table


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="keep the repository here")
    args = parser.parse_args()

    from riskml import snapshot
    from riskml.mine import load_state, state_path

    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="riskml-state-bench-")
        work = Path(tmp.name)
    else:
        work = args.keep
        work.mkdir(parents=True, exist_ok=True)
    try:
        table = _prepare(work, args.commits, args.seed)
        state = load_state(state_path(table))
        runs = work / "runs"
        shutil.rmtree(runs, ignore_errors=True)
        runs.mkdir()
        arrow_save, arrow_load, pickle_save, pickle_load, digest = [], [], [], [], []
        for i in range(args.repeat):
            directory = runs / f"arrow{i}"
            arrow_save.append(_timed(lambda d=directory: state.save(d)))
            arrow_load.append(_timed(lambda d=directory: load_state(d)))
            path = runs / f"state{i}.pickle"

            def dump(p=path):
                with p.open("wb") as fh:
                    pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)

            def load(p=path):
                with p.open("rb") as fh:
                    pickle.load(fh)

            pickle_save.append(_timed(dump))
            pickle_load.append(_timed(load))
            digest.append(_timed(lambda: snapshot.read(table)))
        back = load_state(runs / "arrow0")
        assert (back.n_rows, back.n_commits, len(back.files), back.seen) == (
            state.n_rows, state.n_commits, len(state.files), state.seen
        )  # fmt: skip
        arrow_size, pickle_size = _size(runs / "arrow0"), _size(runs / "state0.pickle")
        table_size = _size(table)
    finally:
        if tmp is not None:
            tmp.cleanup()

    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1000

    print(
        f"state of {state.n_rows} rows ({state.n_commits} commits recorded, {len(state.files)} "
        f"files, {len(state.seen)} commits seen); median of {args.repeat} runs"
    )
    print(f"{'':<22}{'save':>10}{'load':>10}{'save+load':>12}{'on disk':>10}")
    rows = [
        ("Arrow + JSON (now)", arrow_save, arrow_load, arrow_size),
        ("pickle (before)", pickle_save, pickle_load, pickle_size),
    ]
    for name, save, load, size in rows:
        both = [s + lo for s, lo in zip(save, load, strict=True)]
        print(
            f"{name:<22}{ms(save):>8.1f} ms{ms(load):>7.1f} ms{ms(both):>9.1f} ms"
            f"{size / 1e6:>7.1f} MB"
        )
    new = ms([s + lo for s, lo in zip(arrow_save, arrow_load, strict=True)])
    old = ms([s + lo for s, lo in zip(pickle_save, pickle_load, strict=True)])
    print(f"save+load: Arrow + JSON at {new / old:.2f}x the pickle's time")
    print(
        f"a reader finding the table's companions (reading and hashing its "
        f"{table_size / 1e6:.1f} MB): {ms(digest):.1f} ms"
    )


if __name__ == "__main__":
    main()
