"""Safe git access: revisions are validated before git sees them."""

import subprocess
from pathlib import Path

import pytest

from riskml.errors import RiskmlError
from riskml.gitio import ensure_repo, has_commits, resolve_range, resolve_rev


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "r"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "a.txt").write_text("one\n")
    env = {"GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}
    import os

    env = {**os.environ, **env}
    subprocess.run(["git", "-C", str(path), "add", "a.txt"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-qm", "first"], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", "second"],
        check=True,
        env=env,
    )
    return path


def head(repo: Path, rev: str = "HEAD") -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", rev], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_resolves_names_and_prefixes(repo: Path) -> None:
    sha = head(repo)
    assert resolve_rev(repo, "HEAD") == sha
    assert resolve_rev(repo, "main") == sha
    assert resolve_rev(repo, sha[:8]) == sha
    assert resolve_rev(repo, "HEAD~1") == head(repo, "HEAD~1")
    assert resolve_range(repo, "HEAD~1..HEAD") == (head(repo, "HEAD~1"), sha)


@pytest.mark.parametrize(
    "rev",
    [
        "--output=/tmp/x",
        "-n1",
        "HEAD;id",
        "../..",
        "a b",
        "",
        "HEAD..main",
        "$(id)",
        "x" * 300,
        "deadbeef",
    ],
)
def test_hostile_or_unknown_revisions_are_refused(repo: Path, rev: str, tmp_path: Path) -> None:
    with pytest.raises(RiskmlError) as info:
        resolve_rev(repo, rev)
    assert str(info.value).startswith(("invalid revision", "unknown revision"))
    assert not Path("/tmp/x").exists() or rev != "--output=/tmp/x"


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(RiskmlError, match="not a git repository"):
        ensure_repo(tmp_path)
    with pytest.raises(RiskmlError, match="does not exist"):
        ensure_repo(tmp_path / "nope")


def test_empty_repository_has_no_commits(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "e")], check=True)
    assert ensure_repo(tmp_path / "e") == (tmp_path / "e").resolve()
    assert not has_commits(tmp_path / "e")


def test_bare_repository_is_a_repository(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    assert ensure_repo(bare) == bare.resolve()
    assert resolve_rev(bare, "HEAD") == head(repo)
    (repo / "sub").mkdir()
    assert ensure_repo(repo / "sub") == repo.resolve()


def test_read_objects_gives_type_and_content_and_leaves_out_unknown_names(repo: Path) -> None:
    from riskml.gitio import read_objects

    sha = head(repo, "HEAD~1")
    blob = head(repo, "HEAD~1:a.txt")
    got = read_objects(repo, [blob, sha, "0" * 40, blob])
    assert sorted(got) == sorted([blob, sha])
    assert got[blob] == ("blob", b"one\n")
    kind, body = got[sha]
    assert kind == "commit" and body.endswith(b"\n\nfirst\n")
    assert read_objects(repo, []) == {}


@pytest.mark.parametrize(
    ("message", "subject", "revert"),
    [
        (
            'Revert "Add export"\n\nThis reverts commit ABCDEF1.',
            'Revert "Add export"',
            ("abcdef1", None),
        ),
        ('Revert "Add export"\n', 'Revert "Add export"', (None, "Add export")),
        ('  Revert "Add export"  \r\n\nbody', 'Revert "Add export"', (None, "Add export")),
        (
            'Revert "Add a very long subj',
            'Revert "Add a very long subj',
            (None, "Add a very long subj"),
        ),
        ("Reverted the export by hand", "Reverted the export by hand", None),
        ("a\x0cb\nrest", "a\x0cb", None),
        ("", "", None),
    ],
)
def test_subject_and_revert_parsing(message: str, subject: str, revert) -> None:
    from riskml.gitio import parse_revert, subject_of

    assert subject_of(message) == subject
    assert parse_revert(message) == revert


def _configured(repo: Path) -> dict[str, str]:
    """The -c settings git_env(repo) gives git (GIT_CONFIG_KEY_n = GIT_CONFIG_VALUE_n)."""
    from riskml.gitio import git_env

    env = git_env(repo)
    count = int(env["GIT_CONFIG_COUNT"])
    return {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count)}


def _neutralised(name: str) -> dict[str, str]:
    return {f"filter.{name}.clean": "cat", f"filter.{name}.smudge": "cat",
            f"filter.{name}.process": "", f"filter.{name}.required": "false"}  # fmt: skip


def test_a_filter_configured_after_the_first_git_call_is_neutralised_too(repo: Path) -> None:
    import riskml.gitio as gitio

    before = _configured(repo)
    assert not any(key.startswith("filter.") for key in before)
    subprocess.run(["git", "-C", str(repo), "config", "filter.late.clean", "touch MARK"],
                   check=True)  # fmt: skip
    assert _configured(repo) == {**before, **_neutralised("late")}
    # included files count, also one that did not exist when the filters were last read
    subprocess.run(["git", "-C", str(repo), "config", "include.path", "shared.cfg"], check=True)
    assert gitio._filters_of(str(repo)) == ("late",)
    (repo / ".git" / "shared.cfg").write_text('[filter "shared"]\n\tsmudge = touch MARK\n')
    assert gitio._filters_of(str(repo)) == ("late", "shared")


def test_a_global_config_that_appears_later_is_read(repo: Path, tmp_path: Path, monkeypatch):
    import riskml.gitio as gitio

    path = tmp_path / "global.cfg"
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(path))
    assert gitio._filters_of(str(repo)) == ()
    path.write_text('[filter "everywhere"]\n\tclean = touch MARK\n')
    assert gitio._filters_of(str(repo)) == ("everywhere",)


def test_the_filters_are_read_again_only_when_a_config_file_changed(repo: Path, monkeypatch):
    import riskml.gitio as gitio

    reads = []
    real = gitio._read_filters
    monkeypatch.setattr(gitio, "_read_filters", lambda r: reads.append(r) or real(r))
    for _ in range(5):
        assert gitio._filters_of(str(repo)) == ()
    # the first read finds the files to watch, the second is the one kept
    assert reads == [str(repo)] * 2
    subprocess.run(["git", "-C", str(repo), "config", "filter.x.clean", "cat"], check=True)
    for _ in range(5):
        assert gitio._filters_of(str(repo)) == ("x",)
    assert reads == [str(repo)] * 3


def test_a_worktree_read_in_a_long_running_process_never_runs_a_filter_added_later(
    repo: Path, tmp_path: Path
) -> None:
    from riskml.mine.extract import record_for_worktree

    (repo / "a.txt").write_text("one\ntwo\n")
    record_for_worktree(repo, "dev@acme.example")  # the filters are read: none yet
    mark = tmp_path / "mark"
    subprocess.run(["git", "-C", str(repo), "config", "filter.mark.clean", f"touch {mark}; cat"],
                   check=True)  # fmt: skip
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("*.txt filter=mark\n")
    (repo / "a.txt").write_text("one\ntwo\nthree\n")
    rec = record_for_worktree(repo, "dev@acme.example")
    assert [(f["path"], f["added"], f["deleted"]) for f in rec["files"]] == [("a.txt", 2, 0)]
    assert not mark.exists()
    subprocess.run(["git", "-C", str(repo), "diff", "--quiet"], check=False)  # plain git runs it
    assert mark.exists()


def test_the_root_commit_is_the_start_of_the_first_parent_chain(tmp_path: Path) -> None:
    """A history with two roots (another project merged in, either way round): the root of
    the first-parent chain, and commits added on top keep it."""
    from gitrepo import commit, git, init

    from riskml.gitio import has_commit, root_commit

    repo = init(tmp_path / "two-roots")
    first = commit(repo, "first", {"a.txt": "a\n"}, when=1_700_000_000)
    commit(repo, "second", {"a.txt": "a\nb\n"}, when=1_700_000_100)
    git(repo, "checkout", "-q", "--orphan", "vendor")
    git(repo, "rm", "-q", "-rf", ".")
    other = commit(repo, "vendored root", {"v.txt": "v\n"}, when=1_600_000_000)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--allow-unrelated-histories", "-m", "merge vendor", "vendor")
    assert sorted(git(repo, "rev-list", "--max-parents=0", "HEAD").split()) == sorted(
        [first, other]
    )
    assert root_commit(repo) == first  # main's own chain, not the older vendored root
    assert root_commit(repo, "vendor") == other
    commit(repo, "third", {"a.txt": "c\n"}, when=1_700_000_200)
    assert root_commit(repo) == first
    assert has_commit(repo, first) and has_commit(repo, other)
    assert not has_commit(repo, "0" * 40)
    assert not has_commit(repo, "HEAD")  # only full SHAs, never a revision to resolve
    blob = git(repo, "rev-parse", "HEAD:a.txt")
    assert not has_commit(repo, blob)  # an object, but not a commit
