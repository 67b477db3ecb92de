"""The CLI shell: help, version, usage errors."""


def test_help_lists_verbs(cli) -> None:
    result = cli("--help")
    assert result.returncode == 0
    assert "Usage: riskml" in result.stdout


def test_version(cli) -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "riskml 0.1.0"


def test_unknown_verb_is_a_usage_error(cli) -> None:
    result = cli("no-such-verb")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_a_user_mistake_is_one_line_however_the_app_is_invoked() -> None:
    """The group, not main(), handles RiskmlError: Click's own runner sees exit 2 and one line."""
    from typer.testing import CliRunner

    from riskml.cli import _register, app

    _register()
    result = CliRunner().invoke(app, ["trends"])
    assert result.exit_code == 2
    assert result.output == "riskml: error: give --repo-name NAME or --changes FILE\n"
    assert result.exception is None or isinstance(result.exception, SystemExit)
