"""`riskml.locks.file_lock`: a lock that can never be taken fails at once with its reason;
a lock another process holds is waited for, then one line (tests/mine/test_mine_errors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskml.errors import RiskmlError
from riskml.locks import file_lock

# an hour, as `mine` waits by default: the tests below would hit pytest's timeout if they
# waited, instead of failing at once
HOUR = 3600.0


def test_a_lock_under_a_file_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder\n")
    path = tmp_path / "afile" / "changes.parquet.lock"
    with pytest.raises(RiskmlError) as caught, file_lock(path, HOUR, "busy"):
        pass
    assert str(caught.value) == f"cannot create the lock file {path}: Not a directory"


def test_a_lock_on_a_read_only_file_system_fails_at_once(read_only_dir: Path) -> None:
    path = read_only_dir / "changes.parquet.lock"
    with pytest.raises(RiskmlError) as caught, file_lock(path, HOUR, "busy"):
        pass
    assert str(caught.value) == f"cannot create the lock file {path}: Read-only file system"


def test_a_lock_that_can_be_taken_is_held_then_free_again(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with file_lock(path, HOUR, "busy") as held:
        assert held == path
        with pytest.raises(RiskmlError) as caught, file_lock(path, 0.05, "still busy"):
            pass
        assert str(caught.value) == "still busy"
    with file_lock(path, 0.05, "busy"):
        assert path.is_file()


def test_mine_into_an_unwritable_folder_is_one_line_before_any_work(
    synth_small, read_only_dir: Path, tmp_path: Path
) -> None:
    from riskml.mine import mine

    out = read_only_dir / "changes.parquet"
    with pytest.raises(RiskmlError) as caught:
        mine(synth_small.repo, out=out)
    assert str(caught.value) == (f"cannot create the lock file {out}.lock: Read-only file system")
    (tmp_path / "afile").write_text("not a folder\n")
    with pytest.raises(RiskmlError) as caught:
        mine(synth_small.repo, out=tmp_path / "afile" / "changes.parquet")
    assert str(caught.value) == (
        f"cannot create the folder {tmp_path / 'afile'}: {tmp_path / 'afile'} is a file, "
        "not a folder"
    )
    assert list(read_only_dir.iterdir()) == []


@pytest.mark.slow
def test_the_cli_mine_into_a_read_only_folder_is_one_line(cli, synth_small, read_only_dir):
    out = read_only_dir / "changes.parquet"
    done = cli("mine", "--repo", str(synth_small.repo), "--out", str(out))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"riskml: error: cannot create the lock file {out}.lock: Read-only file system\n"
    )
