"""The ``riskml`` command line: thin Typer commands that parse, call a stage, and format.

Each verb lives in its own module under ``riskml.cli`` and registers itself on :data:`app`.
Heavy libraries (mlflow, lightgbm, pandas) are imported inside the commands that need them,
so ``riskml --help`` and light verbs start fast.
"""

from __future__ import annotations

import signal
import sys

import typer
from typer.core import TyperGroup

from riskml.errors import RiskmlError


class _RiskmlGroup(TyperGroup):
    """The ``riskml`` group: a :class:`RiskmlError` from any verb is one line and exit 2; so
    is a write that found the disk full (:func:`riskml.tables.no_space`), wherever it
    happened. SIGINT and SIGTERM unwind the verb (:func:`riskml.processes.stop_on_signals`:
    its MLflow run ends as KILLED, its temporary files go) and end in one line, exit 130 / 143.

    Handled here rather than in :func:`main` so that every way of invoking :data:`app`
    (the console script, ``python -m riskml``, Click's test runner) reports it the same way.
    """

    def invoke(self, ctx):
        from riskml.processes import Interrupted, stop_on_signals
        from riskml.tables import no_space, no_space_message

        try:
            with stop_on_signals():
                return super().invoke(ctx)
        except RiskmlError as exc:
            typer.echo(f"riskml: error: {exc}", err=True)
            ctx.exit(2)
        except OSError as exc:
            if not no_space(exc):
                raise
            typer.echo(f"riskml: error: {no_space_message(exc)}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            typer.echo(f"riskml: interrupted ({signal.Signals(signum).name})", err=True)
            ctx.exit(128 + signum)


app = typer.Typer(
    cls=_RiskmlGroup,
    name="riskml",
    help="Deploy change-risk scoring: mine, label, train, evaluate, score, serve, trends, budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from riskml import __version__

        typer.echo(f"riskml {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Deploy change-risk scoring: mine, label, train, score, serve, trends."""
    import os

    from riskml.config import MLFLOW_HTTP_DEFAULTS

    for key, value in MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)  # fail fast on an unreachable store; the user's wins


# Registration order is the order of `riskml --help`.
_VERB_MODULES = (
    "synth",
    "mine",
    "incidents",
    "label",
    "train",
    "evaluate",
    "bench",
    "score",
    "serve",
    "trends",
    "budget",
    "run",
    "demo",
    "ci",
    "fleet",
)


def _register() -> None:
    import importlib

    for name in _VERB_MODULES:
        try:
            importlib.import_module(f"riskml.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"riskml.cli.{name}":
                raise


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: a user's mistake becomes one line on stderr and exit 2.

    Click's standalone mode handles usage errors (exit 2) and ``typer.Exit`` codes; the
    group's own handler turns a :class:`RiskmlError` raised anywhere in a stage into exit 2.
    """
    _register()
    try:
        app(args=argv, prog_name="riskml", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        typer.echo("riskml: interrupted (SIGINT)", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
