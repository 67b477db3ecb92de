"""AI provenance of a change: ``ai_provenance``, ``ai_tool``, ``ai_evidence``, ``ai_line_share``.

The class is decided from the commit alone (provenance.md), by e-mail address, bot identity,
trailer key and tool address, never by a display name: "Devin Smith", "Claude Martin" and
"Jules Verne" are people. Precedence, first match wins:

1. ``ai_agent``   the author is an AI agent (agent ``[bot]`` login, tool address, ``(aider)`` suffix)
2. ``bot``        the author is other automation (any other ``[bot]`` login, known or configured address)
3. ``ai_assisted`` a human author, and the message's trailer block or footer names an AI tool
4. ``human``      none of the above (which does not prove a human wrote it: hooks strip trailers)

Line-level attribution comes from git notes (git-ai, ``refs/notes/ai``): :func:`read_ai_notes`
reads them all in one batch and :func:`ai_line_share` turns one note into a share of added lines.
The rules, evidence strings and configuration are documented in ``docs/provenance.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from riskml.config import AIConfig
from riskml.gitio import read_objects, run_git

HUMAN = "human"
AI_ASSISTED = "ai_assisted"
AI_AGENT = "ai_agent"
BOT = "bot"
CLASSES = (HUMAN, AI_ASSISTED, AI_AGENT, BOT)

# GitHub logins of AI coding agents (always a ``[bot]`` app identity) -> tool short name.
AGENT_LOGINS: dict[str, str] = {
    "copilot-swe-agent[bot]": "copilot",
    "devin-ai-integration[bot]": "devin",
    "chatgpt-codex-connector[bot]": "codex",
    "google-labs-jules[bot]": "jules",
    "amazon-q-developer[bot]": "amazon-q",
    "sweep-ai[bot]": "sweep",
    # beyond provenance.md: apps that also push commits written by a model
    "claude[bot]": "claude",
    "coderabbitai[bot]": "coderabbit",
    "gemini-code-assist[bot]": "gemini",
}

# E-mail addresses used only by AI tools -> tool short name. As the author they make the change
# ``ai_agent``; as a co-author (``Co-authored-by``) they make it ``ai_assisted``.
TOOL_EMAILS: dict[str, str] = {
    "noreply@anthropic.com": "claude",
    "cursoragent@cursor.com": "cursor",
    "aider@aider.chat": "aider",
    "noreply@aider.chat": "aider",
    "codex@openai.com": "codex",
    "noreply@openai.com": "codex",
    "openhands@all-hands.dev": "openhands",
    "amp@ampcode.com": "amp",
    "junie@jetbrains.com": "junie",
}

# GitHub noreply logins (``<id>+<login>@users.noreply.github.com``) of AI tools without ``[bot]``.
TOOL_NOREPLY_LOGINS: dict[str, str] = {"copilot": "copilot"}

# Non-AI automation that commits under a plain address rather than a ``[bot]`` login.
BOT_EMAILS: frozenset[str] = frozenset(
    {
        "action@github.com",
        "support@dependabot.com",
        "bot@renovateapp.com",
        "snyk-bot@snyk.io",
    }
)

# Tool names as they appear in the value of ``Assisted-by:`` / ``Generated-by:`` / ``AI-assisted:``.
_TOOL_WORDS: list[tuple[str, str]] = [
    (r"claude|anthropic", "claude"),
    (r"copilot", "copilot"),
    (r"cursor", "cursor"),
    (r"aider", "aider"),
    (r"devin", "devin"),
    (r"codex", "codex"),
    (r"jules", "jules"),
    (r"openhands|all-hands", "openhands"),
    (r"amazon[ -]?q|q developer", "amazon-q"),
    (r"sweep", "sweep"),
    (r"replit", "replit"),
    (r"gemini", "gemini"),
    (r"chatgpt|gpt-?\d[\w.]*|openai", "chatgpt"),
    (r"windsurf|codeium", "windsurf"),
    (r"amp(?:code)?", "amp"),
    (r"junie", "junie"),
]
_TOOL_WORD_RE = re.compile(
    r"(?<![a-z0-9])(?:"
    + "|".join(f"(?P<t{i}>{p})" for i, (p, _) in enumerate(_TOOL_WORDS))
    + r")(?![a-z])",
    re.IGNORECASE,
)

# A trailer line: ``Key: value`` with git's key syntax (letters, digits, hyphens).
_TRAILER_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*?)\s*$")
# Tool footers that are not ``Key: value`` lines (an emoji or bullet may precede them).
_FOOTER_RE = re.compile(
    r"^[^\w\[]{0,8}(?:Generated with \[(?P<generated>Claude Code|Devin)\]"
    # Devin's PR body, in squash merges: "Link to Devin run: …", the label often in bold
    r"|Link to (?P<devin_run>Devin) run(?:\*\*)?:(?:\*\*)? *https?://app\.devin\.ai/"
    # Claude Code on the web ends its messages with the bare link of its session
    r"|(?P<claude_session>https://claude\.ai/code/session_)[A-Za-z0-9_-]+$)",
    re.IGNORECASE,
)
_FOOTER_TOOLS = {"claude code": "claude", "devin": "devin"}
# Footer lines that carry no marker but belong to a tool's footer (Devin's "Requested by: name").
_NEUTRAL_FOOTER_RE = re.compile(r"^(?:\*\*)?Requested by(?:\*\*)?:(?:\*\*)? ")
_ADDRESS_RE = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")
_BARE_ADDRESS_RE = re.compile(r"(?<![\w.+-])([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")
_NOREPLY_RE = re.compile(r"^(?:\d+\+)?([^@+]+)@users\.noreply\.github\.com$")
_BOT_LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\[bot\]$")
_AIDER_NAME_RE = re.compile(r"\s\(aider\)$")
_AIDER_SUBJECT = "aider: "
_NEGATIVE = frozenset({"no", "false", "none", "0", "n/a", "off"})

# Built-in trailer keys (lower case) other than co-authored-by.
_GENERIC_KEYS = ("assisted-by", "generated-by", "ai-assisted")
# ``AGENT:MODEL [tool…]`` (the Linux kernel's Assisted-by form): the model after the colon
_AGENT_MODEL_RE = re.compile(r"^\s*[^\s:<>]+:([^\s:<>]+)")
# a key whose value must name a tool to be a marker (Cursor writes ``Made-with: Cursor``)
_MADE_WITH_KEY = "made-with"
_AMP_THREAD_KEY = "amp-thread-id"
_REPLIT_KEY = "replit-commit-author"
_REPLIT_VALUES = frozenset({"agent", "assistant"})
_CLAUDE_SESSION_KEY = "claude-session"
_COAUTHOR_KEY = "co-authored-by"
# git's own trailers: their presence makes a mixed last paragraph a trailer block (as in git).
_GIT_KEYS = frozenset({"signed-off-by"})
_CHERRY_PICK = "(cherry picked from commit"


@dataclass(frozen=True)
class _Rules:
    """Built-in markers merged with one configuration's, ready for lookups."""

    tool_emails: dict[str, str]
    bot_emails: frozenset[str]
    user_trailers: dict[str, str]
    known_keys: frozenset[str]


@lru_cache(maxsize=32)
def _rules(
    trailers: tuple[tuple[str, str], ...],
    agent_emails: tuple[tuple[str, str], ...],
    bot_emails: tuple[str, ...],
) -> _Rules:
    tool_emails = dict(TOOL_EMAILS)
    tool_emails.update({e.strip().lower(): t for e, t in agent_emails})
    user_trailers = {k.strip().rstrip(":").strip().lower(): t for k, t in trailers}
    known = frozenset(
        {
            _COAUTHOR_KEY,
            _REPLIT_KEY,
            _CLAUDE_SESSION_KEY,
            _AMP_THREAD_KEY,
            _MADE_WITH_KEY,
            *_GENERIC_KEYS,
            *user_trailers,
        }
    )
    return _Rules(
        tool_emails=tool_emails,
        bot_emails=BOT_EMAILS | {e.strip().lower() for e in bot_emails},
        user_trailers=user_trailers,
        known_keys=known | _GIT_KEYS,
    )


def _rules_for(config: AIConfig | None) -> _Rules:
    if config is None:
        return _rules((), (), ())
    return _rules(
        tuple(sorted(config.trailers.items())),
        tuple(sorted(config.agent_emails.items())),
        tuple(sorted(config.bot_emails)),
    )


def _bot_login(name: str, email: str) -> str:
    """The ``login[bot]`` identity carried by the name or the GitHub noreply address, or ""."""
    if name.endswith("]") and _BOT_LOGIN_RE.match(name):
        return name.lower()
    if email.endswith("@users.noreply.github.com"):
        m = _NOREPLY_RE.match(email)
        if m and m.group(1).endswith("[bot]"):
            return m.group(1)
    return ""


def _address_tool(email: str, rules: _Rules) -> str:
    """The AI tool an address belongs to (tool address, agent app or Copilot noreply), or ""."""
    tool = rules.tool_emails.get(email)
    if tool:
        return tool
    if email.endswith("@users.noreply.github.com"):
        m = _NOREPLY_RE.match(email)
        if m:
            login = m.group(1)
            return AGENT_LOGINS.get(login) or TOOL_NOREPLY_LOGINS.get(login, "")
    return ""


def _classify_author(name: str, email: str, rules: _Rules) -> tuple[str, str, str] | None:
    login = _bot_login(name, email)
    if login and login in AGENT_LOGINS:
        return AI_AGENT, AGENT_LOGINS[login], f"author:{login}"
    tool = _address_tool(email, rules)
    if tool:
        return AI_AGENT, tool, f"author:{email}"
    if _AIDER_NAME_RE.search(name):
        return AI_AGENT, "aider", "author:(aider)"
    if login:
        return BOT, "", f"author:{login}"
    if email in rules.bot_emails:
        return BOT, "", f"author:{email}"
    return None


def _is_trailer_paragraph(lines: list[str], last: bool, rules: _Rules) -> bool:
    """Whether a paragraph belongs to the message's footer (trailers and tool footers).

    Every line must be a trailer, a continuation of one, or a tool footer; the last paragraph may
    also mix in other lines, as git allows, when a quarter of it are trailers of a known key.
    """
    trailers = other = 0
    known = False
    previous_trailer = False
    for line in lines:
        if line[0] in " \t" and previous_trailer:
            continue
        m = _TRAILER_RE.match(line)
        if m:
            trailers += 1
            previous_trailer = True
            known = known or m.group(1).lower() in rules.known_keys
        elif _FOOTER_RE.match(line) or _NEUTRAL_FOOTER_RE.match(line):
            trailers += 1
            previous_trailer = False
        elif line.startswith(_CHERRY_PICK):
            trailers += 1
            previous_trailer = False
            known = True
        else:
            other += 1
            previous_trailer = False
    if other == 0:
        return trailers > 0
    return last and known and trailers * 3 >= other


def _footer_lines(message: str, rules: _Rules) -> list[str]:
    """The lines of the message's trailing footer paragraphs (never the subject)."""
    body = message.split("\n", 1)
    if len(body) < 2:
        return []
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for raw in body[1].replace("\r\n", "\n").split("\n"):
        if raw.strip():
            current.append(raw.rstrip())
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    footer: list[str] = []
    for i in range(len(paragraphs) - 1, -1, -1):
        if not _is_trailer_paragraph(paragraphs[i], i == len(paragraphs) - 1, rules):
            break
        footer = paragraphs[i] + footer
    return footer


def _word_tool(text: str) -> str:
    """The first tool word of ``text`` (``_TOOL_WORDS``), or ""."""
    w = _TOOL_WORD_RE.search(text)
    return _TOOL_WORDS[int(w.lastgroup[1:])][1] if w else ""


def _value_tool(value: str, rules: _Rules) -> str | None:
    """Tool named by a generic AI trailer's value: "" if unnamed, None if it credits a person."""
    m = _ADDRESS_RE.search(value) or _BARE_ADDRESS_RE.search(value)
    if m:
        return _address_tool(m.group(1).lower(), rules) or None
    if value.strip().lower() in _NEGATIVE:
        return None
    return _word_tool(value)


# Display names that name a tool, not a model: ``Co-authored-by: Codex <noreply@openai.com>``.
_TOOL_NAMES = frozenset(
    {
        "claude", "claude code", "anthropic claude", "codex", "codex cli", "openai codex",
        "chatgpt", "aider", "devin", "devin ai", "amp", "junie", "cursor", "cursor agent",
        "copilot", "github copilot", "openhands", "gemini", "gemini cli",
    }
)  # fmt: skip
# Tools whose co-author display name is the model when it is not a tool name
# ("Claude Opus 4.5", "GPT-5.6 Codex"); other tools only name one in parentheses.
_DISPLAY_MODEL_TOOLS = frozenset({"claude", "codex"})
_PAREN_MODEL_RE = re.compile(r"^(?P<name>[^()]*?)\s*\((?P<model>[^()]+)\)$")


def _display_model(display: str, tool: str) -> str:
    """The model a tool identity's display name carries, as written; "" when it names none.

    ``aider (gpt-4o)`` and ``Codex (GPT-5)`` give the part in parentheses; ``Claude Opus 4.5``
    (a Claude or Codex identity that is not just the tool's name) gives the whole name.
    """
    name = " ".join(display.replace('"', " ").split())
    if not name or name.endswith("[bot]"):
        return ""
    m = _PAREN_MODEL_RE.match(name)
    if m and m.group("name").lower() in _TOOL_NAMES:
        return m.group("model").strip()
    if name.lower() in _TOOL_NAMES or tool not in _DISPLAY_MODEL_TOOLS:
        return ""
    return name


def _markers(message: str, rules: _Rules) -> list[tuple[int, str, str, str]]:
    """Every AI marker of the message's footer as ``(rank, tool, evidence, model)``, in order.

    Rank 0: a ``Co-authored-by`` with an AI tool's address; 1: any other AI trailer;
    2: a tool footer line; 3: the ``aider: `` subject prefix.
    """
    found: list[tuple[int, str, str, str]] = []
    if "\n" in message:
        for line in _footer_lines(message, rules):
            f = _FOOTER_RE.match(line)  # first: a bare link would read as an "https:" trailer
            m = None if f else _TRAILER_RE.match(line)
            if m is None:
                if f is None:
                    continue
                if f.group("generated"):
                    name = f.group("generated").lower()
                    found.append((2, _FOOTER_TOOLS[name], f"footer:generated with [{name}]", ""))
                elif f.group("devin_run"):
                    found.append((2, "devin", "footer:link to devin run", ""))
                else:
                    found.append((2, "claude", "footer:claude.ai/code/session", ""))
                continue
            key = m.group(1).lower()
            value = m.group(2)
            model = ""
            if key in rules.user_trailers:
                if value.strip().lower() in _NEGATIVE:
                    continue
                rank, tool = 1, rules.user_trailers[key]
            elif key == _COAUTHOR_KEY:
                a = _ADDRESS_RE.search(value)
                tool = _address_tool(a.group(1).lower(), rules) if a else ""
                if not tool:
                    continue
                rank, model = 0, _display_model(value[: a.start()], tool)
            elif key == _CLAUDE_SESSION_KEY:
                rank, tool = 1, "claude"
            elif key == _AMP_THREAD_KEY:
                rank, tool = 1, "amp"
            elif key == _REPLIT_KEY:
                if value.strip().lower() not in _REPLIT_VALUES:
                    continue
                rank, tool = 1, "replit"
            elif key == _MADE_WITH_KEY:
                tool = _value_tool(value, rules)
                if not tool:  # "Made-with: love" is not a marker
                    continue
                rank = 1
            elif key in _GENERIC_KEYS:
                tool = _value_tool(value, rules)
                if tool is None:
                    continue
                rank = 1
                am = _AGENT_MODEL_RE.match(value)
                model = am.group(1) if am else ""
            else:
                continue
            found.append((rank, tool, f"trailer:{key} {tool}".rstrip(), model))
    if message.startswith(_AIDER_SUBJECT):
        found.append((3, "aider", "subject:aider", ""))
    return found


def _model_of(markers: list[tuple[int, str, str, str]], tool: str, first: str = "") -> str:
    """``first`` if set, else the first model a marker of ``tool`` names (any tool if none)."""
    if first:
        return first
    for _, t, _, model in markers:
        if model and (t == tool or not tool):
            return model
    return ""


class Provenance(NamedTuple):
    """One commit's AI provenance: the four columns its identity and message decide."""

    ai_provenance: str
    ai_tool: str
    ai_evidence: str
    ai_model: str = ""


def provenance_of(
    author_name: str, author_email: str, message: str, config: AIConfig | None = None
) -> Provenance:
    """Classify one commit (:func:`classify`) and name the model its markers give, if any.

    ``ai_model`` is the model as the marker writes it (``Claude Opus 4.5``, ``gpt-5-codex``,
    ``claude-3-opus`` of ``Assisted-by: Claude:claude-3-opus``): the deciding marker's, else
    the first one another marker of the same tool names, else ``""``. Only markers that an
    address, bot identity or trailer key made AI give one, so ``human`` and ``bot`` have ``""``.
    """
    rules = _rules_for(config)
    name = (author_name or "").strip()
    email = (author_email or "").strip().lower()
    message = message or ""
    decided = _classify_author(name, email, rules)
    if decided is not None:
        cls, tool, evidence = decided
        if cls != AI_AGENT:
            return Provenance(cls, tool, evidence)
        own = _display_model(name, tool) if evidence == f"author:{email}" else ""
        return Provenance(cls, tool, evidence, _model_of(_markers(message, rules), tool, own))
    markers = _markers(message, rules)
    if not markers:
        return Provenance(HUMAN, "", "")
    # the strongest marker decides; ties go to the first in the message
    rank, tool, evidence, model = min(markers, key=lambda m: m[0])
    return Provenance(AI_ASSISTED, tool, evidence, _model_of(markers, tool, model))


def classify(
    author_name: str, author_email: str, message: str, config: AIConfig | None = None
) -> tuple[str, str, str]:
    """Classify one commit's AI provenance.

    Returns ``(ai_provenance, ai_tool, ai_evidence)``: the class (``human``, ``ai_assisted``,
    ``ai_agent`` or ``bot``), the tool's short name or ``""``, and the marker that decided it
    (e.g. ``"trailer:co-authored-by claude"``, ``"author:copilot-swe-agent[bot]"``) or ``""``
    for ``human``. ``config`` adds the user's markers from ``riskml.toml`` ``[ai]``.
    """
    p = provenance_of(author_name, author_email, message, config)
    return p.ai_provenance, p.ai_tool, p.ai_evidence


# --------------------------------------------------------------------------- line-level notes

# Where Agent Trace records live when they are kept in git (the spec leaves storage open; the
# implementations that use git notes use this ref, one record or JSON Lines per commit).
AGENT_TRACE_REF = "refs/notes/agent-trace"


def read_ai_notes(
    repo: str | Path, ref: str = "refs/notes/ai", trace_ref: str | None = AGENT_TRACE_REF
) -> dict[str, str]:
    """All notes under ``ref`` and ``trace_ref`` as ``{annotated object SHA: note text}``.

    ``ref`` holds git-ai authorship logs, ``trace_ref`` Agent Trace records; a commit with a
    note under both keeps the one of ``ref``. ``{}`` if there are none. One ``git notes list``
    per ref and one ``git cat-file --batch`` for every note, whatever their number. Note text
    is decoded as UTF-8 with replacement.
    """
    refs = [ref] if not trace_ref or trace_ref == ref else [trace_ref, ref]
    pairs: list[list[str]] = []
    for r in refs:  # the later ref's notes win
        listing = run_git(repo, "notes", f"--ref={r}", "list").decode("ascii", "replace")
        pairs += [p for p in (line.split() for line in listing.splitlines()) if len(p) == 2]
    if not pairs:
        return {}
    texts = {
        blob: body.decode("utf-8", "replace")
        for blob, (_, body) in read_objects(repo, sorted({blob for blob, _ in pairs})).items()
    }
    return {commit: texts[blob] for blob, commit in pairs if blob in texts}


class MalformedNote(ValueError):
    """A line-level note that none of the known formats can read."""


@dataclass(frozen=True)
class LineAttribution:
    """What a commit's line-level note says: the AI share of its added lines and who wrote them.

    ``share`` and ``ai_lines`` are None without a note; ``source`` is ``"git-ai"``,
    ``"agent-trace"`` or ``"json"`` (riskml's own ``{"ai_lines": N}``), ``""`` without one.
    """

    share: float | None = None
    ai_lines: int | float | None = None
    tool: str = ""
    model: str = ""
    source: str = ""


NO_NOTE = LineAttribution()
_RANGE_RE = re.compile(r"^(\d+)(?:-(\d+))?$")


def _union_size(ranges: list[tuple[int, int]]) -> int:
    """Distinct line numbers covered by inclusive ``(lo, hi)`` ranges."""
    if not ranges:
        return 0
    ranges = sorted(ranges)
    count, cur_lo, cur_hi = 0, ranges[0][0], ranges[0][1]
    for lo, hi in ranges[1:]:
        if lo > cur_hi + 1:
            count += cur_hi - cur_lo + 1
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    return count + cur_hi - cur_lo + 1


def _attestation(text: str) -> tuple[int, dict[str, int]] | None:
    """Lines attributed to AI in a git-ai attestation section, and lines per session hash.

    Layout: a file path on its own line, then indented ``<hash> <ranges>`` lines where ranges are
    ``1-10,15``. Hashes prefixed ``h_`` are human attributions and are not counted; a line two
    sessions claim counts once. Returns None when nothing in it looks like an attestation.
    """
    total = 0
    seen_entry = False
    per_file: list[tuple[int, int]] = []
    per_hash: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] not in " \t":  # a file path
            total += _union_size(per_file)
            per_file = []
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        seen_entry = True
        if parts[0].startswith("h_"):
            continue
        for spec in ",".join(parts[1:]).split(","):
            m = _RANGE_RE.match(spec.strip())
            if m:
                lo = int(m.group(1))
                hi = int(m.group(2) or lo)
                per_file.append((min(lo, hi), max(lo, hi)))
                per_hash[parts[0]] = per_hash.get(parts[0], 0) + abs(hi - lo) + 1
    total += _union_size(per_file)
    return (total, per_hash) if seen_entry else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _share(ai: float, total: float) -> float:
    if total <= 0:
        return 0.0
    return min(1.0, max(0.0, ai / total))


def _lines(ai: float, added: int) -> int | float:
    """AI lines capped at the change's added lines (an int when whole)."""
    n = min(max(ai, 0.0), float(max(added, 0)))
    return int(n) if n == int(n) else n


def _note_tool(name: object) -> str:
    """A tool's short name from the name a note gives it (``claude-code`` -> ``claude``)."""
    if not isinstance(name, str) or not name.strip():
        return ""
    return _word_tool(name) or name.strip().lower()


def _dominant(weights: dict[tuple[str, str], float]) -> tuple[str, str]:
    """The ``(tool, model)`` with the most lines (ties: one that names a tool, then a model,
    then the first in sorted order)."""
    if not weights:
        return "", ""
    return max(sorted(weights), key=lambda k: (weights[k], bool(k[0]), bool(k[1])))


def _git_ai_identity(metadata: dict, per_hash: dict[str, float]) -> tuple[str, str]:
    """The tool and model of the session that wrote most AI lines, from git-ai's metadata."""
    records = {}
    for section in ("prompts", "sessions"):
        if isinstance(metadata.get(section), dict):
            records.update(metadata[section])
    weights: dict[tuple[str, str], float] = {}
    for key, lines in per_hash.items():
        record = records.get(key) or records.get(key.split("::", 1)[0])
        agent = record.get("agent_id") if isinstance(record, dict) else None
        if isinstance(agent, dict):
            model = agent.get("model") if isinstance(agent.get("model"), str) else ""
            who = (_note_tool(agent.get("tool")), model.strip())
            weights[who] = weights.get(who, 0.0) + lines
    return _dominant(weights)


def _git_ai(text: str, added: int) -> LineAttribution:
    """A git-ai authorship log (``authorship/3.0.0``): attestation, ``---``, JSON metadata."""
    attestation, sep, tail = _split_log(text)
    metadata = None
    if sep:
        try:
            metadata = json.loads(tail)
        except ValueError:
            metadata = None
    meta = metadata if isinstance(metadata, dict) else {}
    attested = _attestation(attestation)
    if attested is not None:
        ai, per_hash = attested
        tool, model = _git_ai_identity(meta, per_hash)
        return LineAttribution(_share(ai, float(added)), _lines(ai, added), tool, model, "git-ai")
    if not isinstance(metadata, dict):
        raise MalformedNote("neither a git-ai attestation nor its JSON metadata")
    if attestation.strip() == "" and "schema_version" in metadata:
        # git-ai writes an empty attestation when no AI line survived into the commit
        return LineAttribution(0.0, 0, source="git-ai")
    return _git_ai_metadata(metadata, added)


def _git_ai_metadata(data: dict, added: int) -> LineAttribution:
    """Fallback: the sum of ``accepted_lines`` over git-ai's prompt records."""
    prompts = data.get("prompts")
    if not isinstance(prompts, dict):
        raise MalformedNote("no AI line count in the note")
    accepted = {
        k: _number(p.get("accepted_lines")) for k, p in prompts.items() if isinstance(p, dict)
    }
    accepted = {k: a for k, a in accepted.items() if a is not None}
    if not accepted:
        raise MalformedNote("no AI line count in the note")
    ai = sum(accepted.values())
    tool, model = _git_ai_identity(data, accepted)
    return LineAttribution(_share(ai, float(added)), _lines(ai, added), tool, model, "git-ai")


def _split_log(text: str) -> tuple[str, bool, str]:
    """Split a git-ai note at its ``---`` line into (attestation, had separator, metadata JSON)."""
    if text.startswith("---"):
        return "", True, text[3:]
    head, sep, tail = text.partition("\n---")
    if not sep:
        return text, False, ""
    return head, True, tail.split("\n", 1)[1] if "\n" in tail else ""


def _is_trace(data: object) -> bool:
    return isinstance(data, dict) and isinstance(data.get("files"), list) and "version" in data


def _trace_records(text: str) -> list[dict] | None:
    """Agent Trace records of a note: one JSON object, or JSON Lines of them; None if not."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
        records = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                return None
        if not records or not all(_is_trace(r) for r in records):
            return None
        return records
    return [data] if _is_trace(data) else None


def _trace_range(rng: object) -> tuple[int, int]:
    if not isinstance(rng, dict):
        raise MalformedNote("an Agent Trace range is not an object")
    lo, hi = rng.get("start_line"), rng.get("end_line")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (lo, hi)):
        raise MalformedNote("an Agent Trace range without positive start_line/end_line")
    return min(lo, hi), max(lo, hi)


def _agent_trace(records: list[dict], added: int) -> LineAttribution:
    """Agent Trace records (v0.1): the lines of ranges whose contributor type is ``ai``.

    A range's own ``contributor`` overrides its conversation's; ``human``, ``mixed`` and
    ``unknown`` ranges are not counted. A line several ranges name counts once per file.
    """
    per_path: dict[str, list[tuple[int, int]]] = {}
    weights: dict[tuple[str, str], float] = {}
    for record in records:
        tool_info = record.get("tool")
        tool = _note_tool(tool_info.get("name")) if isinstance(tool_info, dict) else ""
        for entry in record["files"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                raise MalformedNote("an Agent Trace file without a path")
            conversations = entry.get("conversations")
            if not isinstance(conversations, list):
                raise MalformedNote("an Agent Trace file without conversations")
            for conv in conversations:
                if not isinstance(conv, dict) or not isinstance(conv.get("ranges"), list):
                    raise MalformedNote("an Agent Trace conversation without ranges")
                base = conv.get("contributor") if isinstance(conv.get("contributor"), dict) else {}
                for rng in conv["ranges"]:
                    lo, hi = _trace_range(rng)
                    who = (
                        rng.get("contributor") if isinstance(rng.get("contributor"), dict) else base
                    )
                    if who.get("type") != "ai":
                        continue
                    per_path.setdefault(entry["path"], []).append((lo, hi))
                    model = who.get("model_id") if isinstance(who.get("model_id"), str) else ""
                    key = (tool, model.strip())
                    weights[key] = weights.get(key, 0.0) + hi - lo + 1
    ai = sum(_union_size(r) for r in per_path.values())
    tool, model = _dominant(weights)
    if not weights:  # no AI range: the record's tool still says who traced it
        tool = next(
            (
                _note_tool(r["tool"].get("name"))
                for r in records
                if isinstance(r.get("tool"), dict) and r["tool"].get("name")
            ),
            "",
        )
    return LineAttribution(_share(ai, float(added)), _lines(ai, added), tool, model, "agent-trace")


def line_attribution(note: str | None, added: int) -> LineAttribution:
    """Read one commit's line-level note: git-ai log, Agent Trace record(s) or riskml's JSON.

    ``added`` is the change's added lines (``la``). :data:`NO_NOTE` when there is no note;
    :class:`MalformedNote` when none of the formats can read it. The share is AI lines /
    ``added`` clipped to [0, 1] (riskml's JSON: ``ai_lines`` / ``total_lines`` when given), a
    change adding no lines has 0.0; ``ai_lines`` is capped at ``added``.
    """
    if note is None:
        return NO_NOTE
    text = note.strip()
    if not text:
        raise MalformedNote("an empty note")
    if text.startswith("{"):
        records = _trace_records(text)
        if records is not None:
            return _agent_trace(records, added)
        try:
            data = json.loads(text)
        except ValueError:
            raise MalformedNote("not valid JSON") from None
        if not isinstance(data, dict):
            raise MalformedNote("a JSON note that is not an object")
        ai = _number(data.get("ai_lines"))
        if ai is not None:
            total = _number(data.get("total_lines"))
            total = total if total is not None and total > 0 else float(added)
            return LineAttribution(
                _share(ai, total), _lines(ai, added), _note_tool(data.get("tool")), source="json"
            )
        # a git-ai metadata block alone carries accepted line counts per prompt/session
        return _git_ai_metadata(data, added)
    return _git_ai(text, added)


def ai_line_share(note: str | None, added: int) -> float | None:
    """Share of a change's added lines attributed to AI by its note, in [0, 1].

    ``None`` when there is no note or nothing in it can be read (:func:`line_attribution`).
    """
    try:
        return line_attribution(note, added).share
    except MalformedNote:
        return None
