"""docker-compose.yml, the Dockerfile and deploy/riskml.toml agree with each other and the docs.

The tests never start the containers; they read the files as Compose and riskml would.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from riskml.config import load_config

ROOT = Path(__file__).resolve().parents[1]
RISKML_SERVICES = ["mlflow", "serve", "scheduler", "worker-1", "worker-2", "riskml"]
SHARED_MOUNTS = [
    "riskml-data:/srv/riskml/data",
    "riskml-models:/srv/riskml/models",
    "./repos:/srv/git:ro",
    "./deploy:/srv/riskml/deploy:ro",
]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else shlex.split(command)


def test_the_services_and_what_they_run(compose) -> None:
    services = compose["services"]
    assert sorted(services) == sorted(["postgres", *RISKML_SERVICES])
    assert services["postgres"]["image"] == "postgres:16"
    for name in RISKML_SERVICES:  # one image, built from the project's Dockerfile
        assert (services[name]["build"], services[name]["image"]) == (".", "riskml:local")
    assert _command(services["mlflow"])[:2] == ["mlflow", "server"]
    assert _command(services["serve"])[:2] == ["riskml", "serve"]
    assert _command(services["scheduler"])[:2] == ["dask", "scheduler"]
    for worker in ("worker-1", "worker-2"):
        assert _command(services[worker])[:3] == ["dask", "worker", "tcp://scheduler:8786"]
    assert services["riskml"]["profiles"] == ["jobs"]  # one-off jobs: not started by `up`


def test_every_long_running_service_has_a_health_check(compose) -> None:
    services = compose["services"]
    checked = sorted(name for name, service in services.items() if "healthcheck" in service)
    assert checked == sorted(name for name in services if name != "riskml")
    assert "http://localhost:5000/health" in services["mlflow"]["healthcheck"]["test"][-1]
    assert "http://localhost:8000/healthz" in services["serve"]["healthcheck"]["test"][-1]


def test_mlflow_serves_its_artifacts_from_postgresql_and_the_clients_find_it(compose) -> None:
    services = compose["services"]
    mlflow = services["mlflow"]
    command = _command(mlflow)
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"] == (
        "postgresql+psycopg://mlflow@postgres:5432/mlflow"
    )
    assert "--serve-artifacts" in command
    assert command[command.index("--artifacts-destination") + 1] == "/srv/mlflow/artifacts"
    # MLflow 3 refuses a Host header it was not told about (docs/mlflow-server.md)
    allowed = command[command.index("--allowed-hosts") + 1].split(",")
    assert "mlflow:5000" in allowed
    assert mlflow["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("serve", "worker-1", "worker-2", "riskml"):
        assert services[name]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert services[name]["depends_on"]["mlflow"]["condition"] == "service_healthy"


def test_riskml_containers_share_the_same_paths(compose) -> None:
    services = compose["services"]
    for name in ("serve", "scheduler", "worker-1", "worker-2", "riskml"):
        assert services[name]["volumes"] == SHARED_MOUNTS
    assert sorted(compose["volumes"]) == [
        "mlflow-artifacts", "pgdata", "riskml-data", "riskml-models",
    ]  # fmt: skip


def test_the_configuration_the_services_read_is_valid(compose) -> None:
    command = _command(compose["services"]["serve"])
    config = command[command.index("--config") + 1]
    assert config == "deploy/riskml.toml"
    assert (ROOT / config).is_file()
    assert f'"--config", "{config}"' in (ROOT / "Dockerfile").read_text()
    loaded = load_config(ROOT / config)
    assert (loaded.train.model_name, loaded.serve.repos) == ("change-risk", {})
