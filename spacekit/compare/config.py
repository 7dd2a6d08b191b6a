"""The settings of one comparison; the CLI takes its option defaults from here (a light module: no torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from spacekit.distributed.cluster import RaySettings
from spacekit.embed.options import EncodeOptions
from spacekit.errors import InputError
from spacekit.practical import CORRECTIONS, is_margin

if TYPE_CHECKING:
    from spacekit.ab.online import OnlineLogs


@dataclass
class CompareConfig:
    """Significance level, the correction and margins the verdict uses, resampling, leakage and drift settings, and
    how texts are encoded."""

    alpha: float = 0.05
    correction: str = "holm"         # over each family: the main metrics (the verdict), the secondary metrics
    min_effect: dict[str, float] = field(default_factory=dict)  # metric (or family, or "*") -> margin (practical)
    seed: int = 0
    resamples: int = 10_000          # bootstrap resamples per metric (stats.RESAMPLES, the functions' default)
    train: str | Path | None = None  # fine-tuning data, for the leakage check
    leak_threshold: float = 0.95     # cosine (before model) at which an evaluation text is a near-duplicate
    examples: int = 5                # most improved / regressed items shown per task
    drift_sample: int = 2000         # texts the drift section is measured on, at most
    knn_k: int = 10                  # neighbours compared per text for drift
    trust_remote_code: bool = False  # run code a model folder carries (auto_map)
    reference: str | Path | None = None  # a folder of MTEB result files, shown beside the before model's numbers
    ray: RaySettings | None = None   # retrieval corpora encoded (both models' at once) and searched on a Ray cluster
    online: OnlineLogs | None = None  # an A/B log and / or an interleaved log of the two models: online evidence
    opts: EncodeOptions = field(default_factory=EncodeOptions)

    def check(self) -> None:
        """An InputError naming the first setting out of its range (as the CLI option it comes from)."""
        bad = [("--alpha", self.alpha, "between 0 and 1", lambda v: 0 < v < 1),
               ("--resamples", self.resamples, "an integer >= 1", lambda v: isinstance(v, int) and v >= 1),
               ("--leak-threshold", self.leak_threshold, "between -1 and 1", lambda v: -1 <= v <= 1),
               ("examples", self.examples, "an integer >= 0", lambda v: isinstance(v, int) and v >= 0),
               ("drift_sample", self.drift_sample, "an integer >= 2", lambda v: isinstance(v, int) and v >= 2),
               ("knn_k", self.knn_k, "an integer >= 1", lambda v: isinstance(v, int) and v >= 1)]
        for name, value, want, ok in bad:
            if (isinstance(value, float) and not math.isfinite(value)) or not ok(value):
                raise InputError(f"{name} must be {want}, got {value!r}")
        if self.correction not in CORRECTIONS:
            raise InputError(f"--correction must be one of {', '.join(CORRECTIONS)}, got {self.correction!r}")
        for metric, margin in self.min_effect.items():
            if not is_margin(margin):
                raise InputError(f"--min-effect {metric}: the margin must be a number >= 0, got {margin!r}")
