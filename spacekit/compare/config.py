"""The settings of one comparison; the CLI takes its option defaults from here (a light module: no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spacekit.embed.options import EncodeOptions


@dataclass
class CompareConfig:
    """Significance level, resampling, leakage and drift settings, and how texts are encoded."""

    alpha: float = 0.05
    seed: int = 0
    resamples: int = 10_000          # bootstrap resamples per metric (stats.RESAMPLES, the functions' default)
    train: str | Path | None = None  # fine-tuning data, for the leakage check
    leak_threshold: float = 0.95     # cosine (before model) at which an evaluation text is a near-duplicate
    examples: int = 5                # most improved / regressed items shown per task
    drift_sample: int = 2000         # texts the drift section is measured on, at most
    knn_k: int = 10                  # neighbours compared per text for drift
    opts: EncodeOptions = field(default_factory=EncodeOptions)
