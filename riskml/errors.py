"""The one exception type for a user's mistake.

The CLI turns a :class:`RiskmlError` into one line on stderr and exit code 2; the HTTP API
turns it into a 4xx. Anything else that escapes is a bug in riskml.
"""


class RiskmlError(Exception):
    """Bad input from the user: a path that is not a repository, an unknown rev, a malformed file."""


class TooLargeError(RiskmlError):
    """A request over a configured cap (the API answers 413, the CLI exit 2)."""


class NoSpaceError(RiskmlError):
    """A write found the disk full (or over quota, or the file over its size limit); what was
    being written is left as it was, with no temporary file (:func:`riskml.tables.writing`)."""

    def __init__(self, path) -> None:
        super().__init__(f"no space left writing {path}")
        self.path = path
