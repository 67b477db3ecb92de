"""The changes table and its companions on disk, changed together as one snapshot.

``riskml mine`` writes three things that belong together: the changes table, the tokens of its
rows and the mining state its next run continues from. The table keeps its own path (what
every other tool reads); its companions live in a directory of their own for each version of
the table, named after the table's bytes::

    data/<repo>/changes.parquet                the table
    data/<repo>/changes.state/<digest>.<n>/    its companions: snapshot.json, tokens.parquet,
                                               the mining state (state.json, *.arrow)

``<digest>`` is the start of the SHA-256 of the table file; ``<n>`` numbers the versions of the
companions of the same bytes (a run that adds no row but sees new merges writes ``n + 1``).

:func:`commit` writes the new table to a temporary file and the companions into a temporary
directory, renames the directory into place, then the table over the old one, and only then
removes the companions of older versions. :func:`read` reads the table's bytes once and takes
the companions named after them (the highest ``n``). So whenever a reader reads, and wherever a
kill stops a writer, it sees the old table with the old companions or the new table with the
new ones, never one with the other. Writers are serialised by the table's file lock (mine);
readers take no lock. A reader that loses a race with the clean-up of an older version reads
again (:func:`read_with`).

A table without companions (a user's own, a public table, one mined by an earlier riskml) is
still a table: :attr:`Snapshot.companions` is None.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from riskml.errors import NoSpaceError, RiskmlError, no_space

DIGEST_CHARS = 16  # 64 bits of the SHA-256: names the companions of one table's bytes
META_FILE = "snapshot.json"
SNAPSHOT_FORMAT = "riskml snapshot"
_NAME = re.compile(rf"^([0-9a-f]{{{DIGEST_CHARS}}})\.([1-9][0-9]{{0,8}})$")
# the test-only stop points of commit(); tests/mine/test_mine_kill.py kills a real mine there
KILL_ENV = "RISKML_TEST_KILL_AT"
KILL_POINTS = ("table-written", "companions-written", "companions-renamed", "table-renamed")

T = TypeVar("T")


def state_dir(table: str | Path) -> Path:
    """The directory of the companions of ``table``: ``<stem>.state`` beside it."""
    table = Path(table)
    return table.with_name(f"{table.stem}.state")


def legacy_state_path(table: str | Path) -> Path:
    """Where an earlier riskml kept the mining state of ``table``: ``<stem>.state.joblib``
    (a pickle; never read, only noticed so that ``mine`` re-mines and scoring says so)."""
    table = Path(table)
    return table.with_name(f"{table.stem}.state.joblib")


def legacy_tokens_path(table: str | Path) -> Path:
    """Where an earlier riskml kept the tokens file of ``table``: ``<stem>.tokens.parquet``."""
    table = Path(table)
    return table.with_name(f"{table.stem}.tokens.parquet")


@dataclass(frozen=True)
class Snapshot:
    """One version of a table as read: its bytes and the directory of its companions."""

    table: Path
    data: bytes = field(repr=False)  # parse these, not the file again: they are what was hashed
    digest: str
    companions: Path | None  # None: the table has no companions (not mined, or mined before)
    meta: dict[str, Any] = field(default_factory=dict)  # snapshot.json

    @property
    def root_commit(self) -> str | None:
        """The repository's root commit recorded with the companions (None when unknown)."""
        value = self.meta.get("root_commit")
        return value if isinstance(value, str) else None

    def companion(self, name: str) -> Path | None:
        """A file among the companions (None when the table has none)."""
        return None if self.companions is None else self.companions / name


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]


def read(table: str | Path) -> Snapshot:
    """The table's bytes and the companions made for exactly those bytes (if any).

    A missing table is a :class:`RiskmlError`; an unreadable ``snapshot.json`` among the
    companions too (the directory is renamed into place whole, so it is not a torn write).
    """
    table = Path(table)
    for _ in range(3):
        try:
            data = table.read_bytes()
        except FileNotFoundError:
            raise RiskmlError(f"table not found: {table}") from None
        except OSError as exc:
            raise RiskmlError(f"{table}: cannot be read ({exc.strerror})") from None
        digest = digest_of(data)
        found = _versions(state_dir(table)).get(digest)
        if not found:
            return Snapshot(table, data, digest, None)
        companions = found[max(found)]
        try:
            return Snapshot(table, data, digest, companions, _read_meta(companions))
        except FileNotFoundError:
            continue  # a writer replaced the table and removed these meanwhile: read again
    raise RiskmlError(f"{table}: replaced while it was read, three times; try again")


def read_with(table: str | Path, use: Callable[[Snapshot], T], attempts: int = 3) -> T:
    """``use(read(table))``; when ``use`` fails because a writer replaced the table and removed
    the companions it was reading meanwhile, once more with the new snapshot."""
    snap = read(table)
    for attempt in range(attempts):
        try:
            return use(snap)
        except (OSError, RiskmlError):
            again = read(table)
            if again.digest == snap.digest and again.companions == snap.companions:
                raise  # nothing changed under it: the failure is the files' own
            if attempt == attempts - 1:
                raise
            snap = again
    raise AssertionError("unreachable")


def has_companions(table: str | Path) -> bool:
    """True when companions of some version of ``table`` exist (of its bytes or not)."""
    table = Path(table)
    return any(
        _belongs_to(path, table)
        for found in _versions(state_dir(table)).values()
        for path in found.values()
    )


def _versions(directory: Path) -> dict[str, dict[int, Path]]:
    """``{digest: {n: path}}`` of the companion directories in ``directory``."""
    out: dict[str, dict[int, Path]] = {}
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in entries:
        match = _NAME.match(entry.name)
        if match and entry.is_dir(follow_symlinks=False):
            out.setdefault(match[1], {})[int(match[2])] = Path(entry.path)
    return out


def _read_meta(companions: Path) -> dict[str, Any]:
    try:
        meta = json.loads((companions / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise  # removed under a reader: read_with reads again
    except (OSError, ValueError) as exc:
        raise RiskmlError(f"{companions}: not a riskml snapshot ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != SNAPSHOT_FORMAT:
        raise RiskmlError(f"{companions}: not a riskml snapshot")
    return meta


def commit(
    table: str | Path,
    write_companions: Callable[[Path], None],
    *,
    write_table: Callable[[Path], None] | None,
    current: Snapshot | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Replace ``table`` and its companions as one change; returns the companions' directory.

    ``write_table(tmp)`` writes the new table to a temporary file (None: the table stays as
    ``current`` holds it); ``write_companions(directory)`` fills a fresh directory. The caller
    holds the table's lock. A failure or a kill at any point leaves the old snapshot whole (and
    a failure no temporary file; a full disk is a :class:`NoSpaceError` naming the table, any
    other :class:`OSError` one :class:`RiskmlError`); the next commit removes what a kill left
    behind.
    """
    table = Path(table)
    if write_table is None and current is None:
        raise ValueError("keeping the table needs the current snapshot")
    directory = state_dir(table)
    directory.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}.{uuid.uuid4().hex}"
    tmp_table = table.with_name(f".{table.name}.{token}.tmp")
    work = directory / f".{table.name}.{token}.tmp"
    try:
        if write_table is not None:
            write_table(tmp_table)
            digest = digest_of(tmp_table.read_bytes())
        else:
            digest = current.digest
        _stop_if_asked("table-written")
        n = 1 + max(_versions(directory).get(digest, {0: None}))
        work.mkdir()
        write_companions(work)
        record = {**(meta or {}), "format": SNAPSHOT_FORMAT, "table": table.name,
                  "digest": digest, "version": n}  # fmt: skip
        (work / META_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _stop_if_asked("companions-written")
        final = directory / f"{digest}.{n}"
        os.rename(work, final)
        _stop_if_asked("companions-renamed")
        if write_table is not None:
            if current is not None and current.digest == digest:
                tmp_table.unlink()  # the same bytes: leave the file (and its time) alone
            else:
                os.replace(tmp_table, table)  # the commit: readers now take `final`
        _stop_if_asked("table-renamed")
    except BaseException as exc:
        tmp_table.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        if no_space(exc):
            raise NoSpaceError(table) from None
        if isinstance(exc, OSError):  # a read-only folder, a quota of files: the user's to fix
            raise RiskmlError(
                f"{table}: could not write its new version ({exc.strerror or exc}); the table "
                "and its companions are as they were"
            ) from None
        raise
    _collect(table, keep=final)
    return final


def _collect(table: Path, keep: Path) -> None:
    """Remove what older versions of ``table`` and killed writers left: other companion
    directories of this table, temporary files and directories, an earlier riskml's state and
    tokens files. Another table's companions in the same directory are left alone."""
    directory = state_dir(table)
    prefix = f".{table.name}."
    for entry in list(os.scandir(directory)):
        path = Path(entry.path)
        if path == keep:
            continue
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
            shutil.rmtree(path, ignore_errors=True)
        elif _NAME.match(entry.name) and _belongs_to(path, table):
            # out of the readers' sight in one rename, then removed at leisure
            trash = directory / f"{prefix}{uuid.uuid4().hex}.tmp"
            try:
                os.rename(path, trash)
            except OSError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
    for entry in list(os.scandir(table.parent)):
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp") and entry.is_file():
            Path(entry.path).unlink(missing_ok=True)
    legacy_state_path(table).unlink(missing_ok=True)
    legacy_tokens_path(table).unlink(missing_ok=True)


def _belongs_to(companions: Path, table: Path) -> bool:
    try:
        return _read_meta(companions).get("table") == table.name
    except (OSError, RiskmlError):
        return False  # not ours to remove


def _stop_if_asked(point: str) -> None:
    """Test-only: SIGKILL this process at ``point`` when ``RISKML_TEST_KILL_AT`` names it."""
    if os.environ.get(KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
