"""`riskml label` on small hand-built repositories: every link kind, filter and record check.

The repository below is built with plain git commands at fixed dates, so every SHA's label,
source, incident ids, severity and ``known_at`` is known exactly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import gitrepo
import pandas as pd
import pytest
from gitrepo import git

from riskml.config import Config, LabelConfig
from riskml.errors import RiskmlError
from riskml.label import label, load_incidents

T = pd.Timestamp


def commit(repo: Path, files: dict[str, str | None], message: str, when: str) -> str:
    """Commit ``files`` (``None`` deletes) at ISO time ``when``; the story's own argument order."""
    return gitrepo.commit(repo, message, files, when=when)


def changes_of(repo: Path) -> pd.DataFrame:
    """The columns of the changes table `label` reads, straight from git log."""
    out = git(
        repo, "log", "--no-merges", "--reverse", "--format=%x01%H%x00%at%x00%ct%x00%s",
        "--name-only",
    )  # fmt: skip
    rows = []
    for chunk in out.split("\x01")[1:]:
        head, *files = chunk.strip("\n").split("\n")
        sha, at, ct, subject = head.split("\x00")
        files = [f for f in files if f]
        rows.append(
            {
                "commit": sha,
                "author_time": T(int(at), unit="s", tz="UTC"),
                "commit_time": T(int(ct), unit="s", tz="UTC"),
                "subject": subject,
                "fix": bool(re.search(r"(?i)\bfix", subject)),
                "is_revert": subject.startswith("Revert"),
                "files": ";".join(files),
                "nf": len(files),
            }
        )
    return pd.DataFrame(rows)


def app(**changed: str) -> str:
    lines = {i: f"line{i} = {i}" for i in range(10)}
    lines.update({int(k[1:]): v for k, v in changed.items()})
    return "\n".join(lines[i] for i in range(10)) + "\n"


def cfg(**label_keys) -> Config:
    return dataclasses.replace(Config(), label=dataclasses.replace(LabelConfig(), **label_keys))


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """A repository whose incidents exercise every link kind.

    INC-1 (SEV2, opened 01-11): fixed by c_fix1 ("… INC-1" in its message); SZZ finds c_feature
    (line 3) and c_tune (line 8) — c_tune was committed after INC-1 opened, so it is dropped;
    the comment-only and whitespace-only lines c_fix1 touches in notes.py lead nowhere.
    INC-2 (SEV1): the revert c_revert names it, so the reverted c_tweak is positive.
    INC-3 (SEV3): names c_svc as culprit (by 8-char prefix).
    INC-5: fixed by c_fix5 which touches 3 files (> szz_max_files=2): skipped.
    INC-6 (SEV1): lists the subject-only revert c_unsvc as its fix, which reverts c_svc.
    """
    repo = tmp_path_factory.mktemp("story") / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    c = {}
    c["base"] = commit(
        repo,
        {
            "app.py": app(),
            "util.py": "a = 1\nb = 2\n",
            "notes.py": "# comment one\nvalue = 1\n",
        },
        "base",
        "2024-01-01T10:00:00Z",
    )
    c["feature"] = commit(
        repo, {"app.py": app(l3="line3 = 333")}, "feature x", "2024-01-02T10:00:00Z"
    )
    c["svc"] = commit(repo, {"svc.py": "svc = True\n"}, "add svc", "2024-01-03T10:00:00Z")
    c["tweak"] = commit(repo, {"util.py": "a = 1\nb = 3\n"}, "tweak util", "2024-01-04T10:00:00Z")
    c["revert"] = commit(
        repo,
        {"util.py": "a = 1\nb = 2\n"},
        f'Revert "tweak util"\n\nThis reverts commit {c["tweak"]}.\n\nRefs INC-2',
        "2024-01-10T10:00:00Z",
    )
    c["tune"] = commit(
        repo, {"app.py": app(l3="line3 = 333", l8="line8 = 888")}, "tune", "2024-01-11T12:00:00Z"
    )
    c["fix1"] = commit(
        repo,
        {"app.py": app(), "notes.py": "  value = 1\n"},
        "fix crash INC-1",
        "2024-01-12T10:00:00Z",
    )
    c["fix5"] = commit(
        repo,
        {"app.py": app(l0="line0 = 0.0"), "util.py": "a = 10\nb = 2\n", "svc.py": "svc = 1\n"},
        "fix typo INC-5",
        "2024-01-13T10:00:00Z",
    )
    c["unsvc"] = commit(repo, {"svc.py": None}, 'Revert "add svc"', "2024-01-14T10:00:00Z")
    c["other"] = commit(repo, {"other.py": "o = 1\n"}, "unrelated", "2024-03-01T10:00:00Z")
    c["latest"] = commit(repo, {"latest.py": "x = 1\n"}, "latest", "2024-06-01T10:00:00Z")
    incidents = repo.parent / "incidents.csv"
    incidents.write_text(
        "incident_id,opened_at,severity,culprit_commits,fix_commits,title\n"
        "INC-1,2024-01-11T00:00:00Z,SEV2,,,crash\n"
        "INC-2,2024-01-09T00:00:00Z,1,,,util down\n"
        f"INC-3,2024-01-05T00:00:00Z,sev3,{c['svc'][:8]},,svc\n"
        "INC-5,2024-01-12T12:00:00Z,4,,,typo\n"
        f"INC-6,2024-01-14T00:00:00Z,SEV1,,{c['unsvc'][:10]},svc again\n"
    )
    return {"repo": repo, "c": c, "incidents": incidents, "changes": changes_of(repo)}


def rows_by_name(result, c) -> dict[str, tuple]:
    by_sha = {r.commit: r for r in result.labels.itertuples(index=False)}
    out = {}
    for name, sha in c.items():
        r = by_sha[sha]
        out[name] = (
            None if pd.isna(r.label) else int(r.label),
            None if pd.isna(r.label_source) else r.label_source,
            None if pd.isna(r.incident_ids) else r.incident_ids,
            None if pd.isna(r.severity) else r.severity,
            None if pd.isna(r.known_at) else r.known_at,
        )
    return out


@pytest.fixture(scope="module")
def labelled(story):
    return label(story["repo"], story["changes"], story["incidents"], config=cfg(szz_max_files=2))


def test_changes_older_than_the_incident_record_are_unknown_unless_named(story):
    labelled = label(
        story["repo"],
        story["changes"],
        story["incidents"],
        config=cfg(szz_max_files=2, observed_from="first-incident"),
    )
    rows = rows_by_name(labelled, story["c"])
    # INC-3 opens first (2024-01-05): what came before is unobserved except a named culprit
    assert {name: row[:2] for name, row in rows.items()} == {
        "base": (None, None),
        "feature": (None, None),
        "svc": (1, "culprit"),
        "tweak": (1, "revert"),
        "revert": (0, None),
        "tune": (0, None),
        "fix1": (0, None),
        "fix5": (0, None),
        "unsvc": (0, None),
        "other": (0, None),
        "latest": (None, None),
    }
    assert labelled.report["observed_from"] == "2024-01-05T00:00:00+00:00"
    assert labelled.report["unobserved"] == 2  # base and feature


def test_every_link_kind_with_exact_values(labelled, story):
    rows = rows_by_name(labelled, story["c"])
    assert rows == {
        "base": (0, None, None, None, None),
        "feature": (1, "szz_incident", "INC-1", "SEV2", T("2024-01-12T10:00:00Z")),
        "svc": (1, "culprit", "INC-3;INC-6", "SEV1", T("2024-01-05T00:00:00Z")),
        "tweak": (1, "revert", "INC-2", "SEV1", T("2024-01-10T10:00:00Z")),
        "revert": (0, None, None, None, None),
        "tune": (0, None, None, None, None),
        "fix1": (0, None, None, None, None),
        "fix5": (0, None, None, None, None),
        "unsvc": (0, None, None, None, None),
        "other": (0, None, None, None, None),
        "latest": (None, None, None, None, None),
    }
    assert labelled.proxy is False
    c = story["c"]
    ev = dict(zip(labelled.labels["commit"], labelled.labels["evidence"], strict=True))
    assert ev[c["feature"]] == c["fix1"]
    assert ev[c["svc"]] == c["unsvc"]


def test_labels_table_columns_and_types(labelled, story):
    t = labelled.labels
    assert list(t.columns) == [
        "commit", "label", "label_source", "incident_ids", "severity", "known_at", "evidence",
    ]  # fmt: skip
    assert list(t["commit"]) == list(story["changes"]["commit"])
    assert str(t["label"].dtype) == "Int8"
    assert str(t["known_at"].dt.tz) == "UTC"


def test_report_counts_sources_severities_and_filters(labelled):
    r = labelled.report
    assert (r["proxy"], r["positives"], r["negatives"], r["unknown"]) == (False, 3, 7, 1)
    assert r["share_positive"] == 0.3
    assert r["cutoff"] == "2024-06-01T10:00:00+00:00"
    assert r["positives_by_source"] == {"culprit": 1, "revert": 1, "szz_incident": 1, "szz_fix": 0}
    assert r["positives_by_severity"] == {"SEV1": 2, "SEV2": 1, "SEV3": 0, "SEV4": 0, "none": 0}
    assert r["incidents"] == {"loaded": 5, "skipped": 0, "linked": 4, "unlinked": ["INC-5"]}
    assert r["szz"]["fix_commits"] == 2
    assert r["szz"]["skipped_too_many_files"] == 1
    assert r["szz"]["candidates_after_incident_opened"] == 1
    assert r["reverts"] == 2
    json.dumps(r)  # JSON-able as it is


def test_fix_over_the_file_limit_is_traced_with_a_higher_limit(story):
    res = label(story["repo"], story["changes"], story["incidents"], config=cfg(szz_max_files=3))
    rows = rows_by_name(res, story["c"])
    # fix5 changes line 0 of app.py and a of util.py, both from base; svc.py is INC-3's culprit.
    assert rows["base"] == (1, "szz_incident", "INC-5", "SEV4", T("2024-01-13T10:00:00Z"))
    assert rows["svc"][2] == "INC-3;INC-5;INC-6"


def test_comment_lines_lead_nowhere_unless_configured(story):
    res = label(
        story["repo"],
        story["changes"],
        story["incidents"],
        config=cfg(szz_max_files=2, szz_ignore_comments=False),
    )
    rows = rows_by_name(res, story["c"])
    # "# comment one", deleted by fix1, was written by base.
    assert rows["base"] == (1, "szz_incident", "INC-1", "SEV2", T("2024-01-12T10:00:00Z"))


def test_repository_config_is_left_alone(labelled, story):
    local = git(story["repo"], "config", "--local", "--list")
    assert "markunblamablelines" not in local.lower()


def test_window_rule(story):
    wide = label(
        story["repo"],
        story["changes"],
        story["incidents"],
        config=cfg(szz_max_files=2, window_days=100),
    )
    rows = rows_by_name(wide, story["c"])
    # cut-off 06-01 minus 100 days is 02-22: "other" (03-01) is now too young; positives stay.
    assert rows["other"][0] is None
    assert rows["unsvc"][0] == 0
    assert rows["feature"][0] == 1
    assert wide.report["unknown"] == 2


def test_cutoff_ignores_links_not_yet_knowable(story):
    # At 01-11T06:00 INC-1's fix does not exist yet and INC-6 is not open: only the culprit of
    # INC-3 and the revert for INC-2 are known; every change is younger than 90 days.
    res = label(
        story["repo"],
        story["changes"],
        story["incidents"],
        config=cfg(szz_max_files=2),
        cutoff="2024-01-11T06:00:00Z",
    )
    rows = rows_by_name(res, story["c"])
    positives = {k: v[1:3] for k, v in rows.items() if v[0] == 1}
    assert positives == {"svc": ("culprit", "INC-3"), "tweak": ("revert", "INC-2")}
    assert sum(v[0] is None for v in rows.values()) == 9
    # INC-1's SZZ link (known 01-12T10) and INC-6's revert link (known 01-14T10)
    assert res.report["links_after_cutoff"] == 2


def test_proxy_labels_from_fixes_and_reverts(story):
    res = label(story["repo"], story["changes"], None, config=cfg(szz_max_files=2))
    rows = rows_by_name(res, story["c"])
    positives = {k: v for k, v in rows.items() if v[0] == 1}
    assert positives == {
        # no incident: SZZ of fix1 keeps tune too (no opened_at to compare with)
        "feature": (1, "szz_fix", None, None, T("2024-01-12T10:00:00Z")),
        "tune": (1, "szz_fix", None, None, T("2024-01-12T10:00:00Z")),
        "tweak": (1, "revert", None, None, T("2024-01-10T10:00:00Z")),
        "svc": (1, "revert", None, None, T("2024-01-14T10:00:00Z")),
    }
    assert res.proxy is True
    assert res.report["proxy"] is True
    assert "incidents" not in res.report


def test_a_revert_subject_cut_before_its_quote_is_still_a_revert(tmp_path):
    # mining always called 'Revert "<subject>' (no closing quote) a revert while label ignored
    # it, so the changes table and the label report disagreed on the number of reverts
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    added = commit(repo, {"x.py": "x = 1\n"}, "add x", "2024-01-01T00:00:00Z")
    undo = commit(repo, {"x.py": None}, 'Revert "add x', "2024-01-02T00:00:00Z")
    commit(repo, {"z.py": "z = 0\n"}, "later", "2024-09-01T00:00:00Z")
    res = label(repo, changes_of(repo))
    positives = res.labels.loc[res.labels["label"] == 1, ["commit", "label_source", "evidence"]]
    assert positives.values.tolist() == [[added, "revert", undo]]
    assert (res.report["reverts"], res.report["reverts_unresolved"]) == (1, 0)


def test_cache_does_only_new_work_and_workers_agree(story, tmp_path):
    args = (story["repo"], story["changes"], story["incidents"])
    first = label(*args, config=cfg(szz_max_files=3), cache_dir=tmp_path)
    again = label(*args, config=cfg(szz_max_files=3), cache_dir=tmp_path, workers=2)
    proxy = label(
        story["repo"], story["changes"], None, config=cfg(szz_max_files=3), cache_dir=tmp_path
    )
    assert (first.report["szz"]["traced"], first.report["szz"]["cached"]) == (2, 0)
    assert (again.report["szz"]["traced"], again.report["szz"]["cached"]) == (0, 2)
    # proxy fixes are the same two commits: nothing new to trace
    assert (proxy.report["szz"]["traced"], proxy.report["szz"]["cached"]) == (0, 2)
    pd.testing.assert_frame_equal(first.labels, again.labels)
    parallel = label(*args, config=cfg(szz_max_files=3), workers=2)
    assert parallel.report["szz"]["traced"] == 2
    pd.testing.assert_frame_equal(first.labels, parallel.labels)


def test_a_run_stopped_half_way_keeps_what_it_traced(story, tmp_path, monkeypatch):
    """Each traced fix is in the cache as soon as it is traced: a run that dies on its second
    fix leaves the first, and the rerun traces only what is left."""
    from riskml.label import szz

    args = (story["repo"], story["changes"], story["incidents"])
    real = szz._write_cached
    written = []

    def write_then_die(store, row):
        real(store, row)
        written.append(row["fix"])
        if len(written) == 1:
            raise KeyboardInterrupt  # as a kill between two fixes

    monkeypatch.setattr(szz, "_write_cached", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        label(*args, config=cfg(szz_max_files=3), cache_dir=tmp_path)
    monkeypatch.setattr(szz, "_write_cached", real)
    again = label(*args, config=cfg(szz_max_files=3), cache_dir=tmp_path)
    assert (again.report["szz"]["traced"], again.report["szz"]["cached"]) == (1, 1)
    fresh = label(*args, config=cfg(szz_max_files=3))
    pd.testing.assert_frame_equal(again.labels, fresh.labels)


def test_blame_ignore_revs_is_honoured(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    base = commit(repo, {"m.py": "x = 1\ny = 2\n"}, "base", "2024-01-01T00:00:00Z")
    fmt = commit(repo, {"m.py": "x = 1  # int\ny = 2  # int\n"}, "style", "2024-01-02T00:00:00Z")
    commit(repo, {"m.py": "x = 5\ny = 2  # int\n"}, "fix x", "2024-01-03T00:00:00Z")
    commit(repo, {"z.py": "z = 0\n"}, "later", "2024-09-01T00:00:00Z")
    plain = label(repo, changes_of(repo))
    pos = set(plain.labels.loc[plain.labels["label"] == 1, "commit"])
    assert pos == {fmt}
    (repo / ".git-blame-ignore-revs").write_text(f"# style\n{fmt}\n")
    ignored = label(repo, changes_of(repo))
    pos = set(ignored.labels.loc[ignored.labels["label"] == 1, "commit"])
    assert fmt not in pos
    assert pos <= {base}


# ---- the incidents file -------------------------------------------------------------------


def ambiguous_prefix(repo: Path) -> str:
    """Write two commit objects whose SHAs share 7 hex digits; return that prefix."""
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    seen: dict[str, bytes] = {}
    i = 0
    while True:
        body = (
            f"tree {tree}\nauthor a <a@b> 1600000000 +0000\n"
            f"committer a <a@b> 1600000000 +0000\n\nx{i}\n"
        ).encode()
        sha = hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()
        if sha[:7] in seen:
            for b in (body, seen[sha[:7]]):
                git(repo, "hash-object", "-t", "commit", "-w", "--stdin", input=b)
            return sha[:7]
        seen[sha[:7]] = body
        i += 1


@pytest.fixture(scope="module")
def bad_file(story, tmp_path_factory):
    repo, c = story["repo"], story["c"]
    amb = ambiguous_prefix(repo)
    blob = git(repo, "rev-parse", "HEAD:app.py")
    path = tmp_path_factory.mktemp("bad") / "incidents.csv"
    path.write_text(
        "incident_id,opened_at,severity,culprit_commits,fix_commits\n"
        f"INC-1,2024-01-11T00:00:00Z,SEV2,{c['feature']},\n"  # line 2: good
        "INC-1,2024-01-11,,,\n"  # 3: duplicate id
        "INC-7,yesterday-ish,,,\n"  # 4: unparsable date
        "INC-8,2024-01-11,SEV9,,\n"  # 5: bad severity
        "INC-9,2024-01-11,,deadbeefcafe,\n"  # 6: unknown SHA
        f"INC-10,2024-01-11,,,{amb}\n"  # 7: ambiguous prefix
        ",2024-01-11,,,\n"  # 8: missing id
        "INC-11,,,,\n"  # 9: missing opened_at
        "INC-12,2024-01-11,,xyz!,\n"  # 10: not a SHA
        f"INC-13,2024-01-11,,{blob},\n"  # 11: a blob, not a commit
        "\n"
        f"INC-14,2024-01-12 08:00,3,{c['svc'][:7]};{c['tweak']},{c['fix1'][:12]}\n"  # 13: good
    )
    return path, amb, blob


def test_bad_records_are_reported_by_line_and_good_ones_kept(bad_file, story):
    path, amb, blob = bad_file
    c = story["c"]
    frame, problems = load_incidents(path, story["repo"])
    assert problems == [
        "line 3: duplicate incident_id 'INC-1' (first at line 2)",
        "line 4: unparsable opened_at 'yesterday-ish'",
        "line 5: bad severity 'SEV9' (SEV1..SEV4 or 1-4)",
        "line 6: unknown commit 'deadbeefcafe' in culprit_commits",
        f"line 7: ambiguous SHA prefix '{amb}' in fix_commits",
        "line 8: missing incident_id",
        "line 9: missing opened_at",
        "line 10: malformed SHA 'xyz!' in culprit_commits (7-40 hex digits)",
        f"line 11: unknown commit '{blob}' in culprit_commits",
    ]
    assert list(frame["incident_id"]) == ["INC-1", "INC-14"]
    assert list(frame["opened_at"]) == [T("2024-01-11T00:00:00Z"), T("2024-01-12T08:00:00Z")]
    assert list(frame["severity"]) == ["SEV2", "SEV3"]
    assert list(frame["culprit_commits"]) == [[c["feature"]], [c["svc"], c["tweak"]]]
    assert list(frame["fix_commits"]) == [[], [c["fix1"]]]
    assert list(frame["where"]) == ["line 2", "line 13"]
    res = label(story["repo"], story["changes"], frame)
    assert res.report["skipped_records"] == problems
    assert res.report["skipped_by_reason"] == {
        "ambiguous_sha": 1,
        "bad_date": 1,
        "bad_severity": 1,
        "duplicate_id": 1,
        "malformed_sha": 1,
        "missing_field": 2,
        "unknown_sha": 2,
    }
    assert res.report["incidents"]["skipped"] == 9


def test_strict_turns_a_bad_record_into_an_error(bad_file, story):
    with pytest.raises(RiskmlError, match=r"line 3: duplicate incident_id 'INC-1'.*\(and 8 more\)"):
        load_incidents(bad_file[0], story["repo"], strict=True)


def test_json_array_and_jsonl_give_the_same_incidents(story, tmp_path):
    c = story["c"]
    recs = [
        {"incident_id": "INC-1", "opened_at": "2024-01-11T00:00:00Z", "severity": 2,
         "culprit_commits": [c["feature"][:9]], "fix_commits": [], "service": "api"},
        {"incident_id": "INC-2", "opened_at": "2024-01-11T00:00:00+02:00", "severity": "SEV9"},
        {"incident_id": "INC-3", "opened_at": "2024-01-12", "culprit_commits": c["svc"]},
    ]  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(recs))
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n{broken\n")
    (tmp_path / "c.txt").write_text(json.dumps(recs))  # no telling suffix: sniffed
    a, pa = load_incidents(tmp_path / "a.json", story["repo"])
    b, pb = load_incidents(tmp_path / "b.jsonl", story["repo"])
    s, ps = load_incidents(tmp_path / "c.txt", story["repo"])
    assert pa == ["record 2 (INC-2): bad severity 'SEV9' (SEV1..SEV4 or 1-4)"]
    assert pb == [
        "line 2: bad severity 'SEV9' (SEV1..SEV4 or 1-4)",
        "line 4: not valid JSON",
    ]
    assert ps == pa
    cols = ["incident_id", "opened_at", "severity", "culprit_commits", "service"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert list(a["culprit_commits"]) == [[c["feature"]], [c["svc"]]]
    assert [None if pd.isna(v) else v for v in a["severity"]] == ["SEV2", None]
    assert [None if pd.isna(v) else v for v in a["service"]] == ["api", None]


def test_severity_forms():
    from riskml.label.incidents import parse_severity

    assert [parse_severity(v) for v in ("SEV1", "sev2", "3", 4, "", None)] == [
        "SEV1", "SEV2", "SEV3", "SEV4", None, None,
    ]  # fmt: skip
    for bad in ("SEV0", "5", 0, "high", True):
        with pytest.raises(ValueError):
            parse_severity(bad)


def test_missing_incidents_file_is_a_user_error(story, tmp_path):
    with pytest.raises(RiskmlError, match="incidents file not found"):
        load_incidents(tmp_path / "nope.csv", story["repo"])
    (tmp_path / "x.json").write_text("[not json")
    (tmp_path / "y.json").write_text('{"a": 1}\n')
    with pytest.raises(RiskmlError, match="not valid JSON"):
        load_incidents(tmp_path / "x.json", story["repo"])
    # JSONL in a .json whose one record has none of the fields: not "no incidents"
    with pytest.raises(RiskmlError) as caught:
        load_incidents(tmp_path / "y.json", story["repo"])
    assert str(caught.value) == (
        f"{tmp_path / 'y.json'}: no usable incident record (1 record(s) read; first: line 1: "
        "missing incident_id; missing opened_at); each needs incident_id, opened_at "
        "(without incidents, leave --incidents out)"
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "no usable incident record (0 record(s) read)"),
        ("header.csv", "incident_id,opened_at\n", "no usable incident record (0 record(s) read)"),
        ("semicolons.csv", "incident_id;opened_at\nINC-1;2024-01-01\n",
         "no usable incident record (1 record(s) read; first: line 2: missing incident_id"),
        ("other.csv", "id,date\nINC-1,2024-01-01\n",
         "no usable incident record (1 record(s) read; first: line 2: missing incident_id"),
        ("nul.csv", "incident_id,opened_at\nINC-1\x00,2024-01-01\n",
         "holds NUL bytes: not a text incidents file"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
        ("wide.csv", "incident_id,opened_at\nINC-1," + "x" * 200_000 + "\n",
         "not a readable CSV incidents file (field larger than field limit (131072))"),
    ],
)  # fmt: skip
def test_an_incidents_file_without_a_usable_record_is_a_user_error(
    story, tmp_path, name, content, message
):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(RiskmlError) as caught:
        load_incidents(path, story["repo"])
    assert str(caught.value).startswith(f"{path}: {message}")


# ---- the command line ---------------------------------------------------------------------


@pytest.mark.slow  # the real CLI end to end
def test_cli_end_to_end(cli, story, bad_file, tmp_path):
    changes = tmp_path / "changes.parquet"
    story["changes"].to_parquet(changes)
    toml = tmp_path / "riskml.toml"
    toml.write_text("[label]\nszz_max_files = 2\n")
    out = tmp_path / "out" / "labels.parquet"
    args = ["label", "--repo", str(story["repo"]), "--changes", str(changes)]
    proc = cli(
        *args, "--incidents", str(story["incidents"]), "--out", str(out), "--config", str(toml),
        "--cache-dir", str(tmp_path / "cache"), "--workers", "2", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "positive 3  negative 7  unknown (too young) 1  share positive 30.0%" in proc.stdout
    assert "culprit 1, revert 1, szz_incident 1" in proc.stdout
    table = pd.read_parquet(out)
    assert str(table["label"].dtype) == "Int8"
    assert table["label"].tolist()[-1] is pd.NA
    assert int(table["label"].sum()) == 3
    report = json.loads((tmp_path / "out" / "labels.report.json").read_text())
    assert (report["proxy"], report["positives"], report["szz"]["traced"]) == (False, 3, 1)

    # bad records: warned about and skipped, the good ones labelled; --strict: exit 2
    proc = cli(
        *args,
        "--incidents",
        str(bad_file[0]),
        "--out",
        str(out),
        "--window-days",
        "30",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "skipped line 4: unparsable opened_at 'yesterday-ish'" in proc.stderr
    report = json.loads((tmp_path / "out" / "labels.report.json").read_text())
    assert (report["incidents"]["loaded"], report["incidents"]["skipped"]) == (2, 9)
    assert report["window_days"] == 30
    proc = cli(*args, "--incidents", str(bad_file[0]), "--out", str(out), "--strict", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"riskml: error: {bad_file[0]}: line 3: duplicate incident_id 'INC-1' "
        "(first at line 2) (and 8 more)"
    ]

    # no incidents file: proxy labels, default output under data/<repo>/ of the working dir
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("PROXY labels (no incidents file)")
    report = json.loads((tmp_path / "data" / "repo" / "labels.report.json").read_text())
    assert report["proxy"] is True
    assert (tmp_path / "data" / "repo" / "szz-cache").is_dir()

    proc = cli("label", "--repo", str(tmp_path / "nowhere"), "--changes", str(changes))
    assert proc.returncode == 2
    assert proc.stderr.startswith("riskml: error: not a git repository")


def test_fix_edits_to_test_files_are_not_traced(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    code = commit(repo, {"m.py": "x = 1\n"}, "code", "2024-01-01T00:00:00Z")
    test = commit(repo, {"tests/test_m.py": "assert x == 1\n"}, "test", "2024-01-02T00:00:00Z")
    commit(
        repo,
        {"m.py": "x = 2\n", "tests/test_m.py": "assert x == 2\n"},
        "fix x",
        "2024-01-03T00:00:00Z",
    )
    commit(repo, {"z.py": "z = 0\n"}, "later", "2024-09-01T00:00:00Z")
    changes = changes_of(repo)
    default = label(repo, changes)
    assert set(default.labels.loc[default.labels["label"] == 1, "commit"]) == {code}
    traced = label(repo, changes, config=cfg(szz_skip_tests=False))
    assert set(traced.labels.loc[traced.labels["label"] == 1, "commit"]) == {code, test}


def test_changes_from_another_repository_are_a_user_error(story, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    commit(other, {"a.py": "a = 1\n"}, "a", "2024-01-01T00:00:00Z")
    with pytest.raises(RiskmlError, match=r"the changes table has 11 commit\(s\) .* does not know"):
        label(other, story["changes"])
    with pytest.raises(RiskmlError, match="invalid cutoff"):
        label(story["repo"], story["changes"], cutoff="soon")
    with pytest.raises(RiskmlError, match="lacks column"):
        label(story["repo"], story["changes"].drop(columns=["author_time"]))


def test_a_culprit_newer_than_its_incident_is_known_from_its_own_time(story, tmp_path):
    c = story["c"]
    path = tmp_path / "late.jsonl"
    path.write_text(
        json.dumps(
            {"incident_id": "INC-9", "opened_at": "2024-01-20", "culprit_commits": [c["other"]]}
        )
        + "\n"
    )
    res = label(story["repo"], story["changes"], path)
    rows = rows_by_name(res, story["c"])
    assert rows["other"] == (1, "culprit", "INC-9", None, T("2024-03-01T10:00:00Z"))
    assert res.report["culprits_after_incident_opened"] == [f"INC-9: {c['other']}"]


def test_a_merge_commit_listed_as_fix_stands_for_the_commits_it_merged(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"m.py": "x = 1\ny = 1\n"}, "base", "2024-01-01T00:00:00Z")
    bug = commit(repo, {"m.py": "x = 2\ny = 1\n"}, "bug", "2024-01-02T00:00:00Z")
    git(repo, "checkout", "-q", "-b", "hotfix")
    fix = commit(repo, {"m.py": "x = 1\ny = 1\n"}, "restore x", "2024-01-04T00:00:00Z")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"n.py": "n = 1\n"}, "meanwhile", "2024-01-05T00:00:00Z")
    when = "2024-01-06T00:00:00Z"
    git(
        repo, "merge", "-q", "--no-ff", "-m", "Merge hotfix", "hotfix",
        env={"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when},
    )  # fmt: skip
    merge = git(repo, "rev-parse", "HEAD")
    commit(repo, {"z.py": "z = 0\n"}, "later", "2024-09-01T00:00:00Z")
    incidents = tmp_path / "inc.csv"
    incidents.write_text(f"incident_id,opened_at,fix_commits\nINC-1,2024-01-03,{merge}\n")
    res = label(repo, changes_of(repo), incidents)
    row = res.labels[res.labels["label"] == 1]
    assert list(row["commit"]) == [bug]
    assert list(row["label_source"]) == ["szz_incident"]
    assert list(row["evidence"]) == [fix]
    assert list(row["known_at"]) == [T(when)]  # knowable when the merge landed
    assert res.report["merge_fixes_expanded"] == 1
    # the same merge named as the culprit of another incident: its merged commit is the culprit
    incidents.write_text(f"incident_id,opened_at,culprit_commits\nINC-2,2024-01-07,{merge}\n")
    res = label(repo, changes_of(repo), incidents)
    row = res.labels[res.labels["label"] == 1]
    assert list(zip(row["commit"], row["label_source"], strict=True)) == [(fix, "culprit")]


def test_history_mode_notes_changes_that_predate_the_first_incident(labelled):
    from riskml.label.report import format_report

    report = labelled.report
    # base, feature, svc and tweak were committed before INC-3 opened (2024-01-05)
    assert (report["predate_first_incident"], report["first_incident"]) == (
        4,
        "2024-01-05T00:00:00+00:00",
    )
    assert "unobserved" not in report
    assert (
        "  note: 4 changes predate the first incident (2024-01-05T00:00:00+00:00) and count as "
        'clean; if the record starts there, set [label] observed_from = "first-incident"'
    ) in format_report(report).splitlines()
    quiet = {**report, "predate_first_incident": 2}  # 2 of 11: under the 20 % of the note
    assert "note:" not in format_report(quiet)
