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


def _timed(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn()``: on a shared machine the CPU time of this process is
    the steadier of the two."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


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

    def ms(values: list[tuple[float, float]], which: int) -> float:
        return statistics.median(v[which] for v in values) * 1000

    def both(save, load):
        return [(s[0] + lo[0], s[1] + lo[1]) for s, lo in zip(save, load, strict=True)]

    print(
        f"state of {state.n_rows} rows ({state.n_commits} commits recorded, {len(state.files)} "
        f"files, {len(state.seen)} commits seen); median of {args.repeat} runs, wall (CPU)"
    )
    print(f"{'':<20}{'save':>18}{'load':>18}{'save+load':>18}{'on disk':>9}")
    rows = [
        ("Arrow + JSON (now)", arrow_save, arrow_load, arrow_size),
        ("pickle (before)", pickle_save, pickle_load, pickle_size),
    ]
    for name, save, load, size in rows:
        cells = [f"{ms(v, 0):.1f} ({ms(v, 1):.1f}) ms" for v in (save, load, both(save, load))]
        print(f"{name:<20}" + "".join(f"{c:>18}" for c in cells) + f"{size / 1e6:>6.1f} MB")
    new, old = both(arrow_save, arrow_load), both(pickle_save, pickle_load)
    print(
        f"save+load: Arrow + JSON at {ms(new, 0) / ms(old, 0):.2f}x the pickle's wall time, "
        f"{ms(new, 1) / ms(old, 1):.2f}x its CPU time"
    )
    print(
        f"a reader finding the table's companions (reading and hashing its "
        f"{table_size / 1e6:.1f} MB): {ms(digest, 0):.1f} ({ms(digest, 1):.1f}) ms"
    )


if __name__ == "__main__":
    main()
