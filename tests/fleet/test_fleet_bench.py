"""benchmarks/fleet_bench.py runs end to end (--small): every row printed, tables identical."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# the benchmark starts two Dask clusters and a loop of CLI processes
pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "fleet_bench.py"


def test_the_fleet_benchmark_runs_small():
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--small"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("fleet: 3 repositories of 150 commits (450 in all, seeds 0..2,")
    assert [re.split(r"\s{2,}", line.strip())[0] for line in lines[2:6]] == [
        "riskml fleet, 2 workers",
        "riskml fleet, 1 worker",
        "loop: riskml mine + label (CLI)",
        "loop: mine_file + label_file (in process)",
    ]
    assert re.fullmatch(r"  riskml fleet, 1 worker\s+\d+\.\ds\s+\d+\.\ds\s+\d\.\d\d\s+\d+\s+1\.00x\s+\d+\.\d\dx\s+[\d.]+",
                        lines[3])  # fmt: skip
    assert re.fullmatch(
        r"2 workers vs 1: \d+\.\d\dx \(target >= 1\.7x: (met|not met)\); vs the CLI loop: "
        r"\d+\.\d\dx; tables identical to the CLI loop's: yes",
        lines[-1],
    )


TRAIN_BENCH = BENCH.with_name("fleet_train_bench.py")
GAIN_BENCH = BENCH.with_name("fleet_gain.py")


def test_the_fleet_training_benchmark_runs_small():
    proc = subprocess.run(
        [sys.executable, str(TRAIN_BENCH), "--small"],
        capture_output=True, text=True, timeout=900, env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(("[", "Finding"))]
    table = next(i for i, line in enumerate(lines) if line.startswith("training table: "))
    assert lines[table].startswith("training table: 2,400 rows of 3 projects in ")
    head = next(i for i, line in enumerate(lines) if line.startswith("fit "))
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[head + 1 : head + 4]]
    assert [(row[0], row[1]) for row in rows] == [
        ("local LightGBM", "2,400"),
        ("lightgbm.dask, 1 worker", "2,400"),
        ("lightgbm.dask, 2 workers", "2,400"),
    ]
    # on one worker the distributed booster is the local one: the same rounds and ROC-AUC
    assert rows[1][4:6] == rows[0][4:6]
    assert re.match(
        r"1 worker\(s\): same held-out rows: yes; ROC-AUC dask - local: [+-]0\.0000 \(target "
        r"\|diff\| <= 0\.005: met\); LocalCluster start ",
        lines[-2],
    )
    assert re.fullmatch(
        r"2 worker\(s\): same held-out rows: yes; ROC-AUC dask - local: [+-]\d\.\d{4} \(target "
        r"\|diff\| <= 0\.005: (met|not met)\); LocalCluster start \d+\.\d s \(not in the dask "
        r"seconds\)",
        lines[-1],
    )


def test_the_fleet_gain_benchmark_runs_small(tmp_path):
    config = tmp_path / "riskml.toml"
    config.write_text("[label]\nwindow_days = 30\n\n[train]\ngap_days = 30\n\n"
                      "[evaluate]\nfolds = 3\n", encoding="utf-8")  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(GAIN_BENCH), "--small", "--config", str(config),
         "--weights", "rows", "--json", str(tmp_path / "gain.json")],
        capture_output=True, text=True, timeout=900, env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(("[", "Finding"))]
    assert lines[0].startswith("fleet gain, ")
    assert lines[0].endswith("generated: one 600, two 400, three 300; 1,300 changes, incidents "
                             "labels, 3 folds x 0.1 per project, gap 30 days; fleet: "
                             "project_weights sqrt")  # fmt: skip
    assert lines[1].split() == ["project", "changes", "labelled", "pos", "folds", "own", "fleet",
                                "fleet+norm", "fleet:rows", "fleet-own", "95%-interval",
                                "fleet>=own"]  # fmt: skip
    assert [line.split()[:2] for line in lines[2:5]] == [["one", "600"], ["three", "300"],
                                                        ["two", "400"]]  # fmt: skip
    assert re.fullmatch(r"fleet >= own on \d of \d project\(s\) \(mean fold ROC-AUC\)", lines[5])
    assert lines[6].startswith("per-project normalisation: higher mean ROC-AUC over all folds on ")
    summary = json.loads((tmp_path / "gain.json").read_text(encoding="utf-8"))
    assert [s["project"] for s in summary] == ["one", "three", "two"]
    assert all("fleet_rows_roc_auc_all_folds" in s for s in summary)
    for s, line in zip(summary, lines[2:5], strict=True):
        if s["own_roc_auc"] is None:
            continue
        # the interval printed is the summary's, around the printed difference
        got = s["fleet_minus_own_roc_auc"]
        assert got["diff"] == pytest.approx(s["fleet_roc_auc"] - s["own_roc_auc"])
        assert got["low"] <= got["diff"] <= got["high"]
        assert f"[{got['low']:+.4f},{got['high']:+.4f}]" in line.split()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--weights", "even"], "argument --weights: invalid choice: 'even' (choose from 'rows', "
                                "'sqrt', 'balanced')"),
        (["--repo", "big:lots:1"], "argument --repo: 'big:lots:1': expected "
                                   "NAME:COMMITS:SEED[:START], e.g. small:400:3:2018-01-01"),
        (["--repo", "big:900:1:2020-13-01"], "argument --repo: 'big:900:1:2020-13-01': expected "
                                             "NAME:COMMITS:SEED[:START], e.g. small:400:3:2018-01-01"),
        (["--project", "activemq"], "argument --project: 'activemq': expected NAME=DIR"),
        (["--dataset", "fleet.parquet", "--project", "a=b"],
         "--project adds to the generated fleet, not to a --dataset"),
    ],
)  # fmt: skip
def test_the_fleet_gain_benchmark_refuses_bad_arguments_before_any_work(tmp_path, args, reason):
    proc = subprocess.run(
        [sys.executable, str(GAIN_BENCH), *args],
        capture_output=True, text=True, timeout=120, env=dict(os.environ), cwd=tmp_path,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines()[-1] == f"fleet_gain.py: error: {reason}"
    assert list(tmp_path.iterdir()) == []


def test_the_fleet_training_benchmark_prints_every_seed():
    proc = subprocess.run(
        [sys.executable, str(TRAIN_BENCH), "--small", "--seeds", "0,1", "--workers", "1"],
        capture_output=True, text=True, timeout=900, env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(("[", "Finding"))]
    head = lines.index(f"{'seed':<6}{'local LightGBM':>20}{'dask, 1 worker':>20}")
    seeds = [re.split(r"\s{2,}", line.strip()) for line in lines[head + 1 : head + 3]]
    assert [row[0] for row in seeds] == ["0", "1"]
    # on one worker every seed's booster is the local one: the same ROC-AUC and rounds
    for row in seeds:
        assert re.fullmatch(r"0\.\d{4} \(\d+ r\)", row[1]) and row[1] == row[2]
    assert seeds[0][1] != seeds[1][1]  # another seed, another booster
    assert lines[head + 3].split()[0] == "mean" and lines[head + 4].split()[0] == "sd"
    assert re.fullmatch(
        r"1 worker\(s\) over 2 seeds: mean of dask - mean of local [+-]0\.0000; per seed "
        r"[+-]0\.0000, [+-]0\.0000; within 0\.005 on 2 of 2",
        lines[head + 5],
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--seeds", "0,x"], "--workers and --seeds take comma-separated integers"),
        (["--workers", "0,2"], "--workers needs sizes >= 1 and --seeds seeds >= 0"),
        (["--seeds", "1,0,1"], "--workers and --seeds name each value once"),
    ],
)
def test_the_fleet_training_benchmark_refuses_bad_seeds_and_workers(args, reason):
    proc = subprocess.run(
        [sys.executable, str(TRAIN_BENCH), *args],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines()[-1] == f"fleet_train_bench.py: error: {reason}"


def test_the_fleet_gain_benchmark_refuses_a_bad_config_and_bootstrap(tmp_path):
    bad = tmp_path / "riskml.toml"
    bad.write_text("[train\n", encoding="utf-8")
    for args, reason in (
        (["--config", str(bad)], f"{bad}: not valid TOML: "),
        (["--bootstrap", "-1"], "--bootstrap must be 0 or more, got -1"),
    ):
        proc = subprocess.run(
            [sys.executable, str(GAIN_BENCH), *args],
            capture_output=True, text=True, timeout=120, env=dict(os.environ), cwd=tmp_path,
        )  # fmt: skip
        assert (proc.returncode, proc.stdout) == (2, "")
        assert proc.stderr.splitlines()[-1].startswith(f"fleet_gain.py: error: {reason}")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["riskml.toml"]
