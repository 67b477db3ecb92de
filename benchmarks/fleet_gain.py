"""Do small repositories gain from the fleet model? Per project, on its own folds.

For each project of a fleet dataset: the same forward-chaining folds the rolling evaluation
uses (`[evaluate] folds` x `fold_fraction` of the project's labelled changes), and at each
fold three models tested on the project's test window: its own model (its rows alone), the
fleet model (every project's rows before the cut-off, the project a categorical feature) and
the fleet model with the per-project percentiles of la, ld, lt, nf and churn
(`<metric>_project_pct`, leak-free). The table prints each project's mean fold ROC-AUC of the
three and whether the fleet model's is at least the project's own (`riskml.fleet.model`).
`--weights MODE` adds a fleet model of another `[train] project_weights` (column
`fleet:MODE`), tested on the same folds in the same run. `95%-interval` is the paired
bootstrap interval of fleet − own (`--bootstrap` resamples of each fold's test changes, both
models scored on the same draw; 0: none).

The fleet is generated (`riskml.synth.generate`, mined and labelled by `riskml fleet`: by
default two large repositories, one middling and three small ones of a few hundred commits,
the small ones started later, inside the large ones' years) or given: `--dataset` a fleet
dataset `riskml fleet` wrote (e.g. of real repositories).

    python benchmarks/fleet_gain.py [--repo NAME:COMMITS:SEED[:START] ...] [--config riskml.toml]
    python benchmarks/fleet_gain.py --dataset data/fleet.parquet [--config riskml.toml]
    python benchmarks/fleet_gain.py --repo small:400:3:2018-01-01 --project activemq=data/activemq
    python benchmarks/fleet_gain.py --repo ... --project ... --no-normalised --weights rows
    python benchmarks/fleet_gain.py --small      # 3 repositories of 300-600 commits: a smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_train_bench import generated_fleet  # noqa: E402

DEFAULT_REPOS = (
    "large-a:3000:0", "large-b:2500:1", "middle:1200:2",
    "small-a:400:3:2022-03-01", "small-b:300:4:2022-06-01", "small-c:250:5:2022-09-01",
)  # fmt: skip
SMALL_REPOS = ("one:600:0", "two:400:1:2021-02-01", "three:300:2:2021-03-01")


def _repo(spec: str) -> tuple[str, int, int, str]:
    """``NAME:COMMITS:SEED[:START]`` as a tuple (an argparse type: a bad spec is a usage
    error, exit 2)."""
    parts = spec.split(":")
    try:
        if len(parts) not in (3, 4) or not parts[0]:
            raise ValueError
        start = parts[3] if len(parts) == 4 else "2021-01-04"
        dt.date.fromisoformat(start)
        return parts[0], int(parts[1]), int(parts[2]), start
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{spec!r}: expected NAME:COMMITS:SEED[:START], e.g. small:400:3:2018-01-01"
        ) from None


def _project(spec: str) -> str:
    """``NAME=DIR`` (an argparse type)."""
    name, _, folder = spec.partition("=")
    if not name or not folder:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected NAME=DIR")
    return spec


def add_tables(dataset: Path, projects: list[str]) -> None:
    """Add each ``NAME=DIR`` (a folder holding a repository's ``changes.parquet`` and
    ``labels.parquet``, e.g. mined and labelled with ``riskml label --as-of``) to the fleet
    dataset as its project ``NAME``."""
    from riskml.fleet.dataset import write_project
    from riskml.tables import FLEET_MARKER, write_json

    marker = json.loads((dataset / FLEET_MARKER).read_text(encoding="utf-8"))
    for spec in projects:
        name, _, folder = spec.partition("=")
        folder = Path(folder)
        marker["projects"][name] = write_project(
            dataset, name, folder / "changes.parquet", folder / "labels.parquet"
        )
    write_json(marker, dataset / FLEET_MARKER)


def weightings(cfg, modes: list[str]) -> dict:
    """The configuration ``cfg`` with each ``[train] project_weights`` of ``modes``."""
    import dataclasses

    from riskml.config import PROJECT_WEIGHTS

    out = {}
    for mode in modes:
        if mode not in PROJECT_WEIGHTS:
            raise ValueError(f"project_weights {mode!r}: expected one of {PROJECT_WEIGHTS}")
        out[mode] = dataclasses.replace(
            cfg, train=dataclasses.replace(cfg.train, project_weights=mode)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    from riskml.config import PROJECT_WEIGHTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", action="append", type=_repo,
                    help="NAME:COMMITS:SEED[:START] (repeatable)")  # fmt: skip
    ap.add_argument("--dataset", type=Path, help="a fleet dataset instead of a generated fleet")
    ap.add_argument("--project", action="append", default=[], type=_project,
                    help="NAME=DIR: a repository's tables (changes.parquet, labels.parquet) "
                    "added to the generated fleet (repeatable)")  # fmt: skip
    ap.add_argument("--config", type=Path, help="riskml.toml ([train], [evaluate])")
    ap.add_argument("--no-normalised", action="store_true", help="skip the normalised model")
    ap.add_argument("--weights", action="append", default=[], metavar="MODE",
                    choices=PROJECT_WEIGHTS,
                    help="also a fleet model of this [train] project_weights (rows, sqrt, "
                    "balanced), on the same folds: column fleet:MODE (repeatable)")  # fmt: skip
    ap.add_argument("--bootstrap", type=int, default=1000,
                    help="resamples of the fleet - own interval (default 1000; 0: none)")  # fmt: skip
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    ap.add_argument("--small", action="store_true", help="3 small repositories: a smoke test")
    args = ap.parse_args(argv)
    if args.dataset and args.project:
        ap.error("--project adds to the generated fleet, not to a --dataset")
    if args.bootstrap < 0:
        ap.error(f"--bootstrap must be 0 or more, got {args.bootstrap}")

    from riskml.config import load_config
    from riskml.errors import RiskmlError
    from riskml.fleet.model import (
        fleet_frame,
        fleet_table,
        format_per_project,
        label_mode_of_fleet,
        per_project,
    )

    try:
        cfg = load_config(args.config)
    except RiskmlError as exc:
        ap.error(str(exc))
    specs = args.repo or [_repo(s) for s in (SMALL_REPOS if args.small else DEFAULT_REPOS)]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="riskml-fleet-gain-") as tmp:
        # the fleet mined with the same riskml.toml as the evaluation: its label window is
        # the one the labels were made with
        dataset = args.dataset or generated_fleet(Path(tmp), specs, config=args.config)
        if args.project:
            add_tables(dataset, args.project)
        rows = fleet_frame(dataset)
    table = fleet_table(rows, cfg)
    normalised = None if args.no_normalised else fleet_table(rows, cfg, normalise=True)
    mode = label_mode_of_fleet(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tier warnings of small folds
        result = per_project(table, cfg, label_mode=mode, normalised=normalised,
                             compare=weightings(cfg, args.weights),
                             bootstrap=args.bootstrap)  # fmt: skip
    today = dt.date.today().isoformat()
    source = (
        str(args.dataset)
        if args.dataset
        else "generated: " + ", ".join(f"{n} {c}" for n, c, _, _ in specs)
    )
    if args.project:
        source += "; tables: " + ", ".join(p.partition("=")[0] for p in args.project)
    ev = cfg.evaluate
    gap = cfg.train.gap_days if cfg.train.gap_days is not None else cfg.label.window_days
    print(
        f"fleet gain, {today}: {source}; {len(table):,} changes, {mode} labels, "
        f"{ev.folds} folds x {ev.fold_fraction:g} per project, gap {gap:g} days; "
        f"fleet: project_weights {cfg.train.project_weights}"
    )
    print(format_per_project(result))
    if normalised is not None:
        done = [r.summary() for r in result]
        pairs = [
            (s["fleet_norm_roc_auc_all_folds"], s["fleet_roc_auc_all_folds"])
            for s in done
            if s.get("fleet_norm_roc_auc_all_folds") is not None
            and s["fleet_roc_auc_all_folds"] is not None
        ]
        better = sum(a > b for a, b in pairs)
        print(f"per-project normalisation: higher mean ROC-AUC over all folds on {better} of "
              f"{len(pairs)} project(s) than the fleet model without it")  # fmt: skip
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps([r.summary() for r in result], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
