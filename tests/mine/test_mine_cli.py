"""`riskml mine` end to end through the real CLI, including on this project's own repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from test_mine_repos import build_history

from riskml.mine import COLUMNS, read_table

# the real CLI in subprocesses, end to end
pytestmark = pytest.mark.slow


ROOT = Path(__file__).resolve().parents[2]


def test_cli_mines_then_appends(cli, tmp_path: Path):
    repo, sha = build_history(tmp_path)
    out = tmp_path / "out" / "changes.csv"
    first = cli("mine", "--repo", str(repo), "--rev", sha["c3"], "--out", str(out), "--no-progress")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"mined 3 new change(s); 3 row(s) in {out}")
    assert first.stderr == ""
    second = cli("mine", "--repo", str(repo), "--out", str(out), "--workers", "2")
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"mined 5 new change(s); 8 row(s) in {out}")
    table = read_table(out)
    assert table["commit"].tolist() == [
        sha[n] for n in ("c1", "c2", "c3", "c4", "c5", "c7", "c8", "c9")
    ]
    assert list(table.columns) == list(COLUMNS)


def test_cli_default_output_and_repo_name(cli, tmp_path: Path):
    repo, _ = build_history(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    proc = cli("mine", "--repo", str(repo), "--repo-name", "shop", cwd=work)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(work / "data" / "shop" / "changes.parquet")
    assert set(table["repo"]) == {"shop"} and len(table) == 8
    assert (work / "data" / "shop" / "changes.state").is_dir()


def test_cli_config_and_progress(cli, tmp_path: Path):
    repo, sha = build_history(tmp_path)
    config = tmp_path / "riskml.toml"
    config.write_text('[critical_paths]\nreadme = ["README.md"]\n', encoding="utf-8")
    out = tmp_path / "c.parquet"
    proc = cli("mine", "--repo", str(repo), "--config", str(config), "--out", str(out),
               "--progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "mining history" in proc.stderr  # the tqdm bar on stderr
    table = pd.read_parquet(out)
    assert table["critical_areas"].tolist() == ["readme", "", "readme", "", "", "", "", ""]
    bad = cli("mine", "--repo", str(repo), "--out", str(tmp_path / "c.txt"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        f"riskml: error: unsupported table format '.txt' for {tmp_path / 'c.txt'}: "
        "use .parquet or .csv"
    )
    unknown = cli("mine", "--repo", str(repo), "--rev", "nope", "--out", str(out))
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2,
        "riskml: error: unknown revision: nope",
    )


def test_cli_warnings_are_one_line(cli, tmp_path: Path):
    repo, sha = build_history(tmp_path)
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{repo}", str(clone)],
                   check=True, capture_output=True)  # fmt: skip
    proc = cli("mine", "--repo", str(clone), "--out", str(tmp_path / "c.csv"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "riskml: warning: shallow clone: history features only see the 2 commits present, "
        "and 1 boundary commit(s) whose parents are missing are not mined"
    ]
    assert proc.stdout.startswith("mined 1 new change(s)")


def test_mine_this_projects_repository(cli, tmp_path: Path):
    """`riskml mine --repo .` on riskml's own repository (skipped outside a git checkout)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    expected = subprocess.run(["git", "-C", str(ROOT), "rev-list", "--no-merges", "--count", head],
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    out = tmp_path / "self.parquet"
    proc = cli("mine", "--repo", ".", "--rev", head, "--out", str(out), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    table = read_table(out)
    assert len(table) == int(expected)
    assert set(table["repo"]) == {ROOT.name}
    assert table["nf"].min() >= 0 and table["la"].sum() > 0
