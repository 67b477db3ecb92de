"""The history: the main line's commit stream, its bots and the culprits among its commits.

:class:`History` owns the one ``random.Random`` of a generation and the parts that draw from it
(clock, content, tree, authors); feature branches (:mod:`riskml.synth.branches`) and incidents
with their fixes and reverts (:mod:`riskml.synth.incidents`) are written as functions of it.
The order of the draws is the order of this code: moving a draw changes every SHA.
"""

from __future__ import annotations

import heapq
import random
from datetime import date
from pathlib import Path

from riskml.synth import bots, branches, incidents, notes
from riskml.synth.authors import Authors
from riskml.synth.catalog import (
    AREAS,
    BUGFIX_SUBJECTS,
    CRITICAL_AREAS,
    EXTRA_PKGS,
    GITHUB,
    HUMANS,
    PKGS,
    TOPICS,
    VERBS,
    WORDS,
    Person,
)
from riskml.synth.clock import DAY, HOUR, Clock
from riskml.synth.content import Content
from riskml.synth.fastimport import Stream, modify
from riskml.synth.files import File, area_of, dep_line, dep_pkg, is_critical
from riskml.synth.records import Branch, Commit, Incident
from riskml.synth.risk import BOT_RISK, culprit_draw
from riskml.synth.tree import Tree

NOTES_REF = notes.NOTES_REF
TRACE_REF = notes.TRACE_REF


class History:
    """``commits`` non-merge commits from ``seed``, starting ``start``; :meth:`run` writes them."""

    def __init__(self, commits: int, seed: int, start: date) -> None:
        self.rng = random.Random(seed)
        self.total = commits
        self.clock = Clock(self.rng, commits, start)
        self.content = Content(self.rng, set())
        self.tree = Tree(self.content)
        self.authors = Authors(self.rng, max(15.0, commits / 100))
        self.stream = Stream()
        self.commits: list[Commit] = []
        self.produced = 0
        self.reserved = 0  # branch commits scheduled but not yet made
        self.main_mark = 0
        self.seen: set[str] = set()  # rare cases (binary, rename, …) made at least once
        self.incidents: list[Incident] = []
        self.due: list[tuple[int, int, Incident]] = []  # heap of fixes (due, number, incident)
        self.events: list[tuple[int, int, str, Branch]] = []  # heap (time, n, kind, branch)
        self.nevents = 0
        self.branch_count = 0

    def progress(self) -> float:
        """Fraction of the commits made so far."""
        return self.produced / self.total

    def new_commit(self, role: str, time: int, branch: str = "") -> Commit:
        """A new commit record, appended to the history."""
        c = Commit(seq=len(self.commits), role=role, author=("", ""), key="", time=time, tz=0)
        c.branch = branch
        self.commits.append(c)
        return c

    def initial(self) -> None:
        """The first commit: the whole shop monolith, by its founder."""
        founder = HUMANS[0]
        c = self.new_commit("initial", self.clock.local(0) - founder.tz * 60)
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
                self.tree.new_file(
                    f"{area}/{name}", c.seq, self.tree.files, self.rng.randint(12, 50)
                )
        self.tree.new_file("README.md", c.seq, self.tree.files, 14)
        self.tree.new_file("CHANGELOG.md", c.seq, self.tree.files, 3)
        for path in PKGS:
            self.tree.deps_file(path, c.seq)
        self.tree.mailmap(c.seq)
        ops = []
        for f in self.tree.files.values():
            ops.append(modify(f))
            if not f.binary:
                c.la += len(f.text)
        c.paths = [f.path for f in self.tree.files.values()]
        c.touched = list(self.tree.files)
        c.critical = True
        self.stream.emit(c, (c.subject + "\n").encode(), ops)
        self.main_mark = c.mark
        self.authors.remember(c)

    def normal(self, time: int, person: Person, branch: Branch | None = None) -> Commit:
        """An ordinary change by ``person`` on the main line or on ``branch``."""
        r = self.rng
        c = self.new_commit("normal", time, branch.name if branch else "")
        self.authors.identify(person, c, self.progress())
        files = branch.files if branch else self.tree.files
        ops: list[bytes] = []
        touched_before: list[int] = []
        touched: list[File] = []
        area, chosen = self._choose(c, person, branch, files)
        sweep = not branch and r.random() < 0.015  # a small edit across many services
        if sweep:
            pool = [f for a in AREAS for f in self.tree.candidates(a)]
            chosen = r.sample(pool, min(len(pool), r.randint(8, 25)))
        bugfix = not sweep and not branch and r.random() < 0.08 and bool(chosen)
        late = self.produced >= self.total // 3
        if not branch:
            c.before = {f.fid: (f.path, f.copy()) for f in chosen}
        for f in chosen:
            touched_before.append(f.fid)
            a, d = self.content.edit(
                f,
                c.seq,
                r.randint(1, 3) if sweep else self.content.size(),
                "replace" if bugfix or sweep else "",
            )
            c.la += a
            c.ld += d
            touched.append(f)
        new_area = area if area not in ("", "config") else "catalog"
        want_new = r.random() < (0.35 if branch and not branch.commits else 0.08)
        if not chosen or want_new or (area == "migrations" and r.random() < 0.35):
            f = self.tree.new_file(self.content.new_path(new_area), c.seq, files, r.randint(5, 40))
            c.la += len(f.text)
            touched.append(f)
            c.flags.append("new_file")
            if c.before is not None:
                c.before[f.fid] = (f.path, None)
            if branch:
                self.tree.locked[f.fid] = branch.name
        want_binary = area in ("web", "docs") and r.random() < 0.12
        if not branch and (want_binary or (late and "binary" not in self.seen)):
            png = "web/static/logo.png" if area == "web" else "docs/img/architecture.png"
            f = files[self.tree.by_path[png]]
            if f.fid not in self.tree.locked:
                if c.before is not None:
                    c.before[f.fid] = (f.path, f.copy())
                f.data = self.content.png()
                touched.append(f)
                touched_before.append(f.fid)
                c.flags.append("binary")
                self.seen.add("binary")
        if not branch and r.random() < 0.03:
            self._add_dependency(c, touched, touched_before)
        ops += [modify(f) for f in touched]
        c.paths = [f.path for f in touched]
        c.touched = [f.fid for f in touched]
        if not branch:
            ops += self._maybe_rename_delete(c, area)
        c.critical = any(is_critical(p) for p in c.paths)
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
        message = self.authors.message(c, person, body)
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
        self.finish(c, touched_before)
        if c.ai_class != "human" and c.la and r.random() < 0.5:
            c.ai_lines = max(1, int(c.la * r.uniform(0.5, 1.0)))
            c.flags.append("notes")
            c.note_lines = notes.added_lines(touched, c.seq)
            if branch:
                c.parent_mark = branch.tip_mark if branch.commits else branch.base_mark
            else:
                c.parent_mark = self.main_mark
            c.ai_model = c.ai_model or notes.note_model(c)
        if branch:
            frm = branch.base_mark if not branch.commits else 0
            self.stream.emit(c, message, ops, ref=f"refs/heads/{branch.name}", frm=frm)
            branch.tip_mark = c.mark
            branch.commits.append(c)
        else:
            if c.ai_class == "human" and r.random() < 0.15:  # squash-merged in the web UI
                c.committer = GITHUB
                c.ctime = c.time + r.randint(600, 2 * DAY)
            self.stream.emit(c, message, ops)
            self.main_mark = c.mark
        return c

    def _choose(
        self, c: Commit, person: Person, branch: Branch | None, files: dict[int, File]
    ) -> tuple[str, list[File]]:
        """The service area of an ordinary change and the files it edits."""
        r = self.rng
        if branch:
            pool = [f for f in files.values() if not f.binary]
            area = area_of(pool[0].path)
            chosen = r.sample(pool, min(len(pool), r.choice((1, 1, 2))))
        else:
            homes = person.home
            novice = self.authors.commits.get(c.key, 0) < 20
            if r.random() < (0.55 if novice else 0.8):
                area = r.choice(homes)
            else:
                area = r.choice(AREAS + ("",))
            pool = self.tree.candidates(area)
            nfiles = min(len(pool), 1 + int(r.expovariate(1.1)))
            chosen = r.sample(pool, nfiles) if pool else []
            if area in ("payments", "auth", "catalog", "search") and r.random() < 0.35:
                test = self.tree.by_path.get(f"tests/test_{area}.py")
                if test is not None and test not in self.tree.locked and files[test] not in chosen:
                    chosen.append(files[test])
        return area, chosen

    def _add_dependency(self, c: Commit, touched: list[File], before: list[int]) -> None:
        f = self.tree.at("requirements.txt")
        have = {dep_pkg(f.path, line) for line in f.text}
        fresh = [p for p in EXTRA_PKGS if p not in have]
        if f.fid in self.tree.locked or not fresh:
            return
        if c.before is not None:
            c.before[f.fid] = (f.path, f.copy())
        version = (self.rng.randint(0, 4), self.rng.randint(0, 30), self.rng.randint(0, 9))
        f.text.append(dep_line(f.path, self.rng.choice(fresh), version))
        f.origin.append(c.seq)
        c.la += 1
        touched.append(f)
        before.append(f.fid)
        c.flags.append("dependency")

    def _maybe_rename_delete(self, c: Commit, area: str) -> list[bytes]:
        r = self.rng
        ops: list[bytes] = []
        late = self.produced >= self.total // 3
        want_rename = r.random() < 0.02 or (late and "rename" not in self.seen)
        want_delete = r.random() < 0.012 or (late and "delete" not in self.seen)
        if want_rename:
            pool = [
                f
                for f in self.tree.candidates(area if area else "catalog")
                if f.path not in c.paths and f.kind == "py"
            ]
            if pool:
                f = r.choice(pool)
                old = f.path
                d, name = old.rsplit("/", 1)
                new = f"{d}/core/{name}" if "/core/" not in old else f"{d}/legacy_{name}"
                if new not in self.tree.by_path:
                    del self.tree.by_path[old]
                    f.path = new
                    self.tree.by_path[new] = f.fid
                    ops.append(f"R {old} {new}\n".encode())
                    c.paths.append(new)
                    c.touched.append(f.fid)
                    c.flags.append("rename")
                    self.seen.add("rename")
        if want_delete:
            pool = [
                f
                for f in self.tree.candidates(area if area not in CRITICAL_AREAS else "docs")
                if f.path not in c.paths
                and not any(o in self.tree.pending for o in f.origin)
                and f.path.count("/") >= 1
                and len(self.tree.candidates(area_of(f.path))) > 3
            ]
            if pool:
                f = r.choice(pool)
                ops.append(f"D {f.path}\n".encode())
                c.ld += len(f.text)
                c.paths.append(f.path)
                del self.tree.files[f.fid]
                del self.tree.by_path[f.path]
                c.flags.append("delete")
                self.seen.add("delete")
        return ops

    def finish(self, c: Commit, touched_before: list[int]) -> None:
        """Set the hidden risk of ``c``, then count it for its author."""
        if c.role == "bot":
            c.risk = BOT_RISK
        else:
            c.risk = self.authors.risk(c, touched_before)
        c.touched = list(dict.fromkeys(c.touched + touched_before))
        self.authors.remember(c)

    def run(self, repo: Path, env: dict[str, str], workdir: Path) -> dict[int, str]:
        """Write the whole history into ``repo``; the SHA of every mark."""
        marks = workdir / "marks"
        fi = self.stream.open(repo, env, marks, workdir / "fast-import.err")
        try:
            self.initial()
            self.produced = 1
            next_main: int | None = None
            while self.produced < self.total or self.events:
                if next_main is None and self.produced + self.reserved < self.total:
                    next_main = self.clock.next_slot()
                if self.events and (next_main is None or self.events[0][0] <= next_main):
                    t, _, kind, b = heapq.heappop(self.events)
                    if kind == "commit":
                        branches.commit(self, t, b)
                    else:
                        branches.merge(self, t, b)
                    continue
                if next_main is None:
                    break
                self.slot(next_main)
                next_main = None
            self._notes()
            fi.finish()
        except BaseException:
            if fi.proc.poll() is None:
                fi.proc.kill()
                fi.proc.wait()
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
        if self.due and self.due[0][0] <= local:
            due, _, inc = heapq.heappop(self.due)
            incidents.fix(self, max(local, due + r.randint(60, HOUR)), inc)
            return
        p_bot = 0.04 + 0.04 * self.progress()
        if r.random() < p_bot:
            bots.commit(self, local)
            return
        person = self.authors.pick(self.progress())
        t = local - person.tz * 60
        late = self.produced >= self.total // 4
        if r.random() < 0.05 or (late and self.branch_count == 0):
            branches.start(self, t, person)
        c = self.normal(t, person)
        if culprit_draw(self.rng, c, self.tree.files):
            incidents.schedule(self, c, max(c.time, c.ctime), self.tree.revertible(c))
        else:
            c.before = None

    def _notes(self) -> None:
        noted = [c for c in self.commits if "notes" in c.flags]
        if noted:
            notes.write(self.stream, noted, max(c.time for c in self.commits))
