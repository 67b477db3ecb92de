"""A real MLflow UI in a real headless browser, for the tests that read what a person sees.

* :func:`ensure_chromium` — Debian's ``chromium`` and ``chromium-driver``, installed with
  apt-get when missing (a fresh machine has neither; CI runs as root);
* :func:`mlflow_ui` — ``mlflow server`` from the venv on 127.0.0.1 with a SQLite store;
* :func:`headless_chromium` — a Selenium WebDriver on that Chromium, through Debian's
  chromedriver (the same build as the browser, so the two always match; Selenium never
  downloads a driver when it is given one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PACKAGES = ("chromium", "chromium-driver")
INSTALL_SECONDS = 900
START_SECONDS = 90


def ensure_chromium() -> tuple[str, str]:
    """``(chromium, chromedriver)`` paths, installing Debian's packages when either is missing.

    Raises ``RuntimeError`` (with apt's last lines) when they cannot be installed.
    """
    if Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file():
        return CHROMIUM, CHROMEDRIVER
    apt = shutil.which("apt-get", path="/usr/bin:/bin")
    if apt is None or os.geteuid() != 0:
        raise RuntimeError(
            "Chromium is not installed and cannot be installed here (needs root and apt-get): "
            f"apt-get install -y {' '.join(PACKAGES)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", *PACKAGES]):
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=INSTALL_SECONDS
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return CHROMIUM, CHROMEDRIVER


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def mlflow_ui(root: Path):
    """``mlflow server`` (SQLite store and served artifacts under ``root``); yields its URL.

    The server and its workers are one process group, stopped at exit.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # no background job runner: it forks several large workers the UI does not need
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{root / 'ui.db'}",
        "--serve-artifacts", "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with (root / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + START_SECONDS
            while not _healthy(url):
                tail = (root / "server.log").read_text(errors="replace")[-2000:]
                if proc.poll() is not None:
                    raise RuntimeError(f"mlflow server exited with {proc.returncode}: {tail}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server not healthy after {START_SECONDS} s: {tail}")
                time.sleep(0.25)
            yield url
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@contextlib.contextmanager
def headless_chromium(profile: Path, size: tuple[int, int] = (1400, 1000)):
    """A Selenium Chrome WebDriver on Debian's headless Chromium (a fresh profile in ``profile``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = ensure_chromium()
    options = Options()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={size[0]},{size[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()
