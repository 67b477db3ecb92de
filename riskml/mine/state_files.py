"""The mining state's histories as Arrow IPC files: columns of integers and strings.

Each history is one table (one ``<name>.arrow`` file, :data:`SCHEMAS`); what a Python object
holds as a list becomes an Arrow list column, a list of lists a list of list columns, and a
dict two parallel columns (keys, values, in the dict's order), so a state reads back exactly
as it was, dict orders included:

========== ======================= =================================================
file       one row per             columns
========== ======================= =================================================
files      distinct file history   fid, last/first change, lines, top, n_coupled; its
                                   commits and their churn, fixes, reverts; authors
                                   (ids into ``emails``) and each one's commits;
                                   co-change partners (fids) and their counts
paths      live path               path, the row of its history in ``files``
emails     e-mail of a file author the address (row = the id ``files.authors`` use)
authors    author                  e-mail, first commit time, commit times, and per
                                   subsystem the indices of their commits
past       recorded commit         author time, author id (file_past.PastIndex)
author_ids author of ``past``      e-mail, id
dir_fixes  directory               earlier fix commits touching it
recent     change of the window    each RECENT_COLUMNS value, in order and sorted
seen       handled commit          SHA (rows, merges and skipped commits)
alive      live file               fid
========== ======================= =================================================

Reading checks each file's schema, row count (``state.json`` records them), missing values
and the range of every index, so a damaged or crafted file is refused with one line rather
than read into a state that fails later.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from array import array
from collections import deque
from itertools import chain
from pathlib import Path

from riskml.mine import file_past as fp
from riskml.mine.recent import RECENT_COLUMNS


def _schemas():
    import pyarrow as pa

    i64, text = pa.int64(), pa.large_string()
    ints, texts = pa.large_list(i64), pa.large_list(text)
    nested = pa.large_list(ints)
    columns = {
        "files": [
            ("fid", i64), ("last_time", i64), ("first_time", i64), ("lines", i64),
            ("top", i64), ("n_coupled", i64), ("commits", ints), ("churn", ints),
            ("fixes", ints), ("reverts", ints), ("authors", ints), ("author_commits", nested),
            ("partners", ints), ("together", ints),
        ],
        "paths": [("path", text), ("file", i64)],
        "emails": [("email", text)],
        "authors": [
            ("email", text), ("first_time", i64), ("times", ints), ("subsystems", texts),
            ("subsystem_commits", nested),
        ],
        "past": [("time", i64), ("author", i64)],
        "author_ids": [("email", text), ("id", i64)],
        "dir_fixes": [("dir", text), ("fixes", i64)],
        "recent": [(f"{c}{s}", pa.float64()) for c in RECENT_COLUMNS for s in ("", ".sorted")],
        "seen": [("commit", text)],
        "alive": [("fid", i64)],
    }  # fmt: skip
    return {name: pa.schema(cols) for name, cols in columns.items()}


# columns whose values may be missing (a file history before its first change has no times)
NULLABLE = {("files", "last_time"), ("files", "first_time")}


# --------------------------------------------------------------------------- writing


@contextlib.contextmanager
def _no_cycle_collection():
    """The cyclic garbage collector paused: reading or writing a state makes or walks a great
    many small lists and dicts, none of them in a cycle, and a collection every few hundred of
    them walks every object the process holds (the pickle baseline pays it too)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def write_parts(state, directory: Path) -> dict[str, int]:
    """Write every history of ``state`` into ``directory``; returns ``{file: rows}``."""
    import pyarrow as pa

    schemas = _schemas()
    with _no_cycle_collection():
        tables = _tables(state)
    rows = {}
    for name, columns in tables.items():
        table = pa.Table.from_arrays(columns, schema=schemas[name])
        path = directory / f"{name}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        rows[name] = table.num_rows
    return rows


def _tables(state) -> dict[str, list]:
    import pyarrow as pa

    histories = list(dict.fromkeys(state.files.values()))  # distinct objects, first-seen order
    row_of = {id(h): i for i, h in enumerate(histories)}
    emails: dict[str, int] = dict.fromkeys(state.past.author_ids, 0)
    for h in histories:
        emails.update(dict.fromkeys(h.authors, 0))
    email_id = {email: i for i, email in enumerate(emails)}
    authors = list(state.authors.items())
    recent = state.recent
    return {
        "files": [
            _ints(h.fid for h in histories),
            pa.array([h.last_time for h in histories], pa.int64()),
            pa.array([h.first_time for h in histories], pa.int64()),
            _ints(h.lines for h in histories),
            _ints(h.top for h in histories),
            _ints(h.n_coupled for h in histories),
            _lists([h.commits for h in histories]),
            _lists([h.churn for h in histories]),
            _lists([h.fixes for h in histories]),
            _lists([h.reverts for h in histories]),
            _lists([[email_id[e] for e in h.authors] for h in histories]),
            _nested([list(h.authors.values()) for h in histories]),
            _lists([list(h.partners) for h in histories]),
            _lists([list(h.partners.values()) for h in histories]),
        ],
        "paths": [_texts(state.files), _ints(row_of[id(h)] for h in state.files.values())],
        "emails": [_texts(emails)],
        "authors": [
            _texts(email for email, _ in authors),
            _ints(a.first_time for _, a in authors),
            _lists([a.times for _, a in authors]),
            _text_lists([list(a.subsystems) for _, a in authors]),
            _nested([list(a.subsystems.values()) for _, a in authors]),
        ],
        "past": [_ints(state.past.times), _ints(state.past.author_of)],
        "author_ids": [_texts(state.past.author_ids), _ints(state.past.author_ids.values())],
        "dir_fixes": [_texts(state.past.dir_fixes), _ints(state.past.dir_fixes.values())],
        "recent": [
            pa.array(list(values), pa.float64())
            for c in RECENT_COLUMNS
            for values in (recent.order[c], recent.sorted[c])
        ],
        "seen": [_texts(state.seen)],
        "alive": [_ints(state.alive)],
    }


def _ints(values):
    import numpy as np
    import pyarrow as pa

    return pa.array(np.fromiter(values, dtype=np.int64))


def _texts(values):
    import pyarrow as pa

    return pa.array(list(values), pa.large_string())


def _offsets(lengths: list[int]):
    import numpy as np
    import pyarrow as pa

    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.array(offsets)


def _lists(lists: list[list[int]]):
    import numpy as np
    import pyarrow as pa

    offsets = _offsets([len(x) for x in lists])
    total = offsets[-1].as_py()
    values = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=total)
    return pa.LargeListArray.from_arrays(offsets, pa.array(values))


def _text_lists(lists: list[list[str]]):
    import pyarrow as pa

    offsets = _offsets([len(x) for x in lists])
    return pa.LargeListArray.from_arrays(offsets, _texts(chain.from_iterable(lists)))


def _nested(lists: list[list[list[int]]]):
    import pyarrow as pa

    offsets = _offsets([len(x) for x in lists])
    return pa.LargeListArray.from_arrays(offsets, _lists([y for x in lists for y in x]))


# --------------------------------------------------------------------------- reading


class BadState(ValueError):
    """What is wrong with a state's files (load_state says "not a riskml mining state")."""


def read_parts(state, directory: Path, rows: dict) -> None:
    """Fill ``state`` (its scalars already read) from the Arrow files in ``directory``;
    ``rows``: the row counts ``state.json`` recorded. Raises :class:`BadState`. The
    histories are of the classes of ``state``'s own module (FileHistory, AuthorHistory)."""
    with _no_cycle_collection():
        _read_parts(state, directory, rows)


def _read_parts(state, directory: Path, rows: dict) -> None:
    module = sys.modules[type(state).__module__]
    FileHistory, AuthorHistory = module.FileHistory, module.AuthorHistory  # noqa: N806

    schemas = _schemas()
    if not isinstance(rows, dict) or set(rows) != set(schemas):
        raise BadState("the list of its files is not a state's")
    t = {name: _read(directory, name, schema, rows[name]) for name, schema in schemas.items()}
    n_commits = state.n_commits

    past = t["past"]
    if past.num_rows != n_commits:
        raise BadState(f"past.arrow has {past.num_rows} rows for {n_commits} commits")
    index = fp.PastIndex()
    index.times = _int_array("q", _column(past, "time"))
    index.author_of = _int_array("l", _column(past, "author"))
    index.author_ids = dict(zip(_strings(t["author_ids"], "email"),
                                _values(t["author_ids"], "id"), strict=True))  # fmt: skip
    index.dir_fixes = dict(zip(_strings(t["dir_fixes"], "dir"),
                               _values(t["dir_fixes"], "fixes"), strict=True))  # fmt: skip
    state.past = index

    files = t["files"]
    emails = _strings(t["emails"], "email")
    commits = _split(files, "commits", n_commits)
    churn = _split(files, "churn")
    if [len(c) for c in churn] != [len(c) for c in commits]:
        raise BadState("files.arrow: churn and commits differ in length")
    fixes, reverts = _split(files, "fixes", n_commits), _split(files, "reverts", n_commits)
    authors = _split(files, "authors", len(emails))
    author_commits = _split_nested(files, "author_commits", n_commits)
    partners, together = _split(files, "partners"), _split(files, "together")
    fid, lines, top = _values(files, "fid"), _values(files, "lines"), _values(files, "top")
    coupled = _values(files, "n_coupled")
    last, first = files.column("last_time").to_pylist(), files.column("first_time").to_pylist()
    histories = []
    for i in range(files.num_rows):
        h = FileHistory.__new__(FileHistory)
        h.fid, h.lines, h.top, h.n_coupled = fid[i], lines[i], top[i], coupled[i]
        h.last_time, h.first_time = last[i], first[i]
        h.commits, h.churn, h.fixes, h.reverts = commits[i], churn[i], fixes[i], reverts[i]
        h.authors = dict(zip(map(emails.__getitem__, authors[i]), author_commits[i], strict=True))
        h.partners = dict(zip(partners[i], together[i], strict=True))
        histories.append(h)
    paths = t["paths"]
    which = _values(paths, "file", len(histories))
    state.files = dict(zip(_strings(paths, "path"), map(histories.__getitem__, which),
                           strict=True))  # fmt: skip

    people = t["authors"]
    times = _split(people, "times")
    subsystems = _split_strings(people, "subsystems")
    subsystem_commits = _split_nested(people, "subsystem_commits", n_commits)
    first_times = _values(people, "first_time")
    state.authors = {}
    for i, email in enumerate(_strings(people, "email")):
        a = AuthorHistory.__new__(AuthorHistory)
        a.times, a.first_time = times[i], first_times[i]
        a.subsystems = dict(zip(subsystems[i], subsystem_commits[i], strict=True))
        state.authors[email] = a

    recent = t["recent"]
    for c in RECENT_COLUMNS:
        state.recent.order[c] = deque(recent.column(c).to_numpy().tolist())
        state.recent.sorted[c] = recent.column(f"{c}.sorted").to_numpy().tolist()
    state.seen = set(_strings(t["seen"], "commit"))
    state.alive = set(_values(t["alive"], "fid"))


def _read(directory: Path, name: str, schema, rows):
    import pyarrow as pa

    path = directory / f"{name}.arrow"
    with pa.OSFile(str(path), "rb") as source:  # read whole: nothing stays mapped
        table = pa.ipc.open_file(source).read_all()
    if not table.schema.equals(schema, check_metadata=False):
        raise BadState(f"{name}.arrow: not the columns of a state")
    if table.num_rows != rows:
        raise BadState(f"{name}.arrow: {table.num_rows} rows, state.json says {rows}")
    table = table.combine_chunks()
    table.validate(full=True)
    for column, field in zip(table.columns, schema, strict=True):
        if (name, field.name) not in NULLABLE and _has_nulls(
            column.chunks[0] if column.num_chunks else None
        ):
            raise BadState(f"{name}.arrow: missing values in {field.name}")
    return table


def _has_nulls(array) -> bool:
    while array is not None:
        if array.null_count:
            return True
        array = getattr(array, "values", None) if hasattr(array, "offsets") else None
    return False


def _column(table, name: str):
    import pyarrow as pa

    column = table.column(name)
    return column.chunks[0] if column.num_chunks else pa.array([], column.type)


def _values(table, name: str, bound: int | None = None) -> list:
    values = _column(table, name).to_numpy()
    _check_bound(values, bound, name)
    return values.tolist()


def _strings(table, name: str) -> list[str]:
    return _column(table, name).to_pylist()


def _int_array(code: str, column) -> array:
    out = array(code)
    values = column.to_numpy()
    if out.itemsize == values.dtype.itemsize:
        out.frombytes(values.tobytes())
    else:
        out.extend(values.tolist())
    return out


def _check_bound(values, bound: int | None, name: str) -> None:
    """Every index in [0, bound) (the commits, e-mails or histories it points at)."""
    if bound is not None and len(values) and (values.min() < 0 or values.max() >= bound):
        raise BadState(f"{name}: an index outside 0..{bound - 1}")


def _split(table, name: str, bound: int | None = None) -> list[list[int]]:
    lists = _column(table, name)
    offsets = lists.offsets.to_numpy().tolist()
    values = lists.values.to_numpy()
    _check_bound(values, bound, name)
    values = values.tolist()
    return [values[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]


def _split_strings(table, name: str) -> list[list[str]]:
    lists = _column(table, name)
    offsets = lists.offsets.to_numpy().tolist()
    values = lists.values.to_pylist()
    return [values[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]


def _split_nested(table, name: str, bound: int | None = None) -> list[list[list[int]]]:
    outer = _column(table, name)
    offsets = outer.offsets.to_numpy().tolist()
    inner = outer.values
    inner_offsets = inner.offsets.to_numpy().tolist()
    values = inner.values.to_numpy()
    _check_bound(values, bound, name)
    values = values.tolist()
    lists = [values[a:b] for a, b in zip(inner_offsets, inner_offsets[1:], strict=False)]
    return [lists[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]
