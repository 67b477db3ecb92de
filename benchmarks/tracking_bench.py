"""How long `log_and_register` takes, beside the floor cost of any MLflow run, in one process run.

On a public JIT table (default: ../shared/data/jit-benchmark/openstack.csv) fitted once, in a
fresh SQLite store in a temporary directory:

  import     ``import mlflow`` (paid once per process; the CLI pays it only when it logs)
  migrate    creating the fresh store (paid once per store)
  baseline   an empty MLflow run: start_run + one metric + end (the floor of any run)
  first      log_and_register, first version (no champion: no gate evaluation)
  gated      log_and_register again (the champion is downloaded and re-evaluated on the same
             test rows), median of ``--repeat`` calls
  parts      one gated call split up: params/tags/metrics, dataset input, plots, model,
             gate, registration

Usage: python benchmarks/tracking_bench.py [--dataset FILE] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "jit-benchmark" / "openstack.csv"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if not args.dataset.is_file():
        print(f"dataset not found: {args.dataset}", file=sys.stderr)
        return 2

    from riskml.config import Config
    from riskml.train import fit, load_public_dataset

    data = load_public_dataset(args.dataset)
    started = time.perf_counter()
    result = fit(data, Config(), label_mode="public")
    fit_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="riskml-tracking-bench-") as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        os.environ.pop("MLFLOW_REGISTRY_URI", None)

        t = time.perf_counter()
        import mlflow

        import_s = time.perf_counter() - t

        from riskml.train import tracking

        t = time.perf_counter()
        with tracking.quiet():
            experiment = tracking.ensure_experiment("bench")
        migrate_s = time.perf_counter() - t

        t = time.perf_counter()
        with tracking.quiet(), mlflow.start_run(experiment_id=experiment):
            mlflow.log_metric("x", 1.0)
        baseline_s = time.perf_counter() - t

        config = Config()
        config.train.experiment = "bench"
        first = tracking.log_and_register(result, config, dataset=data, dataset_path=args.dataset)
        gated = []
        for _ in range(args.repeat):
            out = tracking.log_and_register(result, config, dataset=data, dataset_path=args.dataset)
            gated.append(out["seconds"])
        parts = _parts(result, data, config, args.dataset)

    print(f"table: {args.dataset.name}, {len(data)} rows, {len(result.test_predictions)} test rows")
    print(f"fit (riskml + baselines, for scale):      {fit_s:7.2f} s")
    print(f"import mlflow:                            {import_s:7.2f} s")
    print(f"fresh SQLite store (migration):           {migrate_s:7.2f} s")
    print(f"baseline: empty MLflow run (1 metric):    {baseline_s:7.2f} s")
    print(f"log_and_register, first version:          {first['seconds']:7.2f} s")
    print(
        f"log_and_register, gated (median of {args.repeat}):   {statistics.median(gated):7.2f} s"
        f"   ({first['decision']}, then {out['decision']})"
    )
    print("one gated call, by part:")
    for name, seconds in parts.items():
        print(f"  {name:<36}{seconds:7.2f} s")
    return 0


def _parts(result, data, config, dataset_path) -> dict[str, float]:
    """The steps of one gated log_and_register, timed separately (same calls, same order)."""
    import mlflow
    from mlflow import MlflowClient

    from riskml.jsonvalue import plain
    from riskml.train import tracking
    from riskml.train.artifact import ARTIFACT
    from riskml.train.plots import write_plots

    times: dict[str, float] = {}
    client = MlflowClient()
    name = config.train.model_name

    def clock(label):
        class _Clock:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                times[label] = time.perf_counter() - self.t

        return _Clock()

    with tracking.quiet(), mlflow.start_run(experiment_id=tracking.ensure_experiment("bench")):
        with clock("params, tags, metrics, metrics.json"):
            mlflow.log_params(tracking.run_params(config, result))
            mlflow.log_metrics(tracking.run_metrics(result.metrics))
            mlflow.set_tags({"repo": "bench"})
            mlflow.log_dict(plain(result.metrics), "metrics.json")
        with clock("dataset input"):
            mlflow.log_input(
                tracking._dataset_input(data, dataset_path, "bench"), context="training"
            )
        with tempfile.TemporaryDirectory() as tmp, clock("plots (5 PNG)"):
            write_plots(result.test_predictions, result.importance, Path(tmp) / "plots")
            mlflow.log_artifacts(str(Path(tmp) / "plots"), "plots")
        with tempfile.TemporaryDirectory() as tmp, clock("model (save + log_model)"):
            saved = Path(tmp) / ARTIFACT
            result.model.save(saved)
            logged = tracking._log_pyfunc(result.model, saved, result.test_frame)
        with clock("gate (load champion, evaluate both)"):
            tracking.gate(client, name, result.model, result, result.test_frame, config)
        with clock("register + alias"), contextlib.redirect_stderr(io.StringIO()):
            version = mlflow.register_model(logged.model_uri, name)
            client.set_registered_model_alias(name, "challenger", str(version.version))
    return times


if __name__ == "__main__":
    sys.exit(main())
