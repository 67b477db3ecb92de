"""The one training orchestration's small rules, and the model identity, without a fit."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from riskml.errors import RiskmlError
from riskml.train.artifact import ModelIdentity, artifact_dir, identity_of
from riskml.train.pipeline import (
    REGISTRY_KEYS,
    TrackingError,
    Trained,
    label_mode_of,
    report_beside,
)


class _Model:
    def __init__(self, **info) -> None:
        self.info = info


def test_the_label_report_decides_the_label_mode_before_the_links() -> None:
    szz = pd.DataFrame({"label_source": ["incident", "szz_fix"]})
    linked = pd.DataFrame({"label_source": ["incident", "incident"]})
    assert label_mode_of(szz, {"proxy": False}) == "incidents"
    assert label_mode_of(linked, {"proxy": True}) == "proxy"
    assert label_mode_of(szz) == "proxy"
    assert label_mode_of(linked) == "incidents"
    assert label_mode_of(linked, {"other": 1}) == "incidents"
    assert label_mode_of(pd.DataFrame({"label": [1]})) == "incidents"


def test_report_beside_reads_what_riskml_label_writes(tmp_path: Path) -> None:
    labels = tmp_path / "labels.parquet"
    assert report_beside(labels) is None
    (tmp_path / "labels.report.json").write_text(json.dumps({"proxy": True}))
    assert report_beside(labels) == {"proxy": True}
    (tmp_path / "labels.report.json").write_text("not json")
    assert report_beside(labels) is None
    (tmp_path / "labels.report.json").write_text("[1, 2]")
    assert report_beside(labels) is None


def test_identity_takes_what_the_registry_answered_over_the_model_info() -> None:
    model = _Model(name="change-risk", version="3", run_id="r3", alias="challenger")
    assert identity_of(model, "models:/change-risk@champion") == ModelIdentity(
        "change-risk", "3", "r3", "models:/change-risk@champion", "challenger"
    )
    who = identity_of(model, None, version=4, run_id="r4", alias=None)
    assert (who.version, who.run_id, who.alias) == ("4", "r4", "challenger")
    assert who.registry_uri() == "models:/change-risk/4"
    fresh = identity_of(_Model(version="", run_id=""), "models/x")
    assert fresh == ModelIdentity("riskml", None, None, "models/x", None)
    assert fresh.registry_uri() is None
    assert fresh.as_dict() == {
        "name": "riskml",
        "version": None,
        "run_id": None,
        "uri": "models/x",
        "alias": None,
    }
    assert artifact_dir("m") == Path("m") / "artifacts" / "trained_model"


def test_model_info_is_the_model_info_with_the_registry_over_it(tmp_path: Path) -> None:
    class _Result:
        model = _Model(name="change-risk", cutoff="2024-01-01")

    registry = dict.fromkeys(REGISTRY_KEYS) | {"version": "2", "alias": "champion"}
    trained = Trained(_Result(), None, "proxy", {}, tmp_path, tmp_path, registry)
    assert trained.model_info == {
        "name": "change-risk",
        "cutoff": "2024-01-01",
        "version": "2",
        "alias": "champion",
        "promoted": True,
    }
    unregistered = Trained(_Result(), None, "proxy", {}, tmp_path, tmp_path, None)
    assert unregistered.model_info["promoted"] is False


def test_an_mlflow_failure_is_one_tracking_error_line(monkeypatch) -> None:
    from mlflow.exceptions import MlflowException

    import riskml.train.tracking as tracking
    from riskml.train import pipeline

    def unreachable(*args, **kwargs):
        raise MlflowException("API request to http://x failed\nTraceback: many lines")

    monkeypatch.setattr(tracking, "log_and_register", unreachable)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://x")
    with pytest.raises(TrackingError) as caught:
        pipeline._log_and_register(None, None, None, None, None, None, "m", "proxy")
    assert isinstance(caught.value, RiskmlError)
    assert str(caught.value) == (
        "MLflow logging failed (http://x): MlflowException: API request to http://x failed; "
        "metrics.json and the local model copy were written"
    )
