"""`riskml mine`: one row per change from git history (../shared/spec/features.md).

Public API (docs/architecture.md): :func:`mine`, :func:`load_state`, :class:`MiningState`,
:func:`records_for`, :func:`record_for_diff`, :func:`record_for_worktree`, plus
:func:`read_table` to read a changes table with its exact dtypes and :func:`state_path`.
"""

from riskml.mine.extract import MiningWarning, record_for_diff, record_for_worktree, records_for
from riskml.mine.miner import mine
from riskml.mine.state import MiningState, load_state, state_path
from riskml.mine.table import COLUMNS, read_table

__all__ = [
    "COLUMNS",
    "MiningState",
    "MiningWarning",
    "load_state",
    "mine",
    "read_table",
    "record_for_diff",
    "record_for_worktree",
    "records_for",
    "state_path",
]
