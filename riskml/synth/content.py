"""What commits write: new lines, images, new file paths, and edits of a file's lines.

Every new line carries a serial number, so no two lines are equal and diffs and blame are
unambiguous.
"""

from __future__ import annotations

import random

from riskml.synth.catalog import FUNCS, LINE_TEMPLATES, SUBDIRS, WORDS
from riskml.synth.files import File


class Content:
    """Draws text from ``rng``; never deletes lines of a culprit in ``pending`` (seqs)."""

    def __init__(self, rng: random.Random, pending: set[int]) -> None:
        self.rng = rng
        self.pending = pending
        self.uid = 0

    def line(self, kind: str) -> str:
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

    def png(self) -> bytes:
        """The bytes of a new (random) image."""
        n = self.rng.randint(200, 1500)
        return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + self.rng.randbytes(n) + b"\x00IEND"

    def size(self) -> int:
        """How many lines an ordinary change writes: log-normal, 1 to 300."""
        return max(1, min(300, int(self.rng.lognormvariate(2.0, 1.1))))

    def new_path(self, area: str) -> str:
        """A path for a new file of service ``area``."""
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

    def edit(self, f: File, seq: int, size: int, mode: str = "") -> tuple[int, int]:
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
        new = [self.line(f.kind) for _ in range(added)]
        f.text[pos:pos] = new
        f.origin[pos:pos] = [seq] * added
        return added, k
