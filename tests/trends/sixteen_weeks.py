"""Sixteen weeks of scored changes with round numbers, for the summary and the budget.

Weeks ``w0`` .. ``w15`` start on Monday 2024-01-01; each has four changes, Monday to Thursday
at 10:00 UTC: two AI-provenance ones (``ai_assisted``, ``ai_agent``), then two human ones.
Risk: AI 0.3 and human 0.1 up to ``w11``, AI 0.5 and human 0.3 in the last four weeks; tier
``high`` at 0.5, ``medium`` at 0.3, ``low`` at 0.1. Critical areas: ``payments`` on the AI
changes of ``w15`` and on the first AI change of ``w5``, ``auth`` on the human changes of
``w14``. Incidents: INC-1 on both AI changes of ``w1``, INC-2 on its first human change,
INC-3 on the last human change of ``w13``. The newest change (the cut-off) is Thursday
2024-04-18 10:00; with a 60-day window the horizon is 2024-02-18 10:00.
"""

from __future__ import annotations

import pandas as pd

WINDOW_DAYS = 60
FIRST_MONDAY = pd.Timestamp("2024-01-01 10:00", tz="UTC")
INCIDENTS = {(1, 0): "INC-1", (1, 1): "INC-1", (1, 2): "INC-2", (13, 3): "INC-3"}
AREAS = {(15, 0): "payments", (15, 1): "payments", (5, 0): "payments", (14, 2): "auth", (14, 3): "auth"}  # fmt: skip
TIER_OF = {0.1: "low", 0.3: "medium", 0.5: "high"}


def sixteen_weeks(ai_weeks: range = range(16), labels: bool = True) -> pd.DataFrame:
    """The frame above (``score_history``'s columns); AI changes only in ``ai_weeks`` (the
    others become human changes of the same risk and tier)."""
    rows = []
    for week in range(16):
        late = week >= 12
        for day in range(4):
            ai = day < 2
            risk = (0.5 if late else 0.3) if ai else (0.3 if late else 0.1)
            time = FIRST_MONDAY + pd.Timedelta(weeks=week, days=day)
            incident = INCIDENTS.get((week, day), "")
            rows.append(
                {
                    "commit": f"{week:02d}{day:02d}".ljust(40, "0"),
                    "author_time": time,
                    "commit_time": time,
                    "risk": risk,
                    "tier": TIER_OF[risk],
                    "ai_provenance": (
                        ("ai_assisted", "ai_agent")[day] if ai and week in ai_weeks else "human"
                    ),
                    "critical_areas": AREAS.get((week, day), ""),
                    "label": 1.0 if incident else (0.0 if week < 7 else float("nan")),
                    "incident_ids": incident,
                }
            )
    frame = pd.DataFrame(rows)
    return frame if labels else frame.drop(columns=["label", "incident_ids"])
