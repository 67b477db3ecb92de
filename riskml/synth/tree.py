"""The main line's working tree: its files by id, path and area, and which are locked.

A file is locked while a feature branch works on it or while a revert-kind culprit awaits its
revert (a revert restores whole files, so nothing else may change them). The lines of culprits
awaiting a fix (``pending``) are kept, so the fix can change them.
"""

from __future__ import annotations

from riskml.synth.catalog import HUMANS, PKGS
from riskml.synth.content import Content
from riskml.synth.files import File, area_of, dep_line
from riskml.synth.records import Commit


class Tree:
    """The main line's files, with the locks and pending culprits that constrain edits."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self.rng = content.rng
        self.files: dict[int, File] = {}
        self.by_path: dict[str, int] = {}
        self.area_fids: dict[str, list[int]] = {}  # main-line files by area (may hold deleted)
        self.next_fid = 0
        self.locked: dict[int, str] = {}  # fid -> why (branch name, or "revert")
        self.pending = content.pending  # seqs of culprits awaiting a fix: their lines are kept

    def _file(self, path: str) -> File:
        f = File(self.next_fid, path)
        self.next_fid += 1
        return f

    def new_file(self, path: str, seq: int, files: dict[int, File], lines: int) -> File:
        """A new file of ``lines`` lines written by commit ``seq``, added to ``files``."""
        f = self._file(path)
        if f.binary:
            f.data = self.content.png()
        else:
            f.text = [self.content.line(f.kind) for _ in range(lines)]
            f.origin = [seq] * lines
        files[f.fid] = f
        self.by_path[path] = f.fid
        if files is self.files:
            self.area_fids.setdefault(area_of(path), []).append(f.fid)
        return f

    def deps_file(self, path: str, seq: int) -> File:
        """The dependency file ``path`` (one of PKGS) with random pinned versions."""
        f = self._file(path)
        versions = {p: (self.rng.randint(1, 5), self.rng.randint(0, 20), 0) for p in PKGS[path]}
        if path == "requirements.txt":
            f.text = [dep_line(path, p, v) for p, v in versions.items()]
        elif path == "pyproject.toml":
            f.text = ["[project]", 'name = "shop"', 'version = "1.0.0"', "dependencies = ["]
            f.text += [dep_line(path, p, v) for p, v in versions.items()]
            f.text += ["]", "", "[tool.pytest.ini_options]", 'testpaths = ["tests"]']
        else:
            f.text = ["{", '  "name": "shop-web",', '  "private": true,', '  "dependencies": {']
            f.text += [dep_line(path, p, v) for p, v in versions.items()]
            f.text += ['    "shop-ui": "file:./ui"', "  }", "}"]
        f.origin = [seq] * len(f.text)
        self.files[f.fid] = f
        self.by_path[path] = f.fid
        return f

    def mailmap(self, seq: int) -> File:
        """The ``.mailmap`` that maps each person's second address to the first."""
        mm = self._file(".mailmap")
        alias = [p for p in HUMANS if p.alt_email]
        mm.text = [f"{p.name} <{p.email}> <{p.alt_email}>" for p in alias]
        mm.origin = [seq] * len(mm.text)
        self.files[mm.fid] = mm
        self.by_path[mm.path] = mm.fid
        return mm

    def at(self, path: str) -> File:
        """The main-line file at ``path``."""
        return self.files[self.by_path[path]]

    def candidates(self, area: str) -> list[File]:
        """Main-line text files of ``area`` that a commit may edit now."""
        out = []
        for fid in self.area_fids.get(area, ()):
            f = self.files.get(fid)
            if f is not None and fid not in self.locked and f.kind not in ("deps", "fixed", "png"):
                out.append(f)
        return out

    def delete(self, f: File) -> None:
        """Remove ``f`` from the main line."""
        del self.files[f.fid]
        del self.by_path[f.path]

    def merge(self, files: dict[int, File]) -> None:
        """Take a branch's files onto the main line and release their locks."""
        for fid, f in files.items():
            if fid not in self.files:
                self.area_fids.setdefault(area_of(f.path), []).append(fid)
            self.files[fid] = f
            self.by_path[f.path] = fid
            self.locked.pop(fid, None)

    def revertible(self, c: Commit) -> bool:
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
