"""`riskml mine`'s diff content: tokens and content flags, exact on hand-built commits; the
tokens file beside the table, incremental, kill-safe and leak-free."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import gitrepo
import pandas as pd
import pytest
from gitrepo import commit, git, init

from riskml.mine import COLUMNS, MiningWarning, load_state, mine, records_for, state_path
from riskml.mine import content as content_mod
from riskml.mine.content import format_bag, parse_bag, section_counts, subwords, tokens_of
from riskml.mine.features import CONTENT_COLUMNS
from riskml.mine.state import OutdatedStateError
from riskml.tables import OPTIONAL_CHANGES_COLUMNS, read_tokens, tokens_path

T0 = 1_700_000_000
DAY = 86_400
WHO = ("Dev", "dev@x.example")

SERVICE = "class Service {\n  void run() {\n    // start\n    go();\n  }\n}\n"
GUARDED = SERVICE.replace(
    "    go();\n",
    "    try {\n      go();\n    } catch (IOException e) {\n"
    "      throw new IllegalStateException(e);\n    } finally {\n      close();\n    }\n",
)


def _commit(repo: Path, k: int, message: str, files: dict) -> str:
    return commit(repo, message, files, when=T0 + k * DAY, who=WHO)


@pytest.fixture(scope="module")
def content_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """One commit per content flag (see each commit's message)."""
    repo = init(tmp_path_factory.mktemp("content") / "repo")
    sha = {}
    sha["base"] = _commit(repo, 0, "base", {
        "src/Service.java": SERVICE,
        "src/app.py": "def f(x):\n    raise ValueError(x)\n",
        "config/app.yaml": "port: 80\n",
        "requirements.txt": "pandas\n",
        "tests/test_service.py": "def test_a():\n    assert True\n\n",
        "db/schema.sql": "-- schema\n",
    })  # fmt: skip
    sha["error"] = _commit(repo, 1, "error handling", {
        "src/Service.java": GUARDED,
        "src/app.py": "def f(x):\n    return x\n",  # deletes a `raise` line
    })  # fmt: skip
    sha["concurrency"] = _commit(repo, 2, "concurrency", {
        "src/Locks.java": "class Locks {\n"
        "  private final ReentrantLock lock = new ReentrantLock();\n"
        "  synchronized void go() { BlockStatement block = clock(); }\n}\n",
        "src/job.py": "async def job():\n    await step()\n",
    })  # fmt: skip
    sha["nulls"] = _commit(repo, 3, "null checks", {
        "src/Nulls.java": "class Nulls {\n  void f() {\n    if (a == null) return;\n"
        "    if (null != b) x = null;\n    Objects.requireNonNull(c);\n  }\n}\n",
        "src/nulls.py": "if d is None:\n    pass\nif e is not None:\n    pass\n",
    })  # fmt: skip
    sha["config"] = _commit(repo, 4, "config keys", {
        "config/app.yaml": "# the port\nport: 8080\nhost: example\n",
        "src/settings.py": "x = 1\n",  # an assignment, but not in a configuration file
    })  # fmt: skip
    sha["sql"] = _commit(repo, 5, "sql", {
        "src/Repo.java": 'class Repo {\n  String q = "SELECT id FROM users WHERE x = 1";\n'
        '  String i = "INSERT INTO t VALUES (1)";\n  enum Op { UPDATE, DELETE }\n}\n',
        "db/schema.sql": "-- schema\ncreate table users (id int);\n",
    })  # fmt: skip
    sha["dependency"] = _commit(repo, 6, "dependencies", {
        "requirements.txt": "pandas==2.2\nnumpy\n",
    })  # fmt: skip
    sha["tests"] = _commit(repo, 7, "tests", {
        "tests/test_service.py": "def test_b():\n",
    })  # fmt: skip
    sha["todo"] = _commit(repo, 8, "todo", {
        "src/todo.py": "# TODO: later\nx = 1  # FIXME\n# HACK XXX\n",
    })  # fmt: skip
    sha["untodo"] = _commit(repo, 9, "a TODO deleted does not count", {
        "src/todo.py": "x = 1\n",
    })  # fmt: skip
    sha["comments"] = _commit(repo, 10, "comments only", {
        "src/Service.java": GUARDED.replace("// start", "// begin") + "\n",
    })  # fmt: skip
    sha["binary"] = _commit(repo, 11, "a comment and a binary file", {
        "src/Service.java": GUARDED.replace("// start", "// go") + "\n",
        "logo.png": b"\x89PNG\x00\x01",
    })  # fmt: skip
    return repo, sha


@pytest.fixture(scope="module")
def content_table(content_repo, tmp_path_factory: pytest.TempPathFactory):
    repo, sha = content_repo
    out = tmp_path_factory.mktemp("content_mine") / "changes.parquet"
    table = mine(repo, out=out)
    return out, table.set_index("commit"), sha


# ---------------------------------------------------------------------------- tokenisation


def test_tokens_are_identifiers_with_counts():
    text = b"+    if (x == null) { return fooBar_2(x); } // 42 0x1f \xc3\xa9t\xc3\xa9"
    assert tokens_of(text) == Counter(
        {"x": 2, "if": 1, "null": 1, "return": 1, "fooBar_2": 1, "t": 1}
    )  # numbers (42, 0x1f) dropped; non-ASCII letters split words (été -> t)
    assert tokens_of(b"a" * 64 + b" " + b"b" * 65) == Counter({"a" * 64: 1})


def test_bag_text_round_trip():
    text = format_bag(Counter({"foo": 3, "bar": 1}), Counter({"baz": 2}))
    assert text == "+foo:3 +bar -baz:2"
    assert parse_bag(text) == {"+foo": 3, "+bar": 1, "-baz": 2}
    assert parse_bag("") == {} and parse_bag(None) == {}
    # at most `limit` per side: the most frequent, ties by token
    assert format_bag(Counter({"b": 1, "a": 1, "c": 5}), Counter(), limit=2) == "+c:5 +a"


def test_subwords():
    assert subwords("ReentrantReadWriteLock") == ["Reentrant", "Read", "Write", "Lock"]
    assert subwords("io_thread") == ["io", "thread"]
    assert subwords("HTTPServer2") == ["HTTP", "Server", "2"]


def test_section_counts_are_numstat_counts():
    section = b"a/x b/x\nindex 1..2\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n+d\n"
    assert section_counts(section) == (2, 1, False)
    assert section_counts(b"a/x b/x\nBinary files a/x and b/x differ") == (0, 0, True)
    assert section_counts(b"a/x b/y\nsimilarity index 100%\nrename from x\nrename to y") == (
        0,
        0,
        False,
    )


# ---------------------------------------------------------------------------- flags


def _flags(content_table, name: str) -> dict:
    _, table, sha = content_table
    return {c: table.loc[sha[name], c] for c in CONTENT_COLUMNS}


def _only(**counts) -> dict:
    base = dict.fromkeys(CONTENT_COLUMNS, 0)
    base["comments_only"] = False
    return {**base, **counts}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # try, catch, throw, finally added; the deleted `raise` line
        ("error", _only(error_handling=5)),
        # Locks, ReentrantLock x2, lock, synchronized, async, await; not BlockStatement,
        # block or clock (whole sub-words only)
        ("concurrency", _only(concurrency=7)),
        # == null, null !=, requireNonNull, is None, is not None; not `x = null`
        ("nulls", _only(null_checks=5)),
        # port deleted, port and host added (the comment and settings.py's x = 1 do not count)
        ("config", _only(config_key_lines=3)),
        # SELECT…FROM, INSERT INTO in code; create table in the .sql file; not a bare UPDATE
        ("sql", _only(sql_statements=3)),
        ("dependency", _only(dependency_lines=3)),
        # test_a's two lines and the blank one deleted, one line added
        ("tests", _only(test_lines_deleted=3)),
        ("todo", _only(todo_added=4)),
        ("untodo", _only()),
        ("comments", _only(comments_only=True)),
        ("binary", _only()),  # a binary file changed: not a comments-only change
    ],
)
def test_content_flags_exact(content_table, name, expected):
    assert _flags(content_table, name) == expected


def test_base_commit_has_no_flags_but_its_tokens(content_table):
    out, _, sha = content_table
    tokens = read_tokens(tokens_path(out)).set_index("commit")["tokens"]
    assert _flags(content_table, "base") == _only(
        error_handling=1,  # src/app.py adds a `raise` line
        config_key_lines=1,  # port: 80
        dependency_lines=1,
    )
    assert tokens[sha["todo"]] == "+TODO +later +x +FIXME +HACK +XXX"
    assert tokens[sha["untodo"]] == "+x -TODO -later -x -FIXME -HACK -XXX"
    assert tokens[sha["binary"]] == "+go -begin"


def test_tokens_file_rows_follow_the_table(content_table):
    from riskml import snapshot

    out, table, _ = content_table
    tokens = read_tokens(tokens_path(out))
    # among the companions of exactly this table: changes.state/<digest>.<n>/tokens.parquet
    assert tokens_path(out) == snapshot.read(out).companion("tokens.parquet")
    assert tokens_path(out).parent.parent == state_path(out) == out.with_name("changes.state")
    assert tokens["commit"].tolist() == table.index.tolist()
    assert list(tokens.columns) == ["commit", "tokens"]


def test_huge_files_leave_no_tokens(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(content_mod, "MAX_FILE_LINES", 3)
    repo = init(tmp_path / "huge")
    sha = _commit(repo, 0, "huge", {"big.py": "try:\n  a\nexcept:\n  b\n", "small.py": "c\n"})
    rec = records_for(repo, [sha])[0]
    assert rec["content"]["tokens"] == "+c"
    assert rec["content"]["error_handling"] == 0 and rec["content"]["skipped_files"] == 1
    assert [f["added"] for f in rec["files"]] == [4, 1]  # line counts are still all there


# ---------------------------------------------------------------------------- line counts


def _without_key_lines(records: list[dict]) -> list[list[dict]]:
    return [[{k: v for k, v in f.items() if k != "key_lines"} for f in r["files"]] for r in records]


def test_patch_counts_equal_numstat(content_repo, hand_history, tmp_path: Path):
    """Line counts, binary flags and lines before from the patch equal --numstat's, also
    for a type change, a pure rename of a binary file, a mode change and quoted paths."""
    repo = init(tmp_path / "odd")
    _commit(repo, 0, "one", {"t": "target\n", "img.png": b"\x00\x01\x02bin", "sp ace.txt": "a\n",
                             'q"uote.txt': "x\n", "caf\u00e9.txt": "u\n"})  # fmt: skip
    (repo / "link").symlink_to("t")
    git(repo, "add", "link")
    _commit(repo, 1, "a symlink", {})
    (repo / "link").unlink()
    (repo / "link").write_text("line1\ntarget\nline3\n")
    git(repo, "mv", "img.png", "img2.png")
    (repo / "sp ace.txt").chmod(0o755)
    gitrepo.write(repo, {"link": "line1\ntarget\nline3\n", 'q"uote.txt': "x\ny\n",
                         "caf\u00e9.txt": "u\nv\n", "sp ace.txt": "a\n"})  # fmt: skip
    _commit(repo, 2, "type change, binary rename, mode change", {})
    for path in (repo, content_repo[0], hand_history[0]):
        shas = git(path, "rev-list", "--reverse", "--no-merges", "HEAD").split()
        with_patch = records_for(path, shas)
        with_numstat = records_for(path, shas, content=False)
        assert _without_key_lines(with_patch) == [r["files"] for r in with_numstat]
        assert all("content" not in r for r in with_numstat)
    last = records_for(repo, [git(repo, "rev-parse", "HEAD")])[0]
    assert {f["path"]: (f["added"], f["deleted"], f["binary"]) for f in last["files"]} == {
        "caf\u00e9.txt": (1, 0, False),
        "img2.png": (0, 0, True),
        "link": (3, 1, False),
        'q"uote.txt': (1, 0, False),
        "sp ace.txt": (0, 0, False),
    }


# ---------------------------------------------------------------------------- the tokens file


def _mine_pair(repo: Path, out: Path, rev: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    table = mine(repo, out=out, **({"rev": rev} if rev else {}))
    return table, read_tokens(tokens_path(out))


def test_incremental_mine_appends_tokens(content_repo, tmp_path: Path):
    repo, sha = content_repo
    full, full_tokens = _mine_pair(repo, tmp_path / "full" / "changes.parquet")
    out = tmp_path / "inc" / "changes.parquet"
    first, first_tokens = _mine_pair(repo, out, sha["config"])
    assert len(first) == 5
    again, again_tokens = _mine_pair(repo, out)
    assert again.attrs["new_rows"] == len(full) - 5
    pd.testing.assert_frame_equal(again, full)
    pd.testing.assert_frame_equal(again_tokens, full_tokens)
    pd.testing.assert_frame_equal(again_tokens.iloc[:5], first_tokens)  # old rows as they were
    # a prefix of history gives the same rows: the content is the change's own
    pd.testing.assert_frame_equal(first, full.iloc[:5])
    nothing, _ = _mine_pair(repo, out)
    assert nothing.attrs["new_rows"] == 0


def test_csv_table_keeps_its_tokens_in_parquet(content_repo, tmp_path: Path):
    repo, sha = content_repo
    out = tmp_path / "changes.csv"
    mine(repo, rev=sha["nulls"], out=out)
    table = mine(repo, out=out)
    tokens = read_tokens(tokens_path(out))
    assert tokens_path(out).name == "tokens.parquet"
    assert tokens["commit"].tolist() == table["commit"].tolist()


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}  # fmt: skip


@pytest.mark.parametrize("killed_in", ["table", "tokens", "state"])
def test_a_run_stopped_while_writing_leaves_the_old_set(
    content_repo, tmp_path: Path, monkeypatch, killed_in
):
    """A run stopped while it writes the table, the tokens or the state leaves the table and
    its companions as they were, and no temporary file; the next run mines the rest."""
    import riskml.mine.miner as miner
    import riskml.tables as tables
    from riskml.mine.state import MiningState

    repo, sha = content_repo
    full, full_tokens = _mine_pair(repo, tmp_path / "full" / "changes.parquet")
    out = tmp_path / "killed" / "changes.parquet"
    _mine_pair(repo, out, sha["config"])
    before = _files(out.parent)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        if killed_in == "state":
            patch.setattr(MiningState, "save", killed)
        elif killed_in == "tokens":
            patch.setattr(miner, "write_tokens", killed)
        else:
            patch.setattr(tables, "_write_parquet", killed)
        with pytest.raises(KeyboardInterrupt):
            mine(repo, out=out)
    assert _files(out.parent) == before
    table, tokens = _mine_pair(repo, out)
    pd.testing.assert_frame_equal(table, full)
    pd.testing.assert_frame_equal(tokens, full_tokens)
    assert load_state(state_path(out)).n_rows == len(full)
    assert len(list(state_path(out).iterdir())) == 1  # the older companions are gone


def test_tokens_file_missing_is_refused(content_repo, tmp_path: Path):
    from riskml.errors import RiskmlError

    repo, sha = content_repo
    out = tmp_path / "changes.parquet"
    mine(repo, rev=sha["nulls"], out=out)
    tokens_path(out).unlink()
    with pytest.raises(RiskmlError, match="has no tokens file"):
        mine(repo, out=out)


class _Runs:
    """Pickles as a call of ``os.system``: what a crafted state file would hold."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_a_table_of_an_earlier_riskml_is_mined_again_and_its_pickle_never_read(
    content_repo, tmp_path: Path
):
    """An earlier riskml's table (no content columns) with its pickled state
    (``changes.state.joblib``) and tokens file beside it: the pickle is never unpickled (a
    crafted one would run a command), every row is mined again with a warning, and the old
    files make way for the new snapshot."""
    from riskml.tables import read_changes, write_changes

    repo, sha = content_repo
    full = mine(repo, out=tmp_path / "full" / "changes.parquet")
    out = tmp_path / "changes.parquet"
    mine(repo, rev=sha["nulls"], out=out)
    legacy = [c for c in COLUMNS if c not in OPTIONAL_CHANGES_COLUMNS]
    old_table = read_changes(out)[legacy]
    import shutil

    shutil.rmtree(state_path(out))
    write_changes(old_table, out)
    mark = tmp_path / "ran"
    out.with_name("changes.state.joblib").write_bytes(pickle.dumps(_Runs(f"touch {mark}")))
    out.with_name("changes.tokens.parquet").write_bytes(b"old tokens")
    with pytest.raises(OutdatedStateError, match="a pickle, which riskml no longer reads"):
        load_state(out.with_name("changes.state.joblib"))
    with pytest.warns(MiningWarning, match="is a pickle that riskml no longer reads; re-mining"):
        table = mine(repo, out=out)
    assert not mark.exists()
    pd.testing.assert_frame_equal(table, full)
    assert table.attrs["new_rows"] == len(full)
    assert not out.with_name("changes.state.joblib").exists()
    assert not out.with_name("changes.tokens.parquet").exists()
    assert read_tokens(tokens_path(out))["commit"].tolist() == full["commit"].tolist()
