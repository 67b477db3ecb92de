"""A deterministic synthetic git repository with a hidden incident process.

:func:`generate` writes ``out/repo`` (a real git repository built by one ``git fast-import``
stream), ``out/incidents.csv`` (the incidents file of labels.md) and ``out/truth.csv`` (the
ground truth: which commits are culprits, their hidden risk, their real AI provenance).

File contents are real text lines held in memory with the commit that wrote each line, so
every change is a real diff and a fix for an incident changes lines its culprit added
(blame-based SZZ can find the culprit). Which commits become culprits is drawn from a hidden
logistic risk: churn, low familiarity of the author with the touched files, critical paths and
AI-written changes to critical code raise the odds. See docs/synth.md for every decision.

Everything comes from one ``random.Random(seed)``: no clock, environment, user config or set
iteration order reaches the stream, so a seed always gives the same SHAs.

The package, by part: ``catalog`` (people, bots, AI tools, services, words), ``files`` and
``content`` (file kinds and lines), ``tree`` (the main line's files and locks), ``clock``,
``authors`` (identities and AI markers), ``risk`` (the hidden process), ``history`` (the commit
stream), ``branches``, ``incidents`` (fixes and reverts), ``fastimport`` (the git writer),
``output`` (incidents.csv, truth.csv), ``repository`` (:func:`generate`), ``tables`` (the
in-memory changes and labels tables of :func:`riskml.synth.tables.synthetic_tables`) and
``fleet`` (several repositories and their fleet file, :func:`riskml.synth.fleet.generate_fleet`).
"""

from __future__ import annotations

from riskml.synth.history import NOTES_REF
from riskml.synth.output import INCIDENT_COLUMNS, TRUTH_COLUMNS
from riskml.synth.repository import SynthResult, generate

__all__ = ["SynthResult", "generate", "TRUTH_COLUMNS", "INCIDENT_COLUMNS", "NOTES_REF"]
