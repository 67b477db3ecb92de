"""Line-level AI notes in the formats real tools write, one notes commit per ref.

Half of the AI commits that add lines carry a note (``History.normal`` draws which, and how many
of the added lines the tool wrote). Which format a commit's note takes follows its sequence
number, so no random draw is spent on it (the history's SHAs do not depend on the notes):

* ``seq % 3 == 0``: riskml's own JSON ``{"ai_lines", "tool", "total_lines"}`` in ``refs/notes/ai``;
* ``seq % 3 == 1``: a git-ai authorship log (``authorship/3.0.0``: attestation lines, ``---``,
  JSON metadata) in ``refs/notes/ai``;
* ``seq % 3 == 2``: an Agent Trace record (v0.1.0 JSON) in ``refs/notes/agent-trace``, its AI
  ranges beside a ``human`` range for the rest of the added lines.

The AI lines are the first ``ai_lines`` of the lines the commit added (``Commit.note_lines``),
so every form attributes exactly ``ai_lines`` lines and ``ai_line_share = ai_lines / la``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from riskml.synth.fastimport import data

if TYPE_CHECKING:
    from riskml.synth.fastimport import Stream
    from riskml.synth.files import File
    from riskml.synth.records import Commit

NOTES_REF = "refs/notes/ai"
TRACE_REF = "refs/notes/agent-trace"
GIT_AI_VERSION = "1.0.23"

# tool -> (git-ai agent_id.tool, git-ai model, Agent Trace tool name, Agent Trace model_id)
AGENTS = {
    "claude": ("claude", "claude-sonnet-4-5", "claude-code", "anthropic/claude-sonnet-4-5-20250929"),
    "copilot": ("github-copilot", "gpt-5", "copilot", "openai/gpt-5"),
    "cursor": ("cursor", "claude-4.5-opus", "cursor", "anthropic/claude-opus-4-5-20251101"),
    "aider": ("aider", "gpt-4o", "aider", "openai/gpt-4o"),
    "codex": ("codex", "gpt-5-codex", "codex", "openai/gpt-5-codex"),
    "devin": ("devin", "swe-1.5", "devin", "cognition/swe-1.5"),
    "jules": ("jules", "gemini-2.5-pro", "jules", "google/gemini-2.5-pro"),
    "openhands": ("openhands", "claude-sonnet-4", "openhands", "anthropic/claude-sonnet-4-20250514"),
    "gemini": ("gemini", "gemini-2.5-pro", "gemini-cli", "google/gemini-2.5-pro"),
}  # fmt: skip


def added_lines(files: list[File], seq: int) -> list[tuple[str, list[int]]]:
    """The 1-based numbers of the lines commit ``seq`` wrote in each of ``files`` (text only)."""
    out = []
    for f in files:
        if not f.binary:
            numbers = [k + 1 for k, origin in enumerate(f.origin) if origin == seq]
            if numbers:
                out.append((f.path, numbers))
    return out


def note_format(c: Commit) -> str:
    """``"json"``, ``"git-ai"`` or ``"agent-trace"``: the form of ``c``'s note."""
    return ("json", "git-ai", "agent-trace")[c.seq % 3]


def note_model(c: Commit) -> str:
    """The model ``c``'s note names (``""`` for riskml's JSON, which names none)."""
    form = note_format(c)
    if form == "json":
        return ""
    agent = AGENTS[c.ai_tool]
    return agent[1] if form == "git-ai" else agent[3]


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted line numbers as inclusive runs."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _split(c: Commit) -> tuple[list[tuple[str, list[int]]], list[tuple[str, list[int]]]]:
    """(AI lines, other added lines) per path: the first ``ai_lines`` added lines are AI."""
    left = c.ai_lines or 0
    ai, rest = [], []
    for path, numbers in c.note_lines:
        take = numbers[:left]
        left -= len(take)
        if take:
            ai.append((path, take))
        if numbers[len(take) :]:
            rest.append((path, numbers[len(take) :]))
    return ai, rest


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _session(c: Commit) -> str:
    """A stable conversation id of ``c``'s session (a UUID from its sequence number)."""
    return str(uuid.UUID(hashlib.sha256(f"session:{c.seq}".encode()).hexdigest()[:32]))


def git_ai_log(c: Commit, base_sha: str) -> str:
    """``c``'s git-ai authorship log: one session wrote its AI lines."""
    tool, model = AGENTS[c.ai_tool][:2]
    session = _session(c)
    key = hashlib.sha256(f"{tool}:{session}".encode()).hexdigest()[:16]
    ai, _ = _split(c)
    lines = []
    for path, numbers in ai:
        lines.append(f'"{path}"' if any(ch in path for ch in " \t") else path)
        spans = ",".join(f"{lo}-{hi}" if hi > lo else str(lo) for lo, hi in _ranges(numbers))
        lines.append(f"  {key} {spans}")
    name, email = c.author
    prompted_by = {"human_author": f"{name} <{email}>"} if c.ai_class == "ai_assisted" else {}
    metadata = {
        "schema_version": "authorship/3.0.0",
        "git_ai_version": GIT_AI_VERSION,
        "base_commit_sha": base_sha,
        "prompts": {
            key: {
                "agent_id": {"tool": tool, "id": session, "model": model},
                **prompted_by,
                "messages": [{"type": "user", "text": c.subject, "timestamp": _iso(c.time)}],
                "total_additions": c.ai_lines,
                "total_deletions": 0,
                "accepted_lines": c.ai_lines,
                "overriden_lines": 0,
            }
        },
    }
    return "\n".join(lines) + "\n---\n" + json.dumps(metadata, indent=2) + "\n"


def agent_trace(c: Commit, sha: str) -> str:
    """``c``'s Agent Trace record: its AI ranges (with the model) and the human rest."""
    _, _, tool, model_id = AGENTS[c.ai_tool]
    session = _session(c)
    ai, rest = _split(c)
    files: dict[str, list[dict]] = {}
    for path, numbers in ai:
        files.setdefault(path, []).append(
            {
                "url": f"https://agents.example.invalid/conversations/{session}",
                "contributor": {"type": "ai", "model_id": model_id},
                "ranges": [{"start_line": lo, "end_line": hi} for lo, hi in _ranges(numbers)],
            }
        )
    for path, numbers in rest:
        files.setdefault(path, []).append(
            {
                "contributor": {"type": "human"},
                "ranges": [{"start_line": lo, "end_line": hi} for lo, hi in _ranges(numbers)],
            }
        )
    record = {
        "version": "0.1.0",
        "id": str(uuid.UUID(hashlib.sha256(f"trace:{sha}".encode()).hexdigest()[:32])),
        "timestamp": _iso(c.time),
        "vcs": {"type": "git", "revision": sha},
        "tool": {"name": tool},
        "files": [{"path": p, "conversations": convs} for p, convs in files.items()],
    }
    return json.dumps(record, sort_keys=True) + "\n"


def write(stream: Stream, noted: list[Commit], when: int) -> None:
    """One notes commit per ref holding the notes of ``noted``, committed at ``when``."""
    by_ref: dict[str, list[bytes]] = {NOTES_REF: [], TRACE_REF: []}
    for c in noted:
        form = note_format(c)
        if form == "json":
            text = (
                json.dumps(
                    {"tool": c.ai_tool, "ai_lines": c.ai_lines, "total_lines": c.la}, sort_keys=True
                )
                + "\n"
            )
        elif form == "git-ai":
            text = git_ai_log(c, stream.sha(c.parent_mark) if c.parent_mark else "")
        else:
            text = agent_trace(c, stream.sha(c.mark))
        ref = TRACE_REF if form == "agent-trace" else NOTES_REF
        by_ref[ref].append(f"N inline :{c.mark}\n".encode() + data(text.encode()))
    for ref, ops in by_ref.items():
        if not ops:
            continue
        head = (
            f"commit {ref}\nmark :{stream.next_mark()}\n"
            f"committer git-ai <git-ai@notes.invalid> {when} +0000\n"
        ).encode()
        stream.write(head, data(b"Notes added by git-ai\n"), *ops, b"\n")
