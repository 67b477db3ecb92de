"""The repository generator: determinism, a valid history, and ground truth consistent with it."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from gitrepo import git_bytes as git

from riskml.errors import RiskmlError
from riskml.synth import INCIDENT_COLUMNS, TRUTH_COLUMNS, generate
from riskml.synth.output import unique_prefix as _unique_prefix
from riskml.synth.tables import synthetic_tables


def rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture(scope="module")
def small(synth_small):
    truth = rows(synth_small.truth)
    return synth_small, truth, {r["commit"]: r for r in truth}, rows(synth_small.incidents)


def test_same_seed_same_shas_other_seed_differs(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", commits=150, seed=3)
    b = generate(tmp_path / "b", commits=150, seed=3)
    c = generate(tmp_path / "c", commits=150, seed=4)
    assert git(a.repo, "rev-parse", "HEAD") == git(b.repo, "rev-parse", "HEAD")
    assert a.truth.read_bytes() == b.truth.read_bytes()
    assert a.incidents.read_bytes() == b.incidents.read_bytes()
    assert git(a.repo, "rev-parse", "HEAD") != git(c.repo, "rev-parse", "HEAD")
    assert a.truth.read_bytes() != c.truth.read_bytes()


def test_history_is_pinned_across_machines(tmp_path: Path) -> None:
    """The exact SHA of a small history: a change here reshuffles every seed other tests use."""
    result = generate(tmp_path / "pin", commits=60, seed=0)
    head = git(result.repo, "rev-parse", "HEAD").decode().strip()
    assert head == "d4d4da56eeec59c95a3f8bdab8342dccb9e28cab"
    every_ref = hashlib.sha1(git(result.repo, "log", "--all", "--format=%H")).hexdigest()
    assert every_ref == "ced88d816be86fcc7765142d1411fe5c7381a31b"  # branches and AI notes too
    assert sha1(result.incidents) == "4e980cdf65db86560b980cbfe607834188672bc6"
    assert sha1(result.truth) == "634c162d3a5549e986e07a4aa6e41f27490b02ec"  # with ai_model


def test_synthetic_tables_are_pinned() -> None:
    """The in-memory tables of riskml.synth.tables, row for row (train tests rely on them)."""
    changes, labels = synthetic_tables(n=300, seed=0)
    digest = [
        hashlib.sha1(pd.util.hash_pandas_object(t).values.tobytes()).hexdigest()
        for t in (changes, labels)
    ]
    assert digest == [
        "de6002ce259d4045db22ad0d1fefdd027a4bd9b0",
        "b073aba6247a1ef5fc66f05cea0936fb7bdc1461",
    ]


def test_user_git_config_does_not_leak(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Leak\n[core]\n\tautocrlf = true\n")
    ref = generate(tmp_path / "ref", commits=40, seed=9)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Leak")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2001-01-01T00:00:00")
    other = generate(tmp_path / "other", commits=40, seed=9)
    assert git(ref.repo, "rev-parse", "HEAD") == git(other.repo, "rev-parse", "HEAD")


def test_result_paths(synth_small) -> None:
    out = synth_small.repo.parent
    assert synth_small.repo == out / "repo"
    assert synth_small.incidents == out / "incidents.csv"
    assert synth_small.truth == out / "truth.csv"


def test_repository_is_valid_and_clean(small) -> None:
    result, *_ = small
    fsck = subprocess.run(
        ["git", "-C", str(result.repo), "fsck", "--strict", "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert fsck.returncode == 0, fsck.stderr
    assert fsck.stderr == ""
    assert git(result.repo, "status", "--porcelain") == b""
    assert git(result.repo, "symbolic-ref", "HEAD").strip() == b"refs/heads/main"
    assert git(result.repo, "for-each-ref", "--format=%(refname)").split() == [
        b"refs/heads/main",
        b"refs/notes/agent-trace",
        b"refs/notes/ai",
    ]


def test_truth_has_one_row_per_non_merge_commit(small) -> None:
    result, truth, by_sha, _ = small
    history = git(result.repo, "rev-list", "--no-merges", "HEAD").decode().split()
    assert len(history) == 400
    assert len(truth) == 400
    assert set(history) == set(by_sha)
    assert list(truth[0]) == TRUTH_COLUMNS
    assert [int(r["seq"]) for r in truth] == list(range(400))


def test_culprit_rate_and_risk_signal(small) -> None:
    _, truth, _, _ = small
    culprits = [r for r in truth if r["is_culprit"] == "1"]
    assert 0.06 <= len(culprits) / len(truth) <= 0.18
    mean = lambda xs: sum(float(r["risk"]) for r in xs) / len(xs)  # noqa: E731
    others = [r for r in truth if r["is_culprit"] == "0" and r["role"] in ("normal", "bugfix")]
    assert mean(culprits) > 1.5 * mean(others)
    assert all(r["role"] in ("normal", "bugfix", "bot") for r in culprits)


def test_incidents_reference_existing_commits_in_time_order(small) -> None:
    result, truth, by_sha, incidents = small
    assert incidents and list(incidents[0]) == INCIDENT_COLUMNS
    culprit_of = {r["incident_id"]: r for r in truth if r["incident_id"]}
    assert set(culprit_of) == {i["incident_id"] for i in incidents}
    kinds = set()
    for inc in incidents:
        culprit = culprit_of[inc["incident_id"]]
        kinds.add(culprit["link"])
        assert ts(inc["opened_at"]) > ts(culprit["commit_time"]) >= ts(culprit["author_time"])
        assert inc["severity"] in ("SEV1", "SEV2", "SEV3", "SEV4")
        for prefix in filter(None, inc["culprit_commits"].split(";")):
            assert len(prefix) >= 7
            assert [s for s in by_sha if s.startswith(prefix)] == [culprit["commit"]]
            everything = git(result.repo, "rev-parse", f"--disambiguate={prefix}").split()
            assert everything == [culprit["commit"].encode()]
        for sha in filter(None, inc["fix_commits"].split(";")):
            fix = by_sha[sha]
            assert fix["fix_for"] == inc["incident_id"]
            assert ts(fix["author_time"]) > ts(inc["opened_at"])
    assert {"culprit", "fix", "revert", "message"} <= kinds


def test_every_link_kind_is_findable(small) -> None:
    result, truth, by_sha, incidents = small
    listed = {i["incident_id"]: i for i in incidents}
    for r in truth:
        if r["role"] not in ("fix", "revert"):
            continue
        inc = listed[r["fix_for"]]
        culprit = next(c for c in truth if c["incident_id"] == r["fix_for"])
        message = git(result.repo, "log", "-1", "--format=%B", r["commit"]).decode()
        if culprit["link"] == "message":
            assert inc["culprit_commits"] == inc["fix_commits"] == ""
            assert r["fix_for"] in message
        elif culprit["link"] == "revert":
            assert f"This reverts commit {culprit['commit']}." in message
            assert r["reverts"] == culprit["commit"]
            assert r["commit"] in inc["fix_commits"] or r["fix_for"] in message
        elif culprit["link"] == "fix":
            assert inc["culprit_commits"] == ""
            assert inc["fix_commits"] == r["commit"]


def test_fix_changes_lines_the_culprit_added(small) -> None:
    result, truth, by_sha, _ = small
    culprit_of = {r["incident_id"]: r["commit"] for r in truth if r["incident_id"]}
    checked = 0
    for r in truth:
        if r["role"] != "fix":
            continue
        assert "no_culprit_lines" not in r["flags"]
        fix = r["commit"]
        patch = git(result.repo, "show", "--format=", "--unified=0", "--no-renames", fix).decode()
        path, blamed = None, set()
        for line in patch.splitlines():
            if line.startswith("--- a/"):
                path = line[6:]
            elif line.startswith("@@ -") and path:
                old = line.split()[1][1:]
                start, _, count = old.partition(",")
                if count == "0":
                    continue
                porcelain = git(
                    result.repo, "blame", "--porcelain", "-L", f"{start},+1", f"{fix}^", "--", path
                ).decode()
                blamed.add(porcelain.split()[0])
        assert culprit_of[r["fix_for"]] in blamed
        assert len(r["files"].split(";")) <= 3
        checked += 1
    assert checked >= 5


def test_special_commits_exist(small) -> None:
    result, truth, by_sha, _ = small
    repo = result.repo
    flags = [f for r in truth for f in r["flags"].split(";") if f]
    assert {"rename", "delete", "binary", "new_file", "non_utf8", "notes"} <= set(flags)
    odd = next(r["commit"] for r in truth if "non_utf8" in r["flags"].split(";"))
    raw = git(repo, "cat-file", "commit", odd)
    assert b"\nencoding " not in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    renames = git(repo, "log", "-M", "--diff-filter=R", "--format=", "--name-status", "HEAD")
    assert renames.startswith(b"R100\t")
    numstat = git(repo, "log", "--format=", "--numstat", "HEAD").decode()
    assert any(line.startswith("-\t-\t") and line.endswith(".png") for line in numstat.splitlines())
    merges = git(repo, "rev-list", "--merges", "HEAD").decode().split()
    assert merges
    parents = git(repo, "rev-list", "--parents", "-n1", merges[0]).decode().split()
    assert len(parents) == 3
    branch = [r for r in truth if r["branch"]]
    assert branch and all(r["role"] in ("normal", "bugfix") for r in branch)
    assert any(r["role"] == "revert" for r in truth)
    squashed = [r for r in truth if r["commit_time"] != r["author_time"]]
    assert squashed and all(ts(r["commit_time"]) > ts(r["author_time"]) for r in squashed)
    committer = git(repo, "log", "-1", "--format=%cn <%ce>", squashed[0]["commit"]).decode()
    assert committer.strip() == "GitHub <noreply@github.com>"
    for path in ("README.md", "pyproject.toml", "requirements.txt", ".mailmap"):
        assert (repo / path).is_file()


def test_merged_branches_interleave_with_main(small) -> None:
    result, truth, by_sha, _ = small
    out = git(result.repo, "log", "--first-parent", "--no-merges", "--format=%H %at", "HEAD")
    main_times = sorted(int(line.split()[1]) for line in out.decode().splitlines())
    branch_times = [ts(r["author_time"]) for r in truth if r["branch"]]
    inside = [t for t in branch_times if main_times[0] < t < main_times[-1]]
    interleaved = sum(1 for t in inside if any(abs(t - m) < 3 * 86400 for m in main_times))
    assert interleaved >= len(branch_times) // 2


def test_provenance_markers_and_lookalikes(small) -> None:
    result, truth, by_sha, _ = small
    classes = {r["ai_provenance"] for r in truth}
    assert classes == {"human", "ai_assisted", "ai_agent", "bot"}
    lookalikes = ("devin.smith@acme.example", "claude.martin@acme.example", "sam@catbot.example")
    seen = [r for r in truth if r["author_email"] in lookalikes]
    assert seen and all(r["ai_provenance"] == "human" and r["ai_tool"] == "" for r in seen)
    log = git(result.repo, "log", "--format=%an <%ae>%n%B%x00", "HEAD").decode("utf-8", "replace")
    for row in truth:
        if row["ai_tool"] == "claude":
            body = git(result.repo, "log", "-1", "--format=%B", row["commit"]).decode()
            assert "<noreply@anthropic.com>" in body and "Co-Authored-By: Claude" in body
    assert "dependabot[bot]" in log or "renovate[bot]" in log
    mailmap = (result.repo / ".mailmap").read_text()
    assert "<maria.lopez@acme.example> <mlopez@old-mail.example>" in mailmap


def test_ai_notes_in_the_formats_of_real_tools(small) -> None:
    """Each noted commit's note, by its sequence number: riskml's JSON, a git-ai authorship
    log or an Agent Trace record, each attributing exactly the truth's ai_lines lines."""
    result, truth, by_sha, _ = small
    noted = [r for r in truth if "notes" in r["flags"].split(";")]
    forms = {int(r["seq"]) % 3 for r in noted}
    assert forms == {0, 1, 2}
    for r in noted:
        form = int(r["seq"]) % 3
        ref = "--ref=agent-trace" if form == 2 else "--ref=ai"
        text = git(result.repo, "notes", ref, "show", r["commit"]).decode()
        ai_lines = int(r["ai_lines"])
        if form == 0:
            assert json.loads(text) == {
                "tool": r["ai_tool"],
                "ai_lines": ai_lines,
                "total_lines": int(r["la"]),
            }
            assert r["ai_model"] in ("", "Claude Sonnet 4.5", "Claude Opus 4.1", "gpt-4o",
                                     "claude-3-5-sonnet", "deepseek-chat", "gemini-2.5-pro")  # fmt: skip
            continue
        if form == 1:
            attestation, _, metadata = text.partition("\n---\n")
            meta = json.loads(metadata)
            assert meta["schema_version"] == "authorship/3.0.0"
            parent = git(result.repo, "rev-parse", r["commit"] + "^").decode().strip()
            assert meta["base_commit_sha"] == parent
            ((key, prompt),) = meta["prompts"].items()
            assert len(key) == 16 and prompt["accepted_lines"] == ai_lines
            entries = [line.split() for line in attestation.splitlines() if line.startswith("  ")]
            assert {e[0] for e in entries} == {key}
            counted = 0
            for _, spans in entries:
                for span in spans.split(","):
                    lo, _, hi = span.partition("-")
                    counted += int(hi or lo) - int(lo) + 1
            assert counted == ai_lines
            model = prompt["agent_id"]["model"]
        else:
            record = json.loads(text)
            assert record["version"] == "0.1.0" and record["vcs"] == {
                "type": "git",
                "revision": r["commit"],
            }
            kinds: dict[str, int] = {}
            models = set()
            for f in record["files"]:
                for conv in f["conversations"]:
                    who = conv["contributor"]
                    n = sum(x["end_line"] - x["start_line"] + 1 for x in conv["ranges"])
                    kinds[who["type"]] = kinds.get(who["type"], 0) + n
                    models |= {who["model_id"]} if "model_id" in who else set()
            assert kinds["ai"] == ai_lines and kinds.get("human", 0) == int(r["la"]) - ai_lines
            (model,) = models
        # the truth's model: the commit's own marker's, else the note's
        assert r["ai_model"] == model or r["ai_model"] in (
            "Claude Sonnet 4.5", "Claude Opus 4.1", "gpt-4o", "claude-3-5-sonnet",
            "deepseek-chat", "gemini-2.5-pro",
        )  # fmt: skip


def test_culprit_prefix_grows_until_unique() -> None:
    objects = sorted(["abc1234aa" + "0" * 31, "abc1234ab" + "0" * 31, "f" * 40])
    assert _unique_prefix(objects[0], 7, objects) == "abc1234aa"
    assert _unique_prefix(objects[1], 8, objects) == "abc1234ab"
    assert _unique_prefix(objects[2], 7, objects) == "fffffff"


def test_bad_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(RiskmlError, match="positive"):
        generate(tmp_path / "x", commits=0)
    with pytest.raises(RiskmlError, match="YYYY-MM-DD"):
        generate(tmp_path / "x", commits=5, start="yesterday")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(RiskmlError, match="non-empty"):
        generate(tmp_path / "busy", commits=5)
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"


def test_rerun_replaces_its_own_output(tmp_path: Path) -> None:
    first = generate(tmp_path / "o", commits=30, seed=1)
    head = git(first.repo, "rev-parse", "HEAD")
    again = generate(tmp_path / "o", commits=30, seed=1)
    assert git(again.repo, "rev-parse", "HEAD") == head


def test_cli_end_to_end(cli, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    done = cli(
        "synth", "--out", str(out), "--commits", "60", "--seed", "2", env={"PYTHONHASHSEED": "1"}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"repo: {out / 'repo'}",
        f"incidents: {out / 'incidents.csv'}",
        f"truth: {out / 'truth.csv'}",
    ]
    assert (out / "repo" / ".git").is_dir()
    assert len(rows(out / "truth.csv")) == 60
    assert (out / "incidents.csv").read_text().startswith(",".join(INCIDENT_COLUMNS))
    # another process, another hash seed: the same bytes
    here = generate(tmp_path / "here", commits=60, seed=2)
    assert here.truth.read_bytes() == (out / "truth.csv").read_bytes()

    bad = cli("synth", "--out", str(tmp_path / "zero"), "--commits", "0")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "positive" in bad.stderr

    afile = tmp_path / "file.txt"
    afile.write_text("x")
    bad = cli("synth", "--out", str(afile), "--commits", "5")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "not a directory" in bad.stderr
