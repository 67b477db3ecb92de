"""Incidents, and the commits that resolve them: fixes of the culprit's lines, and reverts.

An incident's ``kind`` says how the labels can find its culprit: listed in incidents.csv
(``culprit``), through a listed fix (``fix``), a ``Revert "..."`` commit (``revert``) or an
incident id in a fix's message (``message``).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from riskml.synth.catalog import CRITICAL_AREAS, INCIDENT_TITLES, TOPICS
from riskml.synth.clock import DAY, HOUR
from riskml.synth.fastimport import modify
from riskml.synth.files import VERSION_RE, File, area_of, dep_line, dep_pkg, is_code, is_critical
from riskml.synth.records import Commit, Incident

if TYPE_CHECKING:
    from riskml.synth.history import History


def schedule(h: History, c: Commit, base_time: int, revertible: bool) -> None:
    """Make ``c`` a culprit: open its incident later and decide how it will be resolved."""
    r = h.rng
    kind = r.choices(("culprit", "fix", "revert", "message"), (0.3, 0.25, 0.2, 0.25))[0]
    if kind == "revert" and not revertible:
        kind = r.choice(("fix", "message"))
    opened = base_time + int(r.uniform(0.3, 20) * DAY)
    due = opened + int(r.uniform(2 * HOUR, 4 * DAY))
    area = area_of(c.paths[0]) if c.paths else ""
    for p in c.paths:
        if is_critical(p):
            area = area_of(p) if area_of(p) in CRITICAL_AREAS else "infra"
            break
    if c.critical:
        sev = r.choices(("SEV1", "SEV2", "SEV3", "SEV4"), (0.2, 0.35, 0.3, 0.15))[0]
    else:
        sev = r.choices(("SEV1", "SEV2", "SEV3", "SEV4"), (0.03, 0.15, 0.42, 0.4))[0]
    inc = Incident(
        number=1001 + len(h.incidents),
        culprit=c,
        opened=opened,
        kind=kind,
        severity=sev,
        title=r.choice(INCIDENT_TITLES.get(area, INCIDENT_TITLES[""])),
        service=area or "shop",
        culprit_prefix=40 if r.random() < 0.5 else r.randint(7, 12),
        list_fix=kind == "fix" or (kind in ("culprit", "revert") and r.random() < 0.5),
    )
    h.incidents.append(inc)
    c.culprit = True
    c.incident = inc
    if kind == "revert":
        for fid in c.before or {}:
            h.tree.locked[fid] = "revert"
    else:
        c.before = None
        h.tree.pending.add(c.seq)
    heapq.heappush(h.due, (due, inc.number, inc))


def fix(h: History, time: int, inc: Incident) -> Commit:
    """The commit that resolves ``inc``: a fix of its culprit's lines, or a revert."""
    if inc.kind == "revert":
        return _revert(h, time, inc)
    r = h.rng
    culprit = inc.culprit
    people = h.authors.active(h.progress())
    author = next((p for p in people if p.email == culprit.key), None)
    if author is None or r.random() < 0.4:
        author = r.choice(people)
    c = h.new_commit("fix", time)
    c.author, c.key, c.tz = (author.name, author.email), author.email, author.tz
    c.fix_for = inc.id
    holders = []  # the culprit's files that still hold code lines it wrote
    for fid in culprit.touched:
        f = h.tree.files.get(fid)
        if f is None or f.binary:
            continue
        idx = [i for i, o in enumerate(f.origin) if o == culprit.seq and is_code(f.text[i])]
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
            pkg = dep_pkg(f.path, f.text[start])
            v = VERSION_RE.search(f.text[start])
            ver = (int(v[1]), int(v[2]), int(v[3]) + 1) if v else (1, 0, 0)
            new = [dep_line(f.path, pkg, ver)] if pkg else [h.content.line("ini")]
        else:
            new = [h.content.line(f.kind) for _ in range(added)]
        del f.text[start : start + k]
        del f.origin[start : start + k]
        f.text[start:start] = new
        f.origin[start:start] = [c.seq] * added
        c.la += added
        c.ld += k
        touched.append(f)
    if not touched:
        c.flags.append("no_culprit_lines")
    area = area_of(culprit.paths[0]) if culprit.paths else ""
    test = h.tree.by_path.get(f"tests/test_{area}.py")
    if test is not None and test not in h.tree.locked and r.random() < 0.5:
        a, d = h.content.edit(h.tree.files[test], c.seq, r.randint(3, 12))
        c.la, c.ld = c.la + a, c.ld + d
        touched.append(h.tree.files[test])
    if not touched:
        f = h.tree.at("CHANGELOG.md")
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
    c.critical = any(is_critical(p) for p in c.paths)
    h.tree.pending.discard(culprit.seq)
    h.authors.remember(c)
    h.stream.emit(c, h.authors.message(c, None, body), [modify(f) for f in touched])
    h.main_mark = c.mark
    inc.fixes.append(c)
    return c


def _revert(h: History, time: int, inc: Incident) -> Commit:
    r = h.rng
    culprit = inc.culprit
    people = h.authors.active(h.progress())
    author = r.choice(people)
    c = h.new_commit("revert", time)
    c.author, c.key, c.tz = (author.name, author.email), author.email, author.tz
    c.fix_for = inc.id
    c.reverts = culprit
    ops: list[bytes] = []
    for fid, (_path, before) in (culprit.before or {}).items():
        cur = h.tree.files.get(fid)
        if before is None:
            if cur is not None:
                ops.append(f"D {cur.path}\n".encode())
                c.ld += len(cur.text)
                del h.tree.files[fid]
                del h.tree.by_path[cur.path]
                c.paths.append(cur.path)
        elif cur is not None:
            # the file is locked since the culprit, so it holds exactly the culprit's version
            added_by_culprit = sum(1 for o in cur.origin if o == culprit.seq)
            c.ld += added_by_culprit
            c.la += len(before.text) - (len(cur.text) - added_by_culprit)
            cur.text, cur.origin, cur.data = list(before.text), list(before.origin), before.data
            ops.append(modify(cur))
            c.paths.append(cur.path)
        h.tree.locked.pop(fid, None)
    c.touched = [fid for fid in (culprit.before or {}) if fid in h.tree.files]
    c.critical = any(is_critical(p) for p in c.paths)
    sha = h.stream.sha(culprit.mark)
    c.subject = f'Revert "{culprit.subject}"'
    body = f"This reverts commit {sha}."
    if not inc.list_fix:
        body += f"\n\nRolling back: caused {inc.id}."
    h.authors.remember(c)
    h.stream.emit(c, f"{c.subject}\n\n{body}\n".encode(), ops)
    h.main_mark = c.mark
    inc.fixes.append(c)
    return c
