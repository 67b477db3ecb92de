"""The hidden incident process: which commits become culprits, and what a culprit must hold.

A logistic risk, tuned so that about 10 % of eligible commits become culprits: churn, low
familiarity of the author with the touched files, new authors, critical paths and AI-written
changes (more so to critical code) raise the odds. docs/synth.md explains each term.
"""

from __future__ import annotations

import math
import random

from riskml.synth.files import File, is_code
from riskml.synth.records import Commit

RISK_INTERCEPT = -5.2
RISK_CHURN = 0.55  # per log1p(lines added + deleted)
RISK_FIRST_TOUCH = 1.6  # share of touched pre-existing files the author never changed
RISK_NOVICE = 1.3  # exp(-earlier commits / max(15, commits / 100)): new authors
RISK_CRITICAL = 0.9  # touches payments/auth/infra/migrations
RISK_AI = 0.3
RISK_AI_CRITICAL = 1.6  # AI-written change to critical code
BOT_RISK = 0.03


def hidden_risk(c: Commit, first_touch: float, novice: float) -> float:
    """Probability that ``c`` causes an incident.

    ``first_touch``: share of the touched pre-existing files its author never changed;
    ``novice``: ``exp(-earlier commits / scale)``, near 1 for an author new to the codebase.
    """
    churn = c.la + c.ld
    ai = c.ai_class in ("ai_agent", "ai_assisted")
    z = (
        RISK_INTERCEPT
        + RISK_CHURN * math.log1p(churn)
        + RISK_FIRST_TOUCH * first_touch
        + RISK_NOVICE * novice
        + RISK_CRITICAL * c.critical
        + RISK_AI * ai
        + RISK_AI_CRITICAL * (ai and c.critical)
    )
    return 1 / (1 + math.exp(-z))


def culprit_draw(rng: random.Random, c: Commit, files: dict[int, File]) -> bool:
    """Decide whether ``c`` caused an incident; it must have added code lines that survive."""
    if rng.random() >= c.risk:
        return False
    for fid in c.touched:
        f = files.get(fid)
        if f is None or f.binary:
            continue
        if any(o == c.seq and is_code(t) for t, o in zip(f.text, f.origin, strict=True)):
            return True
    return False
