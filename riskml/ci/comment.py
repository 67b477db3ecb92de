"""One pull-request comment per report: found again by a hidden marker, created once, then
updated in place (GitHub issue comments, GitLab merge-request notes).

Plain HTTP (``urllib``) with a timeout on every request, at most :data:`MAX_PAGES` pages of
comments read, one retry for an idempotent request that failed on the server's side, and no
redirect followed (the token is never sent anywhere else). Any failure is a
:class:`~riskml.errors.RiskmlError` of one line naming the request and the answer, never the
token.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from riskml.errors import RiskmlError

MARKER = "<!-- riskml:score -->"
PROVIDERS = ("github", "gitlab")
# the longest body each accepts (GitHub: 65,536 characters; GitLab: 1,000,000)
BODY_LIMIT = {"github": 65536, "gitlab": 1_000_000}
DEFAULT_API = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}
PAGE_SIZE = 100
MAX_PAGES = 20  # 2,000 comments read at most before a new one is created
DEFAULT_TIMEOUT = 10.0
_NAME = {"github": "GitHub", "gitlab": "GitLab"}
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GITLAB_PROJECT = re.compile(r"^(\d+|[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+)$")


@dataclass(frozen=True)
class Forge:
    """Where the comment goes: a GitHub pull request or a GitLab merge request.

    ``repo`` is ``owner/name`` (GitHub) or a project id or path (GitLab); ``number`` the pull
    request's number or the merge request's iid.
    """

    provider: str
    api_url: str
    repo: str
    number: int
    token: str = field(repr=False)

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise RiskmlError(
                f"unknown provider {self.provider!r}: expected one of {', '.join(PROVIDERS)}"
            )
        scheme = urllib.parse.urlsplit(self.api_url).scheme
        if scheme not in ("http", "https"):
            raise RiskmlError(f"invalid API URL {self.api_url!r}: expected http(s)://…")
        pattern = _GITHUB_REPO if self.provider == "github" else _GITLAB_PROJECT
        what = "owner/name" if self.provider == "github" else "a project id or group/name path"
        if not pattern.match(self.repo or "") or ".." in self.repo:
            raise RiskmlError(f"invalid repository {self.repo!r}: expected {what}")
        if not isinstance(self.number, int) or isinstance(self.number, bool) or self.number < 1:
            raise RiskmlError(f"invalid pull request number {self.number!r}: expected 1 or more")
        if not self.token:
            raise RiskmlError(f"no {_NAME[self.provider]} token: set {token_variables(self)}")

    @property
    def where(self) -> str:
        """``owner/name#7`` or ``group/project!7``."""
        return f"{self.repo}{'#' if self.provider == 'github' else '!'}{self.number}"


def token_variables(forge_or_provider) -> str:
    provider = getattr(forge_or_provider, "provider", forge_or_provider)
    return "GITHUB_TOKEN" if provider == "github" else "RISKML_GITLAB_TOKEN (or GITLAB_TOKEN)"


def forge_from_env(
    provider: str = "github",
    repo: str | None = None,
    number: int | None = None,
    api_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Forge:
    """A :class:`Forge` from what is given, the rest from the CI job's variables.

    GitHub Actions: ``GITHUB_API_URL``, ``GITHUB_REPOSITORY``, the number of ``GITHUB_REF``
    (``refs/pull/<n>/merge``), ``GITHUB_TOKEN``. GitLab CI: ``CI_API_V4_URL``,
    ``CI_PROJECT_ID``, ``CI_MERGE_REQUEST_IID``, ``RISKML_GITLAB_TOKEN`` or ``GITLAB_TOKEN``
    (a project or personal access token with the ``api`` scope: a job token cannot write notes).
    """
    env = os.environ if environ is None else environ
    if provider not in PROVIDERS:
        raise RiskmlError(f"unknown provider {provider!r}: expected one of {', '.join(PROVIDERS)}")
    if provider == "github":
        api = api_url or env.get("GITHUB_API_URL") or DEFAULT_API["github"]
        repo = repo or env.get("GITHUB_REPOSITORY")
        ref = re.match(r"^refs/pull/(\d+)/", env.get("GITHUB_REF", ""))
        number = number if number is not None else (int(ref.group(1)) if ref else None)
        token = env.get("GITHUB_TOKEN", "")
        missing = "--pr (or a pull request's GITHUB_REF)"
        missing_repo = "--repo (or GITHUB_REPOSITORY)"
    else:
        api = api_url or env.get("CI_API_V4_URL") or DEFAULT_API["gitlab"]
        repo = repo or env.get("CI_PROJECT_ID")
        iid = env.get("CI_MERGE_REQUEST_IID", "")
        number = number if number is not None else (int(iid) if iid.isdigit() else None)
        token = env.get("RISKML_GITLAB_TOKEN") or env.get("GITLAB_TOKEN", "")
        missing = "--pr (or CI_MERGE_REQUEST_IID)"
        missing_repo = "--repo (or CI_PROJECT_ID)"
    if not repo:
        raise RiskmlError(f"no repository: give {missing_repo}")
    if number is None:
        raise RiskmlError(f"no pull request: give {missing}")
    return Forge(provider, api.rstrip("/"), repo, number, token)


@dataclass(frozen=True)
class Posted:
    """What :func:`upsert_comment` did: ``created``, ``updated`` or ``unchanged`` comment ``id``."""

    action: str
    comment_id: int
    url: str | None = None


def comment_body(markdown: str, marker: str = MARKER, limit: int = BODY_LIMIT["github"]) -> str:
    """The comment's text: the marker on the first line (unless the report holds it), then the
    report, cut to ``limit`` characters with a note when it is longer."""
    text = markdown.strip()
    if not text:
        raise RiskmlError("the report is empty: nothing to post")
    if marker not in text:
        text = f"{marker}\n{text}"
    if len(text) > limit:
        note = "\n\n… (cut to fit the comment's size limit; the job's report has all of it)"
        text = text[: limit - len(note)] + note
    return text + "\n"


def upsert_comment(
    forge: Forge, markdown: str, marker: str = MARKER, timeout: float = DEFAULT_TIMEOUT
) -> Posted:
    """Create the pull request's comment carrying ``marker``, or update the one that exists
    (the oldest, when several do); leave it alone when its text is already ``markdown``."""
    if not marker.strip():
        raise RiskmlError("the marker is empty: it is how the comment is found again")
    body = comment_body(markdown, marker, BODY_LIMIT[forge.provider])
    api = _Api(forge, timeout)
    found = _find(api, forge, marker)
    if found is None:
        made = api.call("POST", _comments_path(forge), {"body": body})
        return Posted("created", int(made["id"]), made.get("html_url"))
    if found.get("body", "").strip() == body.strip():
        return Posted("unchanged", int(found["id"]), found.get("html_url"))
    changed = api.call(*_update(forge, int(found["id"])), {"body": body})
    return Posted("updated", int(changed["id"]), changed.get("html_url"))


def _project(forge: Forge) -> str:
    return urllib.parse.quote(forge.repo, safe="")


def _comments_path(forge: Forge) -> str:
    if forge.provider == "github":
        return f"/repos/{forge.repo}/issues/{forge.number}/comments"
    return f"/projects/{_project(forge)}/merge_requests/{forge.number}/notes"


def _update(forge: Forge, comment_id: int) -> tuple[str, str]:
    if forge.provider == "github":
        return "PATCH", f"/repos/{forge.repo}/issues/comments/{comment_id}"
    return "PUT", f"/projects/{_project(forge)}/merge_requests/{forge.number}/notes/{comment_id}"


def _find(api: _Api, forge: Forge, marker: str) -> dict | None:
    """The oldest comment whose body holds ``marker`` (GitLab's system notes left out)."""
    params = {"per_page": PAGE_SIZE}
    if forge.provider == "gitlab":
        params.update(sort="asc", order_by="created_at")
    for page in range(1, MAX_PAGES + 1):
        items = api.call("GET", _comments_path(forge), params={**params, "page": page})
        if not isinstance(items, list):
            raise RiskmlError(f"{api.name} API: GET {_comments_path(forge)}: expected a list")
        for item in items:
            if not isinstance(item, dict) or item.get("system"):
                continue
            if marker in str(item.get("body") or ""):
                return item
        if len(items) < PAGE_SIZE:
            return None
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None  # a 3xx is answered as an error: the token stays with the API it was for


class _Api:
    """Requests to one forge's REST API, each bounded by ``timeout`` seconds."""

    RETRIED = ("GET", "PATCH", "PUT")  # idempotent: safe to send twice

    def __init__(self, forge: Forge, timeout: float) -> None:
        from riskml import __version__

        self.forge = forge
        self.timeout = float(timeout)
        self.name = f"{_NAME[forge.provider]} API"
        self.opener = urllib.request.build_opener(_NoRedirect)
        self.headers = {"User-Agent": f"riskml/{__version__}", "Accept": "application/json"}
        if forge.provider == "github":
            self.headers.update(
                {
                    "Accept": "application/vnd.github+json",
                    "Authorization": f"Bearer {forge.token}",
                    "X-GitHub-Api-Version": "2022-11-28",
                }
            )
        else:
            self.headers["PRIVATE-TOKEN"] = forge.token

    def call(self, method: str, path: str, payload: dict | None = None, params=None):
        """The JSON answer of ``method path``; one retry when an idempotent request failed on
        the server's side or timed out."""
        attempts = 2 if method in self.RETRIED else 1
        for attempt in range(attempts):
            try:
                return self._once(method, path, payload, params)
            except _Retryable as exc:
                if attempt + 1 == attempts:
                    raise RiskmlError(str(exc)) from None
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, payload: dict | None, params):
        url = self.forge.api_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None
        headers = dict(self.headers)
        if payload is not None:
            data = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        what = f"{self.name}: {method} {path}"
        try:
            with self.opener.open(request, timeout=self.timeout) as answer:
                raw = answer.read(8 * 1024 * 1024)
        except urllib.error.HTTPError as exc:
            message = f"{what} answered {exc.code} {exc.reason}{_detail(exc)}"
            if exc.code >= 500:
                raise _Retryable(message) from None
            raise RiskmlError(message) from None
        except TimeoutError:
            raise _Retryable(f"{what} timed out after {self.timeout:g} s") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise _Retryable(f"{what} timed out after {self.timeout:g} s") from None
            raise _Retryable(f"{what} failed: {_one_line(str(reason))}") from None
        except OSError as exc:  # a reset connection, a half-read answer
            raise _Retryable(f"{what} failed: {_one_line(str(exc))}") from None
        try:
            return json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RiskmlError(f"{what} answered something that is not JSON") from None


class _Retryable(Exception):
    """A failure worth one more try (5xx, timeout, connection)."""


def _detail(exc: urllib.error.HTTPError) -> str:
    """``: <the API's message>`` from an error answer's JSON, when it has one."""
    try:
        body = json.loads(exc.read(64 * 1024).decode("utf-8", "replace"))
    except (OSError, ValueError):
        return ""
    message = body.get("message") or body.get("error") if isinstance(body, dict) else None
    if isinstance(message, dict | list):
        message = json.dumps(message)
    return f": {_one_line(str(message))}" if message else ""


def _one_line(text: str, width: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
