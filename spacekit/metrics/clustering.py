"""Clustering quality against gold labels: V-measure, NMI, ARI (scikit-learn's definitions)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score


def cluster_scores(gold: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """{'v_measure', 'nmi', 'ari'} as plain floats."""
    return {"v_measure": float(v_measure_score(gold, predicted)),
            "nmi": float(normalized_mutual_info_score(gold, predicted)),
            "ari": float(adjusted_rand_score(gold, predicted))}


def weighted_scores(gold: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """cluster_scores over the items with weight > 0, each counted as often as its (whole-number) weight: one
    run of MTEB's procedures, where a set holds some items and a sample draws some items more than once."""
    if np.all(weights == 1):
        return cluster_scores(gold, predicted)
    repeat = weights.astype(np.int64)
    return cluster_scores(np.repeat(gold, repeat), np.repeat(predicted, repeat))
