"""The online evidence of a comparison (compare --ab LOG --interleaved LOG): the A/B analysis and the interleaved
preference, in the comparison's alpha and correction; team a / the control arm is the before model."""

from __future__ import annotations

from dataclasses import dataclass

from spacekit.ab.analysis import AbAnalysis, AbConfig, analyze
from spacekit.ab.interleave import Preference, check_team_draft, preference
from spacekit.io.ab_columns import AbLog
from spacekit.io.ab_log import Impressions


@dataclass(frozen=True)
class OnlineLogs:
    """The logs read for a comparison (before any encoding, so a bad log fails in seconds); simulated logs (the
    demo's) are labelled so wherever their evidence is shown."""

    ab: AbLog | None = None
    interleaved: Impressions | None = None
    simulated: bool = False
    interleaving: str = "team-draft"        # how the interleaved log's lists were made (its labels checked now)

    def __post_init__(self) -> None:
        if self.interleaved is not None and self.interleaving == "team-draft":
            check_team_draft(self.interleaved)


@dataclass(frozen=True)
class OnlineEvidence:
    """The A/B analysis and the interleaved preference of the logs given, and whether they were simulated."""

    ab: AbAnalysis | None
    interleaved: Preference | None
    simulated: bool


def online_section(logs: OnlineLogs, *, alpha: float = 0.05, correction: str = "holm") -> OnlineEvidence | None:
    """The evidence of the logs given (None when there is neither)."""
    if logs.ab is None and logs.interleaved is None:
        return None
    ab = analyze(logs.ab, AbConfig(alpha=alpha, correction=correction)) if logs.ab is not None else None
    interleaved = (preference(logs.interleaved, alpha=alpha, method=logs.interleaving)
                   if logs.interleaved is not None else None)
    return OnlineEvidence(ab, interleaved, logs.simulated)
