"""`riskml ci comment`: one pull-request comment, created once and updated in place, against a
real HTTP stand-in for the GitHub (and GitLab) REST API on 127.0.0.1."""

from __future__ import annotations

import socket
import time

import pytest
from forge_standin import Failure, StandIn
from typer.testing import CliRunner

from riskml.ci.comment import (
    MARKER,
    Forge,
    comment_body,
    forge_from_env,
    upsert_comment,
)
from riskml.errors import RiskmlError

pytestmark = pytest.mark.timeout(60)

REPO = "acme/shop"
REPORT = "### riskml: deploy risk\n\nHighest tier: **high** 🟠 (risk 0.412)\n"
AGAIN = "### riskml: deploy risk\n\nHighest tier: **low** 🟢 (risk 0.051)\n"


def forge(standin: StandIn, **changes) -> Forge:
    fields = dict(provider=standin.provider, api_url=standin.url, repo=standin.repo,
                  number=standin.number, token=standin.token)  # fmt: skip
    return Forge(**{**fields, **changes})


def invoke(*args: str, env: dict[str, str]):
    from riskml.cli import _register, app

    _register()
    return CliRunner().invoke(app, ["ci", "comment", *args], env=env)


def test_the_first_run_creates_the_comment_and_the_second_updates_it():
    with StandIn("github", REPO, 7) as api:
        # other people's comments, 150 of them: the marker is looked for on every page
        for i in range(150):
            api.add(f"looks good {i}")
        first = upsert_comment(forge(api), REPORT)
        assert (first.action, first.comment_id) == ("created", 1150)
        assert first.url == f"https://github.example/{REPO}/pull/7#issuecomment-1150"
        assert [c["body"] for c in api.marked()] == [f"{MARKER}\n{REPORT}"]
        assert api.requests == [
            ("GET", f"/repos/{REPO}/issues/7/comments"),
            ("GET", f"/repos/{REPO}/issues/7/comments"),
            ("POST", f"/repos/{REPO}/issues/7/comments"),
        ]
        api.add("a reply after riskml's comment")
        second = upsert_comment(forge(api), AGAIN)
        assert (second.action, second.comment_id) == ("updated", 1150)
        assert [(c["id"], c["body"]) for c in api.marked()] == [(1150, f"{MARKER}\n{AGAIN}")]
        assert api.requests[-1] == ("PATCH", f"/repos/{REPO}/issues/comments/1150")
        assert len(api.comments) == 152
        # the same report again: nothing to write
        third = upsert_comment(forge(api), AGAIN)
        assert (third.action, third.comment_id) == ("unchanged", 1150)
        assert [m for m, _ in api.requests].count("PATCH") == 1


def test_the_cli_creates_then_updates_one_comment_from_the_job_variables(tmp_path):
    report = tmp_path / "risk.md"
    with StandIn("github", REPO, 12) as api:
        env = {"GITHUB_TOKEN": api.token, "GITHUB_API_URL": api.url,
               "GITHUB_REPOSITORY": REPO, "GITHUB_REF": "refs/pull/12/merge"}  # fmt: skip
        report.write_text(REPORT, encoding="utf-8")
        done = invoke("--markdown", str(report), env=env)
        assert done.exit_code == 0, done.output
        assert done.output == (
            f"riskml: comment 1000 created on {REPO}#12 "
            f"(https://github.example/{REPO}/pull/12#issuecomment-1000)\n"
        )
        report.write_text(AGAIN, encoding="utf-8")
        done = invoke("--markdown", str(report), env=env)
        assert done.exit_code == 0, done.output
        assert done.output.startswith(f"riskml: comment 1000 updated on {REPO}#12 ")
        assert [(c["id"], c["body"]) for c in api.marked()] == [(1000, f"{MARKER}\n{AGAIN}")]


@pytest.mark.parametrize(
    "failure, line",
    [
        (Failure(500, "boom"),
         f"GitHub API: GET /repos/{REPO}/issues/7/comments answered 500 Internal Server Error: "
         "boom"),
        (Failure(403, "Resource not accessible by integration", ("POST",)),
         f"GitHub API: POST /repos/{REPO}/issues/7/comments answered 403 Forbidden: Resource "
         "not accessible by integration"),
    ],
)  # fmt: skip
def test_a_failing_api_is_one_line_exit_2(tmp_path, failure, line):
    report = tmp_path / "risk.md"
    report.write_text(REPORT, encoding="utf-8")
    with StandIn("github", REPO, 7, fail=failure) as api:
        env = {"GITHUB_TOKEN": api.token, "GITHUB_API_URL": api.url}
        done = invoke("--markdown", str(report), "--repo", REPO, "--pr", "7", env=env)
        assert done.exit_code == 2
        assert done.output == f"riskml: error: {line}\n"
        assert api.marked() == []
        if failure.status == 500:  # a server-side failure of a read is tried once more
            assert api.requests == [("GET", f"/repos/{REPO}/issues/7/comments")] * 2


def test_a_wrong_token_a_slow_api_a_redirect_and_a_closed_port_are_one_line(tmp_path):
    report = tmp_path / "risk.md"
    report.write_text(REPORT, encoding="utf-8")
    args = ("--markdown", str(report), "--repo", REPO, "--pr", "7")
    with StandIn("github", REPO, 7) as api:
        done = invoke(*args, env={"GITHUB_TOKEN": "wrong", "GITHUB_API_URL": api.url})
        assert done.exit_code == 2
        assert done.output == (
            f"riskml: error: GitHub API: GET /repos/{REPO}/issues/7/comments answered 401 "
            "Unauthorized: Bad credentials\n"
        )
    with StandIn("github", REPO, 7, delay=2.0) as api:
        started = time.monotonic()
        done = invoke(*args, "--timeout", "0.3",
                      env={"GITHUB_TOKEN": api.token, "GITHUB_API_URL": api.url})  # fmt: skip
        assert time.monotonic() - started < 10  # two bounded tries, not a hang
        assert done.exit_code == 2
        assert done.output == (
            f"riskml: error: GitHub API: GET /repos/{REPO}/issues/7/comments timed out "
            "after 0.3 s\n"
        )
    with StandIn("github", REPO, 7, redirect=True) as api:
        done = invoke(*args, env={"GITHUB_TOKEN": api.token, "GITHUB_API_URL": api.url})
        assert done.exit_code == 2
        assert done.output == (
            f"riskml: error: GitHub API: GET /repos/{REPO}/issues/7/comments answered 302 "
            "Found: moved\n"
        )
        assert len(api.requests) == 1  # never followed to another host
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    done = invoke(*args, env={"GITHUB_TOKEN": "t", "GITHUB_API_URL": closed})
    assert done.exit_code == 2
    assert done.output == (
        f"riskml: error: GitHub API: GET /repos/{REPO}/issues/7/comments failed: "
        "[Errno 111] Connection refused\n"
    )


def test_what_is_missing_is_named(tmp_path):
    report = tmp_path / "risk.md"
    report.write_text(REPORT, encoding="utf-8")
    cases = [
        ({}, ("--repo", REPO, "--pr", "7"), "no GitHub token: set GITHUB_TOKEN"),
        ({"GITHUB_TOKEN": "t"}, ("--pr", "7"), "no repository: give --repo (or GITHUB_REPOSITORY)"),
        ({"GITHUB_TOKEN": "t"}, ("--repo", REPO),
         "no pull request: give --pr (or a pull request's GITHUB_REF)"),
        ({"GITHUB_TOKEN": "t"}, ("--repo", "acme/../x", "--pr", "7"),
         "invalid repository 'acme/../x': expected owner/name"),
        ({"GITHUB_TOKEN": "t"}, ("--repo", REPO, "--pr", "7", "--api-url", "file:///etc"),
         "invalid API URL 'file:///etc': expected http(s)://…"),
        ({"RISKML_GITLAB_TOKEN": "t"}, ("--repo", REPO, "--pr", "7", "--provider", "gitea"),
         "unknown provider 'gitea': expected one of github, gitlab"),
    ]  # fmt: skip
    clean = {k: "" for k in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_REF",
                             "GITHUB_API_URL")}  # fmt: skip
    for env, args, message in cases:
        done = invoke("--markdown", str(report), *args, env={**clean, **env})
        assert (done.exit_code, done.output) == (2, f"riskml: error: {message}\n"), args
    empty = tmp_path / "empty.md"
    empty.write_text("\n", encoding="utf-8")
    done = invoke("--markdown", str(empty), "--repo", REPO, "--pr", "7",
                  env={**clean, "GITHUB_TOKEN": "t"})  # fmt: skip
    assert done.output == "riskml: error: the report is empty: nothing to post\n"
    done = invoke("--markdown", str(tmp_path / "none.md"), "--repo", REPO, "--pr", "7",
                  env={**clean, "GITHUB_TOKEN": "t"})  # fmt: skip
    assert done.output == f"riskml: error: cannot read {tmp_path / 'none.md'}: FileNotFoundError\n"


def test_the_body_carries_the_marker_once_and_fits_the_limit():
    assert comment_body(REPORT) == f"{MARKER}\n{REPORT}"
    assert comment_body(f"{MARKER}\n{REPORT}") == f"{MARKER}\n{REPORT}"  # not twice
    long = comment_body("x" * 70000, limit=65536)
    assert len(long) == 65537  # the limit, then the final newline
    assert long.startswith(f"{MARKER}\nxxx")
    assert long.endswith(
        "\n\n… (cut to fit the comment's size limit; the job's report has all of it)\n"
    )
    with pytest.raises(RiskmlError, match="the report is empty"):
        comment_body("  \n")


def test_the_job_variables_name_the_pull_request():
    env = {"GITHUB_TOKEN": "s3cret", "GITHUB_REPOSITORY": REPO, "GITHUB_REF": "refs/pull/31/merge",
           "GITHUB_API_URL": "https://ghe.example/api/v3/"}  # fmt: skip
    got = forge_from_env("github", environ=env)
    assert (got.api_url, got.repo, got.number, got.where) == (
        "https://ghe.example/api/v3", REPO, 31, f"{REPO}#31",
    )  # fmt: skip
    assert "s3cret" not in repr(got)  # the token never reaches a log through repr()
    lab = {"RISKML_GITLAB_TOKEN": "g", "CI_API_V4_URL": "https://gitlab.example/api/v4",
           "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "5"}  # fmt: skip
    got = forge_from_env("gitlab", environ=lab)
    assert (got.api_url, got.repo, got.number, got.token, got.where) == (
        "https://gitlab.example/api/v4", "42", 5, "g", "42!5",
    )  # fmt: skip
    assert forge_from_env("gitlab", environ={**lab, "RISKML_GITLAB_TOKEN": "",
                                             "GITLAB_TOKEN": "h"}).token == "h"  # fmt: skip


def test_gitlab_notes_are_created_then_updated_in_place():
    with StandIn("gitlab", "acme/platform/shop", 5) as api:
        api.add("changed the description", system=True)  # system notes are never ours
        api.add(f"quoting {MARKER}", system=True)
        first = upsert_comment(forge(api), REPORT)
        assert (first.action, first.comment_id, first.url) == ("created", 1002, None)
        second = upsert_comment(forge(api), AGAIN)
        assert (second.action, second.comment_id) == ("updated", 1002)
        assert [(c["id"], c["body"]) for c in api.marked() if not c["system"]] == [
            (1002, f"{MARKER}\n{AGAIN}")
        ]
        notes = "/api/v4/projects/acme%2Fplatform%2Fshop/merge_requests/5/notes"
        assert api.requests == [("GET", notes), ("POST", notes), ("GET", notes),
                                ("PUT", f"{notes}/1002")]  # fmt: skip


@pytest.mark.slow
def test_the_real_cli_posts_and_updates_one_comment(tmp_path):
    """End to end: the `riskml` process, the stand-in's real socket, twice."""
    from conftest import run_cli

    report = tmp_path / "risk.md"
    with StandIn("github", REPO, 3) as api:
        env = {"GITHUB_TOKEN": api.token, "GITHUB_API_URL": api.url}
        args = ("ci", "comment", "--markdown", str(report), "--repo", REPO, "--pr", "3")
        for text, action in ((REPORT, "created"), (AGAIN, "updated")):
            report.write_text(text, encoding="utf-8")
            done = run_cli(*args, env=env, timeout=60)
            assert (done.returncode, done.stderr) == (0, "")
            assert done.stdout.startswith(f"riskml: comment 1000 {action} on {REPO}#3 ")
        assert [(c["id"], c["body"]) for c in api.marked()] == [(1000, f"{MARKER}\n{AGAIN}")]
        api.fail = Failure(502, "Bad Gateway")
        done = run_cli(*args, env=env, timeout=60)
        assert done.returncode == 2
        assert done.stderr == (
            f"riskml: error: GitHub API: GET /repos/{REPO}/issues/3/comments answered 502 "
            "Bad Gateway: Bad Gateway\n"
        )
