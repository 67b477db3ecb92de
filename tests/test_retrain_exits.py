"""pipelines/retrain.py's exit codes for a full disk and a stop, without running a training
(tests/test_run.py runs the real flow): the scheduler gets one line and one JSON object."""

from __future__ import annotations

import errno
import importlib.util
import json
import signal
from pathlib import Path

import pytest

from riskml.errors import NoSpaceError
from riskml.processes import Interrupted

ROOT = Path(__file__).resolve().parents[1]


def _retrain_module():
    spec = importlib.util.spec_from_file_location("retrain_flow", ROOT / "pipelines" / "retrain.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("raised", "code", "line", "summary"),
    [
        (NoSpaceError("data/shop/labels.parquet"), 1,
         "retrain: error: no space left writing data/shop/labels.parquet",
         {"status": "failed", "error": "no space left writing data/shop/labels.parquet"}),
        (OSError(errno.ENOSPC, "No space left on device", "mlruns/1/x.png"), 1,
         "retrain: error: no space left writing mlruns/1/x.png",
         {"status": "failed", "error": "no space left writing mlruns/1/x.png"}),
        (Interrupted(signal.SIGTERM), 143, "retrain: interrupted (SIGTERM)",
         {"status": "interrupted", "error": "SIGTERM"}),
        (KeyboardInterrupt(), 130, "retrain: interrupted (SIGINT)",
         {"status": "interrupted", "error": "SIGINT"}),
    ],
)  # fmt: skip
def test_a_full_disk_is_a_failure_and_a_stop_is_interrupted(
    tmp_path, monkeypatch, capsys, raised, code, line, summary
) -> None:
    import riskml.run

    def stopped(*args, **kwargs):
        raise raised

    monkeypatch.setattr(riskml.run, "retrain", stopped)
    flow = _retrain_module()
    assert flow.main(["--repo", str(tmp_path), "--quiet"]) == code
    out, err = capsys.readouterr()
    assert err == line + "\n"
    assert json.loads(out.splitlines()[-1]) == summary
