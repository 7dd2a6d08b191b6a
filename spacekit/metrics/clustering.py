"""Clustering quality against gold labels: V-measure, NMI, ARI (scikit-learn's definitions)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score


def cluster_scores(gold: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """{'v_measure', 'nmi', 'ari'} as plain floats."""
    return {"v_measure": float(v_measure_score(gold, predicted)),
            "nmi": float(normalized_mutual_info_score(gold, predicted)),
            "ari": float(adjusted_rand_score(gold, predicted))}
