#!/usr/bin/env python3
"""Scheduled retraining: mine incrementally, label, train, gate and register.

A scheduler (cron, Airflow, a CI schedule...) calls::

    python pipelines/retrain.py --repo PATH [--incidents FILE] [--rev REV]

Exit codes (pipelines/README.md):
    0   trained and promoted: the new version is the `champion`; or (status "identical") the
        same data and settings as the champion: nothing registered, the champion stays
    10  trained but not promoted: the new version is the `challenger` (the gate said why)
    2   bad input (not a repository, missing incidents file, unknown rev, no labels...)
    1   failure: MLflow could not be reached or written (one line on stderr; metrics.json and
        the local model copy were written), or a bug / the disk failed (a traceback)

The last line on stdout is one JSON object a scheduler can parse (status, version, metrics).
This file composes ``riskml.run.retrain`` — the same training orchestration as ``riskml run``
and ``riskml train`` (``riskml.train.pipeline.train_and_register``) — and re-implements nothing.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import traceback
from pathlib import Path

EXIT_PROMOTED = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_CHALLENGER = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="retrain.py",
        description="Scheduled retraining: mine incrementally, label, train, gate and register.",
        epilog="exit codes: 0 promoted, 10 challenger (not promoted), 2 bad input, 1 failure",
    )
    parser.add_argument("--repo", required=True, type=Path, help="path of the git repository")
    parser.add_argument("--incidents", type=Path, help="incidents file (CSV/JSON/JSONL)")
    parser.add_argument("--rev", default="HEAD", help="mine up to this revision (default HEAD)")
    parser.add_argument("--repo-name", help="name of data/<NAME>/ (default: folder name)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="root of data/<repo>/")
    parser.add_argument(
        "--models-dir", type=Path, default=Path("models"), help="root of models/<name>/"
    )
    parser.add_argument("--config", type=Path, help="riskml.toml to use")
    parser.add_argument("--quiet", action="store_true", help="no stage progress on stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: usage error is 2, --help is 0
        return int(exc.code or 0)
    from riskml.config import Workspace, load_config
    from riskml.errors import NoSpaceError, RiskmlError
    from riskml.processes import Interrupted, stop_on_signals
    from riskml.run import retrain
    from riskml.tables import no_space, no_space_message
    from riskml.train.pipeline import TrackingError

    try:
        with stop_on_signals():  # SIGTERM unwinds: the MLflow run ends KILLED
            config = load_config(args.config, repo=args.repo if args.repo.exists() else None)
            workspace = Workspace(config, args.data_dir, args.models_dir, not args.quiet)
            result = retrain(
                args.repo, args.incidents, workspace, rev=args.rev, repo_name=args.repo_name
            )
    except (TrackingError, NoSpaceError) as exc:  # a store down, a full disk: not the input
        print(f"retrain: error: {exc}", file=sys.stderr)
        print(json.dumps({"status": "failed", "error": str(exc)}))
        return EXIT_FAILURE
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        name = signal.Signals(signum).name
        print(f"retrain: interrupted ({name})", file=sys.stderr)
        print(json.dumps({"status": "interrupted", "error": name}))
        return 128 + signum
    except RiskmlError as exc:
        print(f"retrain: error: {exc}", file=sys.stderr)
        print(json.dumps({"status": "bad_input", "error": str(exc)}))
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - a scheduler needs an exit code, not a crash
        if no_space(exc):  # a write outside riskml's writers found the disk full
            print(f"retrain: error: {no_space_message(exc)}", file=sys.stderr)
            print(json.dumps({"status": "failed", "error": no_space_message(exc)}))
            return EXIT_FAILURE
        traceback.print_exc()
        print(json.dumps({"status": "failed", "error": f"{type(exc).__name__}: {exc}"}))
        return EXIT_FAILURE
    info = result.model_info
    ours = result.metrics.get("riskml", {}) if isinstance(result.metrics, dict) else {}
    status = "promoted" if result.promoted else "challenger"
    if info.get("decision") == "identical":  # the champion is this model: nothing registered
        status = "identical"
    summary = {
        "status": status,
        "repo": result.repo_name,
        "rev": result.rev,
        "changes": result.n_changes,
        "new_changes": result.n_new,
        "labels": result.labels,
        "proxy_labels": result.proxy,
        "model": {k: info.get(k) for k in ("name", "version", "run_id", "alias", "reason")},
        "roc_auc": ours.get("roc_auc"),
        "pr_auc": ours.get("pr_auc"),
        "seconds": {k: round(v, 2) for k, v in result.timings.items()},
    }
    print(
        f"retrain: {result.repo_name}: {result.n_changes} changes ({result.n_new} new); "
        f"model {info.get('name')} v{info.get('version')} -> {info.get('alias')}"
        + (f" ({info['reason']})" if info.get("reason") else "")
    )
    print(json.dumps(summary, default=str))
    return EXIT_PROMOTED if result.promoted else EXIT_CHALLENGER


if __name__ == "__main__":
    sys.exit(main())
