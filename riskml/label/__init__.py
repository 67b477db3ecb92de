"""``riskml label``: incident-linked labels (labels.md).

``load_incidents(path, repo, strict=False) -> (DataFrame, problems)`` reads and validates an
incidents file; ``label(repo, changes, incidents=None, ...) -> LabelResult`` links changes to
incidents (culprits, reverts, SZZ) or, without incidents, builds proxy labels, and applies the
verification-latency window. ``label_file(repo, changes, incidents, out, ...)`` is what
`riskml label` does with files (read the changes table, label, write the table and report);
``label_counts(labels)`` counts positives, negatives and unknowns.
"""

from riskml.label.core import LABEL_COLUMNS, LabelResult, label
from riskml.label.from_files import LabelFileResult, label_file
from riskml.label.incidents import load_incidents
from riskml.label.report import format_report, label_counts, report_path, write_report

__all__ = [
    "LABEL_COLUMNS",
    "LabelFileResult",
    "LabelResult",
    "format_report",
    "label",
    "label_counts",
    "label_file",
    "load_incidents",
    "report_path",
    "write_report",
]
