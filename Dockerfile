# The riskml image. Every service of docker-compose.yml runs from it: `riskml serve`, one-off
# `riskml` jobs, the MLflow server (riskml depends on mlflow and on psycopg, the PostgreSQL
# driver of its backend store) and the Dask scheduler and workers (which import riskml to run
# the fleet's tasks). docs/mlflow-server.md describes the setup.
FROM python:3.11-slim-bookworm

# riskml mines repositories with the git command line
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
# clones mounted from the host belong to another uid, which git refuses by default; riskml
# never runs a repository's hooks, filters or fsmonitor (docs/robustness.md)
RUN git config --system --add safe.directory '*'

COPY pyproject.toml README.md /tmp/src/
COPY riskml /tmp/src/riskml
RUN pip install --no-cache-dir /tmp/src && rm -rf /tmp/src

# the mount points exist and belong to riskml, so the named volumes made on them are writable
RUN useradd --create-home --uid 1000 riskml \
    && mkdir -p /srv/riskml/data /srv/riskml/models /srv/mlflow/artifacts \
    && chown -R riskml:riskml /srv/riskml /srv/mlflow
USER riskml
WORKDIR /srv/riskml
ENV PYTHONUNBUFFERED=1

EXPOSE 8000
# each service's health check is in docker-compose.yml (they share this image)
CMD ["riskml", "serve", "--host", "0.0.0.0", "--port", "8000", "--config", "deploy/riskml.toml"]
