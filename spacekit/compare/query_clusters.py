"""Clusters of lost (and of gained) queries: the items whose main metric fell (rose), clustered on the before
model's query vectors, each cluster named by its distinctive terms and tested for whether the losses concentrate
there more than chance.

Method: k-means (spacekit.ops.kmeans.kmeans_many: k-means++, 4 restarts, seeded) on the changed items' vectors
(projected on the items' first DIMENSIONS (32) principal axes, centred, then unit length), k from 2 to MAX_K chosen
by the cosine silhouette (scikit-learn). A cluster's region is every item (changed or not) at least as close
(cosine) to its centroid as REACH (80%) of its members (an outlier member does not widen it); its statistic is the
binomial z of the region's changed items against the base rate (the share of all items that changed that way): (x -
n p) / sqrt(n p (1 - p)). The null shuffles which items changed (as many as observed), clusters them again with the
same k and keeps the largest z over the clusters (PERMUTATIONS times), so each p-value is adjusted for choosing the
clusters and for their number (max-T).
Terms: class-based TF-IDF (BERTopic's c-TF-IDF: term frequency in the cluster's texts, normalised by the cluster's
words, times log(1 + average words per class / the term's frequency over classes)), the rest of the items one class,
words of 3+ letters, scikit-learn's English stop words left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spacekit.store.vectors import Vectors, is_sparse

MAX_K = 6
MIN_CHANGED = 6        # changed items needed to cluster
PERMUTATIONS = 100
TERMS = 5
SHOWN_MEMBERS = 3      # the items nearest each centroid, shown as examples
DIMENSIONS = 32        # principal axes of the items' vectors the clustering works in
REACH = 0.8            # a cluster's region reaches as far from its centroid as this share of its members


@dataclass(frozen=True)
class QueryCluster:
    """One cluster of changed items: its size, mean Δ, distinctive terms, region (items near it) and the share of
    them that changed this way, the max-T adjusted p-value, the items nearest its centroid, and every member's id."""

    size: int
    mean_delta: float
    terms: tuple[str, ...]
    region: int
    share: float
    p_value: float
    examples: tuple[str, ...]
    members: tuple[str, ...]


@dataclass(frozen=True)
class ClusterGroup:
    """The changed items of one direction (lost or gained) in clusters, against the share of all items that
    changed that way (the base rate), with the silhouette that chose k."""

    direction: str
    changed: int
    of: int
    base_rate: float
    silhouette: float
    clusters: tuple[QueryCluster, ...]


def _reduced(x: Vectors) -> np.ndarray:
    """The items' vectors on their first DIMENSIONS principal axes (centred; fewer dimensions or items: as they
    are); a sparse encoder's by scikit-learn's PCA on the sparse rows (never densified whole)."""
    if is_sparse(x):
        if min(x.shape) <= DIMENSIONS + 1:
            return np.asarray(x.toarray(), np.float64)
        from sklearn.decomposition import PCA

        return PCA(DIMENSIONS, svd_solver="arpack", random_state=0).fit_transform(x.astype(np.float64))
    x = np.asarray(x, np.float64)
    if x.shape[1] <= DIMENSIONS or len(x) <= DIMENSIONS:
        return x
    centred = x - x.mean(0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:DIMENSIONS].T


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _kmeans(sets: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Labels (B, m) of k-means on each of B point sets (spacekit.ops.kmeans.kmeans_many, seeded)."""
    from spacekit.ops.kmeans import kmeans_many

    return kmeans_many(sets, k, seed=seed).numpy()


def _regions(vectors: np.ndarray, changed: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For B sets of changed items (changed: (B, n) bool, as many in each; labels: (B, m) their clusters) ->
    (each cluster's changed items in its region, the region's size), each (B, k)."""
    sets = changed.shape[0]
    members = np.stack([np.flatnonzero(row) for row in changed])            # (B, m)
    onehot = labels[..., None] == np.arange(k)                              # (B, m, k)
    centroids = np.einsum("bmk,bmd->bkd", onehot, vectors[members])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=-1, keepdims=True), 1e-12)
    cos = np.einsum("nd,bkd->bnk", vectors, centroids)                      # (B, n, k)
    own = np.take_along_axis(cos, members[..., None], 1)                    # (B, m, k)
    empty = ~onehot.any(1)                                                  # (B, k): k-means left it empty
    own = np.where(onehot, own, np.nan)
    own[:, 0][empty] = 2.0                                                  # above any cosine: an empty region
    reach = np.nanquantile(own, 1 - REACH, axis=1)                          # (B, k): REACH of the members inside
    inside = cos >= reach[:, None, :] - 1e-9
    found = (inside & changed[..., None]).sum(1)
    return found.reshape(sets, k), inside.sum(1).reshape(sets, k)


def _z(found: np.ndarray, size: np.ndarray, rate: float) -> np.ndarray:
    """The binomial z of `found` changed items among `size` at the base rate."""
    return (found - size * rate) / np.sqrt(np.maximum(size * rate * (1 - rate), 1e-12))


def cluster_changes(vectors: Vectors, delta: np.ndarray, ids: list[str], texts: list[str], direction: str,
                    seed: int = 0, permutations: int = PERMUTATIONS) -> ClusterGroup | None:
    """The clusters of the items that changed in `direction` ("lost": delta < 0, "gained": delta > 0; |delta| <=
    1e-12 is no change); None with fewer than MIN_CHANGED of them."""
    from sklearn.metrics import silhouette_score

    vectors = _unit(_reduced(vectors))
    changed = delta < -1e-12 if direction == "lost" else delta > 1e-12
    x = vectors[changed]
    if len(x) < MIN_CHANGED:
        return None
    best: tuple[float, int, np.ndarray] | None = None
    for k in range(2, min(MAX_K, len(x) - 1) + 1):
        labels = _kmeans(x[None], k, seed)[0]
        if len(set(labels)) < 2:
            continue
        score = float(silhouette_score(x, labels, metric="cosine"))
        if best is None or score > best[0]:
            best = (score, k, labels)
    if best is None:
        return None
    silhouette, k, labels = best
    rate = float(changed.mean())
    found, region = (a[0] for a in _regions(vectors, changed[None], labels[None], k))
    z = _z(found, region, rate)
    rng = np.random.default_rng(seed)
    shuffled = np.zeros((permutations, len(delta)), bool)
    for row in shuffled:
        row[rng.choice(len(delta), int(changed.sum()), replace=False)] = True
    null_labels = _kmeans(np.stack([vectors[row] for row in shuffled]), k, seed + 1)
    null = _z(*_regions(vectors, shuffled, null_labels, k), rate).max(1)
    members = np.flatnonzero(changed)
    terms = distinctive_terms([[texts[i] for i in members[labels == c]] for c in range(k)],
                              [texts[i] for i in np.flatnonzero(~changed)])
    clusters = []
    for c in range(k):
        rows = members[labels == c]
        centroid = _unit(vectors[rows].mean(0, keepdims=True))[0]
        nearest = rows[np.argsort(-(vectors[rows] @ centroid), kind="stable")[:SHOWN_MEMBERS]]
        clusters.append(QueryCluster(size=len(rows), mean_delta=float(delta[rows].mean()), terms=terms[c],
                                     region=int(region[c]), share=float(found[c] / region[c]),
                                     p_value=float((1 + (null >= z[c] - 1e-9).sum()) / (permutations + 1)),
                                     examples=tuple(texts[i] for i in nearest),
                                     members=tuple(ids[i] for i in rows)))
    clusters.sort(key=lambda c: (c.p_value, -c.size))
    return ClusterGroup(direction, int(changed.sum()), len(delta), rate, silhouette,
                        tuple(clusters))


def distinctive_terms(classes: list[list[str]], rest: list[str], top: int = TERMS) -> list[tuple[str, ...]]:
    """Each class's `top` terms by c-TF-IDF, against the other classes and the rest of the texts (one class)."""
    from sklearn.feature_extraction.text import CountVectorizer

    documents = [" ".join(c) for c in classes] + [" ".join(rest)]
    try:
        counts = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b").fit(documents)
    except ValueError:                                   # no term at all (only stop words, digits)
        return [() for _ in classes]
    tf = counts.transform(documents).toarray().astype(float)
    words = tf.sum(1, keepdims=True)
    idf = np.log(1 + words.mean() / np.maximum(tf.sum(0), 1))
    weight = tf / np.maximum(words, 1) * idf
    vocabulary = counts.get_feature_names_out()
    out = []
    for c in range(len(classes)):
        order = np.lexsort((vocabulary, -weight[c]))
        out.append(tuple(str(vocabulary[i]) for i in order[:top] if weight[c, i] > 0))
    return out
