"""Online evidence: A/B log analysis with unit-level statistics, interleaved comparisons, and simulated logs."""

from spacekit.ab.analysis import AbConfig, analyze
from spacekit.ab.interleave import balanced, credit, preference, team_draft

__all__ = ["AbConfig", "analyze", "balanced", "credit", "preference", "team_draft"]
