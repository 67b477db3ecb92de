"""How long scoring takes to give up on an MLflow registry it cannot reach.

  riskml     resolving ``models:/<name>@champion`` the way `riskml score` and `riskml serve`
             do (``riskml.score.model.current_version``), with riskml's retry settings for
             scoring (``SCORING_HTTP_DEFAULTS``: 2 retries, back-off factor 1)
  baseline   the same call with MLflow's own defaults set explicitly (7 retries, back-off
             factor 2, the values MLflow uses when nothing is set)

Both run in a fresh process against a closed port on 127.0.0.1 (connection refused: the
registry is down), one after the other in this run. Each must fail with one line.

Usage: python benchmarks/registry_bench.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

CALL = """
from riskml.errors import RiskmlError
from riskml.score.model import current_version
try:
    current_version("models:/bench-risk@champion")
except RiskmlError as exc:
    print(str(exc)[:120])
"""

MLFLOW_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "7",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(extra: dict[str, str]) -> tuple[float, str]:
    url = f"http://127.0.0.1:{closed_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP_REQUEST")}
    env.update(MLFLOW_TRACKING_URI=url, MLFLOW_REGISTRY_URI=url, **extra)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CALL], env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, out.stdout.strip()


def main() -> None:
    ours, ours_msg = run({})
    base, base_msg = run(MLFLOW_DEFAULTS)
    print(f"{'measure':<58}{'seconds':>10}")
    print(f"{'riskml: unreachable registry, one-line error after':<58}{ours:>10.1f}")
    print(f"{'baseline: MLflow defaults (7 retries, factor 2)':<58}{base:>10.1f}")
    print(f"\nriskml's error:   {ours_msg}\nbaseline's error: {base_msg}")
    print(f"\n{base / ours:.0f}x sooner  (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
