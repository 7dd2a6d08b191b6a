"""The settings of an A/B analysis (a light module: the CLI builds its options from these fields)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated

from spacekit.errors import InputError
from spacekit.practical import ALPHA, ALPHA_SETTING, CORRECTION, CORRECTION_SETTING, settings_problem
from spacekit.settings import Range, Setting

METHODS = ("team-draft", "balanced")      # interleaving methods; team-draft's logs are checked
BALANCED_CAVEAT = ("balanced is biased: with clicks blind to relevance, a ranker whose list is the other's shifted "
                   "by one rank still wins; use team-draft")
SUCCESS_K = Setting("success@k: a click in the top k", Range(1, 10_000, integer=True), flag="--success-k")
CONTROL_SHARE = Setting("the control arm's share of units by design (the sample-ratio check)",
                        Range(0, 1, open_low=True, open_high=True), flag="--control-share")


@dataclass(frozen=True)
class AbConfig:
    """The analysis settings; the Setting fields are `ab analyze`'s options (default, range, help: declared here)."""

    alpha: Annotated[float, ALPHA_SETTING] = ALPHA
    correction: Annotated[str, replace(CORRECTION_SETTING, help="correction over the secondary metrics (the main "
                                       "metric is its own family)")] = CORRECTION
    min_effect: dict[str, float] = field(default_factory=dict)    # metric (or "*") -> margin; default 0
    k: Annotated[int, SUCCESS_K] = 3
    long_click_s: Annotated[float, Setting("seconds of dwell for a long click", Range(0), flag="--long-click")] = 30.0
    expected_share: Annotated[float, CONTROL_SHARE] = 0.5         # the control arm's share of units by design
    sequential: bool = False          # always-valid p and confidence sequences (ab.sequential): safe to peek

    def check(self) -> None:
        """An InputError naming the first setting out of its range (as the CLI option it comes from)."""
        problem = settings_problem(self)
        if problem is not None:
            raise InputError(problem)
