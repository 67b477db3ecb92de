"""AI provenance: every marker of provenance.md, look-alike humans, config extras, git-ai notes."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepo import commit, git, git_bytes, init

from riskml.config import AIConfig, load_config
from riskml.errors import RiskmlError
from riskml.mine.provenance import ai_line_share, classify, read_ai_notes

HUMAN = ("human", "", "")
CLAUDE_CO = "trailer:co-authored-by claude"

# (case id, author name, author e-mail, message, expected (class, tool, evidence))
CASES = [
    # --- AI agents as the author -------------------------------------------------------------
    (
        "copilot agent",
        "copilot-swe-agent[bot]",
        "198982749+Copilot@users.noreply.github.com",
        "Add retry to the payment client",
        ("ai_agent", "copilot", "author:copilot-swe-agent[bot]"),
    ),
    (
        "copilot account as author",
        "Copilot",
        "198982749+Copilot@users.noreply.github.com",
        "Initial plan",
        ("ai_agent", "copilot", "author:198982749+copilot@users.noreply.github.com"),
    ),
    (
        "devin agent",
        "devin-ai-integration[bot]",
        "158243242+devin-ai-integration[bot]@users.noreply.github.com",
        "Fix flaky test",
        ("ai_agent", "devin", "author:devin-ai-integration[bot]"),
    ),
    (
        "codex agent",
        "chatgpt-codex-connector[bot]",
        "199175422+chatgpt-codex-connector[bot]@users.noreply.github.com",
        "Refactor loader",
        ("ai_agent", "codex", "author:chatgpt-codex-connector[bot]"),
    ),
    (
        "jules agent",
        "google-labs-jules[bot]",
        "161369871+google-labs-jules[bot]@users.noreply.github.com",
        "Add docs",
        ("ai_agent", "jules", "author:google-labs-jules[bot]"),
    ),
    (
        "jules agent, bot login only in the address",
        "Jules",
        "161369871+google-labs-jules[bot]@users.noreply.github.com",
        "Add docs",
        ("ai_agent", "jules", "author:google-labs-jules[bot]"),
    ),
    (
        "amazon q agent",
        "amazon-q-developer[bot]",
        "208079219+amazon-q-developer[bot]@users.noreply.github.com",
        "Upgrade SDK",
        ("ai_agent", "amazon-q", "author:amazon-q-developer[bot]"),
    ),
    (
        "sweep agent",
        "sweep-ai[bot]",
        "128439645+sweep-ai[bot]@users.noreply.github.com",
        "Sweep: add type hints",
        ("ai_agent", "sweep", "author:sweep-ai[bot]"),
    ),
    (
        "claude github app",
        "claude[bot]",
        "209825114+claude[bot]@users.noreply.github.com",
        "Address review",
        ("ai_agent", "claude", "author:claude[bot]"),
    ),
    (
        "cursor agent address",
        "Cursor Agent",
        "cursoragent@cursor.com",
        "Implement feature",
        ("ai_agent", "cursor", "author:cursoragent@cursor.com"),
    ),
    (
        "cursor agent address, upper case",
        "Cursor Agent",
        "CursorAgent@Cursor.com",
        "Implement feature",
        ("ai_agent", "cursor", "author:cursoragent@cursor.com"),
    ),
    (
        "openhands author",
        "openhands",
        "openhands@all-hands.dev",
        "Fix issue #12",
        ("ai_agent", "openhands", "author:openhands@all-hands.dev"),
    ),
    (
        "aider author name suffix",
        "Paul Gauthier (aider)",
        "paul@gauthier.example",
        "feat: add cache",
        ("ai_agent", "aider", "author:(aider)"),
    ),
    (
        "aider address as author",
        "aider",
        "noreply@aider.chat",
        "feat: add cache",
        ("ai_agent", "aider", "author:noreply@aider.chat"),
    ),
    (
        "agent author beats an AI co-author trailer",
        "copilot-swe-agent[bot]",
        "198982749+Copilot@users.noreply.github.com",
        "Fix\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
        ("ai_agent", "copilot", "author:copilot-swe-agent[bot]"),
    ),
    # --- non-AI automation ------------------------------------------------------------------
    (
        "dependabot",
        "dependabot[bot]",
        "49699333+dependabot[bot]@users.noreply.github.com",
        "Bump requests from 2.31.0 to 2.32.0",
        ("bot", "", "author:dependabot[bot]"),
    ),
    (
        "dependabot, old address",
        "dependabot[bot]",
        "support@dependabot.com",
        "Bump lodash",
        ("bot", "", "author:dependabot[bot]"),
    ),
    (
        "renovate",
        "renovate[bot]",
        "29139614+renovate[bot]@users.noreply.github.com",
        "chore(deps): update dependency pytest to v8",
        ("bot", "", "author:renovate[bot]"),
    ),
    (
        "renovate, old address",
        "Renovate Bot",
        "bot@renovateapp.com",
        "Update dependency",
        ("bot", "", "author:bot@renovateapp.com"),
    ),
    (
        "pre-commit-ci",
        "pre-commit-ci[bot]",
        "66853113+pre-commit-ci[bot]@users.noreply.github.com",
        "[pre-commit.ci] auto fixes from pre-commit.com hooks",
        ("bot", "", "author:pre-commit-ci[bot]"),
    ),
    (
        "github-actions",
        "github-actions[bot]",
        "41898282+github-actions[bot]@users.noreply.github.com",
        "Update changelog",
        ("bot", "", "author:github-actions[bot]"),
    ),
    (
        "github action, plain address",
        "GitHub Action",
        "action@github.com",
        "Regenerate docs",
        ("bot", "", "author:action@github.com"),
    ),
    (
        "bot login only in the address",
        "Dependabot",
        "49699333+dependabot[bot]@users.noreply.github.com",
        "Bump",
        ("bot", "", "author:dependabot[bot]"),
    ),
    (
        "bot author beats an AI co-author trailer",
        "github-actions[bot]",
        "41898282+github-actions[bot]@users.noreply.github.com",
        "Sync\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
        ("bot", "", "author:github-actions[bot]"),
    ),
    # --- human authors with AI markers --------------------------------------------------------
    (
        "claude code commit",
        "Alice",
        "alice@example.com",
        "feat: add retries\n\n- retry on 503\n\n"
        "🤖 Generated with [Claude Code](https://claude.com/claude-code)\n\n"
        "Co-Authored-By: Claude <noreply@anthropic.com>",
        ("ai_assisted", "claude", CLAUDE_CO),
    ),
    (
        "claude with a model name",
        "Alice",
        "alice@example.com",
        "fix\n\nCo-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>",
        ("ai_assisted", "claude", CLAUDE_CO),
    ),
    (
        "co-author, git's spelling",
        "Alice",
        "alice@example.com",
        "fix\n\nCo-authored-by: Claude <noreply@anthropic.com>",
        ("ai_assisted", "claude", CLAUDE_CO),
    ),
    (
        "co-author, lower case",
        "Alice",
        "alice@example.com",
        "fix\n\nco-authored-by: claude <NoReply@Anthropic.com>",
        ("ai_assisted", "claude", CLAUDE_CO),
    ),
    (
        "co-author, upper case, CRLF",
        "Alice",
        "alice@example.com",
        "fix\r\n\r\nCO-AUTHORED-BY: Claude <noreply@anthropic.com>\r\n",
        ("ai_assisted", "claude", CLAUDE_CO),
    ),
    (
        "claude footer alone",
        "Alice",
        "alice@example.com",
        "fix\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)",
        ("ai_assisted", "claude", "footer:generated with [claude code]"),
    ),
    (
        "claude session trailer",
        "Alice",
        "alice@example.com",
        "fix\n\nClaude-Session: 4f2a9c",
        ("ai_assisted", "claude", "trailer:claude-session claude"),
    ),
    (
        "claude session trailer, lower case",
        "Alice",
        "alice@example.com",
        "fix\n\nclaude-session: 4f2a9c",
        ("ai_assisted", "claude", "trailer:claude-session claude"),
    ),
    (
        "co-author address beats the session trailer before it",
        "Alice",
        "alice@example.com",
        "fix\n\nClaude-Session: 4f2a9c\nCo-Authored-By: Claude <noreply@anthropic.com>",
        ("ai_assisted", "claude", CLAUDE_CO),
    ),
    (
        "copilot co-author",
        "Bob",
        "bob@example.com",
        "Add endpoint\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",
        ("ai_assisted", "copilot", "trailer:co-authored-by copilot"),
    ),
    (
        "squash merge of a copilot agent PR",
        "Bob",
        "bob@example.com",
        "Add endpoint (#42)\n\n* Initial plan\n\n* Add endpoint\n\n---------\n\n"
        "Co-authored-by: copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>\n"
        "Co-authored-by: Bob <bob@example.com>",
        ("ai_assisted", "copilot", "trailer:co-authored-by copilot"),
    ),
    (
        "devin bot co-author",
        "Bob",
        "bob@example.com",
        "Fix (#7)\n\nCo-authored-by: devin-ai-integration[bot] "
        "<158243242+devin-ai-integration[bot]@users.noreply.github.com>",
        ("ai_assisted", "devin", "trailer:co-authored-by devin"),
    ),
    (
        "aider co-author",
        "Carol",
        "carol@example.com",
        "feat: parser\n\nCo-authored-by: aider (gpt-4o) <aider@aider.chat>",
        ("ai_assisted", "aider", "trailer:co-authored-by aider"),
    ),
    (
        "aider co-author, noreply address",
        "Carol",
        "carol@example.com",
        "feat: parser\n\nCo-authored-by: aider (anthropic/claude-sonnet-4) <noreply@aider.chat>",
        ("ai_assisted", "aider", "trailer:co-authored-by aider"),
    ),
    (
        "aider subject prefix",
        "Carol",
        "carol@example.com",
        "aider: Added retry logic to the client",
        ("ai_assisted", "aider", "subject:aider"),
    ),
    (
        "cursor co-author",
        "Dan",
        "dan@example.com",
        "Refactor\n\nCo-authored-by: Cursor Agent <cursoragent@cursor.com>",
        ("ai_assisted", "cursor", "trailer:co-authored-by cursor"),
    ),
    (
        "devin footer",
        "Dan",
        "dan@example.com",
        "Refactor\n\nGenerated with [Devin](https://devin.ai)",
        ("ai_assisted", "devin", "footer:generated with [devin]"),
    ),
    (
        "devin run link",
        "Dan",
        "dan@example.com",
        "Refactor (#9)\n\nLink to Devin run: https://app.devin.ai/sessions/abc123\n"
        "Requested by: Dan",
        ("ai_assisted", "devin", "footer:link to devin run"),
    ),
    (
        "codex co-author",
        "Erin",
        "erin@example.com",
        "Speed up\n\nCo-authored-by: Codex <codex@openai.com>",
        ("ai_assisted", "codex", "trailer:co-authored-by codex"),
    ),
    (
        "openhands co-author",
        "Erin",
        "erin@example.com",
        "Fix\n\nCo-authored-by: openhands <openhands@all-hands.dev>",
        ("ai_assisted", "openhands", "trailer:co-authored-by openhands"),
    ),
    (
        "replit agent",
        "Erin",
        "erin@example.com",
        "Checkpoint\n\nReplit-Commit-Author: Agent\nReplit-Commit-Session-Id: 8c1f",
        ("ai_assisted", "replit", "trailer:replit-commit-author replit"),
    ),
    (
        "assisted-by, kernel form",
        "Frank",
        "frank@example.com",
        "mm: fix leak\n\nAssisted-by: Claude:claude-3-opus\nSigned-off-by: Frank <frank@example.com>",
        ("ai_assisted", "claude", "trailer:assisted-by claude"),
    ),
    (
        "assisted-by, lower case",
        "Frank",
        "frank@example.com",
        "fix\n\nassisted-by: Cursor",
        ("ai_assisted", "cursor", "trailer:assisted-by cursor"),
    ),
    (
        "generated-by",
        "Frank",
        "frank@example.com",
        "fix\n\nGenerated-by: GitHub Copilot",
        ("ai_assisted", "copilot", "trailer:generated-by copilot"),
    ),
    (
        "ai-assisted without a tool",
        "Frank",
        "frank@example.com",
        "fix\n\nAI-assisted: yes",
        ("ai_assisted", "", "trailer:ai-assisted"),
    ),
    (
        "trailer block mixed with an issue line, as git allows",
        "Frank",
        "frank@example.com",
        "fix\n\nCloses #12\nCo-authored-by: Claude <noreply@anthropic.com>",
        ("ai_assisted", "claude", CLAUDE_CO),
    ),
    (
        "trailer with a continuation line",
        "Frank",
        "frank@example.com",
        "fix\n\nAssisted-by: Claude:claude-3-opus\n  coccinelle sparse\n"
        "Signed-off-by: Frank <frank@example.com>",
        ("ai_assisted", "claude", "trailer:assisted-by claude"),
    ),
    (
        "cherry-pick line in the trailer block",
        "Frank",
        "frank@example.com",
        "fix\n\nCo-authored-by: Claude <noreply@anthropic.com>\n(cherry picked from commit 0123abc)",
        ("ai_assisted", "claude", CLAUDE_CO),
    ),
    (
        "a person co-author before the AI one",
        "Frank",
        "frank@example.com",
        "fix\n\nCo-authored-by: Bob <bob@example.com>\nCo-authored-by: Codex <codex@openai.com>",
        ("ai_assisted", "codex", "trailer:co-authored-by codex"),
    ),
    (
        "footer paragraph above a trailer paragraph of other keys",
        "Frank",
        "frank@example.com",
        "fix\n\nGenerated with [Devin](https://devin.ai)\n\nSigned-off-by: Frank <frank@example.com>",
        ("ai_assisted", "devin", "footer:generated with [devin]"),
    ),
    # --- humans that look like tools, and prose that mentions them ----------------------------
    ("devin smith", "Devin Smith", "devin@example.com", "Fix login", HUMAN),
    ("claude martin", "Claude Martin", "claude.martin@example.com", "Fix login", HUMAN),
    ("jules verne", "Jules Verne", "jules@verne.example", "Fix login", HUMAN),
    ("name 'Copilot' with a personal address", "Copilot", "copilot@example.com", "x", HUMAN),
    ("address at catbot.example", "Cat Bot", "alice@catbot.example", "x", HUMAN),
    ("robot@ address", "Robot", "robot@example.com", "x", HUMAN),
    ("aider-like name without the suffix", "Aider Jones", "aider.jones@example.com", "x", HUMAN),
    ("(aider) not at the end", "Sam (aider) Jr", "sam@example.com", "x", HUMAN),
    ("human noreply login devin", "devin", "12345+devin@users.noreply.github.com", "x", HUMAN),
    ("bot in a name without [bot]", "Renovate Smith", "renovate.smith@example.com", "x", HUMAN),
    (
        "co-author who is a person named Claude",
        "Alice",
        "alice@example.com",
        "fix\n\nCo-authored-by: Claude Martin <claude.martin@example.com>",
        HUMAN,
    ),
    (
        "co-author who is a person named Devin",
        "Alice",
        "alice@example.com",
        "fix\n\nCo-authored-by: Devin <devin@example.com>",
        HUMAN,
    ),
    (
        "co-author named Claude without an address",
        "Alice",
        "alice@example.com",
        "fix\n\nCo-authored-by: Claude",
        HUMAN,
    ),
    (
        "non-AI bot co-author",
        "Alice",
        "alice@example.com",
        "fix\n\nCo-authored-by: pre-commit-ci[bot] "
        "<66853113+pre-commit-ci[bot]@users.noreply.github.com>",
        HUMAN,
    ),
    (
        "prose mentioning claude",
        "Alice",
        "alice@example.com",
        "Tune prompts\n\nWe compared Claude and Copilot suggestions; Claude Code was slower.",
        HUMAN,
    ),
    (
        "trailer syntax inside a sentence",
        "Alice",
        "alice@example.com",
        "Docs\n\nAs the guide says, Co-authored-by: Claude <noreply@anthropic.com> marks AI.",
        HUMAN,
    ),
    (
        "trailer in the body, followed by prose",
        "Alice",
        "alice@example.com",
        "Docs\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\n"
        "The line above is an example for the contributing guide.",
        HUMAN,
    ),
    (
        "footer text in the body, followed by prose",
        "Alice",
        "alice@example.com",
        "Docs\n\nGenerated with [Claude Code](https://claude.com/claude-code)\n\n"
        "That footer is what our template strips.",
        HUMAN,
    ),
    (
        "a subject is never a trailer",
        "Alice",
        "alice@example.com",
        "Co-authored-by: Claude <noreply@anthropic.com>",
        HUMAN,
    ),
    (
        "subject quoting the claude footer",
        "Alice",
        "alice@example.com",
        "Drop 'Generated with [Claude Code]' from the template",
        HUMAN,
    ),
    ("aider prefix in other case", "Carol", "carol@example.com", "Aider: tweak settings", HUMAN),
    ("aider word mid-subject", "Carol", "carol@example.com", "Remove aider: prefix", HUMAN),
    (
        "assisted-by crediting a person",
        "Frank",
        "frank@example.com",
        "fix\n\nAssisted-by: Jules Verne <jules@verne.example>",
        HUMAN,
    ),
    ("ai-assisted: no", "Frank", "frank@example.com", "fix\n\nAI-assisted: no", HUMAN),
    (
        "replit trailer naming a user",
        "Erin",
        "erin@example.com",
        "Checkpoint\n\nReplit-Commit-Author: Erin",
        HUMAN,
    ),
    (
        "unknown trailer keys",
        "Frank",
        "frank@example.com",
        "fix\n\nReviewed-by: Claude Martin <claude.martin@example.com>\n"
        "Signed-off-by: Frank <frank@example.com>",
        HUMAN,
    ),
    (
        "a trailer lost in a prose paragraph (under a quarter of its lines)",
        "Frank",
        "frank@example.com",
        "fix\n\nWe tried it.\nIt worked.\nThen it did not.\nSo we kept it.\n"
        "Co-authored-by: Claude <noreply@anthropic.com>",
        HUMAN,
    ),
    ("empty message", "Frank", "frank@example.com", "", HUMAN),
]


@pytest.mark.parametrize(
    ("name", "email", "message", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_provenance_table(name, email, message, expected):
    assert classify(name, email, message) == expected


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


CONFIG = AIConfig(
    trailers={"X-Internal-AI": "acme", "Made-With:": "forge"},
    agent_emails={"AI-Bot@Corp.example": "corpgen"},
    bot_emails=["Deploy@Corp.example"],
)

CONFIG_CASES = [
    (
        "user trailer",
        "Alice",
        "alice@corp.example",
        "fix\n\nX-Internal-AI: enabled",
        ("ai_assisted", "acme", "trailer:x-internal-ai acme"),
    ),
    (
        "user trailer, lower case",
        "Alice",
        "alice@corp.example",
        "fix\n\nx-internal-ai: v2",
        ("ai_assisted", "acme", "trailer:x-internal-ai acme"),
    ),
    (
        "user trailer configured with a colon",
        "Alice",
        "alice@corp.example",
        "fix\n\nMade-With: forge 3",
        ("ai_assisted", "forge", "trailer:made-with forge"),
    ),
    (
        "user trailer saying no",
        "Alice",
        "alice@corp.example",
        "fix\n\nX-Internal-AI: false",
        HUMAN,
    ),
    (
        "user agent address as author",
        "Corp Generator",
        "ai-bot@corp.example",
        "Regenerate clients",
        ("ai_agent", "corpgen", "author:ai-bot@corp.example"),
    ),
    (
        "user agent address as co-author",
        "Alice",
        "alice@corp.example",
        "fix\n\nCo-authored-by: Corp Generator <AI-BOT@corp.example>",
        ("ai_assisted", "corpgen", "trailer:co-authored-by corpgen"),
    ),
    (
        "user bot address",
        "Deployer",
        "deploy@corp.example",
        "Release 1.2.3",
        ("bot", "", "author:deploy@corp.example"),
    ),
    (
        "built-in markers still apply",
        "Alice",
        "alice@corp.example",
        "fix\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
        ("ai_assisted", "claude", CLAUDE_CO),
    ),
]


@pytest.mark.parametrize(
    ("name", "email", "message", "expected"),
    [c[1:] for c in CONFIG_CASES],
    ids=[c[0] for c in CONFIG_CASES],
)
def test_config_markers(name, email, message, expected):
    assert classify(name, email, message, CONFIG) == expected


@pytest.mark.parametrize(
    ("name", "email", "message"),
    [c[1:4] for c in CONFIG_CASES[:7]],
    ids=[c[0] for c in CONFIG_CASES[:7]],
)
def test_config_markers_are_unknown_without_config(name, email, message):
    assert classify(name, email, message) == HUMAN
    assert classify(name, email, message, AIConfig()) == HUMAN


def test_config_markers_from_riskml_toml(tmp_path: Path):
    (tmp_path / "riskml.toml").write_text(
        '[ai]\ntrailers = { "X-Internal-AI" = "acme" }\n'
        'agent_emails = { "ai-bot@corp.example" = "corpgen" }\n'
        'bot_emails = ["deploy@corp.example"]\n',
        encoding="utf-8",
    )
    ai = load_config(repo=tmp_path).ai
    assert classify("A", "a@corp.example", "x\n\nX-Internal-AI: on", ai) == (
        "ai_assisted",
        "acme",
        "trailer:x-internal-ai acme",
    )
    assert classify("G", "ai-bot@corp.example", "x", ai) == (
        "ai_agent",
        "corpgen",
        "author:ai-bot@corp.example",
    )
    assert classify("D", "deploy@corp.example", "x", ai) == (
        "bot",
        "",
        "author:deploy@corp.example",
    )


# --- git notes -------------------------------------------------------------------------------


@pytest.fixture
def notes_repo(tmp_path: Path) -> tuple[Path, list[str]]:
    repo = init(tmp_path / "repo")
    shas = [commit(repo, f"c{i}", {f"f{i}.txt": "line\n" * (i + 1)}) for i in range(4)]
    return repo, shas


GIT_AI_NOTE = (
    "f1.txt\n"
    "  c9883b05a2487d6d 1\n"
    "  h_a1b2c3d4e5f678 2\n"
    "---\n"
    '{"schema_version":"authorship/3.0.0","prompts":{"c9883b05a2487d6d":'
    '{"agent_id":{"tool":"cursor","id":"s1","model":"gpt-4"},"accepted_lines":1}}}'
)


def test_read_ai_notes(notes_repo):
    repo, shas = notes_repo
    git(repo, "notes", "--ref", "refs/notes/ai", "add", "-m", GIT_AI_NOTE, shas[1])
    git(
        repo,
        "notes",
        "--ref",
        "refs/notes/ai",
        "add",
        "-m",
        '{"ai_lines": 2, "total_lines": 3}',
        shas[2],
    )
    # the same text on two commits is one blob: both must still come back
    git(
        repo,
        "notes",
        "--ref",
        "refs/notes/ai",
        "add",
        "-m",
        '{"ai_lines": 2, "total_lines": 3}',
        shas[3],
    )
    git(repo, "notes", "--ref", "refs/notes/other", "add", "-m", "ignored", shas[0])
    notes = read_ai_notes(repo)
    assert notes == {
        shas[1]: GIT_AI_NOTE + "\n",
        shas[2]: '{"ai_lines": 2, "total_lines": 3}\n',
        shas[3]: '{"ai_lines": 2, "total_lines": 3}\n',
    }
    assert read_ai_notes(repo, "refs/notes/other") == {shas[0]: "ignored\n"}
    assert read_ai_notes(repo, "refs/notes/missing") == {}
    assert ai_line_share(notes.get(shas[0]), 1) is None
    assert ai_line_share(notes[shas[1]], 2) == 0.5
    assert ai_line_share(notes[shas[2]], 3) == 2 / 3


def test_read_ai_notes_non_utf8(notes_repo):
    repo, shas = notes_repo
    blob = git(repo, "hash-object", "-w", "--stdin", input=b"caf\xe9 {\n")
    git(repo, "notes", "--ref", "refs/notes/ai", "add", "-C", blob, shas[0])
    assert read_ai_notes(repo) == {shas[0]: "caf\ufffd {\n"}


def test_read_ai_notes_without_any_notes(notes_repo):
    repo, _ = notes_repo
    assert read_ai_notes(repo) == {}


def test_read_ai_notes_not_a_repository(tmp_path: Path):
    with pytest.raises(RiskmlError):
        read_ai_notes(tmp_path)


# --- ai_line_share ---------------------------------------------------------------------------

LOG = (
    "src/a.py\n"
    "  c9883b05a2487d6d 1-10,15\n"
    "  h_a1b2c3d4e5f678 11-14\n"
    "src/b.py\n"
    "  s_c9883b05a2487d::t_9f8e7d6c5b4a32 3-4\n"
    "---\n"
    '{"schema_version":"authorship/3.0.0","prompts":{},"sessions":{}}\n'
)


@pytest.mark.parametrize(
    ("note", "added", "expected"),
    [
        (None, 10, None),
        ("", 10, None),
        ("   \n", 10, None),
        ('{"ai_lines": 5, "total_lines": 20}', 99, 0.25),
        ('{"ai_lines": 5}', 10, 0.5),
        ('{"ai_lines": 0, "total_lines": 7}', 7, 0.0),
        ('{"ai_lines": 30, "total_lines": 20}', 20, 1.0),
        ('{"ai_lines": 3, "total_lines": 0}', 6, 0.5),
        ('{"ai_lines": 3}', 0, 0.0),
        ('{"ai_lines": "many"}', 10, None),
        ('{"note": "nothing about lines"}', 10, None),
        ("{not json", 10, None),
        (LOG, 26, 0.5),  # 11 lines in a.py + 2 in b.py; h_ lines are human
        (LOG, 13, 1.0),
        (LOG, 0, 0.0),
        ("a.py\n  abc 1-10\n  def 5-12\n---\n{}", 24, 0.5),  # overlapping ranges count once
        ("a.py\n  abc 10-1\n", 20, 0.5),  # no metadata, reversed range
        ("a.py\n  h_abc 1-10\n---\n{}", 10, 0.0),
        ('---\n{"schema_version":"authorship/3.0.0","prompts":{}}', 10, 0.0),
        ('---\n{"prompts":{"p1":{"accepted_lines":4},"p2":{"accepted_lines":1}}}', 10, 0.5),
        ("just some text", 10, None),
    ],
)
def test_ai_line_share(note, added, expected):
    assert ai_line_share(note, added) == expected


# --- the generated repository: every commit against the generator's ground truth --------------


def test_generated_repository_matches_truth(synth_small):
    """Classify every commit of a generated repo as written (raw %an/%ae) and compare with truth.csv."""
    import csv

    repo = synth_small.repo
    with open(synth_small.truth, encoding="utf-8", newline="") as fh:
        truth = {row["commit"]: row for row in csv.DictReader(fh)}
    log = git_bytes(
        repo, "log", "--branches", "--no-merges", "--format=%H%x00%an%x00%ae%x00%B%x01"
    ).decode("utf-8", "replace")
    notes = read_ai_notes(repo)
    seen = 0
    classes = set()
    for record in log.split("\x01"):
        if not record.strip():
            continue
        sha, name, email, message = record.lstrip("\n").split("\x00")
        row = truth[sha]
        got = classify(name, email, message)
        assert got[:2] == (row["ai_provenance"], row["ai_tool"]), (sha, name, email, message)
        assert (got[2] == "") == (got[0] == "human")
        classes.add(got[:2])
        share = ai_line_share(notes.get(sha), int(row["la"]))
        if row["ai_lines"]:
            assert share == int(row["ai_lines"]) / int(row["la"])
        else:
            assert share is None
        seen += 1
    assert seen == len(truth)
    # the generated repo exercises the look-alike humans and several tools in every class
    assert {c for c, _ in classes} == {"human", "ai_assisted", "ai_agent", "bot"}
    assert len(classes) >= 8
