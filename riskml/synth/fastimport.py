"""The ``git fast-import`` writer: one process fed as a stream, and the commits written into it.

Building the history through one fast-import stream, instead of a ``git commit`` per change, is
what makes generating thousands of commits take seconds (benchmarks/synth_bench.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from riskml.synth.files import File
from riskml.synth.records import Commit

MAIN_REF = "refs/heads/main"


class FastImport:
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
        """Queue chunks; the queue goes to git once it passes 1 MiB."""
        for chunk in chunks:
            self.buf.append(chunk)
            self.size += len(chunk)
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        """Send the queued chunks to git."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(b"".join(self.buf))
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._fail()
        self.buf.clear()
        self.size = 0

    def sha(self, mark: int) -> str:
        """The SHA of ``mark``, asked of git on the way (flushes the queue)."""
        assert self.proc.stdout is not None
        self.write(f"get-mark :{mark}\n".encode())
        self.flush()
        line = self.proc.stdout.readline().decode().strip()
        if len(line) != 40:
            self._fail()
        return line

    def finish(self) -> None:
        """End the stream and wait for git; raises if git failed."""
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


def data(payload: bytes) -> bytes:
    """A fast-import ``data`` block holding ``payload``."""
    return b"data %d\n" % len(payload) + payload + b"\n"


def tzs(minutes: int) -> str:
    """A git time-zone offset (``+0100``) of ``minutes`` east of UTC."""
    sign = "+" if minutes >= 0 else "-"
    m = abs(minutes)
    return f"{sign}{m // 60:02d}{m % 60:02d}"


class Stream:
    """Numbers the marks and writes commits into a :class:`FastImport` (opened by :meth:`open`)."""

    def __init__(self) -> None:
        self.mark = 0
        self.fi: FastImport | None = None

    def open(self, repo: Path, env: dict[str, str], marks: Path, errlog: Path) -> FastImport:
        """Start the fast-import process that this stream writes to."""
        self.fi = FastImport(repo, env, marks, errlog)
        return self.fi

    def next_mark(self) -> int:
        """A fresh mark for the next object written."""
        self.mark += 1
        return self.mark

    def write(self, *chunks: bytes) -> None:
        """Write raw fast-import commands."""
        self.fi.write(*chunks)

    def sha(self, mark: int) -> str:
        """The SHA git gave the object of ``mark`` (written so far)."""
        return self.fi.sha(mark)

    def emit(
        self,
        c: Commit,
        message: bytes,
        ops: list[bytes],
        ref: str = MAIN_REF,
        frm: int = 0,
    ) -> None:
        """Write ``c`` with ``message`` and file operations ``ops`` to ``ref``; sets ``c.mark``."""
        c.mark = self.next_mark()
        name, email = c.author
        cname, cemail = c.committer or c.author
        tz = tzs(c.tz)
        head = [
            f"commit {ref}\nmark :{c.mark}\n".encode(),
            f"author {name} <{email}> {c.time} {tz}\n".encode(),
            f"committer {cname} <{cemail}> {c.ctime or c.time} {tz}\n".encode(),
            data(message),
        ]
        if frm:
            head.append(f"from :{frm}\n".encode())
        self.fi.write(*head, *ops, b"\n")


def modify(f: File) -> bytes:
    """The fast-import command that sets ``f``'s whole content."""
    return f"M 100644 inline {f.path}\n".encode() + data(f.content())
