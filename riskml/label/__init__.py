"""``riskml label``: incident-linked labels (labels.md).

``load_incidents(path, repo, strict=False) -> (DataFrame, problems)`` reads and validates an
incidents file; ``label(repo, changes, incidents=None, ...) -> LabelResult`` links changes to
incidents (culprits, reverts, SZZ) or, without incidents, builds proxy labels, and applies the
verification-latency window.
"""

from riskml.label.core import LABEL_COLUMNS, LabelResult, label
from riskml.label.incidents import load_incidents
from riskml.label.report import format_report, report_path, write_report

__all__ = [
    "LABEL_COLUMNS",
    "LabelResult",
    "format_report",
    "label",
    "load_incidents",
    "report_path",
    "write_report",
]
