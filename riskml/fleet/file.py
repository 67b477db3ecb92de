"""The fleet file (``fleet.toml``): the repositories `riskml fleet` mines and labels.

```toml
[defaults]                              # shared by every repository; each key optional
main_branch = "main"                    # mine up to it (default: detected, else HEAD)
incidents = "incidents/{name}.csv"      # {name}: the repository's name
config = "riskml.toml"                  # riskml.toml of every repository
critical_paths = { payments = ["**/payments/**"] }

[[repo]]
name = "shop"                           # default: the folder's name
path = "/srv/git/shop"
incidents = "shop-incidents.csv"
critical_paths = { infra = ["deploy/**"] }   # added to (or replacing by name) the defaults'

[[repo]]
path = "/srv/clones/*"                  # a glob: one repository per folder it matches
```

Every value is checked when the file is read, so a bad file is one line naming the entry and
the key (``fleet.toml: [[repo]] 2 (shop) main_branch: must be a string, got int``) before any
work. Relative paths are relative to the fleet file's folder. Whether a path is a repository
(and an incidents file readable) is found out when its repository runs: one that is not is
reported with its reason and the others go on.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskml.config import Config, Each, Glob, check_repo_name, load_config
from riskml.errors import RiskmlError
from riskml.gitio import check_rev_syntax

FLEET_FILE = "fleet.toml"
NAME_PLACEHOLDER = "{name}"
_SHARED_KEYS = ("main_branch", "incidents", "config", "critical_paths")
_ENTRY_KEYS = ("name", "path", *_SHARED_KEYS)
_TOP_KEYS = ("defaults", "repo")


@dataclass(frozen=True)
class FleetRepo:
    """One repository of the fleet, in plain values: what the task that mines and labels it
    receives (it is pickled to a Dask worker)."""

    name: str
    path: Path
    incidents: Path | None = None
    main_branch: str | None = None  # None: the detected main branch, else HEAD
    config: Path | None = None  # None: the repository's own riskml.toml, else the defaults
    critical_paths: dict[str, list[str]] | None = None  # None: the configuration's own

    def settings(self, top: Path) -> Config:
        """The configuration this repository is mined and labelled with: its riskml.toml (the
        fleet's, else the repository's own, else the defaults), with the fleet's critical
        paths when it names any."""
        config = load_config(self.config, repo=top)
        if self.critical_paths is None:
            return config
        return dataclasses.replace(config, critical_paths=dict(self.critical_paths))


@dataclass(frozen=True)
class Fleet:
    """A fleet file as read: its path and its repositories, globs expanded, in file order."""

    path: Path
    repos: tuple[FleetRepo, ...]


def load_fleet(path: str | Path, config: str | Path | None = None) -> Fleet:
    """Read and check the fleet file ``path``; ``config`` is the riskml.toml of every
    repository whose entry and ``[defaults]`` name none (`riskml fleet --config`).

    Raises :class:`RiskmlError` with one line naming the file, the entry and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise RiskmlError(f"fleet file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RiskmlError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Fleet(path, _read(data, path.resolve().parent, config))
    except RiskmlError as exc:
        raise RiskmlError(f"{path.name}: {exc}") from None


def _read(data: dict, base: Path, config: str | Path | None) -> tuple[FleetRepo, ...]:
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise RiskmlError(f"unknown key(s) {', '.join(unknown)}: expected [defaults] and [[repo]]")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise RiskmlError("[defaults] must be a table")
    shared = _entry(defaults, "[defaults]", _SHARED_KEYS, base)
    if "config" not in shared and config is not None:
        shared["config"] = _config_file(str(config), "--config", Path.cwd())
    entries = data.get("repo")
    if entries is None:
        raise RiskmlError("no [[repo]] entry: name at least one repository")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RiskmlError("repo must be an array of tables ([[repo]] entries)")
    repos: list[FleetRepo] = []
    where_of: dict[str, str] = {}
    for number, raw in enumerate(entries, start=1):
        where = f"[[repo]] {number}" + _label(raw)
        own = _entry(raw, where, _ENTRY_KEYS, base)
        if "path" not in own:
            raise RiskmlError(f"{where}: path: required (a repository, or a glob over folders)")
        for name, repo_path in _expand(own, where, base):
            if name in where_of:
                raise RiskmlError(
                    f"{where} name: {name!r} is also the name of {where_of[name]} "
                    "(each repository needs its own name: its data/<name>/ and project)"
                )
            where_of[name] = where
            repos.append(_repo(name, repo_path, shared, own, base))
    return tuple(repos)


def _label(raw: dict) -> str:
    shown = raw.get("name", raw.get("path"))
    return f" ({shown})" if isinstance(shown, str) else ""


def _entry(raw: dict, where: str, keys: tuple[str, ...], base: Path) -> dict[str, Any]:
    """The keys of one table, each checked; paths stay text until the name is known."""
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise RiskmlError(
            f"{where}: unknown key(s) {', '.join(unknown)}: expected {', '.join(keys)}"
        )
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "critical_paths":
            out[key] = _critical_paths(value, where)
            continue
        if not isinstance(value, str):
            raise RiskmlError(f"{where} {key}: must be a string, got {type(value).__name__}")
        if not value.strip():
            raise RiskmlError(f"{where} {key}: must not be empty")
        if key == "name":
            _check(check_repo_name, value, where, key)
        elif key == "main_branch":
            _check(check_rev_syntax, value, where, key)
        elif key == "config":
            value = _config_file(value, f"{where} config", base)
        out[key] = value
    return out


def _check(check, value: str, where: str, key: str) -> None:
    try:
        check(value)
    except RiskmlError as exc:
        raise RiskmlError(f"{where} {key}: {exc}") from None


def _critical_paths(value: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(value, dict) or not all(
        isinstance(globs, list) and all(isinstance(g, str) for g in globs)
        for globs in value.values()
    ):
        raise RiskmlError(f"{where} critical_paths: maps a name to a list of globs")
    problem = Each(Each(Glob())).problem(value)
    if problem is not None:
        raise RiskmlError(f"{where} critical_paths: {problem}")
    return {name: list(globs) for name, globs in value.items()}


def _config_file(value: str, where: str, base: Path) -> Path:
    """The riskml.toml ``value`` names, read once here so a bad one fails before any work."""
    path = _resolve(value, base)
    try:
        load_config(path)
    except RiskmlError as exc:
        raise RiskmlError(f"{where}: {exc}") from None
    return path


def _resolve(value: str, base: Path) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else base / path


def _expand(own: dict[str, Any], where: str, base: Path) -> list[tuple[str, Path]]:
    """(name, path) of each repository of one entry: one, or one per folder its glob matches."""
    path = _resolve(own["path"], base)
    if not glob.has_magic(own["path"]):
        name = own.get("name") or path.resolve().name
        _check(check_repo_name, name, where, "name")
        return [(name, path)]
    if "name" in own:
        raise RiskmlError(f"{where} name: a glob entry names its repositories by their folders")
    return [(Path(p).name, Path(p)) for p in path_matches(str(path), where)]


def path_matches(pattern: str, where: str) -> list[str]:
    """The folders ``pattern`` matches, sorted; none is a :class:`RiskmlError`."""
    matches = sorted(p for p in glob.glob(pattern) if os.path.isdir(p))
    if not matches:
        raise RiskmlError(f"{where} path: no folder matches {pattern}")
    return matches


def _repo(name: str, path: Path, shared: dict, own: dict, base: Path) -> FleetRepo:
    incidents = own.get("incidents", shared.get("incidents"))
    critical = shared.get("critical_paths")
    if "critical_paths" in own:
        critical = {**(critical or {}), **own["critical_paths"]}
    return FleetRepo(
        name=name,
        path=path,
        incidents=(
            _resolve(incidents.replace(NAME_PLACEHOLDER, name), base) if incidents else None
        ),
        main_branch=own.get("main_branch", shared.get("main_branch")),
        config=own.get("config", shared.get("config")),
        critical_paths=critical,
    )
