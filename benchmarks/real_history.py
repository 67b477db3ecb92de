"""Real-history benchmark: riskml against both baselines on real repositories' own histories.

Per project and pooled over the projects: rolling (forward-chaining) folds of
:mod:`riskml.train.rolling`, mean-fold and pooled metrics, paired bootstrap intervals of riskml's
ROC-AUC and capture@10 % minus each baseline's, the share each tier held on every fold's test
window beside its configured share, and (``--ablation``) riskml with each feature group removed.

Each project is a folder ``DATA/<name>/`` with the tables of ``riskml mine`` and ``riskml label``
(docs/training.md, "Real histories", says how to make them from a clone and an issue
tracker's export with ``riskml incidents``).

``--period development`` evaluates only inside the development period (the changes older than
the 50 % point of the labelled changes, 3 folds): choices are made there. ``--period final``
uses the whole history with the configured folds (default 5 × 10 %, cut-offs at 50-90 %):
that is a look at the test windows, and each one is recorded in docs/training.md.

``--fleet``: riskml's risk of each project comes from the fleet model (:mod:`riskml.fleet.model`:
one model trained on every listed project's rows before the fold's cut-off, the project a
categorical feature) instead of the project's own model; the baselines stay the project's own
(trained on its rows alone) and are tested on the same rows, so the intervals are paired as
without it. Each project's folds are its own, as without ``--fleet``; in the development
period every project is cut to its own development prefix before the fleet table is built.

    python benchmarks/real_history.py --data DATA --project NAME [--project NAME ...]
        [--period development|final] [--ablation] [--fleet] [--config riskml.toml] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from riskml.config import load_config
from riskml.fleet.model import fleet_union
from riskml.tables import read_changes, read_labels, read_tokens_beside
from riskml.train.ablation import ablation_configs
from riskml.train.dataset import build_dataset
from riskml.train.metrics import MODELS, RISKML
from riskml.train.rolling import combine_folds, format_rolling, rolling_evaluate

DEVELOPMENT_END = 0.5


def load_project(data: Path, name: str) -> pd.DataFrame:
    changes = read_changes(data / name / "changes.parquet")
    labels = read_labels(data / name / "labels.parquet", commits=changes["commit"])
    tokens = read_tokens_beside(data / name / "changes.parquet")
    return build_dataset(changes, labels, load_config(None), tokens=tokens)


def development_prefix(dataset: pd.DataFrame, end: float = DEVELOPMENT_END) -> pd.DataFrame:
    """The changes older than the ``end`` point of the labelled changes, in time order."""
    labelled = dataset.loc[dataset["label"].notna(), "author_time"].sort_values(kind="stable")
    cut = labelled.iloc[int(np.floor(len(labelled) * end))]
    return dataset[dataset["author_time"] < cut].reset_index(drop=True)


def fleet_rolling(name, dataset, fleet, cfg, *, folds, fraction, bootstrap):
    """The rolling evaluation of project ``name`` with riskml's risk from the fleet model: at
    each of the project's folds its own fit gives the baselines and the test rows, the fleet
    fit (every project's rows before the cut-off) riskml's risk and tier on those rows."""
    from riskml.fleet.model import fleet_fold_predictions, on_own_rows
    from riskml.train import fit
    from riskml.train.metrics import evaluate
    from riskml.train.rolling import fold_bounds

    metrics, predictions = [], []
    for k, (cutoff, test_end) in enumerate(fold_bounds(dataset, folds, fraction), start=1):
        own = fit(dataset, cfg, cutoff=cutoff, test_end=test_end)
        preds = own.test_predictions.copy()
        got = on_own_rows(
            preds, fleet_fold_predictions(fleet, cfg, cutoff, test_end, "incidents", name),
            f"{name} fold {k}",
        )  # fmt: skip
        preds[f"risk_{RISKML}"] = got[f"risk_{RISKML}"].to_numpy()
        preds["tier"] = got["tier"].to_numpy()
        m = dict(own.metrics)
        m[RISKML] = evaluate(preds["label"], preds[f"risk_{RISKML}"], preds["effort"],
                             preds["tier"].tolist())  # fmt: skip
        metrics.append(m)
        predictions.append(preds)
    return combine_folds(metrics, predictions, bootstrap=bootstrap, seed=cfg.train.seed,
                         settings={"folds": folds, "fold_fraction": fraction, "fleet": True})  # fmt: skip


def tier_shares(result, shares: dict) -> list[dict]:
    """Per fold: each tier's share of the test window, and whether it lies in [0.5x, 2x]."""
    out = []
    for fold in result.folds:
        rates = fold["metrics"][RISKML].get("tier_rates") or {}
        row = {"fold": fold["fold"]}
        for tier, want in shares.items():
            held = float((rates.get(tier) or {}).get("share") or 0.0)
            row[tier] = {"share": held, "configured": want, "ok": 0.5 * want <= held <= 2 * want}
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--project", action="append", required=True)
    parser.add_argument("--period", choices=("development", "final"), default="development")
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--fleet", action="store_true",
                        help="riskml's risk from the fleet model of the listed projects")  # fmt: skip
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=None, help="default: 3 development, 5 final")
    parser.add_argument("--fold-fraction", type=float, default=0.1)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    config = load_config(args.config)
    folds = args.folds or (3 if args.period == "development" else 5)
    fraction = args.fold_fraction
    report: dict = {
        "period": args.period,
        "folds": folds,
        "fold_fraction": fraction,
        "projects": {},
    }
    if args.fleet and args.ablation:
        parser.error("--fleet and --ablation: one at a time")
    report["fleet"] = bool(args.fleet)
    pooled_metrics, pooled_preds = [], []
    datasets = {}
    for name in args.project:
        dataset = load_project(args.data, name)
        if args.period == "development":
            dataset = development_prefix(dataset)
        datasets[name] = dataset
    fleet = fleet_union(datasets) if args.fleet else None
    for name in args.project:
        t0 = time.perf_counter()
        dataset = datasets[name]
        variants = ablation_configs(dataset, config) if args.ablation else {"all": config}
        project: dict = {"n_changes": int(len(dataset)), "variants": {}}
        for variant, cfg in variants.items():
            if fleet is not None:
                result = fleet_rolling(name, dataset, fleet, cfg, folds=folds,
                                       fraction=fraction, bootstrap=args.bootstrap)  # fmt: skip
            else:
                result = rolling_evaluate(
                    dataset, cfg, folds=folds, fold_fraction=fraction, bootstrap=args.bootstrap
                )
            summary = result.summary()
            entry = {"mean": summary["mean"], "intervals": summary["intervals"]}
            if variant == "all":
                entry["pooled"] = summary["pooled"]
                entry["folds"] = summary["folds"]
                entry["tier_shares"] = tier_shares(result, dict(config.tiers.shares))
                model = (
                    f"; riskml: the fleet model of {len(datasets)} projects"
                    if fleet is not None
                    else ""
                )
                print(f"== {name} ({args.period}, {len(dataset)} changes{model})")
                print(format_rolling(result))
                print(_tier_text(entry["tier_shares"]))
                for fold in result.folds:
                    pooled_metrics.append({**fold["metrics"], "split": fold["split"]})
                    of_fold = result.predictions["fold"] == fold["fold"]
                    pooled_preds.append(result.predictions[of_fold].drop(columns="fold"))
            project["variants"][variant] = entry
        if args.ablation:
            print(_ablation_text(name, project["variants"]))
        project["seconds"] = round(time.perf_counter() - t0, 1)
        report["projects"][name] = project
    if len(args.project) > 1:
        pooled = combine_folds(pooled_metrics, pooled_preds, bootstrap=args.bootstrap)
        print(f"== pooled over {', '.join(args.project)} ({len(pooled.folds)} folds)")
        # the header, then the mean and pooled rows and the intervals (not every fold again)
        print("\n".join(line for line in format_rolling(pooled).splitlines() if line[:1] != " "
                        and not line[:1].isdigit()))  # fmt: skip
        report["pooled"] = {k: v for k, v in pooled.summary().items() if k != "folds"}
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


def _tier_text(rows: list[dict]) -> str:
    lines = ["tier shares on each fold's test window (configured; ok = within 0.5x-2x):"]
    for row in rows:
        cells = [
            f"{tier} {cell['share']:.1%} ({cell['configured']:.0%}{'' if cell['ok'] else ' OUT'})"
            for tier, cell in row.items()
            if tier != "fold"
        ]
        lines.append(f"  fold {row['fold']}: " + ", ".join(cells))
    return "\n".join(lines)


def _ablation_text(name: str, variants: dict) -> str:
    base = variants["all"]["mean"][RISKML]
    lines = [f"ablation on {name}: mean over folds (change against all features)"]
    lines.append(f"  {'variant':<18}{'roc_auc':>9}{'Δ':>8}{'capt@10':>9}{'Δ':>8}")
    for variant, entry in variants.items():
        m = entry["mean"][RISKML]
        lines.append(
            f"  {variant:<18}{m['roc_auc']:>9.4f}{m['roc_auc'] - base['roc_auc']:>+8.4f}"
            f"{m['capture_at_10']:>9.4f}{m['capture_at_10'] - base['capture_at_10']:>+8.4f}"
        )
    for model in MODELS[1:]:
        m = variants["all"]["mean"][model]
        lines.append(f"  {model:<18}{m['roc_auc']:>9.4f}{'':>8}{m['capture_at_10']:>9.4f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
