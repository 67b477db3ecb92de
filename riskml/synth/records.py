"""The generator's records: a commit, an incident and a feature branch, as the history holds them."""

from __future__ import annotations

from dataclasses import dataclass, field

from riskml.synth.catalog import Person
from riskml.synth.files import File


@dataclass
class Commit:
    """One commit as generated: identity, provenance, hidden risk, what it touched, its mark."""

    seq: int
    role: str
    author: tuple[str, str]  # name, email as written in the commit
    key: str  # canonical identity (mailmap applied, lower-case)
    time: int
    tz: int
    ctime: int = 0  # committer time when it differs from the author time
    committer: tuple[str, str] | None = None
    subject: str = ""
    ai_class: str = "human"
    ai_tool: str = ""
    ai_lines: int | None = None
    ai_model: str = ""  # the model its markers (or, failing those, its note) name
    # the note's added-line numbers per path (1-based, at this commit), and the parent's mark
    note_lines: list[tuple[str, list[int]]] = field(default_factory=list)
    parent_mark: int = 0
    risk: float = 0.0
    culprit: bool = False
    incident: Incident | None = None
    fix_for: str = ""
    reverts: Commit | None = None
    branch: str = ""
    la: int = 0
    ld: int = 0
    critical: bool = False
    paths: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    mark: int = 0
    # for revert-kind culprits: fid -> (path, File copy before the change, or None if added)
    before: dict[int, tuple[str, File | None]] | None = None
    touched: list[int] = field(default_factory=list)


@dataclass
class Incident:
    """One incident: its culprit, when it opened, how it was resolved (``kind``), its fixes."""

    number: int
    culprit: Commit
    opened: int
    kind: str  # culprit | fix | revert | message
    severity: str
    title: str
    service: str
    fixes: list[Commit] = field(default_factory=list)
    culprit_prefix: int = 40
    list_fix: bool = True

    @property
    def id(self) -> str:
        """The incident's identifier in incidents.csv (``INC-<number>``)."""
        return f"INC-{self.number}"


@dataclass
class Branch:
    """A feature branch: its own copies of the files it works on, merged back later."""

    name: str
    person: Person
    files: dict[int, File]
    base_mark: int
    left: int
    tip_mark: int = 0
    commits: list[Commit] = field(default_factory=list)
    subject: str = ""
