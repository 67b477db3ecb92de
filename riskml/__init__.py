"""riskml: deploy change-risk scoring from a repository's own history."""

__version__ = "0.1.0"
