"""Tracked files: their kind, service area and criticality, and their lines with who wrote each.

A :class:`File` keeps every text line beside the sequence number of the commit that wrote it, so
a fix can change exactly the lines its culprit added (blame-based SZZ can then find the culprit).
"""

from __future__ import annotations

import re

from riskml.synth.catalog import CRITICAL_AREAS, PKGS

VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def kind_of(path: str) -> str:
    """The line-template kind of ``path`` (``py``, ``sql``, … ``deps``, ``fixed``, ``png``)."""
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


def area_of(path: str) -> str:
    """The service a path belongs to: its top directory (``.github`` counts as infra)."""
    first = path.split("/", 1)[0] if "/" in path else ""
    if first == ".github":
        return "infra"
    return first


def is_critical(path: str) -> bool:
    """Whether a change to ``path`` raises the hidden risk (critical service, SQL, Dockerfile)."""
    return area_of(path) in CRITICAL_AREAS or path.endswith((".sql", "Dockerfile"))


def is_code(text: str) -> bool:
    """Whether a line is code, not blank or a comment (SZZ ignores those)."""
    s = text.strip()
    return bool(s) and not s.startswith(("#", "//", "--"))


def dep_pkg(path: str, line: str) -> str:
    """The package a dependency line of ``path`` names ("" for other lines)."""
    if path == "requirements.txt":
        return line.split("==", 1)[0] if "==" in line else ""
    if '"' in line and VERSION_RE.search(line):
        return line.split('"')[1].split(">=")[0]
    return ""


def dep_line(path: str, pkg: str, v: tuple[int, int, int]) -> str:
    """The line of dependency file ``path`` that pins ``pkg`` at version ``v``."""
    ver = f"{v[0]}.{v[1]}.{v[2]}"
    if path == "requirements.txt":
        return f"{pkg}=={ver}"
    if path == "pyproject.toml":
        return f'    "{pkg}>={ver}",'
    return f'    "{pkg}": "^{ver}",'


class File:
    """One tracked file: its text lines with the commit (sequence number) that wrote each."""

    __slots__ = ("fid", "path", "kind", "text", "origin", "data")

    def __init__(self, fid: int, path: str) -> None:
        self.fid = fid
        self.path = path
        self.kind = kind_of(path)
        self.text: list[str] = []
        self.origin: list[int] = []
        self.data: bytes = b""

    @property
    def binary(self) -> bool:
        """Whether the file is an image (``data``) rather than text lines."""
        return self.kind == "png"

    def copy(self) -> File:
        """An independent copy (a branch's or a revert's view of the file)."""
        other = File(self.fid, self.path)
        other.text = list(self.text)
        other.origin = list(self.origin)
        other.data = self.data
        return other

    def content(self) -> bytes:
        """The bytes git stores for the file."""
        if self.binary:
            return self.data
        return ("\n".join(self.text) + "\n").encode("utf-8") if self.text else b""
