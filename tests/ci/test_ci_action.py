"""The GitHub Action, the GitLab template and the pre-commit hook, run as CI would run them:
their own shell steps (read from action.yml / the template, not copied here) with the job's
variables set, `riskml` on PATH, a mined and trained repository with a pull request, and a
stand-in for the forge's REST API on 127.0.0.1.

Not run: the `uses:` step (actions/setup-python) and the install steps (they need the network);
the venv's riskml is on PATH instead.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import gitrepo
import pytest
import yaml
from conftest import VENV_BIN, run_cli
from forge_standin import StandIn
from gitrepo import git

from riskml.ci.comment import MARKER
from riskml.ci.prepush import ZERO
from riskml.score.render import gate_failure_line

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/shop"
TOKEN = "gh-t0ken"


@dataclass
class CiWorld:
    root: Path
    repo: Path
    config: Path
    state: Path
    model: Path
    base: str  # main's tip, mined
    head: str  # the pull request's head: two commits on `feature`


@pytest.fixture(scope="module")
def ci_world(tmp_path_factory) -> CiWorld:
    """300 generated commits mined, labelled and trained (a local model, no MLflow), and a
    pull request of two commits on top."""
    root = tmp_path_factory.mktemp("ci_world")
    config = root / "riskml.toml"
    config.write_text("[label]\nwindow_days = 30\n[evaluate]\nin_train = false\n", "utf-8")
    for args in (
        ("synth", "--out", "gen", "--commits", "300", "--seed", "5"),
        ("mine", "--repo", "gen/repo", "--config", str(config)),
        ("label", "--repo", "gen/repo", "--config", str(config),
         "--changes", "data/repo/changes.parquet", "--incidents", "gen/incidents.csv"),
        ("train", "--repo", "gen/repo", "--config", str(config), "--no-mlflow"),
    ):  # fmt: skip
        done = run_cli(*args, cwd=root)
        assert done.returncode == 0, done.stderr[-3000:]
    repo = root / "gen" / "repo"
    base = git(repo, "rev-parse", "HEAD")
    last = int(git(repo, "log", "-1", "--format=%at"))
    git(repo, "checkout", "-q", "-b", "feature")
    who = ("Erin", "erin@acme.example")
    gitrepo.commit(repo, "Add login throttle", {"auth/throttle.py": "LIMIT = 5\n" * 30},
                   who=who, when=last + 3600)  # fmt: skip
    head = gitrepo.commit(repo, "Test login throttle",
                          {"tests/test_throttle.py": "def test():\n    pass\n"},
                          who=who, when=last + 7200)  # fmt: skip
    git(repo, "checkout", "-q", "main")
    return CiWorld(root, repo, config, root / "data/repo/changes.state.joblib",
                   root / "models/change-risk", base, head)  # fmt: skip


def score_json(world: CiWorld, base: str, head: str) -> dict:
    """What `riskml score` itself answers for the range (to hold the CI runs to)."""
    done = run_cli("score", "--repo", str(world.repo), "--config", str(world.config),
                   "--state", str(world.state), "--model", str(world.model),
                   "--range", f"{base}..{head}", cwd=world.root)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def score_markdown(world: CiWorld, base: str, head: str, fail_on: str) -> str:
    args = ["--fail-on", fail_on] if fail_on else []
    done = run_cli("score", "--repo", ".", "--config", str(world.config),
                   "--state", str(world.state), "--model", str(world.model),
                   "--range", f"{base}..{head}", "--format", "markdown", "--data-dir", "data",
                   *args, cwd=world.repo)  # fmt: skip
    return done.stdout


def runner_env(**extra: str) -> dict[str, str]:
    """The process environment of a CI job here: the venv's riskml first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "/usr/bin:/bin")])
    env.update(extra)
    return env


# --------------------------------------------------------------------------- GitHub Action

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(text, context: dict) -> str:
    """``${{ a.b.c }}`` lookups of the action's expressions (the only kind action.yml uses);
    anything else fails the test rather than being guessed."""

    def lookup(match: re.Match) -> str:
        expression = match.group(1)
        assert re.fullmatch(r"[A-Za-z_][\w-]*(\.[\w-]+)*", expression), expression
        value = context
        for part in expression.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else str(value)

    return _EXPR.sub(lookup, str(text))


@dataclass
class Job:
    steps: list[tuple[str, int, str, str]] = field(default_factory=list)  # name, rc, out, err
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    summary: str = ""

    @property
    def rc(self) -> int:
        return self.steps[-1][1] if self.steps else 0

    def step(self, name: str) -> tuple[str, int, str, str]:
        return next(s for s in self.steps if s[0] == name)


def run_action(workspace: Path, inputs: dict, event: dict, sha: str, api: StandIn, tmp: Path):
    """Run action.yml's `run:` steps in order as the runner does (bash -eo pipefail, each
    step's env and working-directory, GITHUB_OUTPUT between steps); stop at a failing step."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    context = {"github": {"token": TOKEN, "event": event, "sha": sha}, "steps": {}}
    declared = action["inputs"]
    given = {name: evaluate(spec.get("default", ""), context) for name, spec in declared.items()}
    assert set(inputs) <= set(declared), set(inputs) - set(declared)
    context["inputs"] = {**given, **inputs}
    tmp.mkdir(parents=True, exist_ok=True)
    summary = tmp / "step_summary.md"
    summary.write_text("", encoding="utf-8")
    job = Job()
    for n, step in enumerate(action["runs"]["steps"]):
        if "uses" in step or step["name"] == "Install riskml":
            continue
        assert step["shell"] == "bash"
        output = tmp / f"output_{n}"
        output.write_text("", encoding="utf-8")
        env = runner_env(
            RUNNER_TEMP=str(tmp), GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary),
            GITHUB_API_URL=api.url, GITHUB_REPOSITORY=REPO, GITHUB_WORKSPACE=str(workspace),
            GITHUB_ACTION_PATH=str(ROOT),
        )  # fmt: skip
        env.update({k: evaluate(v, context) for k, v in (step.get("env") or {}).items()})
        cwd = workspace / evaluate(step.get("working-directory", "."), context)
        script = tmp / f"step_{n}.sh"
        script.write_text(step["run"], encoding="utf-8")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        job.steps.append((step["name"], done.returncode, done.stdout, done.stderr))
        if "id" in step:
            lines = output.read_text(encoding="utf-8").splitlines()
            outputs = dict(line.split("=", 1) for line in lines if "=" in line)
            context["steps"][step["id"]] = {"outputs": outputs}
            job.outputs[step["id"]] = outputs
        if done.returncode != 0:
            break
    job.summary = summary.read_text(encoding="utf-8")
    return job


def pr_event(base: str, head: str, number: int = 7) -> dict:
    return {"pull_request": {"number": number, "base": {"sha": base}, "head": {"sha": head}}}


def test_the_action_comments_once_updates_it_and_gates(ci_world, tmp_path):
    w = ci_world
    inputs = {"fail-on": "low", "model": str(w.model), "state": str(w.state),
              "config": str(w.config)}  # fmt: skip
    expected = score_json(w, w.base, w.head)
    report = score_markdown(w, w.base, w.head, "low")
    with StandIn("github", REPO, 7, token=TOKEN) as api:
        api.add("an earlier review comment")
        job = run_action(w.repo, inputs, pr_event(w.base, w.head), w.head, api, tmp_path / "1")
        names = [s[0] for s in job.steps]
        assert names == ["Score the pull request", "Job summary and pull-request comment", "Gate"]
        # every change is at `low` or above: the job fails at the gate, after the comment
        assert [s[1] for s in job.steps] == [0, 0, 3]
        line = gate_failure_line({**expected, "summary": {**expected["summary"], "gate": {
            "fail_on": "low", "passed": False, "failing": [c["id"] for c in expected["changes"]],
        }}})  # fmt: skip
        assert job.step("Gate")[2] == f"::error title=riskml gate::{line}\n"
        assert job.step("Score the pull request")[3] == f"riskml: {line}\n"
        outputs = job.outputs["score"]
        assert (outputs["exit-code"], outputs["gate"], outputs["highest-tier"]) == (
            "3", "failed", expected["summary"]["highest_tier"],
        )  # fmt: skip
        written = Path(outputs["report"]).read_text(encoding="utf-8")
        assert written == report
        assert job.summary == report
        result = json.loads(Path(outputs["json"]).read_text(encoding="utf-8"))
        assert [c["risk"] for c in result["changes"]] == [c["risk"] for c in expected["changes"]]
        assert result["summary"]["gate"]["passed"] is False
        marked = api.marked()
        assert [c["body"] for c in marked] == [f"{MARKER}\n{report.strip()}\n"]
        first_id = marked[0]["id"]

        # the pull request moves on: one more commit; no gate this time
        git(w.repo, "checkout", "-q", "feature")
        newer = gitrepo.commit(w.repo, "Raise the throttle limit",
                               {"auth/throttle.py": "LIMIT = 6\n"}, append=True,
                               who=("Erin", "erin@acme.example"),
                               when=int(git(w.repo, "log", "-1", "--format=%at")) + 600)  # fmt: skip
        git(w.repo, "checkout", "-q", "main")
        again = score_markdown(w, w.base, newer, "")
        assert again != report
        job = run_action(w.repo, {**inputs, "fail-on": ""}, pr_event(w.base, newer), newer, api,
                         tmp_path / "2")  # fmt: skip
        assert [s[1] for s in job.steps] == [0, 0, 0]
        assert job.outputs["score"]["gate"] == "none"
        assert job.summary == again
        assert [(c["id"], c["body"]) for c in api.marked()] == [
            (first_id, f"{MARKER}\n{again.strip()}\n")
        ]
        assert len(api.comments) == 2  # the earlier review comment and riskml's one

        # a fork's pull request: the token cannot write; a warning, and the gate decides
        job = run_action(w.repo, {**inputs, "fail-on": "", "github-token": "read-only"},
                         pr_event(w.base, newer), newer, api, tmp_path / "3")  # fmt: skip
        assert [s[1] for s in job.steps] == [0, 0, 0]
        _, _, out, err = job.step("Job summary and pull-request comment")
        assert out == (
            "::warning title=riskml::the pull-request comment was not posted (see the line "
            "above); the job summary has the report\n"
        )
        assert err == (
            f"riskml: error: GitHub API: GET /repos/{REPO}/issues/7/comments answered 401 "
            "Unauthorized: Bad credentials\n"
        )
        assert [c["body"] for c in api.marked()] == [f"{MARKER}\n{again.strip()}\n"]


def test_the_action_on_a_pull_request_with_nothing_new_passes(ci_world, tmp_path):
    w = ci_world
    inputs = {"fail-on": "low", "model": str(w.model), "state": str(w.state),
              "config": str(w.config), "comment": "false"}  # fmt: skip
    with StandIn("github", REPO, 7, token=TOKEN) as api:
        job = run_action(w.repo, inputs, pr_event(w.base, w.base), w.base, api, tmp_path)
        assert [s[1] for s in job.steps] == [0, 0, 0]
        assert job.outputs["score"]["highest-tier"] == "none"
        assert job.outputs["score"]["gate"] == "passed"
        assert "Nothing to score: no pending changes in the range." in job.summary
        assert api.requests == []  # comment: false


def test_a_bad_input_fails_the_score_step_with_its_one_line(ci_world, tmp_path):
    w = ci_world
    inputs = {"fail-on": "severe", "model": str(w.model), "state": str(w.state)}
    with StandIn("github", REPO, 7, token=TOKEN) as api:
        job = run_action(w.repo, inputs, pr_event(w.base, w.head), w.head, api, tmp_path)
        assert [(s[0], s[1]) for s in job.steps] == [("Score the pull request", 2)]
        message = (
            "riskml: error: unknown tier 'severe': expected one of low, medium, high, critical"
        )
        assert job.steps[0][2] == f"::error title=riskml::{message}\n"
        assert job.steps[0][3] == f"{message}\n"
        assert api.requests == []


# --------------------------------------------------------------------------- GitLab CI


def run_gitlab(
    workspace: Path, variables: dict[str, str], api: StandIn
) -> subprocess.CompletedProcess:
    """The template's `script` as the runner runs it (bash, -eo pipefail), its variables set."""
    template = yaml.safe_load(
        (ROOT / "integrations/gitlab/riskml.gitlab-ci.yml").read_text(encoding="utf-8")
    )
    job = template[".riskml-score"]
    env = runner_env(**{k: str(v) for k, v in job["variables"].items()})
    env.update(CI_API_V4_URL=api.url, CI_PROJECT_ID=api.repo,
               CI_MERGE_REQUEST_IID=str(api.number), RISKML_GITLAB_TOKEN=api.token)  # fmt: skip
    env.update(variables)
    script = "\n".join(job["script"])
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=workspace, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_gitlab_template_notes_once_updates_it_and_gates(ci_world, tmp_path):
    w = ci_world
    template = yaml.safe_load(
        (ROOT / "integrations/gitlab/riskml.gitlab-ci.yml").read_text(encoding="utf-8")
    )
    job = template[".riskml-score"]
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job["artifacts"] == {"when": "always", "paths": ["riskml-score.md", "riskml-score.json"]}
    clone = tmp_path / "project"
    git(tmp_path, "clone", "-q", "--no-local", str(w.repo), str(clone))
    git(clone, "fetch", "-q", "origin", "feature:feature")
    variables = {"RISKML_MODEL": str(w.model), "RISKML_STATE": str(w.state),
                 "RISKML_CONFIG": str(w.config), "RISKML_FAIL_ON": "low",
                 "CI_MERGE_REQUEST_DIFF_BASE_SHA": w.base, "CI_COMMIT_SHA": w.head}  # fmt: skip
    with StandIn("gitlab", "acme/platform/shop", 5, token="gl-t0ken") as api:
        done = run_gitlab(clone, variables, api)
        assert done.returncode == 3, done.stderr
        report = (clone / "riskml-score.md").read_text(encoding="utf-8")
        assert report == score_markdown(w, w.base, w.head, "low")
        # the report in the job's log, then what became of the note
        assert done.stdout == f"{report}riskml: comment 1000 created on acme/platform/shop!5\n"
        assert done.stderr.splitlines()[-1].startswith("riskml: gate failed (--fail-on low): ")
        assert (
            json.loads((clone / "riskml-score.json").read_text())["summary"]["gate"]["passed"]
            is False
        )
        assert [n["body"] for n in api.marked()] == [f"{MARKER}\n{report.strip()}\n"]
        note = api.marked()[0]["id"]
        done = run_gitlab(clone, {**variables, "RISKML_FAIL_ON": ""}, api)
        assert done.returncode == 0, done.stderr
        again = (clone / "riskml-score.md").read_text(encoding="utf-8")
        assert done.stdout == f"{again}riskml: comment 1000 updated on acme/platform/shop!5\n"
        assert [(n["id"], n["body"]) for n in api.marked()] == [
            (note, f"{MARKER}\n{again.strip()}\n")
        ]
        assert len(api.comments) == 1
        done = run_gitlab(clone, {**variables, "RISKML_FAIL_ON": "", "RISKML_GITLAB_TOKEN": ""},
                          api)  # fmt: skip
        assert done.returncode == 0
        assert done.stderr == (
            "riskml: warning: no RISKML_GITLAB_TOKEN: the merge-request note was not posted\n"
        )


# --------------------------------------------------------------------------- pre-commit hook


def test_the_pre_push_hook_scores_what_is_pushed_and_stops_the_push(ci_world):
    w = ci_world
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    entry = shlex.split(hook["entry"])
    assert entry[0] == "riskml"
    args = ["--fail-on", "low", "--model", str(w.model), "--state", str(w.state),
            "--config", str(w.config)]  # fmt: skip
    env = runner_env(PRE_COMMIT_FROM_REF=w.base, PRE_COMMIT_TO_REF=w.head)
    done = subprocess.run([*entry, *args], cwd=w.repo, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 3, done.stderr
    expected = score_json(w, w.base, w.head)
    ids = [c["id"] for c in expected["changes"]]
    assert ids[0] == f"{w.base}..{w.head}"
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["change", "subject", "author"]
    assert [line.split()[0] for line in lines[2 : 2 + len(ids)]] == [
        f"{w.base[:10]}..{w.head[:10]}", *(i[:10] for i in ids[1:]),
    ]  # fmt: skip
    assert done.stderr == "riskml: " + gate_failure_line({**expected, "summary": {
        **expected["summary"], "gate": {"fail_on": "low", "passed": False, "failing": ids}}}
    ) + "\n"  # fmt: skip
    # a branch deletion pushes nothing
    env = runner_env(PRE_COMMIT_FROM_REF=w.base, PRE_COMMIT_TO_REF=ZERO)
    done = subprocess.run([*entry, *args], cwd=w.repo, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == (
        "riskml: nothing to score: no commit being pushed has a remote commit to compare with "
        "(no PRE_COMMIT_FROM_REF, push target or upstream)\n"
    )
