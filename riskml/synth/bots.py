"""Bot commits: dependency bumps (dependabot, renovate) and release notes (github-actions).

Bots join the project over time (``BOTS``' third field is the progress at which each starts);
their hidden risk is a small constant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from riskml.synth import incidents
from riskml.synth.catalog import BOTS, PKGS
from riskml.synth.fastimport import modify
from riskml.synth.files import VERSION_RE, dep_line, dep_pkg
from riskml.synth.records import Commit
from riskml.synth.risk import culprit_draw

if TYPE_CHECKING:
    from riskml.synth.history import History


def commit(h: History, time: int) -> Commit:
    """A bot commit: a dependency bump, or a release note in the changelog."""
    r = h.rng
    progress = h.progress()
    names = [n for n, v in BOTS.items() if v[2] <= progress]
    which = r.choice(names)
    name, email, _ = BOTS[which]
    c = h.new_commit("bot", time)
    c.author, c.key, c.tz, c.ai_class = (name, email), email, 0, "bot"
    if which == "github-actions":
        f = h.tree.at("CHANGELOG.md")
        before = {f.fid: (f.path, f.copy())}
        ver = f"1.{len(h.commits) // 50}.{len(h.commits) % 50}"
        line = f"- Release {ver} ({datetime.fromtimestamp(time, UTC):%Y-%m-%d})"
        f.text.insert(0, line)
        f.origin.insert(0, c.seq)
        c.la = 1
        c.subject = f"chore(release): update CHANGELOG for {ver} [skip ci]"
        touched = [f]
    else:
        path = r.choice(list(PKGS))
        f = h.tree.at(path)
        if f.fid in h.tree.locked:
            path, f = "requirements.txt", h.tree.at("requirements.txt")
        if f.fid in h.tree.locked:
            return _changelog_note(h, c)
        before = {f.fid: (f.path, f.copy())}
        lines = [
            k
            for k, line in enumerate(f.text)
            if dep_pkg(path, line) and f.origin[k] not in h.tree.pending
        ]
        if not lines:
            return _changelog_note(h, c)
        i = r.choice(lines)
        pkg = dep_pkg(path, f.text[i])
        old = tuple(int(x) for x in VERSION_RE.search(f.text[i]).groups())
        new = (old[0], old[1] + 1, 0) if r.random() < 0.3 else (old[0], old[1], old[2] + 1)
        f.text[i] = dep_line(path, pkg, new)
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
    h.finish(c, c.touched)
    h.stream.emit(c, message.encode(), [modify(f) for f in touched])
    h.main_mark = c.mark
    if culprit_draw(h.rng, c, h.tree.files):
        c.before = before
        incidents.schedule(h, c, c.time, h.tree.revertible(c))
    return c


def _changelog_note(h: History, c: Commit) -> Commit:
    # every dependency file is locked: the bot writes the changelog instead
    f = h.tree.at("CHANGELOG.md")
    f.text.insert(0, f"- Maintenance {c.seq}")
    f.origin.insert(0, c.seq)
    c.la, c.subject = 1, "chore: maintenance note [skip ci]"
    c.paths, c.touched = [f.path], [f.fid]
    h.finish(c, c.touched)
    h.stream.emit(c, (c.subject + "\n").encode(), [modify(f)])
    h.main_mark = c.mark
    return c
