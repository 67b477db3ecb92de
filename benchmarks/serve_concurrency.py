"""Benchmark `riskml serve` under concurrent clients: one process against `--workers 2`.

    python benchmarks/serve_concurrency.py [--commits 5000] [--clients 8] [--seconds 20]
                                           [--bodies 96] [--fresh-connections]
                                           [--keep DIR [--reuse]]

Builds the world of score_bench.py (a generated repository of ``--commits`` commits, mined,
labelled, trained and registered in a fresh SQLite MLflow store, with 40 pending commits on
top), then starts a real `riskml serve` twice — one process, then `--workers 2` — and against
each runs 1 client (the baseline), then ``--clients`` clients at once, for ``--seconds`` each.
Clients are separate processes (their own CPU does not queue behind one GIL), each with one
keep-alive connection (``--fresh-connections``: a new connection per request, as a CI job's
`curl` opens), sending a fixed mix of ``--bodies`` `POST /v1/score` bodies in their own
shuffled order: 3 in 8 a pending commit, 3 in 8 an already-mined commit, 2 in 8 a branch of
2-5 pending commits. Every distinct body is sent before the clock starts (the rows of pending commits are
cached, the state is brought up to them), so the figures are a warm server's.

``--keep DIR --reuse`` measures a world built before (score_bench.py's, or any folder with
``riskml.toml``, ``gen/repo`` and ``data/repo/``; ``--tracking-uri`` names its MLflow store
when it is not ``DIR/mlflow.db``): the newest non-merge commits of HEAD are the "pending" ones.

Prints, per configuration and client count: requests, requests/s, latency p50 / p95 / p99 and
the answers that were not 200, side by side.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
from score_bench import PENDING, build, pct, sh, start_server

# what a client process needs from the run: the server, its bodies, when to start and stop
ClientJob = tuple[str, list[dict], float, float, bool]


def request_mix(pending: list[str], mined: list[str], seed: int, size: int = 96) -> list[dict]:
    """``size`` bodies: 3/8 single pending commits, 3/8 single mined commits, 2/8 branches of
    2-5 consecutive pending commits (``base`` the commit before the first)."""
    rng = random.Random(seed)
    bodies = []
    for i in range(size):
        kind = i % 8
        if kind < 3:
            bodies.append({"repo": "repo", "rev": rng.choice(pending)})
        elif kind < 6:
            bodies.append({"repo": "repo", "rev": rng.choice(mined)})
        else:
            length = rng.randint(2, 5)
            start = rng.randrange(0, len(pending) - length)
            bodies.append({"repo": "repo", "base": pending[start], "head": pending[start + length]})
    return bodies


def client(job: ClientJob) -> tuple[list[float], int, float]:
    """One client: ``bodies`` in a loop from ``start_at`` until ``stop_at`` (monotonic clock,
    the same in every process); (latencies in ms, answers that were not 200, time it ended)."""
    base, bodies, start_at, stop_at, fresh = job
    limits = httpx.Limits(max_keepalive_connections=0) if fresh else httpx.Limits()
    latencies, failed = [], 0
    with httpx.Client(base_url=base, timeout=120, limits=limits) as http:
        time.sleep(max(0.0, start_at - time.monotonic()))
        i = 0
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            response = http.post("/v1/score", json=bodies[i % len(bodies)])
            latencies.append((time.perf_counter() - t0) * 1000)
            failed += response.status_code != 200
            i += 1
    return latencies, failed, time.monotonic()


def load(base: str, bodies: list[dict], clients: int, seconds: float, fresh: bool, seed: int):
    """``clients`` client processes at once for ``seconds``: (requests, requests/s, latencies,
    answers that were not 200)."""
    orders = []
    for c in range(clients):
        mine = list(bodies)
        random.Random(seed * 1000 + c).shuffle(mine)
        orders.append(mine)
    with ProcessPoolExecutor(clients) as pool:
        list(pool.map(_ready, range(clients)))  # the processes are up before the clock starts
        start_at = time.monotonic() + 0.5
        jobs = [(base, order, start_at, start_at + seconds, fresh) for order in orders]
        results = list(pool.map(client, jobs))
    latencies = [ms for lat, _, _ in results for ms in lat]
    failed = sum(f for _, f, _ in results)
    elapsed = max(end for _, _, end in results) - start_at
    return len(latencies), len(latencies) / elapsed, latencies, failed


def _ready(_: int) -> bool:
    return True


def warm(base: str, bodies: list[dict], passes: int) -> None:
    """Every body ``passes`` times, each on a new connection (with several workers, each
    worker sees most of them: rows of pending commits cached, its state brought up to them)."""
    with httpx.Client(base_url=base, timeout=120,
                      limits=httpx.Limits(max_keepalive_connections=0)) as http:  # fmt: skip
        for _ in range(passes):
            for body in bodies:
                response = http.post("/v1/score", json=body)
                if response.status_code != 200:
                    raise SystemExit(f"warm-up failed: {response.status_code} {response.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="Each measured window.")
    parser.add_argument("--bodies", type=int, default=96, help="Distinct request bodies.")
    parser.add_argument("--fresh-connections", action="store_true",
                        help="A new connection for every request.")  # fmt: skip
    parser.add_argument("--keep", type=Path, default=None, help="Build the world here and keep it.")
    parser.add_argument("--reuse", action="store_true", help="Reuse the world already in --keep.")
    parser.add_argument("--tracking-uri", default=None,
                        help="The MLflow store of the world (default: its own mlflow.db).")  # fmt: skip
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="serve_concurrency_"))
    work.mkdir(parents=True, exist_ok=True)
    work = work.resolve()
    uri = args.tracking_uri or f"sqlite:///{work / 'mlflow.db'}"
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri)
    env.pop("MLFLOW_REGISTRY_URI", None)
    env.pop("RISKML_API_TOKEN", None)
    if args.reuse and (work / "riskml.toml").is_file():
        repo, config = work / "gen" / "repo", work / "riskml.toml"
        pending = sh("git", "rev-list", "--reverse", "--no-merges", "-n", str(PENDING), "HEAD",
                     cwd=repo).split()  # fmt: skip
        print(f"world: reused {work}")
    else:
        repo, config, pending = build(work, args.commits, args.seed, env)
    mined = sh("git", "rev-list", "--no-merges", "--max-count=2000", f"{pending[0]}~1",
               cwd=repo).split()  # fmt: skip
    bodies = request_mix(pending, mined, args.seed, args.bodies)

    rows = []
    for name, extra, passes in (
        ("one process", (), 1),
        ("serve --workers 2", ("--workers", "2"), 3),
    ):
        server, base = start_server(work, config, env, *extra)
        try:
            warm(base, bodies, passes)
            for clients in (1, args.clients):
                n, rate, latencies, failed = load(
                    base, bodies, clients, args.seconds, args.fresh_connections, args.seed
                )
                rows.append((name, clients, n, rate, latencies, failed))
        finally:
            server.terminate()
            server.wait(timeout=30)

    connection = "a new connection per request" if args.fresh_connections else "keep-alive"
    print(f"\nPOST /v1/score, {len(bodies)} bodies (3/8 pending commits, 3/8 mined commits, "
          f"2/8 branches of 2-5 commits), {args.seconds:g} s a window, {connection}")  # fmt: skip
    print(f"{'server':<20}{'clients':>8}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}{'not 200':>9}")  # fmt: skip
    for name, clients, n, rate, latencies, failed in rows:
        print(f"{name:<20}{clients:>8}{n:>10}{rate:>9.1f}{pct(latencies, 50):>9.1f}"
              f"{pct(latencies, 95):>9.1f}{pct(latencies, 99):>9.1f}{failed:>9}")  # fmt: skip
    one = {c: r for name, c, _, r, _, _ in rows if name == "one process"}
    two = {c: r for name, c, _, r, _, _ in rows if name != "one process"}
    many = args.clients
    print(f"\n{many} clients: --workers 2 at {two[many] / one[many]:.2f}x one process's "
          f"throughput; one process at {one[many] / one[1]:.2f}x its 1-client baseline, "
          f"--workers 2 at {two[many] / two[1]:.2f}x  (load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores)")  # fmt: skip


if __name__ == "__main__":
    main()
