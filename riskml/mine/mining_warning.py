"""The one warning category of `riskml mine`: something could not be read, the rest is mined.

A module of its own so that every part of mining (the git readers of :mod:`riskml.mine.extract`,
the feature groups of :mod:`riskml.mine.features`) can raise it without importing each other.
"""

from __future__ import annotations


class MiningWarning(UserWarning):
    """Something in the repository could not be read; the rest is mined."""
