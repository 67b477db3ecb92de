"""Run benchmarks on two revisions of riskml in one run, so a change's effect on speed is seen
side by side (the same machine, the same minutes).

For each benchmark script, the base revision's code (a temporary ``git worktree`` at ``--base``)
and the working tree's code are each imported through ``PYTHONPATH``, by the same interpreter,
one right after the other; both outputs are printed under a header naming the tree. Each script
keeps printing its own in-run baseline as well.

    python benchmarks/compare.py --base REV [--only mine_bench,synth_bench] [--repeat N]

``--repeat N`` alternates the two trees N times, so one busy moment does not decide a figure.

``--args NAME='…'`` passes arguments to one script (e.g. ``--args mine_bench='--commits 2000'``).
Each tree runs its own copy of the script (a module the change renamed is imported under the name
its own tree uses); the base worktree sits beside the project, so paths the scripts compute from
their own location (``../shared/data``) hold for both. ``--script-from this`` runs this tree's
copy against both trees' code instead: for a benchmark the base does not have yet, which must
then only use what both trees offer (e.g. the CLI).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parent
DEFAULT = [
    "mine_bench",
    "label_bench",
    "synth_bench",
    "train_bench",
    "trends_bench",
    "tracking_bench",
    "score_bench",
    "serve_concurrency",
    "registry_bench",
]


def run(
    script: str, args: list[str], code: Path, script_tree: Path | None = None
) -> tuple[int, str, float]:
    """Run ``benchmarks/<script>.py`` of ``script_tree`` (default: ``code``'s own) with
    ``code`` first on the import path, in ``code``'s directory: ``python -m riskml`` puts the
    current directory before PYTHONPATH, so a script's CLI calls run that tree's riskml too."""
    env = dict(os.environ, PYTHONPATH=str(code))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str((script_tree or code) / "benchmarks" / f"{script}.py"), *args],
        cwd=code, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision to compare with")
    parser.add_argument("--only", default=",".join(DEFAULT), help="comma-separated script names")
    parser.add_argument("--args", action="append", default=[], help="NAME='arguments' for a script")
    parser.add_argument(
        "--repeat", type=int, default=1, help="draws of each, base and this tree alternating"
    )
    parser.add_argument(
        "--script-from",
        choices=("each", "this"),
        default="each",
        help="each tree runs its own copy of a script (each), or both run this tree's (this)",
    )
    options = parser.parse_args()
    extra = {}
    for item in options.args:
        name, _, value = item.partition("=")
        extra[name] = shlex.split(value)

    # beside the project, so that paths the scripts compute from their place hold for both
    with tempfile.TemporaryDirectory(prefix=".riskml-bench-base-", dir=TOP.parent) as tmp:
        base = Path(tmp)
        subprocess.run(
            ["git", "-C", str(TOP), "worktree", "add", "--detach", "-q", str(base), options.base],
            check=True,
        )
        try:
            for script in options.only.split(","):
                args = extra.get(script, [])
                pairs = ((f"base {options.base}", base), ("this tree", TOP)) * options.repeat
                for label, code in pairs:
                    scripts = TOP if options.script_from == "this" else code
                    if not (scripts / "benchmarks" / f"{script}.py").is_file():
                        print(f"===== {script} -- {label}: no such benchmark")
                        continue
                    rc, out, wall = run(script, args, code, scripts)
                    print(f"===== {script} {' '.join(args)} -- {label} (exit {rc}, {wall:.1f} s)")
                    print(out.rstrip(), flush=True)
        finally:
            subprocess.run(
                ["git", "-C", str(TOP), "worktree", "remove", "--force", str(base)], check=False
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
