"""A real PostgreSQL server for the tests, in a temporary directory, found and started by itself.

``find_bin_dir()`` finds the server's binaries without relying on PATH (a fresh machine's PATH is
``/usr/local/bin:/usr/bin:/bin`` and Debian keeps them in ``/usr/lib/postgresql/<major>/bin``).
``postgres_server()`` runs ``initdb`` and ``pg_ctl start`` there — as the ``postgres`` user when
the tests run as root, since PostgreSQL refuses to run as root — listening on 127.0.0.1 at a free
port, its socket in the temporary directory, and stops it and removes the directory on the way
out, whatever happened inside.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# a directory holding initdb, pg_ctl and postgres; overrides the search below
BIN_ENV = "RISKML_TEST_PG_BIN"
# where packages put the server's binaries: Debian/Ubuntu, RHEL's PGDG, source builds, Homebrew
_BIN_GLOBS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/usr/local/opt/postgresql*/bin",
)
_TOOLS = ("initdb", "pg_ctl", "postgres")
# the server refuses to run as root; this is the account packages create for it
SERVER_USER = "postgres"
SUPERUSER = "riskml"  # the role initdb creates (trust authentication, 127.0.0.1 only)
START_SECONDS = 60


def _has_tools(path: Path) -> bool:
    return all(os.access(path / tool, os.X_OK) for tool in _TOOLS)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path))


def find_bin_dir() -> Path | None:
    """The directory of the newest PostgreSQL server binaries on this machine, or None.

    ``$RISKML_TEST_PG_BIN`` when set; else the packages' usual places; else ``pg_config
    --bindir`` or an ``initdb`` on the system's PATH."""
    if os.environ.get(BIN_ENV):
        return Path(os.environ[BIN_ENV])
    for pattern in _BIN_GLOBS:
        for found in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            if _has_tools(Path(found)):
                return Path(found)
    system_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/bin", "/usr/bin"])
    pg_config = shutil.which("pg_config", path=system_path)
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if done.returncode == 0 and _has_tools(Path(done.stdout.strip())):
            return Path(done.stdout.strip())
    initdb = shutil.which("initdb", path=system_path)
    if initdb and _has_tools(Path(initdb).parent):
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _open_to_others(path: Path) -> bool:
    """Whether another account can reach ``path`` (every directory on the way searchable)."""
    path = path.resolve()
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where it listens, and the URIs of its databases."""

    host: str
    port: int
    user: str
    root: Path  # the temporary directory: data/, the socket, server.log
    bin_dir: Path

    def uri(self, database: str = "postgres", driver: str = "psycopg") -> str:
        """A SQLAlchemy URI of ``database`` (``postgresql+psycopg://…``: psycopg 3)."""
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create the database ``name`` (empty); its URI."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.uri(driver=""), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.uri(name)

    def log_tail(self, chars: int = 2000) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def server_account() -> str | None:
    """The account to run the server as: None (this one) unless the tests run as root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise RuntimeError(
            f"the tests run as root and PostgreSQL refuses to; no '{SERVER_USER}' user exists "
            "to run it as (create one, or run the tests as another user)"
        ) from None
    return SERVER_USER


class _Runner:
    """Runs the server's tools in ``root`` as ``as_user`` (None: this account)."""

    def __init__(self, root: Path, as_user: str | None) -> None:
        self.root = root
        self.as_user = as_user

    def __call__(self, *command: str | Path, check: bool = True) -> subprocess.CompletedProcess:
        # the tools' locale and home are the server account's own, not the caller's
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": str(self.root)}
        done = subprocess.run(
            [str(c) for c in command],
            cwd=self.root,
            env=env,
            user=self.as_user,
            group=None if self.as_user is None else pwd.getpwnam(self.as_user).pw_gid,
            extra_groups=None if self.as_user is None else [],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_SECONDS + 30,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{Path(command[0]).name} exited with {done.returncode}: "
                f"{(done.stdout + done.stderr).strip()[-2000:]}"
            )
        return done


def _temporary_root(as_user: str | None) -> Path:
    base = Path(tempfile.gettempdir())
    if as_user is not None and not _open_to_others(base):
        base = Path("/tmp")  # $TMPDIR is private to root: the server's account could not enter
    root = Path(tempfile.mkdtemp(prefix="riskml-pg-", dir=base))
    if as_user is not None:
        account = pwd.getpwnam(as_user)
        os.chown(root, account.pw_uid, account.pw_gid)
    return root


@contextlib.contextmanager
def postgres_server(bin_dir: Path) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL cluster of ``bin_dir``'s server on 127.0.0.1, for the block.

    Stopped (fast, then immediate) and its directory removed at the end, also when the block,
    or the start itself, fails."""
    as_user = server_account()
    root = _temporary_root(as_user)
    run = _Runner(root, as_user)
    data = root / "data"
    started = False
    try:
        run(bin_dir / "initdb", "-D", data, "-U", SUPERUSER, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        for attempt in range(3):  # another process may take the free port before the server
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            done = run(bin_dir / "pg_ctl", "-D", data, "-l", root / "server.log", "-o", options,
                       "-w", "-t", str(START_SECONDS), "start", check=False)  # fmt: skip
            started = run(bin_dir / "pg_ctl", "-D", data, "status", check=False).returncode == 0
            if done.returncode == 0:
                break
            log = (root / "server.log").read_text(errors="replace")
            if started or attempt == 2 or "could not bind" not in log:
                raise RuntimeError(
                    f"pg_ctl start exited with {done.returncode}; log:\n{log[-2000:]}"
                )
        yield PostgresServer("127.0.0.1", port, SUPERUSER, root, bin_dir)
    finally:
        try:
            if started or (data / "postmaster.pid").exists():
                stopped = run(bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30",
                              "stop", check=False)  # fmt: skip
                if stopped.returncode != 0:
                    run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop",
                        check=False)  # fmt: skip
        finally:
            shutil.rmtree(root, ignore_errors=True)
