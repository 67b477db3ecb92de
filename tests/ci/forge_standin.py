"""A local stand-in for the GitHub and GitLab REST APIs: real HTTP on 127.0.0.1, comments in
memory, run in a thread of the test for the length of a ``with`` block.

It implements what ``riskml ci comment`` calls — GitHub: list, create and update issue
comments; GitLab: list, create and update merge-request notes — checks the token as each
service does (``Authorization: Bearer`` / ``PRIVATE-TOKEN``), pages with ``per_page`` and
``page``, and can be told to fail (``fail``), to be slow (``delay``) or to redirect.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (a timeout under test) is not the stand-in's failure


@dataclass
class Failure:
    status: int
    message: str
    methods: tuple[str, ...] = ("GET", "POST", "PATCH", "PUT")


@dataclass
class StandIn:
    provider: str  # "github" or "gitlab"
    repo: str  # owner/name, or a GitLab project path or id
    number: int
    token: str = "t0ken"
    comments: list[dict] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail: Failure | None = None
    delay: float = 0.0
    redirect: bool = False
    _next_id: int = 1000

    # -- lifetime --------------------------------------------------------------------------
    def __enter__(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a stuck client cannot hold a handler thread for longer

            def log_message(self, *args):  # keep pytest's output clean
                pass

            def _answer(self, status: int, body, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = standin.route(method, self.path, self.headers, raw)
                self._answer(status, body, headers)

            def do_GET(self):  # noqa: N802
                self._handle("GET")

            def do_POST(self):  # noqa: N802
                self._handle("POST")

            def do_PATCH(self):  # noqa: N802
                self._handle("PATCH")

            def do_PUT(self):  # noqa: N802
                self._handle("PUT")

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        root = f"http://{host}:{port}"
        return root if self.provider == "github" else f"{root}/api/v4"

    # -- what the tests read ---------------------------------------------------------------
    def marked(self, marker: str = "<!-- riskml:score -->") -> list[dict]:
        return [c for c in self.comments if marker in c["body"]]

    def add(self, body: str, **extra) -> dict:
        comment = {"id": self._next_id, "body": body, **extra}
        self._next_id += 1
        self.comments.append(comment)
        return comment

    # -- the API ---------------------------------------------------------------------------
    def route(self, method: str, target: str, headers, raw: bytes):
        split = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(split.query))
        path = split.path
        self.requests.append((method, path))
        if self.delay:
            time.sleep(self.delay)
        if self.redirect:
            return 302, {"message": "moved"}, {"Location": "http://127.0.0.1:9/elsewhere"}
        if not self._authorised(headers):
            return 401, {"message": "Bad credentials" if self.provider == "github" else
                         "401 Unauthorized"}, None  # fmt: skip
        if self.fail is not None and method in self.fail.methods:
            return self.fail.status, {"message": self.fail.message}, None
        payload = json.loads(raw) if raw else {}
        if self.provider == "github":
            return self._github(method, path, query, payload)
        return self._gitlab(method, path, query, payload)

    def _authorised(self, headers) -> bool:
        if self.provider == "github":
            return headers.get("Authorization") == f"Bearer {self.token}"
        return headers.get("PRIVATE-TOKEN") == self.token

    def _page(self, query: dict, items: list[dict]) -> list[dict]:
        size = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        return items[(page - 1) * size : page * size]

    def _github(self, method: str, path: str, query: dict, payload: dict):
        listing = f"/repos/{self.repo}/issues/{self.number}/comments"
        if path == listing and method == "GET":
            return 200, [self._gh(c) for c in self._page(query, self.comments)], None
        if path == listing and method == "POST":
            return 201, self._gh(self.add(payload["body"])), None
        match = re.fullmatch(rf"/repos/{re.escape(self.repo)}/issues/comments/(\d+)", path)
        if match and method == "PATCH":
            for comment in self.comments:
                if comment["id"] == int(match.group(1)):
                    comment["body"] = payload["body"]
                    return 200, self._gh(comment), None
        return 404, {"message": "Not Found"}, None

    def _gh(self, comment: dict) -> dict:
        url = f"https://github.example/{self.repo}/pull/{self.number}#issuecomment-{comment['id']}"
        return {"id": comment["id"], "body": comment["body"], "html_url": url}

    def _gitlab(self, method: str, path: str, query: dict, payload: dict):
        project = urllib.parse.quote(self.repo, safe="")
        listing = f"/api/v4/projects/{project}/merge_requests/{self.number}/notes"
        # http.server hands the path over still percent-encoded, as GitLab routes it
        if path == listing and method == "GET":
            return 200, self._page(query, self.comments), None
        if path == listing and method == "POST":
            return 201, self.add(payload["body"], system=False), None
        match = re.fullmatch(re.escape(listing) + r"/(\d+)", path)
        if match and method == "PUT":
            for note in self.comments:
                if note["id"] == int(match.group(1)):
                    note["body"] = payload["body"]
                    return 200, note, None
        return 404, {"message": "404 Not found"}, None
