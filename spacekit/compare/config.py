"""The settings of one comparison; the CLI takes its option defaults from here (a light module: no torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from spacekit.distributed.cluster import RaySettings
from spacekit.embed.options import EncodeOptions
from spacekit.errors import InputError
from spacekit.practical import ALPHA, ALPHA_SETTING, CORRECTION, CORRECTION_SETTING, settings_problem
from spacekit.settings import Range, Setting

if TYPE_CHECKING:
    from spacekit.ab.online import OnlineLogs


SELECT_ON = 0.5   # several checkpoints: the share of the first tested task's items the best one is chosen on


@dataclass(frozen=True)
class CompareConfig:
    """Significance level, the correction and margins the verdict uses, resampling, leakage and drift settings, and
    how texts are encoded. The Setting fields are also the CLI's options (default, range, help: declared here)."""

    alpha: Annotated[float, ALPHA_SETTING] = ALPHA
    correction: Annotated[str, replace(CORRECTION_SETTING, help="correction over each family of tests (main "
                                       "metrics; secondary)")] = CORRECTION
    min_effect: dict[str, float] = field(default_factory=dict)  # metric (or family, or "*") -> margin (practical)
    seed: Annotated[int, Setting("resampling seed")] = 0
    resamples: Annotated[int, Setting("bootstrap resamples", Range(1, 10**6, integer=True))] = 10_000
    train: str | Path | None = None  # fine-tuning data, for the leakage check
    leak_threshold: Annotated[float, Setting("cosine (before model) at which an evaluation text counts as a "
                                             "near-duplicate", Range(-1, 1))] = 0.95
    examples: Annotated[int, Setting("most improved / regressed items shown per task", Range(0, 10_000, integer=True),
                                     cli=False)] = 5
    drift_sample: Annotated[int, Setting("texts the drift section is measured on, at most",
                                         Range(2, 10**7, integer=True), cli=False)] = 2000
    knn_k: Annotated[int, Setting("neighbours compared per text for drift", Range(1, 10_000, integer=True),
                                  cli=False)] = 10
    threshold: float | None = None   # a similarity cut-off used with the before model (a suite task's own first)
    trust_remote_code: bool = False  # run code a model folder carries (auto_map)
    reference: str | Path | None = None  # a folder of MTEB result files, shown beside the before model's numbers
    ray: RaySettings | None = None   # retrieval corpora encoded (both models' at once) and searched on a Ray cluster
    online: OnlineLogs | None = None  # an A/B log and / or an interleaved log of the two models: online evidence
    opts: EncodeOptions = field(default_factory=EncodeOptions)

    def check(self) -> None:
        """An InputError naming the first setting out of its range (as the CLI option it comes from)."""
        problem = settings_problem(self)
        if problem is not None:
            raise InputError(problem)
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise InputError(f"--threshold must be a finite number, got {self.threshold!r}")
