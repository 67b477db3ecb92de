"""Current AI markers on the strings tools write, the model they name (``ai_model``), and
line-level attribution from git-ai logs and Agent Trace records (``ai_lines_added``).

Every marker string below is written as tools write it in public repositories (where each was
seen: docs/provenance.md, "Where each marker was seen"); the look-alikes carry the same display
names with a person's address and stay human.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from gitrepo import commit, git, init

from riskml.mine import COLUMNS, MiningWarning, mine, read_table
from riskml.mine import miner as miner_module
from riskml.mine import provenance as prov
from riskml.mine.features import provenance as provenance_columns
from riskml.mine.provenance import (
    LineAttribution,
    MalformedNote,
    line_attribution,
    provenance_of,
    read_ai_notes,
)
from riskml.tables import AI_DETAIL_COLUMNS

ALICE = ("Alice Doe", "alice@corp.example")
CLAUDE_FOOTER = "🤖 Generated with [Claude Code](https://claude.com/claude-code)"

# (case id, message body after "Subject\n\nBody.\n\n", expected (class, tool, evidence, model))
MARKERS = [
    # --- Claude Code ---------------------------------------------------------------------------
    (
        "claude current footer and co-author with the model",
        f"{CLAUDE_FOOTER}\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>",
        ("ai_assisted", "claude", "trailer:co-authored-by claude", "Claude Opus 4.5"),
    ),
    (
        "claude older footer alone",
        "Generated with [Claude Code](https://claude.ai/code)",
        ("ai_assisted", "claude", "footer:generated with [claude code]", ""),
    ),
    (
        "claude co-author with a context note, and its session trailer",
        "Co-Authored-By: Claude Opus 5.5 (1M context) <noreply@anthropic.com>\n"
        "Claude-Session: https://claude.ai/code/session_01N6cfxP9mcgmYjbs4UMRCnG",
        ("ai_assisted", "claude", "trailer:co-authored-by claude", "Claude Opus 5.5 (1M context)"),
    ),
    (
        "claude session trailer alone",
        "Claude-Session: https://claude.ai/code/session_01P8FqetHBXRA1B6GC1M6EmT",
        ("ai_assisted", "claude", "trailer:claude-session claude", ""),
    ),
    (
        "claude code on the web: the bare session link",
        "https://claude.ai/code/session_01Jy5VPT7aRfKskDEcYVSXDq",
        ("ai_assisted", "claude", "footer:claude.ai/code/session", ""),
    ),
    (
        "claude code as the co-author name is no model",
        "Co-Authored-By: Claude Code <noreply@anthropic.com>",
        ("ai_assisted", "claude", "trailer:co-authored-by claude", ""),
    ),
    # --- OpenAI Codex --------------------------------------------------------------------------
    (
        "codex co-author",
        "Co-authored-by: Codex <noreply@openai.com>",
        ("ai_assisted", "codex", "trailer:co-authored-by codex", ""),
    ),
    (
        "codex with the model in parentheses",
        "Co-Authored-By: Codex (GPT-5) <noreply@openai.com>",
        ("ai_assisted", "codex", "trailer:co-authored-by codex", "GPT-5"),
    ),
    (
        "codex with a lower-case model",
        "Co-Authored-By: Codex (gpt-5.6) <noreply@openai.com>",
        ("ai_assisted", "codex", "trailer:co-authored-by codex", "gpt-5.6"),
    ),
    (
        "codex named by its model",
        "Co-Authored-By: GPT-5.6 Codex <noreply@openai.com>",
        ("ai_assisted", "codex", "trailer:co-authored-by codex", "GPT-5.6 Codex"),
    ),
    (
        "codex through its GitHub app",
        "Co-Authored-By: Codex (gpt-5-codex) "
        "<199175422+chatgpt-codex-connector[bot]@users.noreply.github.com>",
        ("ai_assisted", "codex", "trailer:co-authored-by codex", "gpt-5-codex"),
    ),
    # --- Devin ---------------------------------------------------------------------------------
    (
        "devin footer and bot co-author",
        "Generated with [Devin](https://devin.ai)\n\n"
        "Co-Authored-By: Devin <158243242+devin-ai-integration[bot]@users.noreply.github.com>",
        ("ai_assisted", "devin", "trailer:co-authored-by devin", ""),
    ),
    (
        "devin cli footer alone",
        "Generated with [Devin](https://cli.devin.ai/docs)",
        ("ai_assisted", "devin", "footer:generated with [devin]", ""),
    ),
    (
        "devin run link in bold, from a squash-merged PR body",
        "**Link to Devin run**: https://app.devin.ai/sessions/b425ede537fd479d8c6ce16d105c5fdf\n"
        "**Requested by**: Louis Mandelstam (louis@man8.com)",
        ("ai_assisted", "devin", "footer:link to devin run", ""),
    ),
    # --- Sourcegraph Amp, JetBrains Junie, Cursor, Copilot, aider, the kernel -----------------
    (
        "amp thread and co-author",
        "Amp-Thread-ID: https://ampcode.com/threads/T-e177ff44-61cb-4e2b-990d-f3a5ff421da6\n"
        "Co-authored-by: Amp <amp@ampcode.com>",
        ("ai_assisted", "amp", "trailer:co-authored-by amp", ""),
    ),
    (
        "amp thread alone",
        "Amp-Thread-ID: https://ampcode.com/threads/T-019cb9fe-b11b-753f-99e7-8ecc52b73ec4",
        ("ai_assisted", "amp", "trailer:amp-thread-id amp", ""),
    ),
    (
        "amp after a person",
        "Co-authored-by: Matthias Seitz <matthias.seitz@outlook.de>\n"
        "Co-authored-by: Amp <amp@ampcode.com>",
        ("ai_assisted", "amp", "trailer:co-authored-by amp", ""),
    ),
    (
        "junie co-author",
        "Co-authored-by: Junie <junie@jetbrains.com>",
        ("ai_assisted", "junie", "trailer:co-authored-by junie", ""),
    ),
    (
        "cursor made-with trailer",
        "Made-with: Cursor",
        ("ai_assisted", "cursor", "trailer:made-with cursor", ""),
    ),
    (
        "copilot coding agent as co-author",
        "Co-authored-by: copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>\n"
        "Co-authored-by: NikolajBjorner <3085284+NikolajBjorner@users.noreply.github.com>",
        ("ai_assisted", "copilot", "trailer:co-authored-by copilot", ""),
    ),
    (
        "aider with a provider-qualified model",
        "Co-authored-by: aider (anthropic/claude-sonnet-4-20250514) <aider@aider.chat>",
        (
            "ai_assisted",
            "aider",
            "trailer:co-authored-by aider",
            "anthropic/claude-sonnet-4-20250514",
        ),
    ),
    (
        "aider noreply address",
        "Co-Authored-By: aider (gpt-4o) <noreply@aider.chat>",
        ("ai_assisted", "aider", "trailer:co-authored-by aider", "gpt-4o"),
    ),
    (
        "linux kernel assisted-by",
        "Assisted-by: Claude:claude-3-opus coccinelle sparse\n"
        "Signed-off-by: Alice Doe <alice@corp.example>",
        ("ai_assisted", "claude", "trailer:assisted-by claude", "claude-3-opus"),
    ),
    # --- look-alikes: the same display names at a person's address ------------------------------
    (
        "a claude model name at a person's address",
        "Co-Authored-By: Claude Opus 4.5 <claude.opus@people.example>",
        ("human", "", "", ""),
    ),
    (
        "codex with a model at a person's address",
        "Co-authored-by: Codex (gpt-5-codex) <codex@people.example>",
        ("human", "", "", ""),
    ),
    (
        "amp at a person's address",
        "Co-authored-by: Amp <amp@people.example>",
        ("human", "", "", ""),
    ),
    (
        "junie at a person's address",
        "Co-authored-by: Junie Moon <junie@moon.example>",
        ("human", "", "", ""),
    ),
    (
        "devin at a person's noreply address",
        "Co-authored-by: Devin <12345+devin@users.noreply.github.com>",
        ("human", "", "", ""),
    ),
    ("made with something else", "Made-with: love and coffee", ("human", "", "", "")),
    ("an amp-like key", "Amp-Thread: T-1", ("human", "", "", "")),
    (
        "a session link inside prose",
        "See https://claude.ai/code/session_01Jy5VPT7aRfKskDEcYVSXDq for the discussion.",
        ("human", "", "", ""),
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"), [m[1:] for m in MARKERS], ids=[m[0] for m in MARKERS]
)
def test_marker(body, expected):
    message = f"Fix the parser\n\nThe tokenizer dropped the last byte.\n\n{body}\n"
    assert tuple(provenance_of(*ALICE, message)) == expected


@pytest.mark.parametrize(
    ("name", "email", "expected"),
    [
        ("Codex (gpt-5-codex)", "noreply@openai.com", ("ai_agent", "codex", "author:noreply@openai.com", "gpt-5-codex")),
        ("Amp", "amp@ampcode.com", ("ai_agent", "amp", "author:amp@ampcode.com", "")),
        ("Junie", "junie@jetbrains.com", ("ai_agent", "junie", "author:junie@jetbrains.com", "")),
        ("Claude Opus 4.5", "claude@people.example", ("human", "", "", "")),
        ("Amp", "amp@people.example", ("human", "", "", "")),
    ],
)  # fmt: skip
def test_author_identity(name, email, expected):
    assert tuple(provenance_of(name, email, "Add the cache\n")) == expected


def test_an_agent_author_takes_the_model_of_its_own_trailer():
    """aider as the author (name suffix): the model comes from its co-author trailer."""
    message = "Add retries\n\nCo-authored-by: aider (gpt-4o) <noreply@aider.chat>\n"
    assert tuple(provenance_of("Maria Lopez (aider)", "maria@corp.example", message)) == (
        "ai_agent",
        "aider",
        "author:(aider)",
        "gpt-4o",
    )
    # another tool's model is not the author's
    other = "Add retries\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\n"
    assert provenance_of("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com",
                         other).ai_model == ""  # fmt: skip


def test_bots_and_humans_name_no_model():
    message = "Bump lodash\n\nCo-authored-by: Codex (gpt-5) <noreply@openai.com>\n"
    assert tuple(provenance_of("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com",
                               message)) == ("bot", "", "author:dependabot[bot]", "")  # fmt: skip


# --- line-level notes ------------------------------------------------------------------------

GIT_AI_LOG = (
    "src/main.rs\n"
    "  abcd1234abcd1234 1-10,15-20\n"
    "  efgh5678efgh5678 25,30-35\n"
    "src/lib.rs\n"
    "  abcd1234abcd1234 1-50\n"
    "---\n"
    + json.dumps(
        {
            "schema_version": "authorship/3.0.0",
            "git_ai_version": "1.0.23",
            "base_commit_sha": "7734793b756b3921c88db5375a8c156e9532447b",
            "prompts": {
                "abcd1234abcd1234": {
                    "agent_id": {"tool": "cursor", "id": "6ef2299e", "model": "claude-4.5-opus"},
                    "messages": [],
                    "total_additions": 25,
                    "total_deletions": 5,
                    "accepted_lines": 20,
                    "overriden_lines": 0,
                },
                "efgh5678efgh5678": {
                    "agent_id": {"tool": "cursor", "id": "a1b2c3d4", "model": "claude-3-sonnet"},
                    "messages": [],
                    "total_additions": 6,
                    "total_deletions": 0,
                    "accepted_lines": 6,
                    "overriden_lines": 0,
                },
            },
        },
        indent=2,
    )
)

# the example record of the Agent Trace specification (v0.1.0, section 6.2)
TRACE = {
    "version": "0.1.0",
    "id": "550e8400-e29b-41d4-a716-446655440000",
    "timestamp": "2026-01-23T14:30:00Z",
    "vcs": {"type": "git", "revision": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"},
    "tool": {"name": "cursor", "version": "2.4.0"},
    "files": [
        {
            "path": "src/utils/parser.ts",
            "conversations": [
                {
                    "url": "https://api.cursor.com/v1/conversations/12345",
                    "contributor": {"type": "ai", "model_id": "anthropic/claude-opus-4-5-20251101"},
                    "ranges": [{"start_line": 42, "end_line": 67, "content_hash": "murmur3:9f2e8a1b"}],
                    "related": [{"type": "session", "url": "https://api.cursor.com/v1/sessions/67890"}],
                }
            ],
        },
        {
            "path": "src/utils/helpers.ts",
            "conversations": [
                {
                    "url": "https://api.cursor.com/v1/conversations/12345",
                    "contributor": {"type": "ai", "model_id": "openai/gpt-4o"},
                    "ranges": [{"start_line": 10, "end_line": 25}],
                }
            ],
        },
    ],
    "metadata": {"confidence": 0.95, "dev.cursor": {"workspace_id": "ws-abc123"}},
}  # fmt: skip


def test_git_ai_log_lines_tool_and_model():
    # main.rs: 1-10, 15-20, 25, 30-35 = 23 lines; lib.rs: 50; the first session wrote 66 of them
    assert line_attribution(GIT_AI_LOG, 146) == LineAttribution(
        0.5, 73, "cursor", "claude-4.5-opus", "git-ai"
    )
    assert line_attribution(GIT_AI_LOG, 50) == LineAttribution(
        1.0, 50, "cursor", "claude-4.5-opus", "git-ai"
    )


def test_agent_trace_record():
    # parser.ts 42-67 (26 lines, Claude) + helpers.ts 10-25 (16 lines, GPT-4o)
    assert line_attribution(json.dumps(TRACE), 84) == LineAttribution(
        0.5, 42, "cursor", "anthropic/claude-opus-4-5-20251101", "agent-trace"
    )


def test_agent_trace_contributors_and_json_lines():
    """A range's contributor overrides its conversation's; human, mixed and unknown lines are
    not AI; several records (JSON Lines) add up, a line named twice counts once."""
    first = {
        "version": "0.1.0",
        "id": "1",
        "timestamp": "2026-01-25T10:00:00Z",
        "tool": {"name": "claude-code"},
        "files": [
            {
                "path": "src/app.ts",
                "conversations": [
                    {
                        "contributor": {"type": "ai"},
                        "ranges": [
                            {"start_line": 1, "end_line": 10},
                            {"start_line": 11, "end_line": 20, "contributor": {"type": "human"}},
                        ],
                    },
                    {"contributor": {"type": "mixed"}, "ranges": [{"start_line": 30, "end_line": 39}]},
                    {"contributor": {"type": "unknown"}, "ranges": [{"start_line": 40, "end_line": 40}]},
                ],
            }
        ],
    }  # fmt: skip
    second = {
        "version": "0.1.0",
        "id": "2",
        "timestamp": "2026-01-25T10:05:00Z",
        "files": [
            {
                "path": "src/app.ts",
                "conversations": [
                    {"contributor": {"type": "ai"}, "ranges": [{"start_line": 5, "end_line": 14}]}
                ],
            }
        ],
    }
    note = json.dumps(first) + "\n" + json.dumps(second) + "\n"
    assert line_attribution(note, 28) == LineAttribution(0.5, 14, "claude", "", "agent-trace")


@pytest.mark.parametrize(
    "note",
    [
        "{not json",
        "just some words",
        "   \n",
        '{"version": "0.1.0", "files": [{"path": "a.py"}]}',  # no conversations
        '{"version": "0.1.0", "files": [{"path": "a.py", "conversations": [{"ranges": [{"start_line": 3}]}]}]}',
        '{"version": "0.1.0", "files": [{"path": "a.py", "conversations": [{"ranges": [{"start_line": 0, "end_line": 2}]}]}]}',
    ],
)  # fmt: skip
def test_malformed_notes(note):
    with pytest.raises(MalformedNote):
        line_attribution(note, 10)


def _record(message: str, note: str | None, added: int = 10, who=ALICE) -> dict:
    return {
        "commit": "c" * 40,
        "author_name": who[0],
        "author_email": who[1],
        "message": message,
        "files": [{"added": added}],
        "ai_note": note,
    }


def test_a_line_level_note_makes_a_human_commit_ai_assisted():
    row = provenance_columns(_record("Add the cache\n", GIT_AI_LOG, 146), None)
    assert row == {
        "ai_provenance": "ai_assisted",
        "ai_tool": "cursor",
        "ai_evidence": "note:git-ai cursor",
        "ai_line_share": 0.5,
        "ai_model": "claude-4.5-opus",
        "ai_lines_added": 73,
    }
    row = provenance_columns(_record("Add the cache\n", json.dumps(TRACE), 84), None)
    assert (row["ai_provenance"], row["ai_evidence"], row["ai_lines_added"]) == (
        "ai_assisted",
        "note:agent-trace cursor",
        42,
    )


def test_markers_in_the_commit_come_before_the_note():
    message = "Add the cache\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\n"
    row = provenance_columns(_record(message, GIT_AI_LOG, 146), None)
    assert (row["ai_provenance"], row["ai_tool"], row["ai_evidence"], row["ai_model"]) == (
        "ai_assisted",
        "claude",
        "trailer:co-authored-by claude",
        "Claude Opus 4.5",
    )
    assert (row["ai_line_share"], row["ai_lines_added"]) == (0.5, 73)
    bot = ("renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com")
    row = provenance_columns(_record("Update x\n", GIT_AI_LOG, 146, who=bot), None)
    assert (row["ai_provenance"], row["ai_model"]) == ("bot", "")


def test_notes_that_do_not_say_ai_keep_a_commit_human():
    """riskml's own JSON form names no tool's record; a git-ai log with no AI line left, and an
    Agent Trace record of human lines, say no AI line is in the commit."""
    for note in (
        '{"ai_lines": 2}',
        '---\n{"schema_version":"authorship/3.0.0","prompts":{}}',
        json.dumps({**TRACE, "files": [{"path": "a", "conversations": [
            {"contributor": {"type": "human"}, "ranges": [{"start_line": 1, "end_line": 4}]}]}]}),
    ):  # fmt: skip
        row = provenance_columns(_record("Add the cache\n", note, 4), None)
        assert (row["ai_provenance"], row["ai_tool"], row["ai_evidence"]) == ("human", "", "")
    assert provenance_columns(_record("x\n", '{"ai_lines": 2}', 4), None)["ai_lines_added"] == 2


def test_a_malformed_note_is_a_warning_and_the_commit_keeps_its_trailers():
    message = "Add the cache\n\nCo-authored-by: Junie <junie@jetbrains.com>\n"
    with pytest.warns(MiningWarning, match=r"commit cccccccccccc: its AI note is not a git-ai log"):
        row = provenance_columns(_record(message, "{not json"), None)
    assert row == {
        "ai_provenance": "ai_assisted",
        "ai_tool": "junie",
        "ai_evidence": "trailer:co-authored-by junie",
        "ai_line_share": None,
        "ai_model": "",
        "ai_lines_added": None,
    }


# --- notes in the repository -----------------------------------------------------------------


@pytest.fixture
def two_refs(tmp_path: Path) -> tuple[Path, list[str]]:
    repo = init(tmp_path / "repo")
    shas = [commit(repo, f"c{i}", {f"f{i}.txt": "line\n" * 4}, who=ALICE) for i in range(3)]
    git(repo, "notes", "--ref", "refs/notes/ai", "add", "-m", GIT_AI_LOG, shas[0])
    git(repo, "notes", "--ref", "refs/notes/agent-trace", "add", "-m", json.dumps(TRACE), shas[1])
    git(repo, "notes", "--ref", "refs/notes/agent-trace", "add", "-m", json.dumps(TRACE), shas[0])
    return repo, shas


def test_both_refs_read_in_one_batch(two_refs, monkeypatch):
    """One `git notes list` per ref and one `cat-file --batch` for all notes; a commit with a
    note under both refs keeps its git-ai log."""
    repo, shas = two_refs
    calls = []
    real_run, real_read = prov.run_git, prov.read_objects
    monkeypatch.setattr(prov, "run_git", lambda *a, **k: calls.append(a[1]) or real_run(*a, **k))
    monkeypatch.setattr(
        prov, "read_objects", lambda *a, **k: calls.append("cat-file") or real_read(*a, **k)
    )
    notes = read_ai_notes(repo)
    assert calls == ["notes", "notes", "cat-file"]
    assert notes == {shas[0]: GIT_AI_LOG + "\n", shas[1]: json.dumps(TRACE) + "\n"}
    assert read_ai_notes(repo, trace_ref=None) == {shas[0]: GIT_AI_LOG + "\n"}


def test_mined_table_has_the_note_columns(two_refs, tmp_path: Path):
    repo, shas = two_refs
    table = mine(repo, out=tmp_path / "changes.parquet").set_index("commit")
    cols = [
        "ai_provenance",
        "ai_tool",
        "ai_evidence",
        "ai_model",
        "ai_lines_added",
        "ai_line_share",
    ]
    rows = [tuple(table.loc[sha, cols].fillna(-1)) for sha in shas]
    assert rows == [
        ("ai_assisted", "cursor", "note:git-ai cursor", "claude-4.5-opus", 4.0, 1.0),
        ("ai_assisted", "cursor", "note:agent-trace cursor", "anthropic/claude-opus-4-5-20251101",
         4.0, 1.0),
        ("human", "", "", "", -1, -1),  # no note: both empty
    ]  # fmt: skip


def test_generated_repository_models_and_lines_match_truth(synth_small, tmp_path: Path):
    """Every commit of a generated repository mined: ai_model and ai_lines_added are the truth's
    (the model its markers name, else its note's; the AI lines of its note in any format)."""
    with open(synth_small.truth, encoding="utf-8", newline="") as fh:
        truth = {row["commit"]: row for row in csv.DictReader(fh)}
    with warnings.catch_warnings():
        warnings.simplefilter("error", MiningWarning)  # every planted note reads
        table = mine(synth_small.repo, out=tmp_path / "changes.parquet")
    assert len(table) == len(truth)
    models = dict(zip(table["commit"], table["ai_model"], strict=True))
    lines = dict(zip(table["commit"], table["ai_lines_added"], strict=True))
    for sha, row in truth.items():
        assert models[sha] == row["ai_model"], sha
        if row["ai_lines"]:
            assert lines[sha] == int(row["ai_lines"]), sha
        else:
            assert pd.isna(lines[sha]), sha
    # the generator plants all three note forms and models from markers and from notes
    assert {int(r["seq"]) % 3 for r in truth.values() if r["ai_lines"]} == {0, 1, 2}
    assert {"Claude Sonnet 4.5", "gemini-2.5-pro"} <= set(models.values())


def test_a_table_mined_before_the_columns_is_mined_again(hand_history, tmp_path: Path, monkeypatch):
    """A table without ai_model and ai_lines_added (an earlier riskml's) is read as it is, and
    `riskml mine` re-mines every row rather than append rows of another schema."""
    repo, _ = hand_history
    full = mine(repo, out=tmp_path / "full.parquet")
    out = tmp_path / "changes.parquet"
    earlier = {c: t for c, t in COLUMNS.items() if c not in AI_DETAIL_COLUMNS}
    monkeypatch.setattr(miner_module, "COLUMNS", earlier)
    mine(repo, out=out)
    monkeypatch.undo()
    assert not set(AI_DETAIL_COLUMNS) & set(read_table(out).columns)
    with pytest.warns(MiningWarning, match="mined before the ai_model and ai_lines_added column"):
        table = mine(repo, out=out)
    pd.testing.assert_frame_equal(table, full)
    assert table.attrs["new_rows"] == len(full)
