"""`riskml fleet` end to end through the real CLI: the summary table, exit 0 while one
repository runs, exit 2 with one line when none can, and bad settings refused before work."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from riskml.tables import read_fleet

# the real CLI in subprocesses, each starting a Dask cluster of worker processes
pytestmark = pytest.mark.slow


def _fleet(tmp_path: Path, synth_small) -> Path:
    (tmp_path / "clones" / "plain").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "fleet.toml"
    path.write_text(
        f'[[repo]]\nname = "small"\npath = "{synth_small.repo}"\n'
        f'incidents = "{synth_small.incidents}"\n\n[[repo]]\npath = "clones/*"\n',
        encoding="utf-8",
    )
    return path


def test_the_fleet_verb_prints_its_summary_and_writes_the_dataset(cli, tmp_path, synth_small):
    fleet = _fleet(tmp_path, synth_small)
    data = tmp_path / "data"
    proc = cli("fleet", "--fleet", str(fleet), "--data-dir", str(data), "--workers", "2",
               "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[:3] == [
        "repo   mined  rows  labelled  positive  labels     status",
        "small    400   400       246        58  incidents  ok",
        f"plain      -     -         -         -  -          failed: not a git repository: "
        f"{tmp_path / 'clones' / 'plain'}",
    ]
    assert re.fullmatch(
        r"1 of 2 repositories mined and labelled in \d+\.\d s \(LocalCluster, 2 worker\(s\)\)",
        lines[3],
    )
    assert lines[4:] == [
        f"fleet dataset: 400 changes of 1 project(s) in {data / 'fleet.parquet'} "
        "(dask.dataframe.read_parquet)"
    ]
    rows = read_fleet(data / "fleet.parquet").compute()
    assert (len(rows), int(rows["label"].sum()), set(rows["project"])) == (400, 58, {"small"})
    again = cli("fleet", "--fleet", str(fleet), "--data-dir", str(data), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[1] == "small      0   400       246        58  incidents  ok"
    assert "(LocalCluster, 1 worker(s))" in again.stdout


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_that_can_run_is_exit_2_with_one_line(cli, tmp_path, synth_small):
    (tmp_path / "clones" / "plain").mkdir(parents=True, exist_ok=True)
    broken = tmp_path / "broken.toml"
    broken.write_text('[[repo]]\npath = "clones/*"\n', encoding="utf-8")
    proc = cli("fleet", "--fleet", str(broken), "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "riskml: error: none of the 1 repositories could be mined and labelled (first: plain: "
        f"not a git repository: {tmp_path / 'clones' / 'plain'})"
    ]
    assert proc.stdout.splitlines()[1].startswith("plain      -")
    assert not (tmp_path / "data" / "fleet.parquet").exists()

    fleet = _fleet(tmp_path, synth_small)
    cases = [
        (["--fleet", str(tmp_path / "none.toml")], f"fleet file not found: {tmp_path / 'none.toml'}"),
        (["--fleet", str(fleet), "--scheduler", "localhost:8786"],
         "--scheduler: expected tcp://HOST:PORT, got 'localhost:8786'"),
        (["--fleet", str(fleet), "--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"],
         "give --workers or --scheduler, not both (a cluster has its workers)"),
        (["--fleet", str(fleet), "--out", str(synth_small.repo)],
         f"--out {synth_small.repo.resolve()} is a folder that is not a fleet dataset "
         "(no _fleet.json); choose another path"),
    ]  # fmt: skip
    for args, message in cases:
        bad = cli("fleet", *args, "--data-dir", str(tmp_path / "data"))
        assert (bad.returncode, bad.stderr.splitlines()) == (2, [f"riskml: error: {message}"])
    port = _closed_port()
    unreachable = cli("fleet", "--fleet", str(fleet), "--scheduler", f"tcp://127.0.0.1:{port}",
                      env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})  # fmt: skip
    assert unreachable.returncode == 2
    assert unreachable.stderr.splitlines() == [
        f"riskml: error: cannot reach the Dask scheduler tcp://127.0.0.1:{port}: OSError: "
        f"Timed out trying to connect to tcp://127.0.0.1:{port} after 2 s"
    ]
