"""Benchmark `riskml serve` and `riskml score` on a mined generated repository.

    python benchmarks/score_bench.py [--commits 5000] [--requests 300] [--keep DIR]

Builds a world once (generate >= 5,000 commits, mine, label, train and register the model in
a fresh SQLite MLflow store), adds pending commits on top of the mined history, then measures:

- HTTP latency p50 / p95 of `POST /v1/score` for one commit against a warm `riskml serve`
  (pending commits and already-mined ones), beside `GET /healthz` on the same server (the
  floor of the HTTP stack, measured in the same run);
- throughput with 2 and 4 concurrent client processes, beside 1 client; and the same against
  `riskml serve --workers 2` (one process per core), beside the single process;
- keep-alive latency of `serve --workers 2`, beside the same worker app under uvicorn's own
  `workers=2` socket (Nagle's algorithm left on);
- the wall time of one `riskml score --rev` from a cold start (a fresh process, default model
  URI `models:/<name>@champion`), beside the same command with the model loaded through MLflow
  (`--model runs:/…`, what the fast path avoids) and a bare `python -c pass`.

Bars: HTTP p50 <= 50 ms, CLI <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HTTP_P50_BAR_MS = 50.0
CLI_BAR_S = 3.0
MODEL = "bench-risk"
PENDING = 40


def sh(*args: str, cwd: Path, env: dict | None = None) -> str:
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed: {out.stderr[-2000:]}")
    return out.stdout.strip()


def riskml(*args: str, cwd: Path, env: dict) -> str:
    return sh(sys.executable, "-m", "riskml", *args, cwd=cwd, env=env)


def build(work: Path, commits: int, seed: int, env: dict) -> tuple[Path, Path, list[str]]:
    from riskml.synth import generate

    t0 = time.perf_counter()
    synth = generate(work / "gen", commits=commits, seed=seed)
    repo = synth.repo
    config = work / "riskml.toml"
    config.write_text(
        f'[train]\nmodel_name = "{MODEL}"\n[serve.repos]\nrepo = "{repo}"\n', encoding="utf-8"
    )
    riskml("mine", "--repo", str(repo), "--config", str(config), cwd=work, env=env)
    riskml("label", "--repo", str(repo), "--config", str(config), "--changes",
           "data/repo/changes.parquet", "--incidents", str(synth.incidents), cwd=work, env=env)  # fmt: skip
    riskml("train", "--repo", str(repo), "--config", str(config), "--changes",
           "data/repo/changes.parquet", "--labels", "data/repo/labels.parquet",
           cwd=work, env=env)  # fmt: skip
    # Pending work on top of the mined history: new commits on the main line.
    last = int(sh("git", "log", "-1", "--format=%at", cwd=repo))
    pending = []
    for i in range(PENDING):
        path = repo / "payments" / f"bench_{i}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text("def f():\n    return 1\n" * (i + 1), encoding="utf-8")
        stamp = f"{last + (i + 1) * 3600} +0000"
        genv = dict(env, GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp,
                    GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@acme.example",
                    GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@acme.example")  # fmt: skip
        sh("git", "add", str(path), cwd=repo, env=genv)
        sh("git", "commit", "-q", "-m", f"bench change {i}", cwd=repo, env=genv)
        pending.append(sh("git", "rev-parse", "HEAD", cwd=repo))
    print(f"world: {commits} commits generated, mined, labelled, trained in "
          f"{time.perf_counter() - t0:.1f} s; {len(pending)} pending commits")  # fmt: skip
    return repo, config, pending


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def timed_requests(client: httpx.Client, bodies: list[dict | None]) -> list[float]:
    out = []
    for body in bodies:
        t0 = time.perf_counter()
        r = client.get("/healthz") if body is None else client.post("/v1/score", json=body)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"request failed: {r.status_code} {r.text[:500]}")
    return out


def cpu_seconds(pid: int) -> float:
    """user + sys CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client(base: str, bodies: list[dict]) -> int:
    with httpx.Client(base_url=base, timeout=60) as client:
        timed_requests(client, bodies)
    return len(bodies)


def throughput(base: str, bodies: list[dict], clients: int) -> float:
    """Requests per second with ``clients`` client processes, one keep-alive connection each
    (processes, so the clients' own CPU does not queue behind one GIL)."""
    from concurrent.futures import ProcessPoolExecutor

    chunks = [bodies[i::clients] for i in range(clients)]
    with ProcessPoolExecutor(clients) as pool:
        list(pool.map(_client, [base] * clients, [[b[0]] for b in chunks]))  # start them
        t0 = time.perf_counter()
        done = sum(pool.map(_client, [base] * clients, chunks))
        return done / (time.perf_counter() - t0)


def start_server(work: Path, config: Path, env: dict, *extra: str) -> tuple[subprocess.Popen, str]:
    """`riskml serve` on a free port, once its model is loaded; (process, base URL)."""
    port = free_port()
    return wait_loaded(subprocess.Popen(
        [sys.executable, "-m", "riskml", "serve", "--config", str(config), "--port", str(port),
         *extra],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    ), port)  # fmt: skip


# the baseline for riskml's own worker socket: the same worker app under uvicorn's own
# `workers=2`, whose listening socket leaves Nagle's algorithm on (riskml.serve._TcpConfig)
UVICORN_WORKERS = """
import sys, uvicorn
uvicorn.run("riskml.serve:worker_app", factory=True, workers=2, host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def start_uvicorn_workers(work: Path, config: Path, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    spec = {"config": str(config), "model_uri": None, "data_dir": str(work / "data")}
    env = dict(env, RISKML_SERVE_WORKER=json.dumps(spec), OMP_NUM_THREADS="1")
    return wait_loaded(subprocess.Popen(
        [sys.executable, "-c", UVICORN_WORKERS, str(port)],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    ), port)  # fmt: skip


def keepalive_p50(base: str, bodies: list[dict | None]) -> float:
    """p50 latency of ``bodies`` on one keep-alive connection, after a warm-up pass."""
    with httpx.Client(base_url=base, timeout=60) as client:
        timed_requests(client, bodies)
        return pct(timed_requests(client, bodies), 50)


def wait_loaded(server: subprocess.Popen, port: int) -> tuple[subprocess.Popen, str]:
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).json().get("model_loaded"):
                return server, base
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit(f"server did not start: {server.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)


def cold_cli(work: Path, env: dict, *args: str, runs: int = 3) -> tuple[float, float]:
    """Median wall time and CPU time (user + sys of the child) of a fresh process."""
    import resource

    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=work, env=env, capture_output=True, check=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", type=Path, default=None, help="Build the world here and keep it.")
    parser.add_argument("--reuse", action="store_true", help="Reuse the world already in --keep.")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="score_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    work = work.resolve()
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}")
    env.pop("MLFLOW_REGISTRY_URI", None)
    env.pop("RISKML_API_TOKEN", None)
    if args.reuse and (work / "riskml.toml").is_file():
        repo, config = work / "gen" / "repo", work / "riskml.toml"
        pending = sh("git", "rev-list", "--reverse", "-n", str(PENDING), "HEAD", cwd=repo).split()
        print(f"world: reused {work}")
    else:
        repo, config, pending = build(work, args.commits, args.seed, env)
    mined = sh("git", "rev-list", "--no-merges", "--max-count=2000", f"{pending[0]}~1",
               cwd=repo).split()  # fmt: skip
    rng = random.Random(args.seed)

    server, base = start_server(work, config, env)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            body = {"repo": "repo", "rev": pending[0]}
            timed_requests(client, [body] * 3)  # warm: state, tables, model in memory
            # each new main-line commit once, oldest first (as CI scores them when they land):
            # the row is computed, and the previous commit is mined into the state
            lat_new = timed_requests(client, [{"repo": "repo", "rev": r} for r in pending[1:]])
            n = args.requests
            pending_bodies = [{"repo": "repo", "rev": rng.choice(pending)} for _ in range(n)]
            mined_bodies = [{"repo": "repo", "rev": rng.choice(mined)} for _ in range(n)]
            health = timed_requests(client, [None] * n)
            cpu0 = cpu_seconds(server.pid)
            lat_pending = timed_requests(client, pending_bodies)
            lat_mined = timed_requests(client, mined_bodies)
            cpu_ms = (cpu_seconds(server.pid) - cpu0) * 1000 / (2 * n)
        mixed = pending_bodies + mined_bodies
        rng.shuffle(mixed)
        tput1 = throughput(base, mixed[:n], 1)
        tput2 = throughput(base, mixed[:n], 2)
        tput4 = throughput(base, mixed[:n], 4)
    finally:
        server.terminate()
        server.wait(timeout=30)
    server, base = start_server(work, config, env, "--workers", "2")
    try:
        for _ in range(8):  # warm both workers: each new connection goes to either
            with httpx.Client(base_url=base, timeout=60) as client:
                timed_requests(client, mixed[:PENDING])
        # each keep-alive connection stays with the worker that accepted it, so the figure
        # depends on how the kernel spread them: 5 draws, new connections each time
        tput2w = sorted(throughput(base, mixed[:n], 2) for _ in range(5))
        tput4w = sorted(throughput(base, mixed[:n], 4) for _ in range(5))
        health_w = keepalive_p50(base, [None] * 100)
        score_w = keepalive_p50(base, mixed[:100])
    finally:
        server.terminate()
        server.wait(timeout=30)
    server, base = start_uvicorn_workers(work, config, env)
    try:
        for _ in range(8):
            with httpx.Client(base_url=base, timeout=60) as client:
                timed_requests(client, mixed[:PENDING])
        health_u = keepalive_p50(base, [None] * 100)
        score_u = keepalive_p50(base, mixed[:100])
    finally:
        server.terminate()
        server.wait(timeout=30)

    run_id = json.loads((work / "models" / MODEL / "model.json").read_text())["info"].get("run_id")
    score_args = ("-m", "riskml", "score", "--repo", str(repo), "--config", str(config),
                  "--state", "data/repo/changes.state", "--rev", pending[-1])  # fmt: skip
    cli = cold_cli(work, env, *score_args)
    via_mlflow = cold_cli(work, env, *score_args, "--model", f"runs:/{run_id}/model", runs=1)
    bare = cold_cli(work, env, "-c", "pass")

    both = lat_new + lat_pending + lat_mined
    p50, p95 = pct(both, 50), pct(both, 95)
    print()
    print(f"{'measure':<52}{'value':>12}{'bar / baseline':>26}")
    rows = [
        ("HTTP p50, one commit (all requests below)", f"{p50:.1f} ms", f"bar <= {HTTP_P50_BAR_MS:.0f} ms"),
        ("HTTP p95, one commit (all requests below)", f"{p95:.1f} ms", ""),
        (f"  p50 / p95, {len(lat_new)} new commits, first request", f"{pct(lat_new, 50):.1f} / {pct(lat_new, 95):.1f}", "ms"),
        (f"  p50 / p95, {n} requests for pending commits", f"{pct(lat_pending, 50):.1f} / {pct(lat_pending, 95):.1f}", "ms"),
        (f"  p50 / p95, {n} requests for mined commits", f"{pct(lat_mined, 50):.1f} / {pct(lat_mined, 95):.1f}", "ms"),
        ("server CPU per request (pending + mined)", f"{cpu_ms:.1f} ms", ""),
        ("HTTP p50 GET /healthz (stack floor)", f"{pct(health, 50):.1f} ms", "baseline"),
        ("throughput, 2 concurrent clients", f"{tput2:.1f} req/s", f"1 client: {tput1:.1f} req/s"),
        ("throughput, 2 clients, `serve --workers 2`, median", f"{tput2w[2]:.1f} req/s", f"1 worker: {tput2:.1f} req/s"),
        ("  min / max of 5 draws", f"{tput2w[0]:.0f} / {tput2w[-1]:.0f}", "req/s"),
        ("throughput, 4 clients, `serve --workers 2`, median", f"{tput4w[2]:.1f} req/s", f"1 worker: {tput4:.1f} req/s"),
        ("  min / max of 5 draws", f"{tput4w[0]:.0f} / {tput4w[-1]:.0f}", "req/s"),
        ("`--workers 2` keep-alive p50 GET /healthz", f"{health_w:.1f} ms", f"uvicorn's socket: {health_u:.1f} ms"),
        ("`--workers 2` keep-alive p50 POST /v1/score", f"{score_w:.1f} ms", f"uvicorn's socket: {score_u:.1f} ms"),
        ("CLI cold start `riskml score --rev` (median of 3)", f"{cli[0]:.2f} s", f"bar <= {CLI_BAR_S:.0f} s"),
        ("  its CPU time (user + sys)", f"{cli[1]:.2f} s", ""),
        ("CLI cold start, model through MLflow (runs:/)", f"{via_mlflow[0]:.2f} s", f"baseline (CPU {via_mlflow[1]:.2f} s)"),
        ("python -c pass", f"{bare[0]:.2f} s", "baseline"),
    ]  # fmt: skip
    for name, value, bar in rows:
        print(f"{name:<52}{value:>12}{bar:>26}")
    verdict = "PASS" if p50 <= HTTP_P50_BAR_MS and cli[0] <= CLI_BAR_S else "FAIL"
    print(f"\nbars: HTTP p50 {p50:.1f} ms <= {HTTP_P50_BAR_MS:.0f} ms, CLI {cli[0]:.2f} s <= "
          f"{CLI_BAR_S:.0f} s: {verdict}  (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")  # fmt: skip


if __name__ == "__main__":
    main()
