"""What the generated history is made of: its people, bots, AI tools, services and words.

Every list here is a tuple or a dict with a fixed order: the generator draws from them with one
``random.Random``, so their order is part of what makes a seed give the same SHAs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    """A human contributor: who, in which time zone, when on the team, which services."""

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
