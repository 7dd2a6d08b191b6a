"""Pair probes: does the model put each group's close pairs closer than its far pairs?"""

from __future__ import annotations

import numpy as np


def group_verdicts(group: list[str], expect: list[str], cosine: np.ndarray) -> dict[str, dict]:
    """Per group (in order of first appearance): min close cosine, max far cosine, margin, and whether every close
    pair beats every far one. group, expect ("close" | "far") and cosine hold one entry per pair."""
    out = {}
    for name in dict.fromkeys(group):
        rows = [i for i, g in enumerate(group) if g == name]
        close = [cosine[i] for i in rows if expect[i] == "close"]
        far = [cosine[i] for i in rows if expect[i] == "far"]
        margin = float(min(close) - max(far)) if close and far else None   # undefined without both kinds
        out[name] = {"min_close": float(min(close)) if close else None, "max_far": float(max(far)) if far else None,
                     "margin": margin, "passed": margin is not None and margin > 0}
    return out
