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
    "openhands@all-hands.dev": "openhands",
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
    r"^[^\w\[]{0,8}(?:Generated with \[(Claude Code|Devin)\]"
    r"|Link to (Devin) run: https?://app\.devin\.ai/)",
    re.IGNORECASE,
)
_FOOTER_TOOLS = {"claude code": "claude", "devin": "devin"}
# Footer lines that carry no marker but belong to a tool's footer (Devin's "Requested by: name").
_NEUTRAL_FOOTER_RE = re.compile(r"^Requested by: ")
_ADDRESS_RE = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")
_BARE_ADDRESS_RE = re.compile(r"(?<![\w.+-])([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")
_NOREPLY_RE = re.compile(r"^(?:\d+\+)?([^@+]+)@users\.noreply\.github\.com$")
_BOT_LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\[bot\]$")
_AIDER_NAME_RE = re.compile(r"\s\(aider\)$")
_AIDER_SUBJECT = "aider: "
_NEGATIVE = frozenset({"no", "false", "none", "0", "n/a", "off"})

# Built-in trailer keys (lower case) other than co-authored-by.
_GENERIC_KEYS = ("assisted-by", "generated-by", "ai-assisted")
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
        {_COAUTHOR_KEY, _REPLIT_KEY, _CLAUDE_SESSION_KEY, *_GENERIC_KEYS, *user_trailers}
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


def _value_tool(value: str, rules: _Rules) -> str | None:
    """Tool named by a generic AI trailer's value: "" if unnamed, None if it credits a person."""
    m = _ADDRESS_RE.search(value) or _BARE_ADDRESS_RE.search(value)
    if m:
        return _address_tool(m.group(1).lower(), rules) or None
    if value.strip().lower() in _NEGATIVE:
        return None
    w = _TOOL_WORD_RE.search(value)
    if not w:
        return ""
    return _TOOL_WORDS[int(w.lastgroup[1:])][1]


def _assisted(message: str, rules: _Rules) -> tuple[str, str, str] | None:
    """The strongest AI marker in the message: co-author address > other trailer > footer > subject."""
    best: tuple[int, str, str] | None = None  # (rank, tool, evidence)
    if "\n" in message:
        for line in _footer_lines(message, rules):
            m = _TRAILER_RE.match(line)
            if m is None:
                f = _FOOTER_RE.match(line)
                if f and (best is None or best[0] > 2):
                    if f.group(1):
                        tool = _FOOTER_TOOLS[f.group(1).lower()]
                        best = (2, tool, f"footer:generated with [{f.group(1).lower()}]")
                    else:
                        best = (2, "devin", "footer:link to devin run")
                continue
            key = m.group(1).lower()
            value = m.group(2)
            if key in rules.user_trailers:
                if value.strip().lower() in _NEGATIVE:
                    continue
                found = (1, rules.user_trailers[key], key)
            elif key == _COAUTHOR_KEY:
                a = _ADDRESS_RE.search(value)
                tool = _address_tool(a.group(1).lower(), rules) if a else ""
                if not tool:
                    continue
                found = (0, tool, key)
            elif key == _CLAUDE_SESSION_KEY:
                found = (1, "claude", key)
            elif key == _REPLIT_KEY:
                if value.strip().lower() not in _REPLIT_VALUES:
                    continue
                found = (1, "replit", key)
            elif key in _GENERIC_KEYS:
                tool = _value_tool(value, rules)
                if tool is None:
                    continue
                found = (1, tool, key)
            else:
                continue
            if best is None or found[0] < best[0]:
                rank, tool, key = found
                best = (rank, tool, f"trailer:{key} {tool}".rstrip())
                if rank == 0:
                    break
    if best is None and message.startswith(_AIDER_SUBJECT):
        best = (3, "aider", "subject:aider")
    if best is None:
        return None
    return AI_ASSISTED, best[1], best[2]


def classify(
    author_name: str, author_email: str, message: str, config: AIConfig | None = None
) -> tuple[str, str, str]:
    """Classify one commit's AI provenance.

    Returns ``(ai_provenance, ai_tool, ai_evidence)``: the class (``human``, ``ai_assisted``,
    ``ai_agent`` or ``bot``), the tool's short name or ``""``, and the marker that decided it
    (e.g. ``"trailer:co-authored-by claude"``, ``"author:copilot-swe-agent[bot]"``) or ``""``
    for ``human``. ``config`` adds the user's markers from ``riskml.toml`` ``[ai]``.
    """
    rules = _rules_for(config)
    name = (author_name or "").strip()
    email = (author_email or "").strip().lower()
    decided = _classify_author(name, email, rules)
    if decided is not None:
        return decided
    assisted = _assisted(message or "", rules)
    if assisted is not None:
        return assisted
    return HUMAN, "", ""


def read_ai_notes(repo: str | Path, ref: str = "refs/notes/ai") -> dict[str, str]:
    """All notes under ``ref`` as ``{annotated object SHA: note text}``; ``{}`` if there are none.

    One ``git notes list`` and one ``git cat-file --batch`` for every note, whatever their number.
    Note text is decoded as UTF-8 with replacement.
    """
    listing = run_git(repo, "notes", f"--ref={ref}", "list").decode("ascii", "replace")
    pairs = [line.split() for line in listing.splitlines() if line.strip()]
    pairs = [p for p in pairs if len(p) == 2]
    if not pairs:
        return {}
    texts = {
        blob: body.decode("utf-8", "replace")
        for blob, (_, body) in read_objects(repo, sorted({blob for blob, _ in pairs})).items()
    }
    return {commit: texts[blob] for blob, commit in pairs if blob in texts}


_RANGE_RE = re.compile(r"^(\d+)(?:-(\d+))?$")


def _attested_ai_lines(attestation: str) -> int | None:
    """Count distinct lines attributed to AI in a git-ai attestation section.

    Layout: a file path on its own line, then indented ``<hash> <ranges>`` lines where ranges are
    ``1-10,15``. Hashes prefixed ``h_`` are human attributions and are not counted.
    Returns None when nothing in it looks like an attestation.
    """
    total = 0
    seen_entry = False
    per_file: list[tuple[int, int]] = []

    def flush() -> int:
        if not per_file:
            return 0
        per_file.sort()
        count, cur_lo, cur_hi = 0, per_file[0][0], per_file[0][1]
        for lo, hi in per_file[1:]:
            if lo > cur_hi + 1:
                count += cur_hi - cur_lo + 1
                cur_lo, cur_hi = lo, hi
            else:
                cur_hi = max(cur_hi, hi)
        count += cur_hi - cur_lo + 1
        per_file.clear()
        return count

    for line in attestation.splitlines():
        if not line.strip():
            continue
        if line[0] not in " \t":  # a file path
            total += flush()
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
    total += flush()
    return total if seen_entry else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _share(ai: float, total: float) -> float:
    if total <= 0:
        return 0.0
    return min(1.0, max(0.0, ai / total))


def ai_line_share(note: str | None, added: int) -> float | None:
    """Share of a change's added lines attributed to AI by its note, in [0, 1].

    ``None`` when there is no note or nothing in it can be read. Two forms are read:
    a JSON object ``{"ai_lines": N, "total_lines": M}`` (share N/M; ``added`` when M is absent)
    and a git-ai authorship log (attested AI lines / ``added``; ``h_`` entries are human).
    A change that adds no lines has share 0.0.
    """
    if note is None:
        return None
    text = note.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            ai = _number(data.get("ai_lines"))
            if ai is not None:
                total = _number(data.get("total_lines"))
                return _share(ai, total if total is not None and total > 0 else float(added))
            # a git-ai metadata block alone carries accepted line counts per prompt/session
            return _metadata_share(data, added)
        return None
    attestation, sep, metadata = _split_log(text)
    ai_lines = _attested_ai_lines(attestation)
    if ai_lines is not None:
        return _share(ai_lines, float(added))
    if sep:
        try:
            data = json.loads(metadata)
        except ValueError:
            return None
        if isinstance(data, dict):
            if attestation.strip() == "":
                # git-ai writes an empty attestation when no AI line survived into the commit
                return 0.0 if "schema_version" in data else _metadata_share(data, added)
            return _metadata_share(data, added)
    return None


def _split_log(text: str) -> tuple[str, bool, str]:
    """Split a git-ai note at its ``---`` line into (attestation, had separator, metadata JSON)."""
    if text.startswith("---"):
        return "", True, text[3:]
    head, sep, tail = text.partition("\n---")
    if not sep:
        return text, False, ""
    return head, True, tail.split("\n", 1)[1] if "\n" in tail else ""


def _metadata_share(data: dict, added: int) -> float | None:
    """Fallback: sum ``accepted_lines`` over git-ai prompt records."""
    prompts = data.get("prompts")
    if not isinstance(prompts, dict):
        return None
    accepted = [_number(p.get("accepted_lines")) for p in prompts.values() if isinstance(p, dict)]
    accepted = [a for a in accepted if a is not None]
    if not accepted:
        return None
    return _share(sum(accepted), float(added))
