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
