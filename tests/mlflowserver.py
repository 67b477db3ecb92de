"""A real ``mlflow server`` for the tests, on any backend store, on 127.0.0.1 at a free port.

Started with this interpreter's MLflow (``sys.executable -m mlflow``), without the caller's
``MLFLOW_*`` variables, serving its artifacts itself (``--serve-artifacts``: clients see
``mlflow-artifacts:`` URIs, remote artifacts); killed with its workers on the way out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

START_SECONDS = 60


class ServerDidNotStart(RuntimeError):
    """The server exited or never answered ``/health``; the message ends with its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    """Whether the server at ``url`` answers ``GET /health`` with 200."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def client_env(url: str) -> dict[str, str]:
    """The variables that point riskml and MLflow at the server, tracking and registry both
    (the session's SQLite fixture may have set ``MLFLOW_REGISTRY_URI`` in ``os.environ``)."""
    return {"MLFLOW_TRACKING_URI": url, "MLFLOW_REGISTRY_URI": url}


@contextlib.contextmanager
def mlflow_server(
    backend_uri: str, root: Path, start_seconds: float = START_SECONDS
) -> Iterator[dict]:
    """``mlflow server --backend-store-uri backend_uri``, artifacts in ``root/artifacts``, log in
    ``root/server.log``, for the block: ``{"url", "artifacts", "log"}``.

    Raises :class:`ServerDidNotStart` when it exits or is not healthy within
    ``start_seconds``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # no background job runner: it forks eight ~240 MB workers and leaves a store in /dev/shm
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_uri,
        "--serve-artifacts",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + start_seconds
            while not healthy(url):
                why = None
                if proc.poll() is not None:
                    why = f"mlflow server exited with {proc.returncode}"
                elif time.monotonic() > deadline:
                    why = f"mlflow server not healthy after {start_seconds} s"
                if why is not None:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise ServerDidNotStart(f"{why}; log:\n{tail}")
                time.sleep(0.25)
            yield {"url": url, "artifacts": root / "artifacts", "log": log_path}
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
