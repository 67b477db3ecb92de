"""Feature branches: a few commits on copies of some files, merged back as a pull request.

A culprit on a branch is only scheduled once the merge reaches the main line (production).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from riskml.synth import incidents
from riskml.synth.catalog import GITHUB, TOPICS, Person
from riskml.synth.clock import DAY, HOUR
from riskml.synth.fastimport import MAIN_REF, data, modify, tzs
from riskml.synth.records import Branch
from riskml.synth.risk import culprit_draw

if TYPE_CHECKING:
    from riskml.synth.history import History


def start(h: History, time: int, person: Person) -> None:
    """Open a feature branch of ``person``: its commits and merge go on the event queue."""
    r = h.rng
    area = r.choice(person.home)
    pool = [f for f in h.tree.candidates(area) if not any(o in h.tree.pending for o in f.origin)]
    if not pool:
        return
    n = min(r.randint(2, 5), h.total - h.produced - h.reserved)
    if n < 1:
        return
    h.branch_count += 1
    topic = r.choice(TOPICS[area]).replace(" ", "-")
    name = f"feature/{topic}-{h.branch_count}"
    chosen = r.sample(pool, min(len(pool), r.randint(1, 3)))
    files = {f.fid: f.copy() for f in chosen}
    for f in chosen:
        h.tree.locked[f.fid] = name
    b = Branch(name, person, files, h.main_mark, n, subject=f"{topic.replace('-', ' ')}")
    duration = r.uniform(1, 7) * DAY
    times = sorted(time + int(r.uniform(0.05, 1.0) * duration) for _ in range(n))
    for t in times:
        _push(h, t, "commit", b)
    _push(h, times[-1] + int(r.uniform(2, 30) * HOUR), "merge", b)
    h.reserved += n


def _push(h: History, t: int, kind: str, b: Branch) -> None:
    h.nevents += 1
    heapq.heappush(h.events, (t, h.nevents, kind, b))


def commit(h: History, t: int, b: Branch) -> None:
    """One commit on branch ``b``."""
    h.reserved -= 1
    h.produced += 1
    c = h.normal(t, b.person, b)
    if culprit_draw(h.rng, c, b.files):
        c.culprit = True  # its incident opens only after the merge reaches production
        h.tree.pending.add(c.seq)


def merge(h: History, t: int, b: Branch) -> None:
    """Merge ``b`` into main as a GitHub pull request; its culprits' incidents start now."""
    mark = h.stream.next_mark()
    ops = [modify(f) for f in b.files.values()]
    h.tree.merge(b.files)
    pr = 100 + h.branch_count * 3 + h.rng.randint(0, 2)
    msg = f"Merge pull request #{pr} from acme/{b.name}\n\n{b.subject.capitalize()}\n"
    p = b.person
    head = (
        f"commit {MAIN_REF}\nmark :{mark}\n"
        f"author {p.name} <{p.email}> {t} {tzs(p.tz)}\n"
        f"committer {GITHUB[0]} <{GITHUB[1]}> {t} +0000\n"
    ).encode()
    h.stream.write(head, data(msg.encode()), f"merge :{b.tip_mark}\n".encode(), *ops, b"\n")
    h.main_mark = mark
    for c in b.commits:
        if c.culprit:
            incidents.schedule(h, c, t, revertible=False)
