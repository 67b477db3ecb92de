"""The one exception type for a user's mistake.

The CLI turns a :class:`RiskmlError` into one line on stderr and exit code 2; the HTTP API
turns it into a 4xx. Anything else that escapes is a bug in riskml.
"""


class RiskmlError(Exception):
    """Bad input from the user: a path that is not a repository, an unknown rev, a malformed file."""


class TooLargeError(RiskmlError):
    """A request over a configured cap (the API answers 413, the CLI exit 2)."""
