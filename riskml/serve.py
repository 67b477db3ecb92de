"""`riskml serve`: the scoring HTTP API for release tooling (FastAPI + uvicorn, scoring.md).

Endpoints: ``POST /v1/score`` (a commit or a ``base``/``head`` branch of an allow-listed
repository), ``POST /v1/score/features`` (feature rows, no git), ``GET /v1/model``,
``GET /healthz``; OpenAPI at ``/openapi.json`` (the answers' models: :mod:`riskml.score.schema`),
Swagger UI at ``/docs`` and ReDoc at ``/redoc``, both from files shipped in the package
(``riskml/static/``), so they work offline.

Safety, in the order a request meets it:

1. Body size: a body above ``[serve] max_body_bytes`` is refused with 413 before it is read
   (:class:`ContentLengthLimit` for a declared length; FastAPI's ``max_body_size`` counts
   chunked bodies as they stream).
2. Bearer token: when ``RISKML_API_TOKEN`` is set, every path but ``/healthz`` needs
   ``Authorization: Bearer <token>`` (401 otherwise).
3. Repository: only names of ``[serve.repos]``; a request never carries a path (404 otherwise).
4. Revisions: checked with :func:`riskml.gitio.check_rev_syntax` before any git call, then
   resolved with ``rev-parse --verify --end-of-options``; anything else is a 400 with a reason.

Each scoring request runs in a worker thread under ``[serve] request_timeout_seconds``
(:mod:`riskml.budget`): past it the answer is 503 naming the budget, the git processes the
request started are killed and its loops stop at their next check (:func:`within_budget`).

State updates are serialised per repository (:class:`riskml.score.history.RepoHistory`); the
model is swapped atomically when the ``champion`` alias moves (checked every
``[serve] model_refresh_seconds``), without a restart.

Logs: one startup line on stderr (the model version, where it comes from, the repositories,
the address) and an access log: uvicorn's, or one JSON object per request on stdout with
``log_format="json"`` (:class:`JsonAccessLog`).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from riskml.budget import Budget, BudgetExceeded, within
from riskml.config import Config
from riskml.errors import RiskmlError
from riskml.gitio import check_rev_syntax
from riskml.jsonvalue import plain
from riskml.score import schema

log = logging.getLogger("riskml.serve")

TOKEN_ENV = "RISKML_API_TOKEN"
MAX_ROWS = 1000
# Swagger UI and ReDoc, vendored (riskml/static/README.md): the docs pages load nothing from
# outside the server
STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"
LOG_FORMATS = ("text", "json")


class ScoreRequest(BaseModel):
    """One commit (``rev``) or one branch (``base`` and ``head``) of an allow-listed repository."""

    model_config = ConfigDict(extra="forbid")
    repo: str = Field(..., max_length=200, description="a name from [serve.repos]")
    rev: str | None = Field(None, max_length=255, description="one commit")
    base: str | None = Field(None, max_length=255, description="branch base (with head)")
    head: str | None = Field(None, max_length=255, description="branch head (with base)")
    top: int | None = Field(None, ge=0, le=50, description="reasons per change")


class FeatureRequest(BaseModel):
    """Feature rows (columns of the changes table); missing columns count as missing values."""

    model_config = ConfigDict(extra="forbid")
    rows: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_ROWS)
    top: int | None = Field(None, ge=0, le=50)
    repo: str | None = Field(
        None,
        max_length=200,
        description="a name from [serve.repos]: tier as its changes are tiered (trailing "
        "thresholds); without it, the thresholds stored with the model version",
    )


class ContentLengthLimit:
    """Outermost ASGI wrapper: a declared ``Content-Length`` above ``limit`` gets a JSON 413
    with the limit before anything reads the body (FastAPI's ``max_body_size`` then counts
    chunked bodies as they stream)."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                    body = json.dumps(
                        {"detail": f"request body larger than {self.limit} bytes"}
                    ).encode()
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 413,
                            "headers": [
                                (b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


class JsonAccessLog:
    """Outermost ASGI wrapper: one JSON object per HTTP request on ``stream`` (default stdout)
    when its answer is sent: ``time`` (ISO-8601 UTC, when it arrived), ``method``, ``path``,
    ``status``, ``duration_ms`` and ``client`` (``host:port``, or null)."""

    def __init__(self, app, stream=None) -> None:
        self.app = app
        self.stream = stream

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        arrived, start = time.time(), time.perf_counter()
        status = None

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            line = {
                "time": _iso(arrived),
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": 500 if status is None else status,  # no answer sent: the server failed
                "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                "client": f"{client[0]}:{client[1]}" if client else None,
            }
            stream = self.stream or sys.stdout
            stream.write(json.dumps(line) + "\n")
            stream.flush()


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


class Scorer:
    """What the server holds: the config, the model (swappable), one history per repository."""

    def __init__(
        self,
        config: Config,
        model_uri: str | None = None,
        data_dir: str | Path = "data",
        cache_root: str | Path = "models",
    ) -> None:
        from riskml.score.model import default_model_uri

        self.config = config
        self.repos = served_repos(config)
        self.model_uri = model_uri or default_model_uri(config)
        self.data_dir = Path(data_dir)
        self.cache_root = cache_root
        self.model = None  # riskml.score.model.LoadedModel, replaced as a whole
        self.model_error: str | None = None
        self._model_lock = threading.Lock()
        self._histories: dict[str, Any] = {}
        self._histories_lock = threading.Lock()
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    # -- the model ---------------------------------------------------------------------------
    def refresh_model(self) -> bool:
        """Load the model if the URI now points at another version; True when it changed."""
        from riskml.score.model import current_version, load_model, load_version

        with self._model_lock:
            try:
                mv = current_version(self.model_uri)
                current = self.model
                if mv is not None:
                    if current is not None and (current.version, current.run_id or "") == (
                        mv.version,
                        mv.run_id,
                    ):
                        return False
                    loaded = load_version(mv, self.model_uri, self.cache_root)
                elif current is None:
                    loaded = load_model(self.model_uri, self.config, self.cache_root)
                else:
                    return False
            except (RiskmlError, OSError, ValueError) as exc:
                self.model_error = str(exc)
                log.warning("model not loaded: %s", exc)
                return False
            self.model, self.model_error = loaded, None
            log.info("model %s version %s loaded", loaded.name, loaded.version)
            return True

    def start_refresh(self) -> None:
        period = float(self.config.serve.model_refresh_seconds)
        if period <= 0 or self._refresher is not None:
            return

        def loop() -> None:
            while not self._stop.wait(period):
                try:
                    self.refresh_model()
                except Exception:  # never let the refresher die; the next tick retries
                    log.exception("model refresh failed")

        self._refresher = threading.Thread(target=loop, name="riskml-model-refresh", daemon=True)
        self._refresher.start()

    def stop(self) -> None:
        self._stop.set()

    def require_model(self):
        model = self.model
        if model is None:
            raise HTTPException(503, _public(f"no model loaded: {self.model_error or 'loading'}"))
        return model

    # -- repositories ------------------------------------------------------------------------
    def history(self, name: str):
        """The warm :class:`RepoHistory` of an allow-listed repository (404 for other names)."""
        from riskml.config import data_paths
        from riskml.score.history import RepoHistory

        repos = self.repos
        if name not in repos:
            raise HTTPException(404, f"unknown repository {name!r}: not in [serve.repos]")
        with self._histories_lock:
            history = self._histories.get(name)
            if history is None:
                paths = data_paths(name, self.data_dir)
                try:
                    history = RepoHistory(
                        repos[name], paths.state, self.config, labels_path=paths.labels,
                        repo_name=name,
                    )  # fmt: skip
                except RiskmlError as exc:  # the server's data, not the caller's mistake
                    log.warning("repository %r is not available: %s", name, exc)
                    raise HTTPException(
                        503, _public(f"repository {name!r} is not available: {exc}")
                    ) from None
                self._histories[name] = history
        return history


# `[serve.repos] fleet = "fleet.toml"`: every repository of that fleet file (docs/fleet.md)
FLEET_KEY = "fleet"


def served_repos(config: Config) -> dict[str, str]:
    """``[serve.repos]`` with its ``fleet`` entry, when that names a fleet file (not a
    folder), replaced by every repository of the file (name -> path); an entry of its own
    wins over a fleet repository of the same name. A bad fleet file is one
    :class:`RiskmlError` line."""
    repos = dict(config.serve.repos)
    fleet = repos.get(FLEET_KEY)
    if fleet is None or Path(fleet).is_dir():
        return repos
    from riskml.fleet.file import load_fleet

    del repos[FLEET_KEY]
    for repo in load_fleet(fleet).repos:
        repos.setdefault(repo.name, str(repo.path))
    return repos


def budget_message(seconds: float) -> str:
    """The 503 detail of a request stopped by its time budget."""
    return (
        f"scoring ran out of its time budget of {seconds:g} s ([serve] request_timeout_seconds) "
        "and was stopped"
    )


async def within_budget(seconds: float, work: Callable[[], Any], what: str = "request") -> Any:
    """``work()`` in a worker thread under a time budget of ``seconds``; its result.

    At the deadline the request is answered at once (503, :func:`budget_message`) and the work
    is stopped: the git processes it started are killed and its loops end at their next
    :func:`riskml.budget.check` with :class:`~riskml.budget.BudgetExceeded`, so the thread ends
    instead of computing an answer nobody reads. Work that later requests share (a state loaded,
    tables read) runs to its end and is kept.
    """
    import anyio

    budget = Budget(seconds)

    def run() -> Any:
        with within(budget):
            return work()

    try:
        with anyio.move_on_after(budget.remaining()):
            return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
    except BudgetExceeded:
        pass  # the work's own check saw the deadline pass before the timer fired
    budget.expire()
    log.warning("%s stopped after its time budget of %g s", what, seconds)
    raise HTTPException(503, budget_message(seconds))


_URI = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+?(?=[:;,]?(?:\s|$))", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w.])(?:~|\.{1,2})?(?:/[^\s/:'\"]+)+/?")


def _public(message: str) -> str:
    """A 503 detail without the server's paths or store URIs (the log keeps them)."""
    return _PATH.sub("<path>", _URI.sub("<uri>", message))


def create_app(
    config: Config | None = None,
    model_uri: str | None = None,
    token: str | None = None,
    data_dir: str | Path = "data",
    cache_root: str | Path = "models",
    load: bool = True,
    announce: str | None = None,
) -> FastAPI:
    """The API. ``token`` defaults to ``$RISKML_API_TOKEN`` (empty: no authentication);
    repositories' mining states are read from ``<data_dir>/<name>/changes.state``.
    ``announce`` (the address served, from :func:`serve`): print :func:`startup_line` to stderr
    once the model is loaded."""
    from contextlib import asynccontextmanager

    config = config or Config()
    token = token if token is not None else os.environ.get(TOKEN_ENV, "")
    scorer = Scorer(config, model_uri, data_dir, cache_root)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if load:
            import anyio

            await anyio.to_thread.run_sync(scorer.refresh_model)
            scorer.start_refresh()
        if announce is not None:
            print(startup_line(scorer, announce), file=sys.stderr, flush=True)
        yield
        scorer.stop()

    app = FastAPI(
        title="riskml",
        summary="Deploy change-risk scoring: risk, tier and the review a change requires.",
        version=_version(),
        lifespan=lifespan,
        # the docs pages below load Swagger UI and ReDoc from the package, not from a CDN
        docs_url=None,
        redoc_url=None,
        # FastAPI's own limit: Content-Length checked up front, chunked bodies counted as
        # they stream; 413 before the body is parsed.
        max_body_size=int(config.serve.max_body_bytes),
    )
    app.state.scorer = scorer
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request):
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_URL}/swagger_ui/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger_ui/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/swagger_ui/favicon-32x32.png",
            oauth2_redirect_url=None,
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request):
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/swagger_ui/favicon-32x32.png",
            with_google_fonts=False,
        )

    @app.middleware("http")
    async def bearer(request: Request, call_next):
        if token and request.url.path != "/healthz":
            header = request.headers.get("authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.encode()
            ):
                return JSONResponse(
                    {"detail": "missing or wrong bearer token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError):
        # FastAPI's own answer echoes the input, which fails to serialise for NaN (a 500)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]  # fmt: skip
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(RiskmlError)
    async def _bad_input(request: Request, exc: RiskmlError):
        from riskml.errors import TooLargeError

        status = 413 if isinstance(exc, TooLargeError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    def get_scorer() -> Scorer:
        return scorer

    @app.get("/healthz", summary="Liveness and whether a model is loaded", response_model=None,
             responses={200: {"model": schema.Health}})  # fmt: skip
    def healthz(s: Scorer = Depends(get_scorer)) -> dict:
        model = s.model
        return {
            "status": "ok",
            "model_loaded": model is not None,
            "model": None if model is None else {"name": model.name, "version": model.version},
        }

    @app.get("/v1/model", summary="The model that scores: version, thresholds, evaluation",
             response_model=None,
             responses={200: {"model": schema.ModelInfo}, **schema.errors(401, 503)})  # fmt: skip
    def model_info(s: Scorer = Depends(get_scorer)) -> dict:
        model = s.require_model()
        out = model.describe()
        out["uri"] = model.uri
        out["loaded_at"] = model.loaded_at
        out["metrics"] = plain(getattr(model.model, "metrics", {}) or {})
        out["info"] = plain(getattr(model.model, "info", {}) or {})
        out["feature_columns"] = [str(c) for c in model.model.feature_columns]
        return out

    @app.post("/v1/score", summary="Score one commit, or a branch as one change and per commit",
              response_model=None,
              responses={200: {"model": schema.ScoreResponse},
                         **schema.errors(400, 401, 404, 413, 422, 503)})  # fmt: skip
    async def score_change(body: ScoreRequest, s: Scorer = Depends(get_scorer)) -> dict:
        from riskml.score import score

        if (body.rev is None) == (body.base is None and body.head is None):
            raise HTTPException(400, "give either rev, or base and head")
        if body.rev is None and (body.base is None or body.head is None):
            raise HTTPException(400, "a branch needs both base and head")
        for rev in (body.rev, body.base, body.head):
            if rev is not None:
                check_rev_syntax(rev)  # before anything reaches git
        for rev in (body.base, body.head):
            if rev is not None and ".." in rev:
                raise HTTPException(400, f"invalid revision: {rev!r}")
        model = s.require_model()
        if body.rev is not None:
            which = {"rev": body.rev}
        else:
            which = {"range": f"{body.base}..{body.head}"}

        def work() -> dict:
            history = s.history(body.repo)
            return score(history, model=model, config=s.config, top=body.top, **which)

        (changes,) = which.values()
        what = f"POST /v1/score {body.repo} {changes}"
        return await within_budget(s.config.serve.request_timeout_seconds, work, what)

    @app.post("/v1/score/features", summary="Risk and tier of feature rows (no git access)",
              response_model=None,
              responses={200: {"model": schema.FeatureScoreResponse},
                         **schema.errors(400, 401, 404, 413, 422, 503)})  # fmt: skip
    async def score_features(body: FeatureRequest, s: Scorer = Depends(get_scorer)) -> dict:
        from riskml.score import score_rows, tier_reference

        model = s.require_model()

        def work() -> dict:
            thresholds, reference = model.thresholds, {"rows": "stored"}
            if body.repo is not None:
                thresholds, reference = tier_reference(s.history(body.repo), model)
            changes = score_rows(body.rows, model, s.config, top=body.top, thresholds=thresholds)
            return {
                "changes": changes,
                "model": model.describe(thresholds, reference),
                "warnings": [],
            }

        what = f"POST /v1/score/features ({len(body.rows)} rows)"
        return await within_budget(s.config.serve.request_timeout_seconds, work, what)

    return app


def _version() -> str:
    from riskml import __version__

    return __version__


def startup_line(scorer: Scorer, address: str) -> str:
    """What the server serves, in one line: the model version and where it comes from (its
    registry name and version, or its path), the repositories, the address."""
    model = scorer.model
    if model is None:
        served = f"no model loaded from {scorer.model_uri} ({scorer.model_error or 'loading'})"
    else:
        version = f" version {model.version}" if model.version is not None else ""
        served = f"model {model.name}{version} from {model.uri}"
    repos = ", ".join(f"{name} ({path})" for name, path in scorer.config.serve.repos.items())
    worker = f" [worker {os.getpid()}]" if os.environ.get(_WORKER_ENV) else ""
    return (
        f"riskml {_version()} serve{worker}: {served}; repositories: {repos or 'none'}; "
        f"listening on {address}"
    )


# what `serve` hands to worker processes (uvicorn spawns them and imports the factory)
_WORKER_ENV = "RISKML_SERVE_WORKER"


def serve(
    config: Config,
    host: str | None = None,
    port: int | None = None,
    model_uri: str | None = None,
    data_dir: str | Path = "data",
    workers: int | None = None,
    config_path: str | Path | None = None,
    log_format: str = "text",
) -> None:
    """Run the API with uvicorn until interrupted.

    One process by default (requests run in threads). With ``workers`` > 1 (or
    ``[serve] workers``) uvicorn runs that many processes on one socket; each re-reads
    ``config_path`` (the same riskml.toml) and holds its own model and histories.

    Each process prints :func:`startup_line` to stderr once its model is loaded. The access
    log is uvicorn's (``log_format="text"``, on stdout) or one JSON object per request on
    stdout (``"json"``, :class:`JsonAccessLog`).
    """
    workers = int(workers if workers is not None else config.serve.workers)
    if workers < 1:
        raise RiskmlError(f"workers must be at least 1 (--workers, [serve] workers), got {workers}")
    if log_format not in LOG_FORMATS:
        raise RiskmlError(
            f"unknown log format {log_format!r} (--log-format): use one of {', '.join(LOG_FORMATS)}"
        )
    common = {
        "host": host or config.serve.host,
        "port": int(port if port is not None else config.serve.port),
        **_uvicorn_logging(log_format),
    }
    _check_address(common["host"], common["port"])
    address = _address(common["host"], common["port"])
    if workers == 1:
        uvicorn.run(_asgi_app(config, model_uri, data_dir, address, log_format), **common)
        return
    os.environ[_WORKER_ENV] = json.dumps(
        {
            "config": str(Path(config_path).resolve()) if config_path else None,
            "model_uri": model_uri,
            "data_dir": str(Path(data_dir).resolve()),
            "address": address,
            "log_format": log_format,
        }
    )
    from uvicorn.supervisors import Multiprocess

    # what uvicorn.run does for workers > 1, with a listening socket that keeps TCP_NODELAY
    config_ = _TcpConfig("riskml.serve:worker_app", factory=True, workers=workers, **common)
    Multiprocess(config_, sockets=[config_.bind_socket()]).run()


def _uvicorn_logging(log_format: str) -> dict:
    """uvicorn's logging: its own messages from warnings up; its access log (INFO) only for
    the text format (the JSON one is :class:`JsonAccessLog`)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO"
    # log_level None: uvicorn leaves the levels above as they are
    return {"log_config": config, "log_level": None, "access_log": log_format == "text"}


def _address(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _check_address(host: str, port: int) -> None:
    """One line before anything starts when the server could not listen on ``host:port``: a
    port out of range, an unknown host, an address in use or not this machine's."""
    if not 0 <= port <= 65535:
        raise RiskmlError(f"port must be in 0-65535 (--port, [serve] port), got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RiskmlError(f"cannot listen on {host}:{port}: unknown host ({exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            probe.bind(address)
        except OSError as exc:
            raise RiskmlError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class _TcpConfig(uvicorn.Config):
    """uvicorn's Config whose pre-bound listening socket says it is TCP.

    uvicorn (0.54) binds the socket for ``workers > 1`` with ``proto`` 0; accepted sockets
    inherit it, and asyncio turns on ``TCP_NODELAY`` only for ``proto == IPPROTO_TCP``. With
    Nagle on, every keep-alive request after the first waited ~40 ms for the client's delayed
    ACK (benchmarks/score_bench.py: keep-alive ``/healthz`` p50 44.0 ms against 0.7 ms).
    """

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            family, kind = sock.family, sock.type
            sock = socket.socket(family, kind, socket.IPPROTO_TCP, fileno=sock.detach())
            sock.set_inheritable(True)
        return sock


def worker_app():
    """The app of one worker process of ``serve(workers=N)``, from what ``serve`` passed on."""
    from riskml.config import load_config

    spec = json.loads(os.environ[_WORKER_ENV])
    config = load_config(spec["config"], repo=".")
    return _asgi_app(config, spec["model_uri"], spec["data_dir"], spec["address"],
                     spec["log_format"])  # fmt: skip


def _asgi_app(
    config: Config,
    model_uri: str | None,
    data_dir: str | Path,
    address: str | None = None,
    log_format: str = "text",
):
    """What uvicorn serves: the API behind the declared-body-size check (and the JSON access
    log around both, so a refused body is logged too)."""
    app = create_app(config, model_uri=model_uri, data_dir=data_dir, announce=address)
    limited = ContentLengthLimit(app, int(config.serve.max_body_bytes))
    return JsonAccessLog(limited) if log_format == "json" else limited
