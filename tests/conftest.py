"""Shared fixtures: one real MLflow SQLite store per session, a real PostgreSQL and an
``mlflow server`` on it (started on first use), the real CLI, generated repos."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Tests must never touch the user's git configuration or prompt.
os.environ.setdefault("GIT_TERMINAL_PROMPT", "0")
os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
os.environ.setdefault("GIT_AUTHOR_NAME", "riskml tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@riskml.invalid")
os.environ.setdefault("GIT_COMMITTER_NAME", "riskml tests")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "tests@riskml.invalid")

# A PATH with the system's tools (git) but no riskml, mlflow or uvicorn: what a fresh machine has
# outside the project's venv.
SYSTEM_PATH = os.pathsep.join(["/usr/bin", "/bin"])
# The venv's own bin directory: tools the tests start must come from here, never from PATH.
VENV_BIN = Path(sys.executable).parent


def venv_env(env: dict | None = None) -> dict[str, str]:
    """``env`` (default ``os.environ``) with PATH = the venv's bin directory, then the system's.

    For tools that start other tools by name (``mlflow models serve`` execs ``uvicorn``), so a
    test passes on a fresh machine where they exist only in the venv, and fails here if a
    command ever relies on something else on the caller's PATH.
    """
    out = dict(os.environ if env is None else env)
    out["PATH"] = os.pathsep.join([str(VENV_BIN), SYSTEM_PATH])
    return out


@pytest.fixture(autouse=True)
def _mlflow_follows_the_environment():
    """After each test, point MLflow's process-wide tracking URI back at ``MLFLOW_TRACKING_URI``.

    ``mlflow.set_tracking_uri`` (riskml calls it when it opens an experiment) keeps the URI in a
    module global as well as in the environment. A test that points riskml at its own server
    under ``monkeypatch.setenv`` gets the environment back at its end, but not that global:
    the next test's ``MlflowClient()`` would still talk to the stopped server.
    """
    yield
    mlflow = sys.modules.get("mlflow")
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if mlflow is not None and uri and mlflow.get_tracking_uri() != uri:
        mlflow.set_tracking_uri(uri)


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real MLflow tracking store and registry (SQLite), migrated once per session.

    Sets ``MLFLOW_TRACKING_URI`` for the session so CLI subprocesses use it too.
    """
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["MLFLOW_REGISTRY_URI"] = uri
    return uri


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (``tests/pgserver.py``) on 127.0.0.1, in a temporary directory,
    for the session; stopped and removed at teardown.

    Skipped, with the reason printed, only where this machine has no PostgreSQL server binaries
    at all."""
    from pgserver import find_bin_dir, postgres_server

    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on this machine"
        print(reason)
        pytest.skip(reason)
    with postgres_server(bin_dir) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_postgres(postgres, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real ``mlflow server`` whose backend store is the database ``mlflow`` of ``postgres``,
    its artifacts served from a temporary directory, for the session.

    ``{"url", "artifacts", "log", "backend_uri", "postgres"}``; point a command at it with
    ``mlflowserver.client_env(url)``. Shared by the modules that need a server-backed registry:
    each registers models under names of its own."""
    from mlflowserver import mlflow_server

    root = tmp_path_factory.mktemp("mlflow_postgres")
    backend = postgres.create_database("mlflow")
    # creating MLflow's tables on an empty database takes longer than opening SQLite
    with mlflow_server(backend, root, start_seconds=180) as server:
        yield {**server, "backend_uri": backend, "postgres": postgres}


_HOLD_LOCK = """
import sys
from filelock import FileLock
lock = FileLock(sys.argv[1]); lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def lock_held_elsewhere(path: str | Path):
    """Another process holds the file lock ``path`` (``filelock``) for the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def _mount(*args: str) -> bool:
    """``mount ARGS``; False when this machine does not let the tests mount (not root, no
    mount, a container without the capability)."""
    if os.geteuid() != 0:
        return False
    try:
        done = subprocess.run(["mount", *args], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


@pytest.fixture
def small_disk(tmp_path: Path):
    """An empty real file system of 1 MiB (a tmpfs; skipped where the tests cannot mount).
    :func:`fill_up` takes its last byte, after which writes into it fail with ENOSPC."""
    root = tmp_path / "small"
    root.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(root)):
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        yield root
    finally:
        _unmount(root)


def fill_up(root: Path) -> Path:
    """Fill the file system of ``root`` with the file ``root/filler`` until no byte is left."""
    import errno

    path = root / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return path


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A folder on a read-only bind mount of itself (skipped where the tests cannot mount):
    even root cannot create files in it."""
    root = tmp_path / "read-only"
    root.mkdir()
    if not _mount("--bind", str(root), str(root)):
        pytest.skip("cannot bind-mount here (needs root)")
    try:
        if not _mount("-o", "remount,bind,ro", str(root)):
            pytest.skip("cannot remount read-only here")
        yield root
    finally:
        _unmount(root)


def run_cli(
    *args: str, cwd: str | Path | None = None, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the real ``riskml`` CLI in a subprocess and capture its output as text."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "riskml", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    """The real CLI: ``cli("mine", "--repo", path)`` -> CompletedProcess."""
    return run_cli


@pytest.fixture(scope="session")
def synth_small(tmp_path_factory: pytest.TempPathFactory):
    """A generated repository of 400 commits with its incidents file (shared, read-only)."""
    from riskml.synth import generate

    out = tmp_path_factory.mktemp("synth_small")
    return generate(out, commits=400, seed=7)


@pytest.fixture(scope="session")
def hand_history(tmp_path_factory: pytest.TempPathFactory):
    """The hand-built history of test_mine_repos.py and its SHAs by name (shared, read-only)."""
    from test_mine_repos import build_history

    return build_history(tmp_path_factory.mktemp("hand_history"))
