"""MTEB's two clustering procedures, step for step (read from mteb 2.26's source), so that published MTEB clustering
numbers can be reproduced; spacekit's own `full` protocol (GPU k-means over the whole file) lives in ops.kmeans.

- mteb-v1 (AbsTaskClusteringLegacy, and mteb 1.x's AbsTaskClustering): the data come as several sets; each set is
  clustered on its own by scikit-learn's MiniBatchKMeans (k = the set's number of labels, batch 500, n_init "auto",
  random_state 42) and scored by V-measure; the score is the mean over sets.
- mteb-v2 (AbsTaskClustering, the "fast" clustering): random.Random(seed) first picks the documents to embed (a
  fraction of them, 4% by MTEB's default), then draws `subsets` bootstrap samples of `subset_size` documents with
  replacement from them; one MiniBatchKMeans (k = the number of labels among the embedded documents, batch 512,
  k-means++, n_init 1, random_state 42) clusters each sample; the score is the mean over samples.

Each procedure returns per run (set or sample) every item's cluster and its multiplicity in that run (0: not in
it), so that the scores, and compare's resamples, are computed from weighted contingency tables.
"""

from __future__ import annotations

import random
import warnings

import numpy as np

V1_BATCH = 500          # mteb ClusteringEvaluator's clustering_batch_size
V2_BATCH = 512          # mteb AbsTaskClustering.k_mean_batch_size
V2_SUBSET_SIZE = 16_384  # mteb AbsTaskClustering.max_documents_per_cluster
V2_SUBSETS = 10          # mteb AbsTaskClustering.n_clusters (the number of bootstrap samples)
V2_FRACTION = 0.04       # mteb AbsTaskClustering.max_fraction_of_documents_to_embed


def v1_runs(x: np.ndarray, gold: np.ndarray, sets: np.ndarray, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """mteb-v1: one MiniBatchKMeans per set (sets in order of first appearance) -> (pred, counts), each (sets, n)."""
    order = list(dict.fromkeys(sets.tolist()))
    pred = np.zeros((len(order), len(gold)), dtype=np.int64)
    counts = np.zeros((len(order), len(gold)), dtype=np.float64)
    for r, name in enumerate(order):
        members = np.flatnonzero(sets == name)
        counts[r, members] = 1.0
        k = len(np.unique(gold[members]))
        if k <= 1:
            continue                        # MTEB scores a one-label set 1.0 without clustering it (as do we)
        model = _minibatch_kmeans(n_clusters=k, batch_size=V1_BATCH, n_init="auto", random_state=seed)
        pred[r, members] = _fit_predict(model, x[members])
    return pred, counts


def v2_documents(n: int, rng: random.Random, max_fraction: float | None = V2_FRACTION,
                 max_documents: int | None = None) -> list[int]:
    """mteb-v2's first step: the indices of the documents to embed (all of them when both limits are None)."""
    if max_fraction is None and max_documents is None:
        return list(range(n))
    limit = int(max_fraction * n) if max_fraction is not None else int(max_documents or 0)
    return rng.sample(range(n), k=min(n, limit))


def v2_runs(x: np.ndarray, gold: np.ndarray, rng: random.Random, subsets: int = V2_SUBSETS,
            subset_size: int = V2_SUBSET_SIZE, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """mteb-v2's samples, drawn with `rng` after v2_documents -> (pred, counts), each (subsets, n)."""
    n = len(gold)
    model = _minibatch_kmeans(n_clusters=len(np.unique(gold)), batch_size=V2_BATCH, init="k-means++", n_init=1,
                              random_state=seed)
    pred = np.zeros((subsets, n), dtype=np.int64)
    counts = np.zeros((subsets, n), dtype=np.float64)
    for r in range(subsets):
        drawn = np.array(rng.choices(range(n), k=subset_size))
        labels = _fit_predict(model, x[drawn])
        pred[r, drawn] = labels             # a document drawn twice lands in the same cluster both times
        np.add.at(counts[r], drawn, 1.0)
    return pred, counts


def _minibatch_kmeans(**params):
    """scikit-learn's MiniBatchKMeans (imported when a protocol runs: the CLI starts without scikit-learn)."""
    from sklearn.cluster import MiniBatchKMeans

    return MiniBatchKMeans(**params)


def _fit_predict(model, x: np.ndarray) -> np.ndarray:
    """Cluster labels; scikit-learn's warnings about too few distinct points or memory leaks are MTEB's too."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit_predict(x)
