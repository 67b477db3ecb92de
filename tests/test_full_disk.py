"""A full disk: every write riskml makes is one line naming its file, and leaves the old file
whole and no temporary file behind. Each writer is checked twice: with a write step that
raises ENOSPC (EDQUOT, EFBIG), and on a real file system with no byte left (a small tmpfs,
skipped where the tests cannot mount)."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from conftest import fill_up

from riskml.errors import NoSpaceError, RiskmlError
from riskml.tables import atomic_write, no_space, writing

NO_SPACE = [errno.ENOSPC, errno.EDQUOT, errno.EFBIG]


def _no_space(code: int):
    def write(tmp: Path) -> None:
        tmp.write_bytes(b"half a")  # a temporary file exists when the disk fills
        raise OSError(code, "No space left on device")

    return write


@pytest.mark.parametrize("code", NO_SPACE)
def test_a_write_that_finds_no_space_is_one_line_and_leaves_the_old_file(tmp_path, code):
    target = tmp_path / "labels.parquet"
    target.write_bytes(b"the old table")
    with pytest.raises(NoSpaceError) as caught:
        atomic_write(target, _no_space(code))
    assert isinstance(caught.value, RiskmlError)
    assert str(caught.value) == f"no space left writing {target}"
    assert target.read_bytes() == b"the old table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.parquet"]


def test_other_write_errors_pass_unchanged(tmp_path):
    with pytest.raises(PermissionError), writing(tmp_path / "x"):
        raise PermissionError(errno.EACCES, "Permission denied")
    assert no_space(OSError(errno.ENOSPC, "x")) is True
    assert no_space(OSError(errno.EIO, "x")) is False
    assert no_space(ValueError("x")) is False


def test_a_model_copy_on_a_full_disk_keeps_the_old_copy(tmp_path):
    from riskml.train.artifact import save_model_copy

    class _Model:  # saves as TrainedModel.save does, until the disk is full
        def save(self, path):
            Path(path).mkdir(parents=True)
            (Path(path) / "booster.txt").write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")

    directory = tmp_path / "models" / "change-risk"
    directory.mkdir(parents=True)
    (directory / "booster.txt").write_bytes(b"the registered model")
    with pytest.raises(NoSpaceError) as caught:
        save_model_copy(_Model(), directory)
    assert str(caught.value) == f"no space left writing {directory}"
    assert _files(directory) == {"booster.txt": b"the registered model"}
    assert [p.name for p in directory.parent.iterdir()] == ["change-risk"]


def test_the_mining_state_on_a_full_disk_leaves_no_temporary_file(tmp_path, monkeypatch):
    import pickle

    from riskml.config import Config
    from riskml.mine.state import MiningState

    path = tmp_path / "changes.state.joblib"
    path.write_bytes(b"the old state")

    def full(obj, fh, protocol=None):
        fh.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pickle, "dump", full)
    with pytest.raises(NoSpaceError) as caught:
        MiningState("shop", Config()).save(path)
    assert str(caught.value) == f"no space left writing {path}"
    assert path.read_bytes() == b"the old state"
    assert [p.name for p in tmp_path.iterdir()] == ["changes.state.joblib"]


def test_an_szz_cache_entry_on_a_full_disk_leaves_no_temporary_file(tmp_path, monkeypatch):
    from riskml.label import szz

    store = tmp_path / "szz-cache"

    def full(self, text, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    row = {"fix": "ab" + "0" * 38, "culprits": []}
    with pytest.raises(NoSpaceError) as caught:
        szz._write_cached(store, row)
    assert str(caught.value) == f"no space left writing {store / 'ab' / (row['fix'] + '.json')}"
    assert list((store / "ab").iterdir()) == []


# --------------------------------------------------------------------------- a real full disk


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_mine_on_a_real_full_disk_keeps_table_and_state(synth_small, tmp_path, small_disk):
    """An incremental mine whose disk fills: one line naming the first file it could not
    write, the old table, tokens file and state byte for byte, nothing else beside them."""
    from riskml.mine import mine

    first = tmp_path / "first" / "changes.parquet"
    mine(synth_small.repo, rev="HEAD~50", out=first)
    for path in first.parent.iterdir():
        if not path.name.endswith(".lock"):
            shutil.copy(path, small_disk / path.name)
    fill_up(small_disk)
    before = _files(small_disk)
    out = small_disk / "changes.parquet"
    with pytest.raises(NoSpaceError) as caught:
        mine(synth_small.repo, out=out)
    assert str(caught.value) == f"no space left writing {small_disk / 'changes.tokens.parquet'}"
    after = _files(small_disk)
    assert after.pop("changes.parquet.lock") == b""
    assert after == before
    assert sorted(before) == [
        "changes.parquet", "changes.state.joblib", "changes.tokens.parquet", "filler",
    ]  # fmt: skip


@pytest.mark.slow
def test_label_and_train_on_a_real_full_disk_are_one_line(cli, synth_small, tmp_path, small_disk):
    """The real CLI: `label --out` and `train --out-dir` on a full disk exit 2 with one line
    naming the file, and write nothing there (no half table, no 0-byte metrics.json)."""
    from tracking_tables import write_kamei_csv

    from riskml.mine import mine

    changes = tmp_path / "data" / "changes.parquet"
    mine(synth_small.repo, out=changes)
    fill_up(small_disk)
    labels = small_disk / "labels.parquet"
    done = cli(
        "label", "--repo", str(synth_small.repo), "--changes", str(changes),
        "--incidents", str(synth_small.incidents), "--out", str(labels),
        "--cache-dir", str(tmp_path / "szz-cache"),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"riskml: error: no space left writing {labels}\n"

    data = write_kamei_csv(tmp_path / "jit.csv", n=600, seed=2)
    out = small_disk / "out"
    done = cli("train", "--dataset", str(data), "--out-dir", str(out), "--no-mlflow", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    # after its progress lines (fitting, folds), one error line, the last
    errors = [line for line in done.stderr.splitlines() if "error" in line or "Trace" in line]
    assert errors == [f"riskml: error: no space left writing {out / 'metrics.json'}"]
    assert done.stderr.splitlines()[-1] == errors[0]
    assert sorted(p.name for p in small_disk.rglob("*")) == ["filler", "out"]


@pytest.mark.parametrize(
    ("filename", "line"),
    [
        ("/data/shop/x.png", "riskml: error: no space left writing /data/shop/x.png\n"),
        (None, "riskml: error: no space left writing a file (No space left on device)\n"),
    ],
)
def test_a_full_disk_no_writer_caught_is_still_one_line(monkeypatch, filename, line) -> None:
    """The CLI's last resort, for a write outside riskml's writers (a chart, a library)."""
    from typer.testing import CliRunner

    import riskml.synth
    from riskml.cli import _register, app

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", filename)

    monkeypatch.setattr(riskml.synth, "generate", full)
    _register()
    result = CliRunner().invoke(app, ["synth", "--out", "x"])
    assert (result.exit_code, result.output) == (2, line)
