"""A deterministic synthetic git repository with a hidden incident process.

:func:`generate` writes ``out/repo`` (a real git repository built by one ``git fast-import``
stream), ``out/incidents.csv`` (the incidents file of labels.md) and ``out/truth.csv`` (the
ground truth: which commits are culprits, their hidden risk, their real AI provenance).

File contents are real text lines held in memory with the commit that wrote each line, so
every change is a real diff and a fix for an incident changes lines its culprit added
(blame-based SZZ can find the culprit). Which commits become culprits is drawn from a hidden
logistic risk: churn, low familiarity of the author with the touched files, critical paths and
AI-written changes to critical code raise the odds. See docs/synth.md for every decision.

Everything comes from one ``random.Random(seed)``: no clock, environment, user config or set
iteration order reaches the stream, so a seed always gives the same SHAs.
"""

from __future__ import annotations

import bisect
import csv
import heapq
import json
import math
import os
import random
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from riskml.errors import RiskmlError
from riskml.label.incidents import INCIDENT_FIELDS

__all__ = ["SynthResult", "generate", "TRUTH_COLUMNS", "INCIDENT_COLUMNS", "NOTES_REF"]

NOTES_REF = "refs/notes/ai"
INCIDENT_COLUMNS = INCIDENT_FIELDS
TRUTH_COLUMNS = [
    "commit",
    "seq",
    "author_time",
    "commit_time",
    "author_email",
    "role",
    "branch",
    "is_culprit",
    "risk",
    "incident_id",
    "incident_listed",
    "link",
    "fix_for",
    "reverts",
    "ai_provenance",
    "ai_tool",
    "ai_lines",
    "la",
    "ld",
    "critical",
    "files",
    "flags",
]

MARKER_FILE = "synth.json"
_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")
DAY = 86400
HOUR = 3600
WORKDAY = int(9.5 * HOUR)

# Hidden risk model (logistic). Tuned so that about 10 % of eligible commits become culprits.
RISK_INTERCEPT = -5.2
RISK_CHURN = 0.55  # per log1p(lines added + deleted)
RISK_FIRST_TOUCH = 1.6  # share of touched pre-existing files the author never changed
RISK_NOVICE = 1.3  # exp(-earlier commits / max(15, commits / 100)): new authors
RISK_CRITICAL = 0.9  # touches payments/auth/infra/migrations
RISK_AI = 0.3
RISK_AI_CRITICAL = 1.6  # AI-written change to critical code
BOT_RISK = 0.03


@dataclass(frozen=True)
class SynthResult:
    """Where :func:`generate` wrote its outputs."""

    repo: Path
    incidents: Path
    truth: Path


# --------------------------------------------------------------------------------------------
# People and tools


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    tz: int  # minutes east of UTC
    join: float  # fraction of the timeline
    leave: float
    home: tuple[str, ...]
    weight: float = 1.0
    alt_email: str = ""  # a second address, mapped by .mailmap


HUMANS = (
    Person("Alice Nguyen", "alice.nguyen@acme.example", 60, 0.0, 1.01, ("payments", "auth"), 3.0),
    Person("Bob Keller", "bob.keller@acme.example", 60, 0.0, 0.55, ("infra", "migrations"), 2.0),
    Person(
        "Maria Lopez",
        "maria.lopez@acme.example",
        -300,
        0.03,
        1.01,
        ("catalog", "search"),
        2.0,
        "mlopez@old-mail.example",
    ),
    # Look-alikes: people whose names are tool names, or whose address contains "bot".
    Person("Devin Smith", "devin.smith@acme.example", -300, 0.12, 0.9, ("web", "search")),
    Person("Claude Martin", "claude.martin@acme.example", 60, 0.2, 1.01, ("payments", "docs")),
    Person("Sam Okafor", "sam@catbot.example", 0, 0.28, 0.8, ("auth", "infra")),
    Person("Priya Raman", "priya.raman@acme.example", 330, 0.35, 1.01, ("search", "catalog"), 1.5),
    Person("Tom Becker", "tom.becker@acme.example", 60, 0.42, 0.75, ("web", "catalog")),
    Person(
        "Jules Bernard", "jules.bernard@acme.example", 60, 0.5, 1.01, ("migrations", "payments")
    ),
    Person("Lena Fischer", "lena.fischer@acme.example", 60, 0.58, 1.01, ("infra", "auth"), 1.5),
    Person("Omar Haddad", "omar.haddad@acme.example", 120, 0.66, 1.01, ("payments", "web")),
    Person("Kenji Sato", "kenji.sato@acme.example", 540, 0.75, 1.01, ("search", "docs")),
    Person("Zoe Adams", "zoe.adams@acme.example", -480, 0.85, 1.01, ("catalog", "web")),
)

BOTS = {
    "dependabot": ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", 0.0),
    "renovate": ("renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com", 0.4),
    "github-actions": (
        "github-actions[bot]",
        "41898282+github-actions[bot]@users.noreply.github.com",
        0.0,
    ),
}

# tool -> (weight, class); agent identities are (name, email)
AI_STYLES = (
    ("claude", 0.28, "ai_assisted"),
    ("copilot", 0.1, "ai_assisted"),
    ("copilot", 0.1, "ai_agent"),
    ("cursor", 0.06, "ai_assisted"),
    ("cursor", 0.06, "ai_agent"),
    ("aider", 0.05, "ai_assisted"),  # trailer only
    ("aider", 0.05, "ai_agent"),  # aider wrote the commit: author name "<person> (aider)"
    ("codex", 0.05, "ai_assisted"),
    ("codex", 0.05, "ai_agent"),
    ("devin", 0.08, "ai_agent"),
    ("jules", 0.04, "ai_agent"),
    ("openhands", 0.03, "ai_assisted"),
    ("gemini", 0.05, "ai_assisted"),  # generic `Assisted-by: gemini-cli:<model>` trailer
)
AGENTS = {
    "copilot": ("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com"),
    "cursor": ("Cursor Agent", "cursoragent@cursor.com"),
    "codex": (
        "chatgpt-codex-connector[bot]",
        "199175422+chatgpt-codex-connector[bot]@users.noreply.github.com",
    ),
    "devin": (
        "devin-ai-integration[bot]",
        "158243242+devin-ai-integration[bot]@users.noreply.github.com",
    ),
    "jules": (
        "google-labs-jules[bot]",
        "161369871+google-labs-jules[bot]@users.noreply.github.com",
    ),
}
GITHUB = ("GitHub", "noreply@github.com")

CRITICAL_AREAS = ("payments", "auth", "infra", "migrations")
AREAS = ("payments", "auth", "infra", "migrations", "catalog", "search", "web", "docs", "config")
TOPICS = {
    "payments": [
        "refund flow",
        "currency rounding",
        "ledger sync",
        "webhook retries",
        "card vault",
    ],
    "auth": ["token refresh", "session expiry", "password reset", "role checks", "oauth callback"],
    "infra": ["autoscaling", "ingress rules", "node pool", "resource limits", "image build"],
    "migrations": ["orders schema", "customer index", "audit table", "invoice columns"],
    "catalog": ["product import", "price rules", "category tree", "stock levels"],
    "search": ["ranking boost", "query parser", "index refresh", "synonyms"],
    "web": ["cart page", "checkout form", "product grid", "header menu"],
    "docs": ["runbook", "API reference", "onboarding guide", "architecture notes"],
    "config": ["logging levels", "feature flags", "timeouts"],
    "": ["README", "project setup"],
    "tests": ["test fixtures", "flaky tests"],
}
VERBS = ("Add", "Update", "Refactor", "Improve", "Handle", "Support", "Simplify", "Rework", "Tune")
BUGFIX_SUBJECTS = (
    "Fix typo in {t}",
    "Fix off-by-one in {t}",
    "Fix flaky test for {t}",
    "Bugfix: {t} edge case",
)
SUBDIRS = ("api", "handlers", "models", "jobs", "utils", "adapters", "reports")
EXTRA_PKGS = (
    "stripe",
    "sentry-sdk",
    "orjson",
    "tenacity",
    "prometheus-client",
    "psycopg",
    "jinja2",
)
WORDS = (  # noqa: SIM905
    "order amount total fee user token cart item price rate limit retry queue cache session "
    "account ledger invoice customer stock index query score window batch"
).split()
FUNCS = "compute apply check load save merge parse render validate resolve fetch".split()  # noqa: SIM905
PKGS = {
    "requirements.txt": ["requests", "flask", "sqlalchemy", "redis", "celery", "pydantic"],
    "pyproject.toml": ["gunicorn", "structlog", "httpx", "boto3"],
    "web/package.json": ["react", "axios", "lodash", "dayjs"],
}
# (code lines, comment lines) per file kind; {n} makes every line unique, so diffs and blame
# are unambiguous. Comment lines exist because SZZ filters them.
LINE_TEMPLATES = {
    "py": (
        (
            "    {a}_{n} = {f}_{b}({c}, {k})",
            "    if {a}_{n} > {k}:",
            "        return {f}_{a}({b}_{n})",
            '    logger.info("{a} {n}: %s", {b})',
            "    {a}.{b}_{n} = {k}",
            "def {f}_{a}_{n}({b}, {c}):",
        ),
        ("    # {a} {b} handling ({n})",),
    ),
    "sql": (
        (
            "ALTER TABLE {a}s ADD COLUMN {b}_{n} INTEGER DEFAULT {k};",
            "CREATE INDEX idx_{a}_{b}_{n} ON {a}s ({b});",
            "UPDATE {a}s SET {b} = {k} WHERE id = {n};",
        ),
        ("-- {a} {b} backfill ({n})",),
    ),
    "tf": (('  {a}_{n} = "{b}-{k}"', "  {a}_{b}_{n} = {k}"), ("# {a} {b} ({n})",)),
    "yaml": (("  {a}_{n}: {k}", '    {b}_{n}: "{c}-{k}"'), ("# {a} {b} ({n})",)),
    "js": (
        (
            "  const {a}{n} = {f}({b}, {k});",
            "  if ({a}{n} > {k}) return {b};",
            "  {a}.{b}{n} = {k};",
        ),
        ("  // {a} {b} ({n})",),
    ),
    "docker": (("RUN pip install --no-cache-dir {a}{n}=={k}.0", "ENV {a}_{n}={k}"), ()),
    "ini": (("{a}_{b}_{n} = {k}",), ()),
    "md": (
        (
            "The {a} {b} step {n} runs after the {c} check.",
            "- {a}: {b} ({n})",
            "Set `{a}_{n}` to {k} before the {b} job.",
        ),
        (),
    ),
}

INCIDENT_TITLES = {
    "payments": ["Double charges on checkout", "Refunds stuck in pending", "Ledger mismatch"],
    "auth": ["Users logged out unexpectedly", "Login failures for SSO", "Token refresh errors"],
    "infra": ["Pods crash-looping after deploy", "Elevated 5xx at ingress", "Autoscaler flapping"],
    "migrations": ["Migration locked orders table", "Missing column in production"],
    "catalog": ["Wrong prices on product pages", "Product import failing"],
    "search": ["Search returns empty results", "Search latency spike"],
    "web": ["Checkout page blank in Safari", "Cart total shows NaN"],
    "docs": ["Runbook step caused outage"],
    "config": ["Logging flood filled disks", "Timeouts too short after config change"],
    "": ["Build broken after dependency change"],
    "tests": ["CI pipeline red on main"],
}


# --------------------------------------------------------------------------------------------
# Files


def _kind(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name == "Dockerfile":
        return "docker"
    if path in PKGS:
        return "deps"
    if name == ".mailmap":
        return "fixed"
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    return {
        "py": "py",
        "sql": "sql",
        "tf": "tf",
        "yaml": "yaml",
        "yml": "yaml",
        "js": "js",
        "md": "md",
        "toml": "ini",
        "ini": "ini",
        "png": "png",
    }.get(ext, "md")


def _area(path: str) -> str:
    first = path.split("/", 1)[0] if "/" in path else ""
    if first == ".github":
        return "infra"
    return first


def _critical(path: str) -> bool:
    return _area(path) in CRITICAL_AREAS or path.endswith((".sql", "Dockerfile"))


def _is_code(text: str) -> bool:
    s = text.strip()
    return bool(s) and not s.startswith(("#", "//", "--"))


class File:
    """One tracked file: its text lines with the commit (sequence number) that wrote each."""

    __slots__ = ("fid", "path", "kind", "text", "origin", "data")

    def __init__(self, fid: int, path: str) -> None:
        self.fid = fid
        self.path = path
        self.kind = _kind(path)
        self.text: list[str] = []
        self.origin: list[int] = []
        self.data: bytes = b""

    @property
    def binary(self) -> bool:
        return self.kind == "png"

    def copy(self) -> File:
        other = File(self.fid, self.path)
        other.text = list(self.text)
        other.origin = list(self.origin)
        other.data = self.data
        return other

    def content(self) -> bytes:
        if self.binary:
            return self.data
        return ("\n".join(self.text) + "\n").encode("utf-8") if self.text else b""


# --------------------------------------------------------------------------------------------
# Commits and incidents


@dataclass
class Commit:
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
        return f"INC-{self.number}"


@dataclass
class Branch:
    name: str
    person: Person
    files: dict[int, File]
    base_mark: int
    left: int
    tip_mark: int = 0
    commits: list[Commit] = field(default_factory=list)
    subject: str = ""


class _FastImport:
    """One ``git fast-import`` process fed as a stream; ``get-mark`` answers SHAs on the way."""

    def __init__(self, repo: Path, env: dict[str, str], marks: Path, errlog: Path) -> None:
        self._err = open(errlog, "wb")  # noqa: SIM115 - closed in finish()
        self.proc = subprocess.Popen(
            [
                "git",
                "-C",
                str(repo),
                "-c",
                "pack.compression=1",  # ~15 % less CPU for ~5 % more disk; SHAs are unaffected
                "fast-import",
                "--quiet",
                "--done",
                "--date-format=raw",
                f"--export-marks={marks}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=env,
        )
        self.errlog = errlog
        self.buf: list[bytes] = []
        self.size = 0

    def write(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.buf.append(chunk)
            self.size += len(chunk)
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(b"".join(self.buf))
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._fail()
        self.buf.clear()
        self.size = 0

    def sha(self, mark: int) -> str:
        assert self.proc.stdout is not None
        self.write(f"get-mark :{mark}\n".encode())
        self.flush()
        line = self.proc.stdout.readline().decode().strip()
        if len(line) != 40:
            self._fail()
        return line

    def finish(self) -> None:
        self.write(b"done\n")
        self.flush()
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait()
        self._err.close()
        if code != 0:
            self._fail()

    def _fail(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._err.close()
        msg = self.errlog.read_text("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"git fast-import failed: {msg[0] if msg else 'no output'}")


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _tzs(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    m = abs(minutes)
    return f"{sign}{m // 60:02d}{m % 60:02d}"


# --------------------------------------------------------------------------------------------
# The generator


class _Generator:
    def __init__(self, commits: int, seed: int, start: date) -> None:
        self.rng = random.Random(seed)
        self.total = commits
        self.start = start
        self.span_days = min(1460.0, max(120.0, commits * 0.55))
        workdays = self.span_days * 5 / 7
        self.mean_gap = workdays * WORKDAY / commits
        # "new to the codebase" in commits grows with the history, so the base rate holds steady
        self.novice_scale = max(15.0, commits / 100)
        self.wclock = 0.0
        self.files: dict[int, File] = {}  # main line's files
        self.by_path: dict[str, int] = {}
        self.area_fids: dict[str, list[int]] = {}  # main-line files by area (may hold deleted)
        self.next_fid = 0
        self.uid = 0
        self.commits: list[Commit] = []
        self.produced = 0
        self.reserved = 0  # branch commits scheduled but not yet made
        self.mark = 0
        self.main_mark = 0
        self.locked: dict[int, str] = {}  # fid -> why (branch name, or "revert")
        self.pending: set[int] = set()  # seqs of culprits awaiting a fix: their lines are kept
        self.fixes: list[tuple[int, int, Incident]] = []  # heap (due, number, incident)
        self.events: list[tuple[int, int, str, Branch]] = []  # heap (time, n, kind, branch)
        self.nevents = 0
        self.branches = 0
        self.incidents: list[Incident] = []
        self.person_commits: dict[str, int] = {}
        self.person_files: dict[str, set[int]] = {}
        self.seen: set[str] = set()
        self.notes: list[tuple[int, str]] = []

    # ---- time
    def _local(self, w: float) -> int:
        """Local wall-clock seconds (naive epoch) of working-time offset ``w``."""
        k, within = divmod(int(w), WORKDAY)
        weeks, rem = divmod(k, 5)
        d = self.start + timedelta(days=7 * weeks)
        while d.weekday() >= 5:
            d += timedelta(days=1)
        for _ in range(rem):
            d += timedelta(days=1)
            while d.weekday() >= 5:
                d += timedelta(days=1)
        base = int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())
        return base + 9 * HOUR + within

    def _slot_time(self) -> int:
        """Local wall-clock time of the next main-line slot: mostly working hours."""
        local = self._local(self.wclock)
        r = self.rng.random()
        if r < 0.08:
            local += self.rng.randint(10 * HOUR, 14 * HOUR)  # evening or night
        elif r < 0.1:  # the coming weekend
            weekday = datetime.fromtimestamp(local, UTC).weekday()
            local += ((5 - weekday) % 7 + self.rng.randint(0, 1)) * DAY
        return local

    def progress(self) -> float:
        return self.produced / self.total

    # ---- content
    def _line(self, kind: str) -> str:
        """One new line of code or text for a file of ``kind``, unique by its serial number."""
        self.uid += 1
        rnd = self.rng.random
        codes, comments = LINE_TEMPLATES.get(kind, LINE_TEMPLATES["md"])
        pool = comments if comments and rnd() < 0.08 else codes
        return pool[int(rnd() * len(pool))].format(
            n=self.uid,
            a=WORDS[int(rnd() * len(WORDS))],
            b=WORDS[int(rnd() * len(WORDS))],
            c=WORDS[int(rnd() * len(WORDS))],
            f=FUNCS[int(rnd() * len(FUNCS))],
            k=1 + int(rnd() * 99),
        )

    def _png(self) -> bytes:
        n = self.rng.randint(200, 1500)
        return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + self.rng.randbytes(n) + b"\x00IEND"

    def _new_file(self, path: str, seq: int, files: dict[int, File], lines: int) -> File:
        f = File(self.next_fid, path)
        self.next_fid += 1
        if f.binary:
            f.data = self._png()
        else:
            f.text = [self._line(f.kind) for _ in range(lines)]
            f.origin = [seq] * lines
        files[f.fid] = f
        self.by_path[path] = f.fid
        if files is self.files:
            self.area_fids.setdefault(_area(path), []).append(f.fid)
        return f

    def _deps_file(self, path: str, seq: int) -> File:
        f = File(self.next_fid, path)
        self.next_fid += 1
        versions = {p: (self.rng.randint(1, 5), self.rng.randint(0, 20), 0) for p in PKGS[path]}
        if path == "requirements.txt":
            f.text = [self._dep_line(path, p, v) for p, v in versions.items()]
        elif path == "pyproject.toml":
            f.text = ["[project]", 'name = "shop"', 'version = "1.0.0"', "dependencies = ["]
            f.text += [self._dep_line(path, p, v) for p, v in versions.items()]
            f.text += ["]", "", "[tool.pytest.ini_options]", 'testpaths = ["tests"]']
        else:
            f.text = ["{", '  "name": "shop-web",', '  "private": true,', '  "dependencies": {']
            f.text += [self._dep_line(path, p, v) for p, v in versions.items()]
            f.text += ['    "shop-ui": "file:./ui"', "  }", "}"]
        f.origin = [seq] * len(f.text)
        self.files[f.fid] = f
        self.by_path[path] = f.fid
        return f

    @staticmethod
    def _dep_pkg(path: str, line: str) -> str:
        """The package a dependency line names ("" for other lines)."""
        if path == "requirements.txt":
            return line.split("==", 1)[0] if "==" in line else ""
        if '"' in line and _VERSION_RE.search(line):
            return line.split('"')[1].split(">=")[0]
        return ""

    @staticmethod
    def _dep_line(path: str, pkg: str, v: tuple[int, int, int]) -> str:
        ver = f"{v[0]}.{v[1]}.{v[2]}"
        if path == "requirements.txt":
            return f"{pkg}=={ver}"
        if path == "pyproject.toml":
            return f'    "{pkg}>={ver}",'
        return f'    "{pkg}": "^{ver}",'

    def _edit(self, f: File, seq: int, size: int, mode: str = "") -> tuple[int, int]:
        """Change ``size``-ish lines of a text file in place; returns (added, deleted)."""
        r = self.rng
        n = len(f.text)
        if not mode:
            if n < 8:
                mode = "insert"
            elif n > 120:
                mode = r.choices(("insert", "replace", "delete"), (0.1, 0.5, 0.4))[0]
            else:
                mode = r.choices(("insert", "replace", "delete"), (0.5, 0.38, 0.12))[0]
        if mode in ("replace", "delete") and n > 0:
            # files past 120 lines stop growing, so blobs (and fast-import) stay small
            want = size if mode == "delete" or n > 120 else max(1, size // 2)
            k = max(1, min(n - 1 if n > 1 else 1, want))
            for _ in range(6):
                pos = r.randint(0, n - k)
                if not any(o in self.pending for o in f.origin[pos : pos + k]):
                    break
            else:
                mode, pos, k = "insert", r.randint(0, n), 0
            del f.text[pos : pos + k]
            del f.origin[pos : pos + k]
            added = 0 if mode == "delete" else size
        else:
            pos, k, added = r.randint(0, n), 0, size
        new = [self._line(f.kind) for _ in range(added)]
        f.text[pos:pos] = new
        f.origin[pos:pos] = [seq] * added
        return added, k

    # ---- identities and risk
    def _active(self, t_frac: float) -> list[Person]:
        people = [p for p in HUMANS if p.join <= t_frac < p.leave]
        return people or [HUMANS[0]]

    def _pick_person(self) -> Person:
        people = self._active(self.progress())
        return self.rng.choices(people, [p.weight for p in people])[0]

    def _risk(self, c: Commit, touched_before: list[int]) -> float:
        churn = c.la + c.ld
        known = self.person_files.get(c.key, set())
        if touched_before:
            first = sum(1 for fid in touched_before if fid not in known) / len(touched_before)
        else:
            first = 0.5
        novice = math.exp(-self.person_commits.get(c.key, 0) / self.novice_scale)
        ai = c.ai_class in ("ai_agent", "ai_assisted")
        z = (
            RISK_INTERCEPT
            + RISK_CHURN * math.log1p(churn)
            + RISK_FIRST_TOUCH * first
            + RISK_NOVICE * novice
            + RISK_CRITICAL * c.critical
            + RISK_AI * ai
            + RISK_AI_CRITICAL * (ai and c.critical)
        )
        return 1 / (1 + math.exp(-z))

    def _remember(self, c: Commit) -> None:
        self.person_commits[c.key] = self.person_commits.get(c.key, 0) + 1
        self.person_files.setdefault(c.key, set()).update(c.touched)

    # ---- messages
    def _message(self, c: Commit, person: Person | None, body: str = "") -> bytes:
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
            elif tool == "copilot":
                trailers.append(
                    "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>"
                )
            elif tool == "cursor":
                trailers.append("Co-authored-by: Cursor Agent <cursoragent@cursor.com>")
            elif tool == "aider":
                model = r.choice(("gpt-4o", "claude-3-5-sonnet", "deepseek-chat"))
                trailers.append(f"Co-authored-by: aider ({model}) <aider@aider.chat>")
            elif tool == "codex":
                trailers.append("Co-authored-by: Codex <codex@openai.com>")
            elif tool == "openhands":
                trailers.append("Co-authored-by: openhands <openhands@all-hands.dev>")
            else:
                trailers.append("Assisted-by: gemini-cli:gemini-2.5-pro")
        elif cls == "ai_agent" and person is not None:
            if tool == "aider":
                model = r.choice(("gpt-4o", "claude-3-5-sonnet", "deepseek-chat"))
                trailers.append(f"Co-authored-by: aider ({model}) <noreply@aider.chat>")
            elif tool == "devin":
                lines += ["", "Generated with [Devin](https://devin.ai)"]
            if tool != "aider":
                trailers.append(f"Co-authored-by: {person.name} <{person.email}>")
        if trailers:
            lines += [""] + trailers
        return ("\n".join(lines) + "\n").encode("utf-8")

    def _author_for(self, person: Person, c: Commit) -> None:
        """Set the commit's written identity and AI provenance from the person and the tool."""
        email = person.email
        if person.alt_email and self.rng.random() < 0.35:
            email = person.alt_email
        c.author = (person.name, email)
        c.key = person.email.lower()
        c.tz = person.tz
        p_ai = 0.4 * max(0.0, self.progress() - 0.15)  # adoption grows over the years
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

    # ---- emitting
    def _emit(
        self,
        c: Commit,
        message: bytes,
        ops: list[bytes],
        ref: str = "refs/heads/main",
        frm: int = 0,
        merge: int = 0,
        committer: tuple[str, str] | None = None,
        ctime: int | None = None,
    ) -> None:
        self.mark += 1
        c.mark = self.mark
        name, email = c.author
        committer = committer or c.committer
        ctime = ctime or c.ctime
        cname, cemail = committer or c.author
        tz = _tzs(c.tz)
        head = [
            f"commit {ref}\nmark :{c.mark}\n".encode(),
            f"author {name} <{email}> {c.time} {tz}\n".encode(),
            f"committer {cname} <{cemail}> {ctime or c.time} {tz}\n".encode(),
            _data(message),
        ]
        if frm:
            head.append(f"from :{frm}\n".encode())
        if merge:
            head.append(f"merge :{merge}\n".encode())
        self.fi.write(*head, *ops, b"\n")

    @staticmethod
    def _op_m(f: File) -> bytes:
        return f"M 100644 inline {f.path}\n".encode() + _data(f.content())

    # ---- commit kinds
    def _new_commit(self, role: str, time: int, branch: str = "") -> Commit:
        c = Commit(seq=len(self.commits), role=role, author=("", ""), key="", time=time, tz=0)
        c.branch = branch
        self.commits.append(c)
        return c

    def initial(self) -> None:
        founder = HUMANS[0]
        c = self._new_commit("initial", self._local(0) - founder.tz * 60)
        c.author, c.key, c.tz = (founder.name, founder.email), founder.email, founder.tz
        c.subject = "Initial import of the shop monolith"
        layout = {
            "payments": ["processor.py", "refunds.py", "ledger.py", "currency.py", "webhooks.py"],
            "auth": ["login.py", "tokens.py", "sessions.py", "permissions.py"],
            "infra": [
                "terraform/main.tf",
                "terraform/variables.tf",
                "k8s/deployment.yaml",
                "k8s/service.yaml",
                "Dockerfile",
            ],
            "migrations": ["0001_init.sql", "0002_orders.sql"],
            "catalog": ["models.py", "views.py", "pricing.py"],
            "search": ["index.py", "query.py", "ranking.py"],
            "web": ["src/app.js", "src/cart.js", "static/logo.png"],
            "docs": ["index.md", "runbook.md", "api.md", "img/architecture.png"],
            "tests": ["test_payments.py", "test_auth.py", "test_catalog.py", "test_search.py"],
            "config": ["settings.toml", "logging.ini"],
            ".github": ["workflows/ci.yml"],
        }
        for area, names in layout.items():
            for name in names:
                self._new_file(f"{area}/{name}", c.seq, self.files, self.rng.randint(12, 50))
        self._new_file("README.md", c.seq, self.files, 14)
        self._new_file("CHANGELOG.md", c.seq, self.files, 3)
        for path in PKGS:
            self._deps_file(path, c.seq)
        mm = File(self.next_fid, ".mailmap")
        self.next_fid += 1
        alias = [p for p in HUMANS if p.alt_email]
        mm.text = [f"{p.name} <{p.email}> <{p.alt_email}>" for p in alias]
        mm.origin = [c.seq] * len(mm.text)
        self.files[mm.fid] = mm
        self.by_path[mm.path] = mm.fid
        ops = []
        for f in self.files.values():
            ops.append(self._op_m(f))
            if not f.binary:
                c.la += len(f.text)
        c.paths = [f.path for f in self.files.values()]
        c.touched = list(self.files)
        c.critical = True
        self._emit(c, (c.subject + "\n").encode(), ops)
        self.main_mark = c.mark
        self._remember(c)

    def _candidates(self, area: str) -> list[File]:
        """Main-line text files of ``area`` that a commit may edit now."""
        out = []
        for fid in self.area_fids.get(area, ()):
            f = self.files.get(fid)
            if f is not None and fid not in self.locked and f.kind not in ("deps", "fixed", "png"):
                out.append(f)
        return out

    def _size(self) -> int:
        return max(1, min(300, int(self.rng.lognormvariate(2.0, 1.1))))

    def normal(self, time: int, person: Person, branch: Branch | None = None) -> Commit:
        r = self.rng
        c = self._new_commit("normal", time, branch.name if branch else "")
        self._author_for(person, c)
        files = branch.files if branch else self.files
        ops: list[bytes] = []
        touched_before: list[int] = []
        touched: list[File] = []
        if branch:
            pool = [f for f in files.values() if not f.binary]
            area = _area(pool[0].path)
            chosen = r.sample(pool, min(len(pool), r.choice((1, 1, 2))))
        else:
            homes = person.home
            novice = self.person_commits.get(c.key, 0) < 20
            if r.random() < (0.55 if novice else 0.8):
                area = r.choice(homes)
            else:
                area = r.choice(AREAS + ("",))
            pool = self._candidates(area)
            nfiles = min(len(pool), 1 + int(r.expovariate(1.1)))
            chosen = r.sample(pool, nfiles) if pool else []
            if area in ("payments", "auth", "catalog", "search") and r.random() < 0.35:
                test = self.by_path.get(f"tests/test_{area}.py")
                if test is not None and test not in self.locked and files[test] not in chosen:
                    chosen.append(files[test])
        sweep = not branch and r.random() < 0.015  # a small edit across many services
        if sweep:
            pool = [f for a in AREAS for f in self._candidates(a)]
            chosen = r.sample(pool, min(len(pool), r.randint(8, 25)))
        bugfix = not sweep and not branch and r.random() < 0.08 and bool(chosen)
        late = self.produced >= self.total // 3
        if not branch:
            c.before = {f.fid: (f.path, f.copy()) for f in chosen}
        for f in chosen:
            touched_before.append(f.fid)
            a, d = self._edit(
                f,
                c.seq,
                r.randint(1, 3) if sweep else self._size(),
                "replace" if bugfix or sweep else "",
            )
            c.la += a
            c.ld += d
            touched.append(f)
        new_area = area if area not in ("", "config") else "catalog"
        want_new = r.random() < (0.35 if branch and not branch.commits else 0.08)
        if not chosen or want_new or (area == "migrations" and r.random() < 0.35):
            f = self._new_file(self._new_path(new_area), c.seq, files, r.randint(5, 40))
            c.la += len(f.text)
            touched.append(f)
            c.flags.append("new_file")
            if c.before is not None:
                c.before[f.fid] = (f.path, None)
            if branch:
                self.locked[f.fid] = branch.name
        want_binary = area in ("web", "docs") and r.random() < 0.12
        if not branch and (want_binary or (late and "binary" not in self.seen)):
            png = "web/static/logo.png" if area == "web" else "docs/img/architecture.png"
            f = files[self.by_path[png]]
            if f.fid not in self.locked:
                if c.before is not None:
                    c.before[f.fid] = (f.path, f.copy())
                f.data = self._png()
                touched.append(f)
                touched_before.append(f.fid)
                c.flags.append("binary")
                self.seen.add("binary")
        if not branch and r.random() < 0.03:
            self._add_dependency(c, touched, touched_before)
        ops += [self._op_m(f) for f in touched]
        c.paths = [f.path for f in touched]
        c.touched = [f.fid for f in touched]
        if not branch:
            ops += self._maybe_rename_delete(c, area)
        c.critical = any(_critical(p) for p in c.paths)
        topic = r.choice(TOPICS.get(area, TOPICS[""]))
        if sweep:
            c.subject = f"Rename {r.choice(WORDS)} helpers across services"
            c.flags.append("sweep")
        elif bugfix:
            c.role = "bugfix"
            c.subject = r.choice(BUGFIX_SUBJECTS).format(t=topic)
        else:
            c.subject = f"{r.choice(VERBS)} {topic}"
            if c.ai_tool == "aider" and r.random() < 0.5:
                c.subject = "aider: " + c.subject
        body = ""
        if r.random() < 0.4:
            body = f"The {topic} code path now covers {r.choice(WORDS)} {r.choice(WORDS)} cases."
        message = self._message(c, person, body)
        if (
            not branch
            and c.ai_class == "human"
            and "non_utf8" not in self.seen
            and self.produced >= self.total // 7
        ):
            self.seen.add("non_utf8")
            c.flags.append("non_utf8")
            c.subject = "Corrigé l'arrondi des prix (café crème)"
            message = (c.subject + "\n\nRéglé avec l'équipe à Zürich.\n").encode("latin-1")
        self._finish(c, touched_before)
        if c.ai_class != "human" and c.la and r.random() < 0.5:
            c.ai_lines = max(1, int(c.la * r.uniform(0.5, 1.0)))
            c.flags.append("notes")
        if branch:
            frm = branch.base_mark if not branch.commits else 0
            self._emit(c, message, ops, ref=f"refs/heads/{branch.name}", frm=frm)
            branch.tip_mark = c.mark
            branch.commits.append(c)
        else:
            if c.ai_class == "human" and r.random() < 0.15:  # squash-merged in the web UI
                c.committer = GITHUB
                c.ctime = c.time + r.randint(600, 2 * DAY)
            self._emit(c, message, ops)
            self.main_mark = c.mark
        return c

    def _add_dependency(self, c: Commit, touched: list[File], before: list[int]) -> None:
        f = self.files[self.by_path["requirements.txt"]]
        have = {self._dep_pkg(f.path, line) for line in f.text}
        fresh = [p for p in EXTRA_PKGS if p not in have]
        if f.fid in self.locked or not fresh:
            return
        if c.before is not None:
            c.before[f.fid] = (f.path, f.copy())
        version = (self.rng.randint(0, 4), self.rng.randint(0, 30), self.rng.randint(0, 9))
        f.text.append(self._dep_line(f.path, self.rng.choice(fresh), version))
        f.origin.append(c.seq)
        c.la += 1
        touched.append(f)
        before.append(f.fid)
        c.flags.append("dependency")

    def _new_path(self, area: str) -> str:
        self.uid += 1
        n, w = self.uid, self.rng.choice(WORDS)
        # new modules land in a few sub-packages, as in real code (and trees stay small)
        sub = self.rng.choice(SUBDIRS)
        if area == "migrations":
            return f"migrations/{n:05d}_{w}.sql"
        if area == "infra":
            return self.rng.choice((f"infra/k8s/{sub}/{w}-{n}.yaml", f"infra/terraform/{w}_{n}.tf"))
        if area == "web":
            return f"web/src/{sub}/{w}{n}.js"
        if area == "docs":
            return f"docs/{sub}/{w}-{n}.md"
        if area == "tests":
            return f"tests/{sub}/test_{w}_{n}.py"
        return f"{area}/{sub}/{w}_{n}.py"

    def _maybe_rename_delete(self, c: Commit, area: str) -> list[bytes]:
        r = self.rng
        ops: list[bytes] = []
        late = self.produced >= self.total // 3
        want_rename = r.random() < 0.02 or (late and "rename" not in self.seen)
        want_delete = r.random() < 0.012 or (late and "delete" not in self.seen)
        if want_rename:
            pool = [
                f
                for f in self._candidates(area if area else "catalog")
                if f.path not in c.paths and f.kind == "py"
            ]
            if pool:
                f = r.choice(pool)
                old = f.path
                d, name = old.rsplit("/", 1)
                new = f"{d}/core/{name}" if "/core/" not in old else f"{d}/legacy_{name}"
                if new not in self.by_path:
                    del self.by_path[old]
                    f.path = new
                    self.by_path[new] = f.fid
                    ops.append(f"R {old} {new}\n".encode())
                    c.paths.append(new)
                    c.touched.append(f.fid)
                    c.flags.append("rename")
                    self.seen.add("rename")
        if want_delete:
            pool = [
                f
                for f in self._candidates(area if area not in CRITICAL_AREAS else "docs")
                if f.path not in c.paths
                and not any(o in self.pending for o in f.origin)
                and f.path.count("/") >= 1
                and len(self._candidates(_area(f.path))) > 3
            ]
            if pool:
                f = r.choice(pool)
                ops.append(f"D {f.path}\n".encode())
                c.ld += len(f.text)
                c.paths.append(f.path)
                del self.files[f.fid]
                del self.by_path[f.path]
                c.flags.append("delete")
                self.seen.add("delete")
        return ops

    def _finish(self, c: Commit, touched_before: list[int]) -> None:
        """Risk, culprit draw and incident for an ordinary commit, then remember authorship."""
        if c.role == "bot":
            c.risk = BOT_RISK
        else:
            c.risk = self._risk(c, touched_before)
        c.touched = list(dict.fromkeys(c.touched + touched_before))
        self._remember(c)

    def _culprit_draw(self, c: Commit, files: dict[int, File]) -> bool:
        """Decide whether ``c`` caused an incident; it must have added code lines that survive."""
        if self.rng.random() >= c.risk:
            return False
        for fid in c.touched:
            f = files.get(fid)
            if f is None or f.binary:
                continue
            if any(o == c.seq and _is_code(t) for t, o in zip(f.text, f.origin, strict=True)):
                return True
        return False

    def _revertible(self, c: Commit) -> bool:
        """A revert restores whole files, so no other culprit may await a fix in them."""
        if c.before is None or any(f in c.flags for f in ("rename", "delete")):
            return False
        for fid in c.before:
            f = self.files.get(fid)
            if (
                f is None
                or f.path == "CHANGELOG.md"
                or any(o != c.seq and o in self.pending for o in f.origin)
            ):
                return False
        return True

    def bot(self, time: int) -> Commit:
        r = self.rng
        progress = self.progress()
        names = [n for n, v in BOTS.items() if v[2] <= progress]
        which = r.choice(names)
        name, email, _ = BOTS[which]
        c = self._new_commit("bot", time)
        c.author, c.key, c.tz, c.ai_class = (name, email), email, 0, "bot"
        if which == "github-actions":
            f = self.files[self.by_path["CHANGELOG.md"]]
            before = {f.fid: (f.path, f.copy())}
            ver = f"1.{len(self.commits) // 50}.{len(self.commits) % 50}"
            line = f"- Release {ver} ({datetime.fromtimestamp(time, UTC):%Y-%m-%d})"
            f.text.insert(0, line)
            f.origin.insert(0, c.seq)
            c.la = 1
            c.subject = f"chore(release): update CHANGELOG for {ver} [skip ci]"
            touched = [f]
        else:
            path = r.choice(list(PKGS))
            f = self.files[self.by_path[path]]
            if f.fid in self.locked:
                path, f = "requirements.txt", self.files[self.by_path["requirements.txt"]]
            if f.fid in self.locked:
                return self._changelog_note(c)
            before = {f.fid: (f.path, f.copy())}
            lines = [
                k
                for k, line in enumerate(f.text)
                if self._dep_pkg(path, line) and f.origin[k] not in self.pending
            ]
            if not lines:
                return self._changelog_note(c)
            i = r.choice(lines)
            pkg = self._dep_pkg(path, f.text[i])
            old = tuple(int(x) for x in _VERSION_RE.search(f.text[i]).groups())
            new = (old[0], old[1] + 1, 0) if r.random() < 0.3 else (old[0], old[1], old[2] + 1)
            f.text[i] = self._dep_line(path, pkg, new)
            f.origin[i] = c.seq
            c.la = c.ld = 1
            so, sn = ".".join(map(str, old)), ".".join(map(str, new))
            if which == "dependabot":
                where = "/web" if path.startswith("web/") else "/"
                c.subject = f"Bump {pkg} from {so} to {sn} in {where}"
                body = f"Bumps {pkg} from {so} to {sn}.\n\nSigned-off-by: dependabot[bot] <support@github.com>"
            else:
                c.subject = f"chore(deps): update dependency {pkg} to v{sn}"
                body = ""
            touched = [f]
        c.paths = [f.path for f in touched]
        c.touched = [f.fid for f in touched]
        c.critical = False
        message = c.subject + ("\n\n" + body if which != "github-actions" and body else "") + "\n"
        self._finish(c, c.touched)
        self._emit(c, message.encode(), [self._op_m(f) for f in touched])
        self.main_mark = c.mark
        if self._culprit_draw(c, self.files):
            c.before = before
            self.schedule(c, c.time, self._revertible(c))
        return c

    def _changelog_note(self, c: Commit) -> Commit:
        # every dependency file is locked: the bot writes the changelog instead
        f = self.files[self.by_path["CHANGELOG.md"]]
        f.text.insert(0, f"- Maintenance {c.seq}")
        f.origin.insert(0, c.seq)
        c.la, c.subject = 1, "chore: maintenance note [skip ci]"
        c.paths, c.touched = [f.path], [f.fid]
        self._finish(c, c.touched)
        self._emit(c, (c.subject + "\n").encode(), [self._op_m(f)])
        self.main_mark = c.mark
        return c

    # ---- incidents
    def schedule(self, c: Commit, base_time: int, revertible: bool) -> None:
        r = self.rng
        kind = r.choices(("culprit", "fix", "revert", "message"), (0.3, 0.25, 0.2, 0.25))[0]
        if kind == "revert" and not revertible:
            kind = r.choice(("fix", "message"))
        opened = base_time + int(r.uniform(0.3, 20) * DAY)
        due = opened + int(r.uniform(2 * HOUR, 4 * DAY))
        area = _area(c.paths[0]) if c.paths else ""
        for p in c.paths:
            if _critical(p):
                area = _area(p) if _area(p) in CRITICAL_AREAS else "infra"
                break
        if c.critical:
            sev = r.choices(("SEV1", "SEV2", "SEV3", "SEV4"), (0.2, 0.35, 0.3, 0.15))[0]
        else:
            sev = r.choices(("SEV1", "SEV2", "SEV3", "SEV4"), (0.03, 0.15, 0.42, 0.4))[0]
        inc = Incident(
            number=1001 + len(self.incidents),
            culprit=c,
            opened=opened,
            kind=kind,
            severity=sev,
            title=r.choice(INCIDENT_TITLES.get(area, INCIDENT_TITLES[""])),
            service=area or "shop",
            culprit_prefix=40 if r.random() < 0.5 else r.randint(7, 12),
            list_fix=kind == "fix" or (kind in ("culprit", "revert") and r.random() < 0.5),
        )
        self.incidents.append(inc)
        c.culprit = True
        c.incident = inc
        if kind == "revert":
            for fid in c.before or {}:
                self.locked[fid] = "revert"
        else:
            c.before = None
            self.pending.add(c.seq)
        heapq.heappush(self.fixes, (due, inc.number, inc))

    def fix(self, time: int, inc: Incident) -> Commit:
        if inc.kind == "revert":
            return self._revert(time, inc)
        r = self.rng
        culprit = inc.culprit
        people = self._active(self.progress())
        author = next((p for p in people if p.email == culprit.key), None)
        if author is None or r.random() < 0.4:
            author = r.choice(people)
        c = self._new_commit("fix", time)
        c.author, c.key, c.tz = (author.name, author.email), author.email, author.tz
        c.fix_for = inc.id
        holders = []  # the culprit's files that still hold code lines it wrote
        for fid in culprit.touched:
            f = self.files.get(fid)
            if f is None or f.binary:
                continue
            idx = [i for i, o in enumerate(f.origin) if o == culprit.seq and _is_code(f.text[i])]
            if idx:
                holders.append((f, idx))
        touched: list[File] = []
        for f, idx in holders[: r.choice((1, 1, 2))]:
            start = r.choice(idx)
            k = 1
            while k < 3 and start + k in idx and r.random() < 0.6:
                k += 1
            replace = r.random() < 0.75
            added = r.randint(1, 3) if replace else 0
            if f.kind == "deps":  # pin the bumped package to a patched release
                k, added = 1, 1
                pkg = self._dep_pkg(f.path, f.text[start])
                v = _VERSION_RE.search(f.text[start])
                ver = (int(v[1]), int(v[2]), int(v[3]) + 1) if v else (1, 0, 0)
                new = [self._dep_line(f.path, pkg, ver)] if pkg else [self._line("ini")]
            else:
                new = [self._line(f.kind) for _ in range(added)]
            del f.text[start : start + k]
            del f.origin[start : start + k]
            f.text[start:start] = new
            f.origin[start:start] = [c.seq] * added
            c.la += added
            c.ld += k
            touched.append(f)
        if not touched:
            c.flags.append("no_culprit_lines")
        area = _area(culprit.paths[0]) if culprit.paths else ""
        test = self.by_path.get(f"tests/test_{area}.py")
        if test is not None and test not in self.locked and r.random() < 0.5:
            a, d = self._edit(self.files[test], c.seq, r.randint(3, 12))
            c.la, c.ld = c.la + a, c.ld + d
            touched.append(self.files[test])
        if not touched:
            f = self.files[self.by_path["CHANGELOG.md"]]
            f.text.insert(0, f"- Hotfix for {inc.id}")
            f.origin.insert(0, c.seq)
            c.la += 1
            touched.append(f)
        topic = r.choice(TOPICS.get(area, TOPICS[""]))
        body = ""
        if inc.kind == "message":
            if r.random() < 0.5:
                c.subject = f"Fix {topic} regression ({inc.id})"
            else:
                c.subject = f"Hotfix {topic}"
                body = f"Resolves {inc.id}: {inc.title.lower()}."
        else:
            c.subject = r.choice((f"Fix {topic} bug", f"Hotfix: {topic} failure", f"Patch {topic}"))
            if inc.kind == "culprit" and r.random() < 0.3:
                body = f"Follow-up to {inc.id}."
        c.paths = [f.path for f in touched]
        c.touched = [f.fid for f in touched]
        c.critical = any(_critical(p) for p in c.paths)
        self.pending.discard(culprit.seq)
        self._remember(c)
        self._emit(c, self._message(c, None, body), [self._op_m(f) for f in touched])
        self.main_mark = c.mark
        inc.fixes.append(c)
        return c

    def _revert(self, time: int, inc: Incident) -> Commit:
        r = self.rng
        culprit = inc.culprit
        people = self._active(self.progress())
        author = r.choice(people)
        c = self._new_commit("revert", time)
        c.author, c.key, c.tz = (author.name, author.email), author.email, author.tz
        c.fix_for = inc.id
        c.reverts = culprit
        ops: list[bytes] = []
        for fid, (_path, before) in (culprit.before or {}).items():
            cur = self.files.get(fid)
            if before is None:
                if cur is not None:
                    ops.append(f"D {cur.path}\n".encode())
                    c.ld += len(cur.text)
                    del self.files[fid]
                    del self.by_path[cur.path]
                    c.paths.append(cur.path)
            elif cur is not None:
                # the file is locked since the culprit, so it holds exactly the culprit's version
                added_by_culprit = sum(1 for o in cur.origin if o == culprit.seq)
                c.ld += added_by_culprit
                c.la += len(before.text) - (len(cur.text) - added_by_culprit)
                cur.text, cur.origin, cur.data = list(before.text), list(before.origin), before.data
                ops.append(self._op_m(cur))
                c.paths.append(cur.path)
            self.locked.pop(fid, None)
        c.touched = [fid for fid in (culprit.before or {}) if fid in self.files]
        c.critical = any(_critical(p) for p in c.paths)
        sha = self.fi.sha(culprit.mark)
        c.subject = f'Revert "{culprit.subject}"'
        body = f"This reverts commit {sha}."
        if not inc.list_fix:
            body += f"\n\nRolling back: caused {inc.id}."
        self._remember(c)
        self._emit(c, f"{c.subject}\n\n{body}\n".encode(), ops)
        self.main_mark = c.mark
        inc.fixes.append(c)
        return c

    # ---- branches
    def start_branch(self, time: int, person: Person) -> None:
        r = self.rng
        area = r.choice(person.home)
        pool = [f for f in self._candidates(area) if not any(o in self.pending for o in f.origin)]
        if not pool:
            return
        n = min(r.randint(2, 5), self.total - self.produced - self.reserved)
        if n < 1:
            return
        self.branches += 1
        topic = r.choice(TOPICS[area]).replace(" ", "-")
        name = f"feature/{topic}-{self.branches}"
        chosen = r.sample(pool, min(len(pool), r.randint(1, 3)))
        files = {f.fid: f.copy() for f in chosen}
        for f in chosen:
            self.locked[f.fid] = name
        b = Branch(name, person, files, self.main_mark, n, subject=f"{topic.replace('-', ' ')}")
        duration = r.uniform(1, 7) * DAY
        times = sorted(time + int(r.uniform(0.05, 1.0) * duration) for _ in range(n))
        for t in times:
            self._push(t, "commit", b)
        self._push(times[-1] + int(r.uniform(2, 30) * HOUR), "merge", b)
        self.reserved += n

    def _push(self, t: int, kind: str, b: Branch) -> None:
        self.nevents += 1
        heapq.heappush(self.events, (t, self.nevents, kind, b))

    def branch_commit(self, t: int, b: Branch) -> None:
        self.reserved -= 1
        self.produced += 1
        c = self.normal(t, b.person, b)
        if self._culprit_draw(c, b.files):
            c.culprit = True  # its incident opens only after the merge reaches production
            self.pending.add(c.seq)

    def merge(self, t: int, b: Branch) -> None:
        self.mark += 1
        mark = self.mark
        ops = []
        for fid, f in b.files.items():
            if fid not in self.files:
                self.area_fids.setdefault(_area(f.path), []).append(fid)
            self.files[fid] = f
            self.by_path[f.path] = fid
            ops.append(self._op_m(f))
            self.locked.pop(fid, None)
        pr = 100 + self.branches * 3 + self.rng.randint(0, 2)
        msg = f"Merge pull request #{pr} from acme/{b.name}\n\n{b.subject.capitalize()}\n"
        p = b.person
        head = (
            f"commit refs/heads/main\nmark :{mark}\n"
            f"author {p.name} <{p.email}> {t} {_tzs(p.tz)}\n"
            f"committer {GITHUB[0]} <{GITHUB[1]}> {t} +0000\n"
        ).encode()
        self.fi.write(head, _data(msg.encode()), f"merge :{b.tip_mark}\n".encode(), *ops, b"\n")
        self.main_mark = mark
        for c in b.commits:
            if c.culprit:
                self.schedule(c, t, revertible=False)

    # ---- main loop
    def run(self, repo: Path, env: dict[str, str], workdir: Path) -> dict[int, str]:
        marks = workdir / "marks"
        self.fi = _FastImport(repo, env, marks, workdir / "fast-import.err")
        try:
            self.initial()
            self.produced = 1
            next_main: int | None = None
            while self.produced < self.total or self.events:
                if next_main is None and self.produced + self.reserved < self.total:
                    self.wclock += self.rng.expovariate(1 / self.mean_gap)
                    next_main = self._slot_time()
                if self.events and (next_main is None or self.events[0][0] <= next_main):
                    t, _, kind, b = heapq.heappop(self.events)
                    if kind == "commit":
                        self.branch_commit(t, b)
                    else:
                        self.merge(t, b)
                    continue
                if next_main is None:
                    break
                self.slot(next_main)
                next_main = None
            self._notes()
            self.fi.finish()
        except BaseException:
            if self.fi.proc.poll() is None:
                self.fi.proc.kill()
                self.fi.proc.wait()
            raise
        out = {}
        for line in marks.read_text().splitlines():
            m, sha = line.split()
            out[int(m[1:])] = sha
        return out

    def slot(self, local: int) -> None:
        """One main-line commit at local wall-clock time ``local``: a due fix, a bot, or work."""
        r = self.rng
        self.produced += 1
        if self.fixes and self.fixes[0][0] <= local:
            due, _, inc = heapq.heappop(self.fixes)
            self.fix(max(local, due + r.randint(60, HOUR)), inc)
            return
        p_bot = 0.04 + 0.04 * self.progress()
        if r.random() < p_bot:
            self.bot(local)
            return
        person = self._pick_person()
        t = local - person.tz * 60
        late = self.produced >= self.total // 4
        if r.random() < 0.05 or (late and self.branches == 0):
            self.start_branch(t, person)
        c = self.normal(t, person)
        if self._culprit_draw(c, self.files):
            self.schedule(c, max(c.time, c.ctime), self._revertible(c))
        else:
            c.before = None

    def _notes(self) -> None:
        noted = [c for c in self.commits if "notes" in c.flags]
        if not noted:
            return
        last = max(c.time for c in self.commits)
        ops = []
        for c in noted:
            note = json.dumps(
                {"tool": c.ai_tool, "ai_lines": c.ai_lines, "total_lines": c.la},
                sort_keys=True,
            )
            ops.append(f"N inline :{c.mark}\n".encode() + _data(note.encode() + b"\n"))
        self.mark += 1
        head = (
            f"commit {NOTES_REF}\nmark :{self.mark}\n"
            f"committer git-ai <git-ai@notes.invalid> {last} +0000\n"
        ).encode()
        self.fi.write(head, _data(b"Notes added by git-ai\n"), *ops, b"\n")


# --------------------------------------------------------------------------------------------
# Public entry point


def _git_env(home: Path) -> dict[str, str]:
    """An environment in which no system, global or user git configuration can leak in."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "SYSTEMROOT", "TMPDIR")}
    keep.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "TZ": "UTC",
        }
    )
    return keep


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RiskmlError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER_FILE).is_file():
            raise RiskmlError(f"--out {out} is a non-empty directory not made by riskml synth")
        for name in ("repo", "incidents.csv", "truth.csv", MARKER_FILE):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RiskmlError(f"--out {out}: cannot create: {exc.strerror}") from None


def _unique_prefix(sha: str, length: int, objects: list[str]) -> str:
    """``sha[:length]``, lengthened until no other object in the repository shares it."""
    i = bisect.bisect_left(objects, sha)
    neighbours = [objects[j] for j in (i - 1, i + 1) if 0 <= j < len(objects)]
    while length < 40 and any(o.startswith(sha[:length]) for o in neighbours):
        length += 1
    return sha[:length]


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(
    out: Path, commits: int = 2000, seed: int = 0, start: str = "2021-01-04"
) -> SynthResult:
    """Generate a repository of ``commits`` non-merge commits with its incidents and truth.

    ``out/repo`` is a git repository (branch ``main``, checked out), ``out/incidents.csv`` the
    incidents opened before the last commit, ``out/truth.csv`` one row per non-merge commit.
    The same ``commits``, ``seed`` and ``start`` always give the same SHAs. An existing ``out``
    made by an earlier run is replaced; any other non-empty ``out`` is refused (RiskmlError).
    """
    if isinstance(commits, bool) or not isinstance(commits, int) or commits < 1:
        raise RiskmlError(f"--commits must be a positive integer, got {commits!r}")
    try:
        start_day = date.fromisoformat(start)
    except (TypeError, ValueError):
        raise RiskmlError(f"--start must be a date YYYY-MM-DD, got {start!r}") from None
    if shutil.which("git") is None:
        raise RiskmlError("git is not installed (riskml synth runs git fast-import)")
    out = Path(out)
    _prepare(out)
    repo = out / "repo"
    gen = _Generator(commits, seed, start_day)
    with tempfile.TemporaryDirectory(prefix="riskml-synth-") as tmp:
        tmpdir = Path(tmp)
        home = tmpdir / "home"
        home.mkdir()
        env = _git_env(home)
        subprocess.run(
            ["git", "init", "-q", "--template=", "-b", "main", str(repo)],
            check=True,
            env=env,
            capture_output=True,
        )
        shas = gen.run(repo, env, tmpdir)
        heads = subprocess.run(
            ["git", "-C", str(repo), "for-each-ref", "--format=%(refname)", "refs/heads/feature/"],
            check=True,
            env=env,
            capture_output=True,
        ).stdout.decode()
        deletes = "".join(f"delete {ref}\n" for ref in heads.split())
        subprocess.run(
            ["git", "-C", str(repo), "update-ref", "--stdin"],
            input=deletes.encode(),
            check=True,
            env=env,
            capture_output=True,
        )
        subprocess.run(
            ["git", "-C", str(repo), "reset", "-q", "--hard", "main"],
            check=True,
            env=env,
            capture_output=True,
        )
        listing = subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname)",
            ],
            check=True,
            env=env,
            capture_output=True,
        ).stdout
        objects = sorted(listing.decode().split())
    end = max(max(c.time, c.ctime) for c in gen.commits)
    incidents = out / "incidents.csv"
    truth = out / "truth.csv"
    _write_incidents(incidents, gen.incidents, shas, end, objects)
    _write_truth(truth, gen.commits, shas, end)
    (out / MARKER_FILE).write_text(
        json.dumps({"commits": commits, "seed": seed, "start": start}, sort_keys=True) + "\n"
    )
    return SynthResult(repo=repo, incidents=incidents, truth=truth)


def _write_incidents(
    path: Path, incidents: list[Incident], shas: dict[int, str], end: int, objects: list[str]
) -> None:
    rows = []
    for inc in incidents:
        if inc.opened > end:
            continue
        culprits = fixes = ""
        if inc.kind == "culprit":
            culprits = _unique_prefix(shas[inc.culprit.mark], inc.culprit_prefix, objects)
        if inc.list_fix and inc.fixes:
            fixes = ";".join(shas[f.mark] for f in inc.fixes)
        rows.append(
            {
                "incident_id": inc.id,
                "opened_at": _iso(inc.opened),
                "severity": inc.severity,
                "culprit_commits": culprits,
                "fix_commits": fixes,
                "title": inc.title,
                "service": inc.service,
            }
        )
    rows.sort(key=lambda row: (row["opened_at"], row["incident_id"]))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, INCIDENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _link(inc: Incident, end: int) -> str:
    if inc.opened > end:
        return "unopened"
    if not inc.fixes:
        return "culprit" if inc.kind == "culprit" else "unresolved"
    return inc.kind


def _write_truth(path: Path, commits: list[Commit], shas: dict[int, str], end: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, TRUTH_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for c in commits:
            inc = c.incident
            listed = inc is not None and inc.opened <= end
            writer.writerow(
                {
                    "commit": shas[c.mark],
                    "seq": c.seq,
                    "author_time": _iso(c.time),
                    "commit_time": _iso(c.ctime or c.time),
                    "author_email": c.key.lower(),
                    "role": c.role,
                    "branch": c.branch,
                    "is_culprit": int(c.culprit),
                    "risk": f"{c.risk:.6f}",
                    "incident_id": inc.id if listed else "",
                    "incident_listed": int(listed),
                    "link": _link(inc, end) if inc is not None else "",
                    "fix_for": c.fix_for,
                    "reverts": shas[c.reverts.mark] if c.reverts is not None else "",
                    "ai_provenance": c.ai_class,
                    "ai_tool": c.ai_tool,
                    "ai_lines": "" if c.ai_lines is None else c.ai_lines,
                    "la": c.la,
                    "ld": c.ld,
                    "critical": int(c.critical),
                    "files": ";".join(dict.fromkeys(c.paths)),
                    "flags": ";".join(c.flags),
                }
            )
