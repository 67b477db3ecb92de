"""Who writes each commit: the active people, their identities, AI tools and message markers.

The AI markers are the ones real tools leave (docs/provenance.md): co-author trailers, the
"Generated with" lines, agent bot identities, aider's ``(aider)`` author name. Look-alike
people (named Devin, Claude, Jules, or at a ``catbot`` address) never use a tool, so matching a
name alone is always wrong on this history.
"""

from __future__ import annotations

import math
import random

from riskml.synth.catalog import AGENTS, AI_STYLES, HUMANS, Person
from riskml.synth.records import Commit
from riskml.synth.risk import hidden_risk


class Authors:
    """The people over time, and what each has written so far (for familiarity and novelty)."""

    def __init__(self, rng: random.Random, novice_scale: float) -> None:
        self.rng = rng
        # "new to the codebase" in commits grows with the history, so the base rate holds steady
        self.novice_scale = novice_scale
        self.commits: dict[str, int] = {}
        self.files: dict[str, set[int]] = {}

    def active(self, progress: float) -> list[Person]:
        """The people on the team at ``progress`` (fraction of the timeline)."""
        people = [p for p in HUMANS if p.join <= progress < p.leave]
        return people or [HUMANS[0]]

    def pick(self, progress: float) -> Person:
        """One active person, drawn by weight."""
        people = self.active(progress)
        return self.rng.choices(people, [p.weight for p in people])[0]

    def risk(self, c: Commit, touched_before: list[int]) -> float:
        """The hidden risk of ``c`` given what its author has touched before."""
        known = self.files.get(c.key, set())
        if touched_before:
            first = sum(1 for fid in touched_before if fid not in known) / len(touched_before)
        else:
            first = 0.5
        novice = math.exp(-self.commits.get(c.key, 0) / self.novice_scale)
        return hidden_risk(c, first, novice)

    def remember(self, c: Commit) -> None:
        """Count ``c`` for its author and note the files it touched."""
        self.commits[c.key] = self.commits.get(c.key, 0) + 1
        self.files.setdefault(c.key, set()).update(c.touched)

    def identify(self, person: Person, c: Commit, progress: float) -> None:
        """Set the commit's written identity and AI provenance from the person and the tool."""
        email = person.email
        if person.alt_email and self.rng.random() < 0.35:
            email = person.alt_email
        c.author = (person.name, email)
        c.key = person.email.lower()
        c.tz = person.tz
        p_ai = 0.4 * max(0.0, progress - 0.15)  # adoption grows over the years
        if person.name.split()[0] in ("Devin", "Claude", "Jules") or person.email.endswith(
            "@catbot.example"
        ):
            p_ai = 0.0  # look-alikes stay plainly human, so a name match is always wrong
        if self.rng.random() >= p_ai:
            return
        tool, _, cls = self.rng.choices(AI_STYLES, [s[1] for s in AI_STYLES])[0]
        c.ai_tool, c.ai_class = tool, cls
        if tool == "aider" and cls == "ai_agent":
            c.author = (f"{person.name} (aider)", email)
        elif cls == "ai_agent":
            name, mail = AGENTS[tool]
            c.author = (name, mail)
            c.key = mail.lower()
            c.tz = 0

    def message(self, c: Commit, person: Person | None, body: str = "") -> bytes:
        """The commit message: subject, ``body``, and the markers of the commit's AI tool."""
        lines = [c.subject]
        if body:
            lines += ["", body]
        trailers: list[str] = []
        tool, cls = c.ai_tool, c.ai_class
        r = self.rng
        if cls == "ai_assisted":
            if tool == "claude":
                model = r.choice(("Claude", "Claude Sonnet 4.5", "Claude Opus 4.1"))
                lines += ["", "🤖 Generated with [Claude Code](https://claude.com/claude-code)"]
                trailers.append(f"Co-Authored-By: {model} <noreply@anthropic.com>")
                c.ai_model = "" if model == "Claude" else model
            elif tool == "copilot":
                trailers.append(
                    "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>"
                )
            elif tool == "cursor":
                trailers.append("Co-authored-by: Cursor Agent <cursoragent@cursor.com>")
            elif tool == "aider":
                model = r.choice(("gpt-4o", "claude-3-5-sonnet", "deepseek-chat"))
                trailers.append(f"Co-authored-by: aider ({model}) <aider@aider.chat>")
                c.ai_model = model
            elif tool == "codex":
                trailers.append("Co-authored-by: Codex <codex@openai.com>")
            elif tool == "openhands":
                trailers.append("Co-authored-by: openhands <openhands@all-hands.dev>")
            else:
                trailers.append("Assisted-by: gemini-cli:gemini-2.5-pro")
                c.ai_model = "gemini-2.5-pro"
        elif cls == "ai_agent" and person is not None:
            if tool == "aider":
                model = r.choice(("gpt-4o", "claude-3-5-sonnet", "deepseek-chat"))
                trailers.append(f"Co-authored-by: aider ({model}) <noreply@aider.chat>")
                c.ai_model = model
            elif tool == "devin":
                lines += ["", "Generated with [Devin](https://devin.ai)"]
            if tool != "aider":
                trailers.append(f"Co-authored-by: {person.name} <{person.email}>")
        if trailers:
            lines += [""] + trailers
        return ("\n".join(lines) + "\n").encode("utf-8")
