"""`riskml demo` input checks (the full demo runs once, in test_fresh_clone.py)."""

from __future__ import annotations


def test_demo_refuses_a_directory_that_is_not_its_sample(cli, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    proc = cli("demo", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"riskml: error: {out} exists and is not this demo's sample (remove it or pick --out DIR)"
    ]
    assert (out / "notes.txt").read_text() == "keep me\n"


def test_demo_needs_enough_commits(cli, tmp_path):
    proc = cli("demo", "--out", str(tmp_path / "d"), "--commits", "50", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "riskml: error: --commits must be at least 200 (the model needs a history to learn)"
    )
    assert not (tmp_path / "d").exists()
