"""The online evidence section of a comparison report (compare --ab LOG --interleaved LOG): the A/B analysis and
the interleaved preference, in the comparison's alpha and correction; team a / the control arm is the before model."""

from __future__ import annotations

from spacekit.ab.analysis import AbConfig, analyze
from spacekit.ab.interleave import preference
from spacekit.io.ab_log import Impressions


def online_section(ab_log: Impressions | None, interleaved_log: Impressions | None, *, alpha: float = 0.05,
                   correction: str = "holm", simulated: bool = False) -> dict | None:
    """{"ab": the analysis, "interleaved": the preference, "simulated"} for the logs given (None when neither is);
    simulated logs (the demo's) are labelled so wherever the section is shown."""
    if ab_log is None and interleaved_log is None:
        return None
    return {"ab": analyze(ab_log, AbConfig(alpha=alpha, correction=correction)) if ab_log is not None else None,
            "interleaved": preference(interleaved_log, alpha=alpha) if interleaved_log is not None else None,
            "simulated": simulated}
