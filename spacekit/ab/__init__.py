"""Online evidence: A/B log analysis with unit-level statistics, interleaved comparisons, and simulated logs.
Importing the package loads nothing heavy (the CLI reads spacekit.ab.config for its options); its names load on
first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# bound here, not on first use: the function shares its module's name, which Python would otherwise bind here
from spacekit.ab.replay import replay

if TYPE_CHECKING:
    from spacekit.ab.analysis import analyze
    from spacekit.ab.config import AbConfig
    from spacekit.ab.interleave import balanced, credit, preference, team_draft

_HOMES = {"AbConfig": "config", "analyze": "analysis", "balanced": "interleave", "credit": "interleave",
          "preference": "interleave", "team_draft": "interleave"}
__all__ = ["AbConfig", "analyze", "balanced", "credit", "preference", "replay", "team_draft"]


def __getattr__(name: str) -> Any:
    """spacekit.ab.<name> from the module that defines it, imported on first use."""
    if name not in _HOMES:
        raise AttributeError(f"module 'spacekit.ab' has no attribute {name!r}")
    return getattr(importlib.import_module(f"spacekit.ab.{_HOMES[name]}"), name)
