"""`riskml incidents`: an issue tracker's export of fixed issues becomes the incidents file."""

from __future__ import annotations

import csv

import pytest

from riskml.errors import RiskmlError
from riskml.label import load_incidents
from riskml.label.incidents import incidents_from_fixes
from tests.gitrepo import commit, init

DAY = 86_400
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = init(tmp_path_factory.mktemp("fixes") / "repo")
    shas = {}
    shas["base"] = commit(path, "base", {"a.py": "x = 1\n"}, when=T0)
    shas["fix1"] = commit(path, "fix a", {"a.py": "x = 2\n"}, when=T0 + DAY, committed=T0 + 2 * DAY)
    shas["fix2"] = commit(path, "fix a again", {"a.py": "x = 3\n"}, when=T0 + 3 * DAY)
    shas["fix3"] = commit(path, "fix b", {"b.py": "y = 1\n"}, when=T0 + 5 * DAY)
    return path, shas


def write_export(path, rows, header=("issue_key", "commit_id")):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_one_incident_per_issue_opened_at_its_earliest_fix(repo, tmp_path):
    path, c = repo
    export = write_export(
        tmp_path / "issues.csv",
        [
            ("PROJ-2", c["fix3"]),
            ("PROJ-1", c["fix2"][:10]),  # a prefix, as exports often carry
            ("PROJ-1", c["fix1"]),
            ("PROJ-1", c["fix1"]),  # the same fix twice counts once
            ("PROJ-3", "0" * 40),  # a commit this repository does not have
            ("PROJ-4", "not-a-sha"),
        ],
    )
    records, problems = incidents_from_fixes(export, path)
    assert records == [
        # the committer time of fix1 (two days after T0), not its author time
        {
            "incident_id": "PROJ-1",
            "opened_at": "2023-11-16T22:13:20Z",
            "fix_commits": [c["fix2"], c["fix1"]],
        },
        {"incident_id": "PROJ-2", "opened_at": "2023-11-19T22:13:20Z", "fix_commits": [c["fix3"]]},
    ]
    assert problems == [
        "line 7: commit_id 'not-a-sha' is not a SHA",
        f"line 6 (PROJ-3): commit {'0' * 40} is missing in {path}",
    ]


def test_an_opening_time_in_the_export_is_used(repo, tmp_path):
    path, c = repo
    export = write_export(
        tmp_path / "jira.csv",
        [("B-7", c["fix1"], "2023-11-10 08:00:00"), ("B-8", c["fix3"], "soon")],
        header=("key", "sha", "created"),
    )
    records, problems = incidents_from_fixes(
        export, path, issue_column="key", commit_column="sha", opened_column="created"
    )
    assert [(r["incident_id"], r["opened_at"]) for r in records] == [
        ("B-7", "2023-11-10T08:00:00Z"),
        ("B-8", "2023-11-19T22:13:20Z"),  # unparsable: the fix's time instead, and a report
    ]
    assert problems == ["line 3 (B-8): created 'soon' is not a time"]


def test_a_missing_column_is_one_line(repo, tmp_path):
    path, _ = repo
    export = write_export(tmp_path / "bad.csv", [("X-1", "abc")], header=("issue", "commit_id"))
    with pytest.raises(RiskmlError, match=r"no 'issue_key' column \(columns: issue, commit_id\)"):
        incidents_from_fixes(export, path)


def test_cli_writes_an_incidents_file_label_reads(repo, tmp_path, cli):
    path, c = repo
    export = write_export(tmp_path / "issues.csv", [("PROJ-1", c["fix1"]), ("PROJ-9", "f" * 12)])
    out = tmp_path / "incidents.csv"
    proc = cli("incidents", "--fixes", str(export), "--repo", str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"wrote 1 incident(s) with 1 fix commit(s) to {out}\n"
    assert proc.stderr == (
        f"riskml: warning: {export}: skipped line 3 (PROJ-9): commit ffffffffffff is missing "
        f"in {path}\n"
    )
    assert out.read_text() == (
        "incident_id,opened_at,severity,culprit_commits,fix_commits,title,service\n"
        f"PROJ-1,2023-11-16T22:13:20Z,,,{c['fix1']},,\n"
    )
    loaded, problems = load_incidents(out, path)
    assert problems == []
    assert list(loaded["incident_id"]) == ["PROJ-1"]
    assert list(loaded["fix_commits"]) == [[c["fix1"]]]

    proc = cli("incidents", "--fixes", str(tmp_path / "nope.csv"), "--repo", str(path),
               "--out", str(out))  # fmt: skip
    assert (proc.returncode, proc.stderr) == (
        2,
        f"riskml: error: fixes file not found: {tmp_path / 'nope.csv'}\n",
    )
