"""Bad input to the real CLI: one line naming the problem, exit 2, before any work is done."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from riskml.config import check_repo_name
from riskml.errors import RiskmlError

# the real CLI in subprocesses, end to end
pytestmark = pytest.mark.slow


NAME_RULE = (
    "one folder name under the data directory (not empty, '.', '..', and without '/', '\\' or NUL)"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "--port", "99999"), "port must be in 0-65535 (--port, [serve] port), got 99999"),
        (("serve", "--port", "-1"), "port must be in 0-65535 (--port, [serve] port), got -1"),
        (("mine", "--repo", "{tmp}", "--repo-name", "../../x"),
         f"invalid repository name '../../x': {NAME_RULE}"),
        (("mine", "--repo", "{tmp}", "--repo-name", ""), f"invalid repository name '': {NAME_RULE}"),
        (("trends", "--repo-name", ".."), f"invalid repository name '..': {NAME_RULE}"),
        (("train", "--dataset", "{tmp}/t.csv", "--out-dir", "{tmp}/afile", "--no-mlflow"),
         "--out-dir {tmp}/afile: exists and is not a directory"),
        (("evaluate", "--dataset", "{tmp}/t.csv", "--out-dir", "{tmp}/afile", "--no-mlflow"),
         "--out-dir {tmp}/afile: exists and is not a directory"),
        (("trends", "--repo-name", "shop", "--config", "{tmp}/shares.toml"),
         "shares.toml: [tiers] shares: critical: must be a number, got 'a'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, message) -> None:
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "t.csv").write_text("never read\n")
    (tmp_path / "shares.toml").write_text('[tiers]\nshares = {critical = "a"}\n')
    done = cli(*(a.format(tmp=tmp_path) for a in args), cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, f"riskml: error: {message.format(tmp=tmp_path)}\n")
    assert not (tmp_path / "data").exists() and not (tmp_path.parent / "x").exists()


def test_serve_on_a_port_in_use_or_an_unknown_host_is_one_line(cli, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("serve", "--port", str(port), cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr == f"riskml: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )
    done = cli("serve", "--host", "nosuch.invalid", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(
        "riskml: error: cannot listen on nosuch.invalid:8000: unknown host"
    )


@pytest.mark.parametrize("name", ["", " ", ".", "..", "a/b", "a\\b", "x\0y", "../x"])
def test_repository_names_stay_one_folder_under_the_data_root(name) -> None:
    with pytest.raises(RiskmlError, match="invalid repository name"):
        check_repo_name(name)
    assert check_repo_name("shop.v2") == "shop.v2"


def test_an_unreachable_mlflow_fails_in_seconds_in_one_line(
    cli, tmp_path: Path, monkeypatch
) -> None:
    """MLflow's default retries take minutes against a closed port; every verb sets the fast
    defaults itself (riskml.config.MLFLOW_HTTP_DEFAULTS). No timing is asserted: the run is
    bounded by the subprocess's timeout."""
    import os

    from test_cli_options import _tiny_repo

    repo = _tiny_repo(tmp_path / "shop")
    assert cli("mine", "--repo", str(repo), cwd=tmp_path).returncode == 0
    for key in [k for k in os.environ if k.startswith("MLFLOW_HTTP_")]:
        monkeypatch.delenv(key)  # the defaults must come from riskml, not this environment
    closed = {
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:1",
        "MLFLOW_REGISTRY_URI": "http://127.0.0.1:1",
    }
    done = cli("trends", "--repo-name", "shop", cwd=tmp_path, env=closed, timeout=120)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("riskml: error: cannot resolve models:/change-risk@champion: ")


def test_run_with_a_bad_period_stops_before_any_work(cli, tmp_path: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    done = cli("run", "--repo", str(tmp_path / "repo"), "--period", "fortnight", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        "riskml: error: invalid period 'fortnight': use W (week), D, M, Q, Y or a pandas "
        "period alias\n",
    )
    assert not (tmp_path / "data").exists() and not (tmp_path / "models").exists()
