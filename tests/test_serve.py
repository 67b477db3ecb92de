"""`riskml serve` as a real server on 127.0.0.1 (subprocess), and the registered pyfunc.

The same change must get the same risk and tier from the CLI, the API, `mlflow.pyfunc` and
`mlflow models serve`; hostile input gets a 4xx with a reason and touches nothing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from conftest import venv_env
from test_score import MODEL, World, build_world, git, score_cli

# end to end: real servers over a mined, labelled and trained world
pytestmark = pytest.mark.slow

TOKEN = "s3cret-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture(scope="module")
def world(tmp_path_factory, mlflow_uri) -> World:
    return build_world(tmp_path_factory, mlflow_uri)


@pytest.fixture(scope="module")
def served(world, tmp_path_factory):
    """`riskml serve` with the world's riskml.toml (allow-list: repo), token required; its
    access log (stdout) goes to a file. (base URL, server process, that file)."""
    port = free_port()
    env = dict(os.environ, RISKML_API_TOKEN=TOKEN)
    access = tmp_path_factory.mktemp("serve_log") / "stdout.log"
    with access.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "riskml", "serve", "--config", str(world.config),
             "--port", str(port)],
            cwd=world.root, env=env, stdout=out, stderr=subprocess.PIPE,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/healthz", proc)
        yield base, proc, access
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(served) -> str:
    return served[0]


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=60) as client:  # fmt: skip
        yield client


@pytest.fixture(scope="module")
def cli_result(world) -> dict:
    done = score_cli(world, "--rev", world.pending)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_healthz_is_open_and_reports_the_model(server):
    body = httpx.get(f"{server}/healthz").json()
    assert body == {"status": "ok", "model_loaded": True, "model": {"name": MODEL, "version": "1"}}


@pytest.mark.parametrize("path", ["/v1/model", "/docs", "/openapi.json"])
def test_token_required_everywhere_but_healthz(server, path):
    assert httpx.get(f"{server}{path}").status_code == 401
    wrong = httpx.get(f"{server}{path}", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "missing or wrong bearer token"}
    denied = httpx.post(f"{server}/v1/score", json={"repo": "repo", "rev": "HEAD"})
    assert denied.status_code == 401


def test_openapi_lists_the_endpoints(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/score", "/v1/score/features", "/v1/model", "/healthz"} <= set(paths)
    assert api.get("/docs").status_code == 200


def test_model_endpoint(api):
    body = api.get("/v1/model").json()
    assert body["name"] == MODEL and body["version"] == "1"
    assert set(body["thresholds"]) == {"medium", "high", "critical"}
    assert "roc_auc" in json.dumps(body["metrics"])


def test_same_change_same_risk_from_cli_and_api(api, world, cli_result):
    response = api.post("/v1/score", json={"repo": "repo", "rev": world.pending})
    assert response.status_code == 200, response.text
    body = response.json()
    (cli,), (http,) = cli_result["changes"], body["changes"]
    assert (http["id"], http["risk"], http["tier"]) == (cli["id"], cli["risk"], cli["tier"])
    assert http["features"] == cli["features"]
    assert http["reasons"] == cli["reasons"]
    assert body["model"] == cli_result["model"]


def test_feature_rows_endpoint_scores_the_same(api, cli_result):
    from riskml.train.model import TIER_RANK, assign_tiers

    cli = cli_result["changes"][0]
    # naming the repository: tiered as its changes are (the trailing thresholds)
    response = api.post("/v1/score/features", json={"rows": [cli["features"]], "repo": "repo"})
    assert response.status_code == 200, response.text
    (row,) = response.json()["changes"]
    assert (row["risk"], row["tier"]) == (cli["risk"], cli["tier"])
    assert response.json()["model"] == cli_result["model"]
    assert cli_result["model"]["tier_reference"]["rows"] == "trailing"
    # without it: the same risk, tiered with the thresholds stored with the version
    response = api.post("/v1/score/features", json={"rows": [cli["features"]]})
    body = response.json()
    (row,) = body["changes"]
    assert body["model"]["tier_reference"] == {"rows": "stored"}
    stored = api.get("/v1/model").json()["thresholds"]
    assert body["model"]["thresholds"] == stored
    assert row["risk"] == cli["risk"]
    by_risk = assign_tiers([row["risk"]], stored, floor="")[0]
    critical = cli["features"]["touches_critical"]  # the critical-path floor: medium
    assert row["tier"] == (
        max(by_risk, "medium", key=TIER_RANK.__getitem__) if critical else by_risk
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[{"la": "abc"}]', "row 0, column 'la': expected a number, got 'abc'"),
        ('[{"la": [1, 2]}]', "row 0, column 'la': expected a single value, got list"),
        ('[{"la": 1e400}]', "row 0, column 'la': expected a finite number, got inf"),
        ('[{"files": 5}]', "row 0, column 'files': expected a string, got 5"),
        ('[{"touches_critical": "yes"}]',
         "row 0, column 'touches_critical': expected true or false, got 'yes'"),
        ('[{"author_time": 100000000000000000000}]',
         "row 0, column 'author_time': expected an ISO time or epoch seconds of years "
         "1970-9999, got 100000000000000000000"),
    ],
)  # fmt: skip
def test_malformed_feature_rows_are_400_naming_row_and_column(api, body, message):
    response = api.post(
        "/v1/score/features",
        content=f'{{"rows": {body}}}'.encode(),
        headers={"content-type": "application/json"},
    )
    assert (response.status_code, response.json()) == (400, {"detail": message})


def test_a_nan_parameter_is_422_not_500(api):
    response = api.post(
        "/v1/score",
        content=b'{"repo": "repo", "rev": "HEAD", "top": NaN}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body", "top"], "msg": "Input should be a finite number",
             "type": "finite_number"}
        ]
    }  # fmt: skip


def test_branch_request(api, world):
    response = api.post("/v1/score", json={"repo": "repo", "base": "main", "head": "feature"})
    assert response.status_code == 200, response.text
    ids = [c["id"] for c in response.json()["changes"]]
    assert ids == [f"{world.base}..{world.feature[1]}", *world.feature]


def test_the_same_range_gets_the_same_answer_whatever_came_between(api, world):
    """A range, a commit of the branch, another range, then the first range again: the first
    range's answer never changes, and it is what `riskml score --range` prints for it (the
    requests in between must not leave a history the next one sees)."""
    first = (git(world.repo, "rev-parse", f"{world.mined_head}~4"), world.mined_head)
    second = (world.base, world.feature[1])

    def ask(body: dict) -> dict:
        response = api.post("/v1/score", json={"repo": "repo", **body})
        assert response.status_code == 200, response.text
        return response.json()

    answers = [ask({"base": first[0], "head": first[1]})]
    rev = ask({"rev": world.feature[0]})
    other = ask({"base": second[0], "head": second[1]})
    answers.append(ask({"base": first[0], "head": first[1]}))
    expected = {}
    for name, args in (("first", ("--range", "..".join(first))),
                       ("rev", ("--rev", world.feature[0])),
                       ("other", ("--range", "..".join(second)))):  # fmt: skip
        done = score_cli(world, *args)
        assert done.returncode == 0, done.stderr
        expected[name] = json.loads(done.stdout)
    assert answers == [expected["first"], expected["first"]]
    assert rev == expected["rev"]
    assert other == expected["other"]
    risks = [c["risk"] for c in answers[0]["changes"]]
    assert risks == [c["risk"] for c in expected["first"]["changes"]] and len(risks) >= 5


def _asset_urls(html: str) -> list[str]:
    import re

    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_pages_load_their_scripts_and_styles_from_the_server(api):
    """Swagger UI (/docs) and ReDoc (/redoc) work offline: every script, style sheet and icon
    the pages name is a path on this server (the files vendored in riskml/static/)."""
    docs = api.get("/docs")
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    assert _asset_urls(docs.text) == [
        "/static/swagger_ui/swagger-ui.css",
        "/static/swagger_ui/favicon-32x32.png",
        "/static/swagger_ui/swagger-ui-bundle.js",
    ]
    assert "url: '/openapi.json'" in docs.text
    redoc = api.get("/redoc")
    assert redoc.status_code == 200 and '<redoc spec-url="/openapi.json">' in redoc.text
    assert _asset_urls(redoc.text) == [
        "/static/swagger_ui/favicon-32x32.png",
        "/static/redoc/redoc.standalone.js",
    ]
    assert "://" not in docs.text + redoc.text  # no CDN, no web fonts
    kinds = {}
    for url in _asset_urls(docs.text) + _asset_urls(redoc.text):
        response = api.get(url)
        assert response.status_code == 200, url
        kinds[url.rsplit("/", 1)[1]] = (response.headers["content-type"], len(response.content))
    from riskml.serve import STATIC_DIR

    def size(name: str) -> int:
        return next(STATIC_DIR.rglob(name)).stat().st_size

    assert kinds == {
        "swagger-ui.css": ("text/css; charset=utf-8", size("swagger-ui.css")),
        "favicon-32x32.png": ("image/png", size("favicon-32x32.png")),
        "swagger-ui-bundle.js": ("text/javascript; charset=utf-8", size("swagger-ui-bundle.js")),
        "redoc.standalone.js": ("text/javascript; charset=utf-8", size("redoc.standalone.js")),
    }
    assert api.get("/static/swagger_ui/swagger-ui-bundle.js").text.count("SwaggerUIBundle") > 0
    assert httpx.get(f"{api.base_url}/redoc").status_code == 401  # behind the token too


def test_openapi_declares_a_response_model_for_every_path(api):
    spec = api.get("/openapi.json").json()
    declared = {
        (path, method): op["responses"]["200"]["content"]["application/json"]["schema"]
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    assert declared == {
        ("/healthz", "get"): {"$ref": "#/components/schemas/Health"},
        ("/v1/model", "get"): {"$ref": "#/components/schemas/ModelInfo"},
        ("/v1/score", "post"): {"$ref": "#/components/schemas/ScoreResponse"},
        ("/v1/score/features", "post"): {"$ref": "#/components/schemas/FeatureScoreResponse"},
    }
    score = spec["paths"]["/v1/score"]["post"]["responses"]
    errors = {s: r["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
              for s, r in score.items() if s != "200"}  # fmt: skip
    assert errors == {"400": "ErrorMessage", "401": "ErrorMessage", "404": "ErrorMessage",
                      "413": "ErrorMessage", "422": "ValidationErrors", "503": "ErrorMessage"}  # fmt: skip
    assert "Change" not in spec["components"]["schemas"]  # the models' own names
    assert spec["components"]["schemas"]["CommitChange"]["additionalProperties"] is False


def test_every_answer_is_exactly_its_declared_model(api, world, cli_result):
    """Real answers validate against their models (which forbid unknown keys) and dump back to
    the same JSON: the models describe the answers key for key, renaming nothing."""
    from riskml.score import schema

    def exactly(model, response, status: int = 200) -> None:
        assert response.status_code == status, response.text
        body = response.json()
        assert model.model_validate(body).model_dump(mode="json", exclude_unset=True) == body

    exactly(schema.Health, api.get("/healthz"))
    exactly(schema.ModelInfo, api.get("/v1/model"))
    exactly(
        schema.ScoreResponse, api.post("/v1/score", json={"repo": "repo", "rev": world.pending})
    )
    branch = {"repo": "repo", "base": "main", "head": "feature"}
    exactly(schema.ScoreResponse, api.post("/v1/score", json=branch))
    rows = {"rows": [cli_result["changes"][0]["features"], {"la": 3}]}
    exactly(schema.FeatureScoreResponse, api.post("/v1/score/features", json=rows))
    exactly(schema.FeatureScoreResponse, api.post("/v1/score/features",
                                                  json={**rows, "repo": "repo"}))  # fmt: skip
    exactly(schema.ErrorMessage, api.post("/v1/score", json={"repo": "repo", "rev": "-n1"}), 400)
    exactly(schema.ErrorMessage, api.post("/v1/score", json={"repo": "x", "rev": "HEAD"}), 404)
    exactly(schema.ValidationErrors, api.post("/v1/score", json={"repo": "repo", "top": -1}), 422)
    exactly(schema.ErrorMessage, httpx.get(f"{api.base_url}/v1/model"), 401)


def test_the_access_log_is_uvicorns_by_default(served, api):
    base, proc, access = served
    api.get("/v1/model")
    deadline = time.monotonic() + 10
    expected = '"GET /v1/model HTTP/1.1" 200'
    while expected not in access.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [line for line in access.read_text().splitlines() if expected in line]
    assert lines and lines[-1].startswith("INFO:     127.0.0.1:")


def test_startup_line_and_json_access_log(world):
    """`riskml serve --log-format json`: one startup line on stderr, one JSON object per
    request on stdout (a 413 refused before the app too)."""
    port = free_port()
    env = dict(os.environ)
    env.pop("RISKML_API_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskml", "serve", "--config", str(world.config),
         "--port", str(port), "--log-format", "json"],
        cwd=world.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/healthz", proc)
        with httpx.Client(base_url=base, timeout=60) as client:
            assert (
                client.post("/v1/score", json={"repo": "repo", "rev": world.pending}).status_code
                == 200
            )
            assert client.post("/v1/score", json={"repo": "nope", "rev": "HEAD"}).status_code == 404
            assert client.get("/v1/model?x=1").status_code == 200
            big = client.post("/v1/score/features", content=b"x" * 2_000_000,
                              headers={"Content-Type": "application/json"})  # fmt: skip
            assert big.status_code == 413
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    from riskml import __version__

    assert err.decode().splitlines()[0] == (
        f"riskml {__version__} serve: model {MODEL} version 1 from {world.uri}; "
        f"repositories: repo ({world.repo}); listening on {base}"
    )
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert all(set(line) == {"time", "method", "path", "status", "duration_ms", "client"}
               for line in lines)  # fmt: skip
    assert all(line["client"].startswith("127.0.0.1:") and line["duration_ms"] >= 0
               and line["time"].endswith("+00:00") for line in lines)  # fmt: skip
    # one line per request; a line is written once its answer is sent, so two answers sent
    # close together may be logged in either order
    ours = sorted((line["method"], line["path"], line["status"]) for line in lines
                  if line["path"] != "/healthz")  # fmt: skip
    assert ours == [("GET", "/v1/model", 200), ("POST", "/v1/score", 200),
                    ("POST", "/v1/score", 404), ("POST", "/v1/score/features", 413)]  # fmt: skip
    assert {line["path"] for line in lines} == {"/healthz", "/v1/score", "/v1/model",
                                                "/v1/score/features"}  # fmt: skip


def test_an_unknown_log_format_is_a_user_error(world, cli):
    done = cli("serve", "--config", str(world.config), "--log-format", "xml", cwd=world.root)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "riskml: error: unknown log format 'xml' (--log-format): use one of text, json"
    )


def _stored_tier(world, features: dict) -> str:
    """The tier of a feature row under the thresholds stored with the version: what a caller
    without the repository's history (the pyfunc) gets."""
    from riskml.config import load_config
    from riskml.score import score_rows
    from riskml.score.model import load_model

    config = load_config(world.config)
    (change,) = score_rows([features], load_model(world.uri, config), config)
    return change["tier"]


def test_pyfunc_scores_feature_rows_the_same(world, cli_result):
    import mlflow.pyfunc
    import pandas as pd

    cli = cli_result["changes"][0]
    model = mlflow.pyfunc.load_model(world.uri)
    out = model.predict(pd.DataFrame([cli["features"]]))
    assert float(out["risk"].iloc[0]) == pytest.approx(cli["risk"], abs=1e-12)
    assert out["tier"].iloc[0] == _stored_tier(world, cli["features"])
    assert json.loads(out["reasons"].iloc[0])[0]["feature"] == cli["reasons"][0]["feature"]


def test_mlflow_models_serve_scores_feature_rows_the_same(world, cli_result, tmp_path):
    cli = cli_result["changes"][0]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", world.uri,
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=venv_env(),
    )  # fmt: skip
    try:
        wait_up(f"http://127.0.0.1:{port}/ping", proc, seconds=120)
        frame = {"columns": list(cli["features"]), "data": [list(cli["features"].values())]}
        response = httpx.post(f"http://127.0.0.1:{port}/invocations",
                              json={"dataframe_split": frame}, timeout=60)  # fmt: skip
        assert response.status_code == 200, response.text
        (row,) = response.json()["predictions"]
        assert row["risk"] == pytest.approx(cli["risk"], abs=1e-12)
        assert row["tier"] == _stored_tier(world, cli["features"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _repo_fingerprint(world: World) -> tuple[str, str, str]:
    refs = git(world.repo, "for-each-ref", "--format=%(refname) %(objectname)")
    status = git(world.repo, "status", "--porcelain", "--untracked-files=all")
    state = (world.root / "data/repo/changes.state").stat().st_mtime_ns
    return refs, status, str(state)


@pytest.mark.parametrize(
    "body, status, reason",
    [
        ({"repo": "repo", "rev": "--output=OUT"}, 400, "invalid revision"),
        ({"repo": "repo", "rev": "-n1"}, 400, "invalid revision"),
        ({"repo": "repo", "rev": "HEAD;id"}, 400, "invalid revision"),
        ({"repo": "repo", "rev": "../.."}, 400, "invalid revision"),
        (
            {"repo": "repo", "rev": "0123456789abcdef0123456789abcdef01234567"},
            400,
            "unknown revision",
        ),
        ({"repo": "repo", "base": "--output=OUT", "head": "HEAD"}, 400, "invalid revision"),
        ({"repo": "repo", "base": "main"}, 400, "base and head"),
        ({"repo": "repo", "rev": "HEAD", "head": "main"}, 400, "either rev"),
        ({"repo": "/etc", "rev": "HEAD"}, 404, "unknown repository"),
        ({"repo": "other", "rev": "HEAD"}, 404, "not in [serve.repos]"),
        ({"repo": "repo", "rev": "HEAD", "path": "/etc"}, 422, "path"),
    ],
)
def test_hostile_requests_get_a_4xx_with_a_reason_and_touch_nothing(
    api, world, tmp_path, body, status, reason
):
    before = _repo_fingerprint(world)
    out = tmp_path / "x"
    body = {k: v.replace("OUT", str(out)) for k, v in body.items()}
    response = api.post("/v1/score", json=body)
    assert response.status_code == status, response.text
    assert reason in json.dumps(response.json()["detail"])
    assert not out.exists()
    assert _repo_fingerprint(world) == before


def test_a_10_mb_body_is_refused_with_413(api):
    big = b'{"rows": [' + b" " * (10 * 1024 * 1024) + b"]}"
    response = api.post("/v1/score/features", content=big,
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert response.json() == {"detail": "request body larger than 1000000 bytes"}

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(11):
            yield b" " * (1024 * 1024)

    streamed = api.post("/v1/score/features", content=chunks(),
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert streamed.status_code == 413
    assert streamed.json() == {"detail": "Content Too Large"}


def test_concurrent_requests_agree(api, world):
    revs = [world.pending, *world.feature, "HEAD~5", world.pending, *world.feature, "HEAD~5"]
    expected = {}
    for rev in set(revs):
        expected[rev] = api.post("/v1/score", json={"repo": "repo", "rev": rev}).json()
    results: dict[int, dict] = {}

    def call(i: int, rev: str) -> None:
        results[i] = api.post("/v1/score", json={"repo": "repo", "rev": rev}).json()

    threads = [threading.Thread(target=call, args=(i, rev)) for i, rev in enumerate(revs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(revs))] == [expected[rev] for rev in revs]


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_without_a_model_the_server_starts_and_scoring_is_503(world):
    from fastapi.testclient import TestClient

    from riskml.config import Config, ServeConfig
    from riskml.serve import create_app

    config = Config(serve=ServeConfig(repos={"repo": str(world.repo)}))
    app = create_app(config, model_uri="models:/nobody@champion", token="",
                     data_dir=world.root / "data")  # fmt: skip
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {
            "status": "ok",
            "model_loaded": False,
            "model": None,
        }
        response = client.post("/v1/score", json={"repo": "repo", "rev": world.pending})
        assert response.status_code == 503
        assert "no model loaded" in response.json()["detail"]
        assert "has no alias 'champion'" in response.json()["detail"]


def test_a_branch_over_the_commit_cap_is_413_naming_the_cap(world):
    from fastapi.testclient import TestClient

    from riskml.config import Config, ScoreConfig, ServeConfig
    from riskml.serve import create_app

    config = Config(
        serve=ServeConfig(repos={"repo": str(world.repo)}),
        score=ScoreConfig(max_range_commits=1),
    )
    app = create_app(config, model_uri=world.uri, token="", data_dir=world.root / "data")
    with TestClient(app) as client:
        response = client.post(
            "/v1/score", json={"repo": "repo", "base": "main", "head": "feature"}
        )
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"range {world.base[:12]}..{world.feature[1][:12]} holds 2 commits, "
        "more than [score] max_range_commits (1)"
    }


def test_a_503_body_names_no_server_path_or_store_uri(world, tmp_path):
    from fastapi.testclient import TestClient

    from riskml.config import Config, ServeConfig
    from riskml.serve import create_app

    broken = tmp_path / "data" / "repo"
    broken.mkdir(parents=True)
    (broken / "changes.state.joblib").write_bytes(b"not a state")
    config = Config(serve=ServeConfig(repos={"repo": str(world.repo)}))
    app = create_app(config, model_uri=world.uri, token="", data_dir=tmp_path / "data")
    with TestClient(app) as client:
        response = client.post("/v1/score", json={"repo": "repo", "rev": world.pending})
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail.startswith("repository 'repo' is not available: <path>")
    assert str(tmp_path) not in detail and "://" not in detail


def test_feature_rows_are_validated(api):
    assert api.post("/v1/score/features", json={"rows": []}).status_code == 422
    too_many = {"rows": [{"la": 1}] * 1001}
    assert api.post("/v1/score/features", json=too_many).status_code == 422
    partial = api.post("/v1/score/features", json={"rows": [{"la": 10, "ld": 2}]})
    assert partial.status_code == 200  # missing columns are missing values
    assert partial.json()["changes"][0]["tier"] in ("low", "medium", "high", "critical")


def _spawned_workers(pid: int) -> int:
    """Child processes of ``pid`` started by multiprocessing's spawn (uvicorn's workers)."""
    from pathlib import Path

    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    count = 0
    for child in children:
        try:
            args = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:  # exited meanwhile
            continue
        count += any(b"spawn_main" in a for a in args)
    return count


def test_two_workers_serve_the_same_answers(world, cli_result):
    """`--workers 2`: two processes on one port, each with its own model, same answers."""
    port = free_port()
    env = dict(os.environ)
    env.pop("RISKML_API_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskml", "serve", "--config", str(world.config),
         "--port", str(port), "--workers", "2"],
        cwd=world.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/healthz", proc)
        deadline = time.monotonic() + 60
        while _spawned_workers(proc.pid) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _spawned_workers(proc.pid) == 2
        (cli,) = cli_result["changes"]
        seen = set()
        for _ in range(8):  # a new connection each time: either worker may answer
            body = httpx.post(f"{base}/v1/score", json={"repo": "repo", "rev": world.pending},
                              timeout=60).json()  # fmt: skip
            (http,) = body["changes"]
            seen.add((http["id"], http["risk"], http["tier"], body["model"]["version"]))
        assert seen == {(cli["id"], cli["risk"], cli["tier"], cli_result["model"]["version"])}
        big = httpx.post(f"{base}/v1/score/features", content=b"x" * 2_000_000,
                         headers={"Content-Type": "application/json"}, timeout=60)  # fmt: skip
        assert big.status_code == 413
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_worker_socket_gives_accepted_connections_tcp_nodelay():
    """uvicorn binds the workers' socket with proto 0, and asyncio then leaves Nagle on for
    accepted connections (each keep-alive request waited ~40 ms); ours says TCP."""
    import asyncio
    import socket

    from riskml.serve import _TcpConfig

    sock = _TcpConfig("riskml.serve:worker_app", host="127.0.0.1", port=0).bind_socket()
    assert (sock.family, sock.proto) == (socket.AF_INET, socket.IPPROTO_TCP)

    class Report(asyncio.Protocol):
        seen: list[int] = []

        def connection_made(self, transport):
            accepted = transport.get_extra_info("socket")
            Report.seen.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main() -> None:
        sock.listen()
        server = await asyncio.get_running_loop().create_server(Report, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname())
        for _ in range(100):
            if Report.seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert Report.seen == [1]


def test_workers_below_one_is_a_user_error(world, cli):
    done = cli("serve", "--config", str(world.config), "--workers", "0", cwd=world.root)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "riskml: error: workers must be at least 1 (--workers, [serve] workers), got 0"
    )


def test_a_new_champion_is_picked_up_without_restart(api, world):
    """Runs last: registers version 2 of the same model and moves `champion` to it."""
    from mlflow import MlflowClient

    client = MlflowClient()
    current = client.get_model_version_by_alias(MODEL, "champion")
    new = client.create_model_version(MODEL, current.source, run_id=current.run_id)
    client.set_registered_model_alias(MODEL, "champion", new.version)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if api.get("/v1/model").json()["version"] == str(new.version):
            break
        time.sleep(0.2)
    assert api.get("/v1/model").json()["version"] == str(new.version)
    scored = api.post("/v1/score", json={"repo": "repo", "rev": world.pending}).json()
    assert scored["model"]["version"] == str(new.version)
    client.set_registered_model_alias(MODEL, "champion", current.version)
