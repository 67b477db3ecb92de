"""A fleet of generated repositories and its fleet file, for tests and benchmarks.

:func:`generate_fleet` generates each repository (:func:`riskml.synth.generate`) in a process
of its own and writes the ``fleet.toml`` that names them with their incidents files
(docs/fleet.md), ready for `riskml fleet`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from riskml.synth.repository import SynthResult, generate


def generate_fleet(
    root: Path,
    repos: Sequence[tuple],
    config: Path | None = None,
    processes: int | None = None,
) -> tuple[Path, dict[str, SynthResult]]:
    """Generate ``repos`` (``(name, commits, seed)`` or ``(name, commits, seed, start)``) under
    ``root/repos/<name>`` and write ``root/fleet.toml`` naming each with its incidents file,
    ``[defaults] config`` when ``config`` is given. Returns (the fleet file, each name's
    :class:`SynthResult`). ``processes``: at most this many at once (default: the cores)."""
    root = Path(root)
    with ProcessPoolExecutor(max_workers=processes or os.cpu_count() or 1) as pool:
        futures = {
            spec[0]: pool.submit(generate, root / "repos" / spec[0], *spec[1:]) for spec in repos
        }
        made = {name: future.result() for name, future in futures.items()}
    lines = [f'[defaults]\nconfig = "{Path(config).resolve()}"\n\n'] if config else []
    lines += [f'[[repo]]\nname = "{name}"\npath = "{gen.repo}"\nincidents = "{gen.incidents}"\n'
              for name, gen in made.items()]  # fmt: skip
    fleet = root / "fleet.toml"
    fleet.write_text("".join(lines), encoding="utf-8")
    return fleet, made
