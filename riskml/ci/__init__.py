"""CI integrations: one pull-request comment kept up to date, and the range a pre-push hook
scores.

- :func:`riskml.ci.comment.upsert_comment` — create, or update in place, the one comment of a
  GitHub pull request or GitLab merge request that carries a hidden marker.
- :func:`riskml.ci.prepush.push_range` — ``FROM..TO`` of what ``git push`` is about to send.

The GitHub Action (``action.yml``), the GitLab template (``integrations/gitlab/``) and the
pre-commit hook (``.pre-commit-hooks.yaml``) call these through ``riskml ci``; docs/ci.md.
"""
