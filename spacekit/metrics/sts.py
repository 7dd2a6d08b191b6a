"""STS: Spearman and Pearson of similarity against gold scores (scipy's definitions, ties averaged)."""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr


def correlations(sim: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """{'spearman', 'pearson'} of sim against gold, as plain floats."""
    return {"spearman": float(spearmanr(sim, gold).statistic), "pearson": float(pearsonr(sim, gold).statistic)}
