"""``mine()``: the changes table of a repository, incremental, in parallel over commit ranges.

1. list the commits reachable from ``rev`` and order them by (author time, generation, SHA):
   author-time order, ties in topological order, and an order that depends only on each
   commit's own ancestry, so mining a prefix of history never reorders its commits;
2. extract raw records of the commits not yet mined (merges excluded) in ``workers`` processes,
   each over a contiguous range, with batched git (:mod:`riskml.mine.extract`);
3. one sequential pass through :class:`MiningState` computes the history features;
4. append the rows to the table and save the state and the tokens with it, as one snapshot
   (:mod:`riskml.snapshot`): a kill at any point leaves the old set or the new one.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from riskml import snapshot
from riskml.config import Config, data_paths, load_config
from riskml.errors import RiskmlError
from riskml.gitio import ensure_repo, has_commits, is_shallow, resolve_rev, root_commit
from riskml.mine import extract
from riskml.mine.extract import MiningWarning
from riskml.mine.provenance import read_ai_notes
from riskml.mine.state import (
    STATE_VERSION,
    MiningState,
    OutdatedStateError,
    config_fingerprint,
    load_state,
    state_path,
)
from riskml.mine.table import COLUMNS, normalize, table_format, to_frame
from riskml.tables import (
    AI_DETAIL_COLUMNS,
    TOKENS_FILE,
    changes_of,
    changes_writer,
    check_repository,
    make_parent,
    read_tokens,
    write_tokens,
)

# Below this many new commits the progress bar stays off in "auto" mode.
PROGRESS_MIN_COMMITS = 1000
# With several workers, history is cut into ranges of about this many commits (at least one
# range per worker); fewer commits than two small ranges are not worth a process pool.
CHUNK_COMMITS = 2000
MIN_CHUNK_COMMITS = 200


def order_commits(commits: list[tuple[str, list[str], int]]) -> list[tuple[tuple, list[str]]]:
    """Sort (sha, parents, author_time) parents-first by (author_time, generation, sha).

    The generation (1 + the longest parent chain) only depends on a commit's ancestors.
    """
    gen: dict[str, int] = {}
    keyed = []
    for sha, parents, at in commits:
        g = 1 + max((gen.get(p, 0) for p in parents), default=0)
        gen[sha] = g
        keyed.append(((at, g, sha), parents))
    keyed.sort(key=lambda kp: kp[0])
    return keyed


def _extract_job(repo: Path, shas: list[str], content) -> tuple[list[dict], list[str]]:
    """Run in a worker: records plus the warnings raised (processes do not forward warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MiningWarning)
        records = extract.records_for(repo, shas, content)
    return records, [str(w.message) for w in caught if issubclass(w.category, MiningWarning)]


def _records(repo: Path, shas: list[str], workers: int, content) -> Iterator[dict]:
    """Records of ``shas`` in order (with their diff content unless ``content`` is False). One
    worker streams from git in this process (the history pass overlaps git's work); more
    workers extract contiguous ranges in processes, and the history pass consumes each range
    as soon as it is back."""
    if workers <= 1 or len(shas) < 2 * MIN_CHUNK_COMMITS:
        yield from extract.iter_records(repo, shas, content)
        return
    from joblib import delayed

    from riskml.processes import parallel

    n_chunks = max(workers, -(-len(shas) // CHUNK_COMMITS))
    chunks = list(extract.iter_chunks(shas, n_chunks))
    # workers that exit when this process dies, however it dies
    results = parallel(workers, return_as="generator")(
        delayed(_extract_job)(repo, c, content) for c in chunks
    )
    for recs, problems in results:
        for message in problems:
            warnings.warn(message, MiningWarning, stacklevel=3)
        yield from recs


def mine(
    repo: str | Path,
    rev: str = "HEAD",
    out: str | Path | None = None,
    workers: int = 1,
    config: Config | str | Path | None = None,
    repo_name: str | None = None,
    progress: bool | None = False,
):
    """Mine the changes table of ``repo`` up to ``rev`` into ``out`` and return the whole table.

    ``out`` defaults to ``data/<repo name>/changes.parquet``; its suffix (.parquet/.csv) sets
    the format. When ``out`` exists, its state (``state_path(out)``) is loaded and only commits
    not yet in the table are mined and appended; old rows stay as they are. ``config`` is a
    :class:`Config`, a path to a riskml.toml, or None (the repository's riskml.toml or the
    defaults). ``progress`` None shows a bar on stderr for long runs on a terminal.
    Raises :class:`RiskmlError` for a path that is not a repository, a repository without
    commits, an unknown ``rev`` or an unsupported suffix; unreadable commits and shallow history
    are :class:`MiningWarning` and the rest is mined.
    """
    return _mine(repo, rev, out, workers, config, repo_name, progress, as_frame=True)


def _mine(repo, rev, out, workers, config, repo_name, progress, as_frame: bool):
    if not isinstance(workers, int) or workers < 1:
        raise RiskmlError(f"--workers must be a positive integer, got {workers!r}")
    top = ensure_repo(repo)
    if not has_commits(top):
        raise RiskmlError(f"repository has no commits: {repo}")
    cfg = config if isinstance(config, Config) else load_config(config, repo=top)
    name = repo_name or top.name
    out = Path(out) if out is not None else data_paths(name).changes
    table_format(out)
    commits = extract.list_commits(top, rev)
    root = root_commit(top, resolve_rev(top, rev))
    make_parent(out)  # a file in the way, a read-only file system: one line
    with _table_lock(out):
        return _mine_locked(top, commits, out, workers, cfg, name, progress, as_frame, root)


def _table_lock(out: Path):
    """One writer per table: a file lock ``<out>.lock`` held from reading the table and its
    state to writing both, so two `mine` runs (a scheduled `run` and a manual `mine`) cannot
    leave a table and a state from different runs. Waits up to ``RISKML_MINE_LOCK_TIMEOUT``
    seconds (default 3600), then raises :class:`RiskmlError`."""
    import os

    from riskml.locks import file_lock

    timeout = float(os.environ.get("RISKML_MINE_LOCK_TIMEOUT", "3600"))
    path = out.with_name(out.name + ".lock")
    busy = (
        f"another riskml mine is writing {out} (lock {path}, waited {timeout:g} s); "
        "try again when it has finished"
    )
    return file_lock(path, timeout, busy)


def _mine_locked(top, commits, out, workers, cfg, name, progress, as_frame: bool, root: str):
    current, state = _current(top, out, name)
    old = old_tokens = None
    if state is not None:
        old = changes_of(current)
        lacking = [c for c in AI_DETAIL_COLUMNS if c not in old.columns]
        if lacking:
            # rows mined before these columns would read as "no model, no note": re-mine them
            warnings.warn(
                f"{out} was mined before the {' and '.join(lacking)} column(s) existed; "
                "re-mining every row",
                MiningWarning,
                stacklevel=3,
            )
            state = old = None
    if state is not None:
        if state.n_rows != len(old):
            raise RiskmlError(
                f"{out} has {len(old)} rows but its state {current.companions} knows "
                f"{state.n_rows}; remove the table to mine from scratch"
            )
        if config_fingerprint(state.config) != config_fingerprint(cfg):
            warnings.warn(
                "the configuration changed since the table was mined; new rows use the new one "
                "(remove the table to re-mine every row with it)",
                MiningWarning,
                stacklevel=3,
            )
        state.set_config(cfg)
        old_tokens = _old_tokens(current, state, out)
    else:
        state = MiningState(name, cfg, root)

    ordered = order_commits(commits)
    boundary = extract.shallow_boundary(top) if is_shallow(top) else set()
    todo: list[tuple[tuple, list[str]]] = []
    skipped_boundary = 0
    for key, parents in ordered:
        sha = key[2]
        if sha in state.seen:
            continue
        if len(parents) > 1:
            state.seen.add(sha)  # merges are not changes of their own
        elif sha in boundary:
            state.seen.add(sha)
            skipped_boundary += 1
        else:
            todo.append((key, parents))
    if boundary:
        warnings.warn(
            f"shallow clone: history features only see the {len(commits)} commits present, and "
            f"{skipped_boundary} boundary commit(s) whose parents are missing are not mined",
            MiningWarning,
            stacklevel=2,
        )
    if state.last_key is not None:
        late = sum(1 for key, _ in todo if key < state.last_key)
        if late:
            warnings.warn(
                f"{late} new commit(s) are older than the last mined one; they are appended "
                "after it (remove the table to re-mine in exact author-time order)",
                MiningWarning,
                stacklevel=2,
            )

    show = progress
    if show is None:
        show = sys.stderr.isatty() and len(todo) >= PROGRESS_MIN_COMMITS
    bar = None
    if show and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="commit", desc=f"mining {name}", file=sys.stderr)
    notes = read_ai_notes(top, cfg.ai.notes_ref)
    keys = {key[2]: key for key, _ in todo}
    content = extract.ContentReader(cfg.mine.config_globs)
    rows = []
    tokens = []
    try:
        for rec in _records(top, [key[2] for key, _ in todo], workers, content):
            rec["ai_note"] = notes.get(rec["commit"])
            row = state.add(rec, keys[rec["commit"]])
            tokens.append(row.pop("tokens", ""))
            rows.append(row)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    for key, _ in todo:
        state.seen.add(key[2])  # commits git could not read stay skipped on later runs

    import pandas as pd

    new = to_frame(rows, list(COLUMNS))
    new_tokens = pd.DataFrame({"commit": new["commit"].astype(str), "tokens": tokens})
    # the table, its tokens and the state change together: one snapshot (riskml.snapshot)
    write_table = None  # nothing new: the table stays, byte for byte
    if old is None or len(new):
        write_table = changes_writer(new, out, append_to=old, root=state.root_commit,
                                     old=current.data if old is not None else None)  # fmt: skip

    def companions(directory: Path) -> None:
        if len(new) == 0 and old_tokens is not None:
            _link_or_copy(current.companion(TOKENS_FILE), directory / TOKENS_FILE)
        else:
            write_tokens(new_tokens, directory / TOKENS_FILE, append_to=old_tokens,
                         root=state.root_commit)  # fmt: skip
        state.save(directory)

    meta = {"root_commit": state.root_commit, "repo_name": name, "rows": state.n_rows}
    snapshot.commit(out, companions, write_table=write_table, current=current, meta=meta)
    if old is None:
        table = new
    else:
        table = normalize(pd.concat([old, new], ignore_index=True)) if len(new) else old
    table.attrs["new_rows"] = len(new)
    table.attrs["root_commit"] = state.root_commit
    table.attrs["what"] = f"{out}: a changes table"
    if not as_frame:
        return MineResult(out, state_path(out), len(new), len(table))
    return table


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` as the same bytes as ``source``: a hard link (snapshots are never changed
    once in place), else a copy."""
    import os
    import shutil

    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _current(top: Path, out: Path, name: str):
    """``(snapshot, state)`` of the table ``out`` as it is: ``(None, None)`` when there is no
    table, or when its state is of another format (re-mined from scratch, with a warning);
    a table without a state, or of another repository, is a :class:`RiskmlError`."""
    if not out.exists():
        return None, None
    current = snapshot.read(out)
    if current.companions is None:
        legacy = snapshot.legacy_state_path(out)
        if not legacy.exists():
            if snapshot.has_companions(out):
                raise RiskmlError(
                    f"{out} was changed after `riskml mine` wrote it: its mining state (in "
                    f"{state_path(out)}) is of other bytes; remove it to mine from scratch"
                )
            raise RiskmlError(
                f"{out} exists without its mining state (in {state_path(out)}); "
                "remove it to mine from scratch"
            )
        warnings.warn(
            f"{out} was mined by an earlier riskml, whose mining state {legacy.name} is a pickle "
            "that riskml no longer reads; re-mining every row",
            MiningWarning,
            stacklevel=4,
        )
        return current, None
    try:
        state = load_state(current.companions)
    except OutdatedStateError as exc:
        # an older riskml's table lacks columns: re-mine every row rather than mix the two
        warnings.warn(
            f"{out} was mined by another riskml version (state format {exc.version}, "
            f"this one writes {STATE_VERSION}); re-mining every row",
            MiningWarning,
            stacklevel=4,
        )
        return current, None
    if state.repo_name != name:
        raise RiskmlError(
            f"{out} holds repository {state.repo_name!r}, not {name!r} (see --repo-name)"
        )
    check_repository(
        state.root_commit, top, f"{out}: the changes table",
        "mine it into another --out (or --repo-name)",
    )  # fmt: skip
    return current, state


def _old_tokens(current, state: MiningState, out: Path):
    """The tokens file of the current table (one row per row); a missing or different one is a
    :class:`RiskmlError`."""
    path = current.companion(TOKENS_FILE)
    if not path.is_file():
        raise RiskmlError(f"{out} has no tokens file {path}; remove the table to mine from scratch")
    old = read_tokens(path)
    if len(old) != state.n_rows:
        raise RiskmlError(
            f"{path} has {len(old)} rows but the table {out} has {state.n_rows}; "
            "remove the table to mine from scratch"
        )
    return old


@dataclass(frozen=True)
class MineResult:
    """What :func:`mine_file` did: where, and how many rows it added and the table holds."""

    out: Path
    state: Path
    new_rows: int
    total_rows: int


def mine_file(repo: str | Path, *args, **kwargs) -> MineResult:
    """:func:`mine` with its parameters, returning what it did instead of the table.

    This is what the CLI prints. The parameters and their defaults are :func:`mine`'s own,
    bound through its signature, so the two cannot drift apart.
    """
    bound = inspect.signature(mine).bind(repo, *args, **kwargs)
    bound.apply_defaults()
    return _mine(**bound.arguments, as_frame=False)
